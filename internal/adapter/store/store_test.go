package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

func seedTenant(t *testing.T, s *store.Store) (partnerID, customerID string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.UpsertPartner(ctx, "partner-a", "Partner A"))
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	c, err := s.CreateCustomer(ctx, "partner-a", "Fabrikam")
	require.NoError(t, err)
	return "partner-a", c.ID
}

func purchased(id, partnerID, customerID string, version int64) store.Subscription {
	return store.Subscription{Subscription: lifecycle.Subscription{
		ID: id, PartnerID: partnerID, CustomerID: customerID, OfferID: "contoso-crm", PlanID: "monthly",
		PublisherID: "isv-demo", Quantity: 3, Status: lifecycle.StatusPendingFulfillment, ActionNeeded: true,
		AutoRenew: true, BillingFrequency: "monthly", TermDuration: "P1M", UnitPrice: 1200, Currency: "USD",
		PublisherURL: "https://isv-demo.example.com/activate", PurchasedAt: time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC),
		Version: version,
	}, LicenseBased: true, RequestHash: "h"}
}

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		require.NoError(t, s.Migrate(context.Background()), "a second Migrate must be a no-op")
	})
}

func TestCatalogSyncRoundTrip(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		dev := catalog.Dev()
		require.NoError(t, s.SyncCatalog(ctx, dev))
		require.NoError(t, s.SyncCatalog(ctx, dev), "sync is idempotent")
		offers, err := s.Offers(ctx)
		require.NoError(t, err)
		require.Len(t, offers, len(dev.Offers))
		crm, err := s.Offer(ctx, "contoso-crm")
		require.NoError(t, err)
		assert.Equal(t, dev.Offers[0], crm)
		_, err = s.Offer(ctx, "nope")
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestApplyStepNeverGoesBackInVersion(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		partnerID, customerID := seedTenant(t, s)
		v1 := purchased("sub_1", partnerID, customerID, 1)
		moved, err := s.ApplyStep(ctx, store.Step{
			Subscription:      v1,
			AuthorizationCode: &store.AuthorizationCode{CodeHash: "codehash", SubscriptionID: "sub_1", PublisherID: "isv-demo", ExpiresAt: v1.PurchasedAt.Add(24 * time.Hour)},
			Events:            []lifecycle.AuditEvent{{Kind: "purchased", Actor: "agent", At: v1.PurchasedAt}},
			Notifications:     []lifecycle.Notification{{RecipientKind: "publisher", RecipientID: "isv-demo", Type: "subscription.purchased"}},
		})
		require.NoError(t, err)
		assert.True(t, moved)

		activatedAt := v1.PurchasedAt.Add(time.Hour)
		v3 := v1
		v3.Status, v3.ActionNeeded, v3.Version, v3.ActivatedAt = "active", false, 3, &activatedAt
		charge := billing.Charge{Key: "sub_1/term-1/installment-0", SubscriptionID: "sub_1", PartnerID: partnerID, Kind: "charge", Amount: 3600, Currency: "USD", Quantity: 3, PeriodStart: activatedAt, PeriodEnd: activatedAt.AddDate(0, 1, 0), Description: "x"}
		moved, err = s.ApplyStep(ctx, store.Step{Subscription: v3, Charges: []billing.Charge{charge}})
		require.NoError(t, err)
		assert.True(t, moved)

		// A late retry of version 2 must not overwrite version 3, and a
		// replay of version 3 must not charge twice.
		v2 := v1
		v2.Status, v2.Version = "provisioned", 2
		moved, err = s.ApplyStep(ctx, store.Step{Subscription: v2})
		require.NoError(t, err)
		assert.False(t, moved)
		moved, err = s.ApplyStep(ctx, store.Step{Subscription: v3, Charges: []billing.Charge{charge}})
		require.NoError(t, err)
		assert.False(t, moved)

		got, err := s.Subscription(ctx, partnerID, customerID, "sub_1")
		require.NoError(t, err)
		assert.Equal(t, lifecycle.StatusActive, got.Status)
		assert.Equal(t, int64(3), got.Version)
		assert.True(t, activatedAt.Equal(*got.ActivatedAt))
		assert.True(t, v1.PurchasedAt.Equal(got.PurchasedAt), "microseconds survive: %v vs %v", v1.PurchasedAt, got.PurchasedAt)

		charges, err := s.Charges(ctx, "sub_1")
		require.NoError(t, err)
		require.Len(t, charges, 1)
		assert.Equal(t, int64(3600), charges[0].Amount)
		assert.Equal(t, billing.ReasonInstallment, charges[0].Reason, "a line without a reason gets its key's")
		assert.Equal(t, int64(1200), charges[0].UnitPrice, "and its unit price from its amount")
		assert.Equal(t, customerID, charges[0].CustomerID)
		events, err := s.Events(ctx, "sub_1")
		require.NoError(t, err)
		require.Len(t, events, 1)
		assert.Equal(t, "sub_1/v1/event-0/purchased", events[0].Key, "keyed by the step: a retried commit writes it once")
		assert.JSONEq(t, "{}", events[0].Detail)
		notes, err := s.Notifications(ctx, "sub_1")
		require.NoError(t, err)
		require.Len(t, notes, 1)
		assert.Equal(t, store.NotificationPending, notes[0].Status)
		code, err := s.AuthorizationCode(ctx, "codehash")
		require.NoError(t, err)
		assert.Equal(t, "sub_1", code.SubscriptionID)
	})
}

func TestTenantScoping(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		partnerID, customerID := seedTenant(t, s)
		require.NoError(t, s.UpsertPartner(ctx, "partner-b", "Partner B"))
		_, err := s.ApplyStep(ctx, store.Step{Subscription: purchased("sub_1", partnerID, customerID, 1)})
		require.NoError(t, err)

		_, err = s.Customer(ctx, "partner-b", customerID)
		assert.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.Subscription(ctx, "partner-b", customerID, "sub_1")
		assert.ErrorIs(t, err, store.ErrNotFound)
		rows, err := s.Subscriptions(ctx, "partner-b", customerID, store.SubscriptionFilter{}, nil, 10)
		require.NoError(t, err)
		assert.Empty(t, rows)
	})
}

func TestSubscriptionListPagesAndFilters(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		partnerID, customerID := seedTenant(t, s)
		base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for i, id := range []string{"sub_a", "sub_b", "sub_c", "sub_d", "sub_e"} {
			row := purchased(id, partnerID, customerID, 1)
			// sub_b and sub_c share a purchase instant: the id breaks the tie.
			row.PurchasedAt = base.Add(time.Duration(min(i, 2)) * time.Second).Add(time.Duration(max(i-2, 0)) * time.Minute)
			if id == "sub_d" {
				row.Status = lifecycle.StatusActive
			}
			_, err := s.ApplyStep(ctx, store.Step{Subscription: row})
			require.NoError(t, err)
		}
		var seen []string
		var after *store.Cursor
		for {
			page, err := s.Subscriptions(ctx, partnerID, customerID, store.SubscriptionFilter{}, after, 2)
			require.NoError(t, err)
			for _, r := range page {
				seen = append(seen, r.ID)
			}
			if len(page) < 2 {
				break
			}
			last := page[len(page)-1]
			after = &store.Cursor{At: last.PurchasedAt, ID: last.ID}
		}
		assert.Equal(t, []string{"sub_a", "sub_b", "sub_c", "sub_d", "sub_e"}, seen)

		active, err := s.Subscriptions(ctx, partnerID, customerID, store.SubscriptionFilter{Status: "active"}, nil, 10)
		require.NoError(t, err)
		require.Len(t, active, 1)
		assert.Equal(t, "sub_d", active[0].ID)
	})
}

func TestISVEventReceiptDeduplicatesConcurrently(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pub, evt := "isv-demo", "evt-1"
		var wg sync.WaitGroup
		results := make(chan error, 5)
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results <- s.RecordISVEventReceipt(ctx, store.Receipt{
					PublisherID: pub, EventID: evt, SubscriptionID: "sub_1", Type: "Reinstate", ReceivedAt: time.Now().Add(time.Duration(i)),
				})
			}(i)
		}
		wg.Wait()
		close(results)
		var inserted, dup int
		for err := range results {
			switch err {
			case nil:
				inserted++
			case store.ErrDuplicate:
				dup++
			default:
				t.Fatal(err)
			}
		}
		assert.Equal(t, 1, inserted)
		assert.Equal(t, 4, dup)
	})
}

func TestPublisherSecretsAreSealedAtRest(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
		require.NoError(t, s.EnsurePublisherSecret(ctx, "sec_dev", "isv-demo", []byte("dev-isv-secret")))
		require.NoError(t, s.EnsurePublisherSecret(ctx, "sec_dev", "isv-demo", []byte("dev-isv-secret")))
		secrets, err := s.PublisherSecrets(ctx, "isv-demo")
		require.NoError(t, err)
		require.Len(t, secrets, 1)
		assert.Equal(t, "dev-isv-secret", string(secrets[0]))

		var raw []byte
		require.NoError(t, s.DB().NewSelect().Table("publisher_secrets").Column("sealed_secret").Where("id = ?", "sec_dev").Scan(ctx, &raw))
		assert.NotContains(t, string(raw), "dev-isv-secret")

		none, err := s.PublisherSecrets(ctx, "unknown")
		require.NoError(t, err)
		assert.Empty(t, none)
	})
}

func TestAgentTokensByHash(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		require.NoError(t, s.UpsertPartner(ctx, "p", "P"))
		id, err := s.CreateAgent(ctx, "p", "alice", "admin_agent", "hash-1")
		require.NoError(t, err)
		a, err := s.AgentByTokenHash(ctx, "hash-1")
		require.NoError(t, err)
		assert.Equal(t, "p", a.PartnerID)
		require.NoError(t, s.RevokeAgent(ctx, id))
		_, err = s.AgentByTokenHash(ctx, "hash-1")
		assert.ErrorIs(t, err, store.ErrNotFound)

		// A seeded agent an operator revoked stays revoked when the
		// fixtures are seeded again (every start): issue 25.
		require.NoError(t, s.EnsureAgent(ctx, "agt_dev", "p", "Dev", "admin_agent", "hash-dev"))
		require.NoError(t, s.RevokeAgent(ctx, "agt_dev"))
		require.NoError(t, s.EnsureAgent(ctx, "agt_dev", "p", "Dev", "admin_agent", "hash-dev"))
		_, err = s.AgentByTokenHash(ctx, "hash-dev")
		assert.ErrorIs(t, err, store.ErrNotFound, "seeding brought a revoked token back")

		// The audit trail names agents, revoked ones too, of the caller's
		// partner only.
		require.NoError(t, s.UpsertPartner(ctx, "q", "Q"))
		other, err := s.CreateAgent(ctx, "q", "mallory", "admin_agent", "hash-q")
		require.NoError(t, err)
		names, err := s.AgentNames(ctx, "p", []string{id, "agt_dev", other, "agt_none"})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{id: "alice", "agt_dev": "Dev"}, names)
		names, err = s.AgentNames(ctx, "p", nil)
		require.NoError(t, err)
		assert.Empty(t, names)
	})
}

func TestIdempotencyKeysAreHeldByOneRequestAtATime(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		// Concurrent requests with one key: exactly one holds it.
		var wg sync.WaitGroup
		var mu sync.Mutex
		holders := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, reserved, err := s.ReserveIdempotencyKey(ctx, "p", "k", "PATCH /x", fmt.Sprintf("h%d", i))
				assert.NoError(t, err)
				if reserved {
					mu.Lock()
					holders++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, 1, holders)
		held, reserved, err := s.ReserveIdempotencyKey(ctx, "p", "k", "PATCH /x", "other")
		require.NoError(t, err)
		assert.False(t, reserved)
		assert.Zero(t, held.StatusCode, "still running")

		// Its response is stored once, then answers repeats.
		require.NoError(t, s.CompleteIdempotentKey(ctx, "p", "k", 200, []byte(`{"a":1}`)))
		require.NoError(t, s.CompleteIdempotentKey(ctx, "p", "k", 409, []byte(`{"a":2}`)))
		got, reserved, err := s.ReserveIdempotencyKey(ctx, "p", "k", "PATCH /x", "again")
		require.NoError(t, err)
		assert.False(t, reserved)
		assert.Equal(t, 200, got.StatusCode)
		assert.JSONEq(t, `{"a":1}`, string(got.Body), "the first response stays")
		_, reserved, err = s.ReserveIdempotencyKey(ctx, "other-partner", "k", "PATCH /x", "h")
		require.NoError(t, err)
		assert.True(t, reserved, "keys are per partner")

		// A request that got no answer worth keeping (a 5xx) keeps its
		// reservation: a repeat finds it, with the same reservation time
		// (the change's Update id), and sends the same change again.
		first, reserved, err := s.ReserveIdempotencyKey(ctx, "p", "k2", "PATCH /x", "h")
		require.NoError(t, err)
		require.True(t, reserved)
		again, reserved, err := s.ReserveIdempotencyKey(ctx, "p", "k2", "PATCH /x", "h")
		require.NoError(t, err)
		assert.False(t, reserved)
		assert.Zero(t, again.StatusCode)
		assert.True(t, first.CreatedAt.Equal(again.CreatedAt), "%s, then %s", first.CreatedAt, again.CreatedAt)

		// An expired response no longer answers, and its key is taken anew.
		_, err = s.DB().NewUpdate().Table("idempotency_keys").Set("created_at = ?", time.Now().Add(-25*time.Hour).UTC()).Where("key = ?", "k").Exec(ctx)
		require.NoError(t, err)
		renewed, reserved, err := s.ReserveIdempotencyKey(ctx, "p", "k", "PATCH /x", "h2")
		require.NoError(t, err)
		assert.True(t, reserved)
		assert.WithinDuration(t, time.Now(), renewed.CreatedAt, time.Minute, "a new reservation: a new Update id")
	})
}
