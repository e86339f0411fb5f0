package store_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
)

var usageNow = time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)

// meteredActive stores an active subscription of the metered plan.
func meteredActive(t testing.TB, s *store.Store, id, partnerID, customerID string) {
	t.Helper()
	sub := purchased(id, partnerID, customerID, 2)
	sub.OfferID, sub.PlanID, sub.Quantity, sub.Status, sub.ActionNeeded = "contoso-api", "api-standard", 1, lifecycle.StatusActive, false
	started := usageNow.Add(-48 * time.Hour)
	sub.BillingStartedAt, sub.ActivatedAt, sub.TermStart = &started, &started, &started
	var plan catalog.Plan
	for _, o := range catalog.Dev().Offers {
		if p, ok := o.Plan("api-standard"); ok {
			plan = p
		}
	}
	sub.Metering = &store.Metering{Dimensions: plan.Snapshot().Dimensions}
	_, err := s.ApplyStep(context.Background(), store.Step{Subscription: sub})
	require.NoError(t, err)
}

// Eight copies of one batch at once (an ISV retrying what it is unsure
// landed): each subscription, dimension and hour is accepted once, every
// other copy answers Duplicate naming that event, and each refusal is in
// the submission log.
func TestUsageIsAcceptedOncePerHourUnderConcurrentBatches(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		partner, customer := seedTenant(t, s)
		meteredActive(t, s, "sub_m1", partner, customer)
		batch := []store.UsageSubmission{
			{PublisherID: "isv-demo", SubscriptionID: "sub_m1", Dimension: "api-calls", Quantity: 10, EffectiveStart: usageNow.Add(-time.Hour)},
			{PublisherID: "isv-demo", SubscriptionID: "sub_m1", Dimension: "api-calls", Quantity: 20, EffectiveStart: usageNow.Add(-2 * time.Hour)},
			{PublisherID: "isv-demo", SubscriptionID: "sub_m1", Dimension: "storage-gb", Quantity: 1.5, EffectiveStart: usageNow.Add(-time.Hour)},
			{PublisherID: "other-isv", SubscriptionID: "sub_m1", Dimension: "api-calls", Quantity: 1, EffectiveStart: usageNow},
			{PublisherID: "isv-demo", SubscriptionID: "sub_m1", Dimension: "gpu", Quantity: 1, EffectiveStart: usageNow},
		}
		results := make([][]store.UsageResult, 8)
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := s.AcceptUsage(ctx, batch, usageNow)
				assert.NoError(t, err)
				results[i] = r
			}()
		}
		wg.Wait()
		for item := range 3 {
			accepted, first := 0, ""
			for _, r := range results {
				if r[item].Status == metering.Accepted {
					accepted++
					first = r[item].Event.ID
				}
			}
			require.Equal(t, 1, accepted, "item %d accepted once", item)
			for _, r := range results {
				if r[item].Status == metering.Duplicate {
					assert.Equal(t, first, r[item].Event.ID, "a duplicate names the event accepted first")
				}
			}
		}
		for _, r := range results {
			assert.Equal(t, metering.ResourceNotFound, r[3].Status, "another publisher's subscription is none")
			assert.Equal(t, metering.InvalidDimension, r[4].Status)
		}
		log, err := s.PublisherUsage(ctx, "isv-demo", store.UsageFilter{From: usageNow.Add(-24 * time.Hour), To: usageNow.Add(time.Hour), Accepted: true, Refused: true, Limit: 1000})
		require.NoError(t, err)
		statuses := map[string]int{}
		for _, rec := range log {
			statuses[rec.Status]++
		}
		assert.Equal(t, map[string]int{metering.Accepted: 3, metering.Duplicate: 21, metering.InvalidDimension: 8}, statuses)
		other, err := s.PublisherUsage(ctx, "other-isv", store.UsageFilter{From: usageNow.Add(-24 * time.Hour), To: usageNow.Add(time.Hour), Accepted: true, Refused: true, Limit: 1000})
		require.NoError(t, err)
		assert.Len(t, other, 8, "the other publisher's log has its own refusals, and nothing of isv-demo's")
	})
}

// A claim takes what is not charged yet up to its bound, answers the same
// sums when repeated (a retried activity) plus what came since, never
// takes what another claim took, and says what earlier claims took of the
// same period.
func TestUsageClaimsNeverLoseNorCountTwice(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		partner, customer := seedTenant(t, s)
		meteredActive(t, s, "sub_m2", partner, customer)
		accept := func(dim string, effective time.Time, q float64) {
			t.Helper()
			r, err := s.AcceptUsage(ctx, []store.UsageSubmission{{PublisherID: "isv-demo", SubscriptionID: "sub_m2", Dimension: dim, Quantity: q, EffectiveStart: effective}}, usageNow)
			require.NoError(t, err)
			require.Equal(t, metering.Accepted, r[0].Status, r[0].Message)
		}
		periodStart, periodEnd := usageNow.Add(-30*time.Hour), usageNow.Add(-2*time.Hour)
		accept("api-calls", usageNow.Add(-5*time.Hour), 10)
		accept("api-calls", usageNow.Add(-time.Hour), 7) // the next period's: after the bound
		first := lifecycle.UsageClaim{Key: "sub_m2/usage/v5", Through: periodEnd, Periods: []lifecycle.UsageBounds{{Start: periodStart, End: periodEnd}}}
		got, err := s.ClaimUsage(ctx, "sub_m2", first)
		require.NoError(t, err)
		assert.Equal(t, []lifecycle.ClaimedUsage{{Period: 0, Dimension: "api-calls", Claimed: 10 * metering.QuantityScale}}, got)

		accept("api-calls", usageNow.Add(-4*time.Hour), 3) // late for the period, before the retry
		again, err := s.ClaimUsage(ctx, "sub_m2", first)
		require.NoError(t, err)
		assert.Equal(t, []lifecycle.ClaimedUsage{{Period: 0, Dimension: "api-calls", Claimed: 13 * metering.QuantityScale}}, again,
			"a repeated claim answers all its key holds")

		accept("api-calls", usageNow.Add(-3*time.Hour), 2) // late, after the claim was recorded
		next := lifecycle.UsageClaim{Key: "sub_m2/usage/v9", Periods: []lifecycle.UsageBounds{{Start: periodStart, End: periodEnd}, {Start: periodEnd, End: usageNow.Add(26 * time.Hour)}}}
		got, err = s.ClaimUsage(ctx, "sub_m2", next)
		require.NoError(t, err)
		assert.Equal(t, []lifecycle.ClaimedUsage{
			{Period: 0, Dimension: "api-calls", Before: 13 * metering.QuantityScale, Claimed: 2 * metering.QuantityScale},
			{Period: 1, Dimension: "api-calls", Claimed: 7 * metering.QuantityScale},
		}, got, "late usage in its own period, with what was charged of it before")
		events, keys, err := s.SubscriptionUsage(ctx, "sub_m2")
		require.NoError(t, err)
		require.Len(t, events, 4)
		assert.Len(t, keys, 4, "every event is claimed once")
	})
}

// BenchmarkMonthEndClaims is the store's part of a month-end: 10 000
// metered subscriptions with 3 dimensions (eight hours of events each)
// closed one after the other, each close a claim of its subscription's
// usage. BENCH_POSTGRES=1 runs it on Postgres.
func BenchmarkMonthEndClaims(b *testing.B) {
	s := storetest.SQLite(b)
	if benchOnPostgres() {
		s = storetest.Postgres(b)
	}
	ctx := context.Background()
	require.NoError(b, s.UpsertPartner(ctx, "partner-a", "Partner A"))
	require.NoError(b, s.SyncCatalog(ctx, catalog.Dev()))
	c, err := s.CreateCustomer(ctx, "partner-a", "Fabrikam")
	require.NoError(b, err)
	const subscriptions, hours = 10_000, 8
	for i := range subscriptions {
		id := fmt.Sprintf("sub_b%05d", i)
		meteredActive(b, s, id, "partner-a", c.ID)
		var batch []store.UsageSubmission
		for h := range hours {
			for _, dim := range []string{"api-calls", "storage-gb", "messages"} {
				batch = append(batch, store.UsageSubmission{PublisherID: "isv-demo", SubscriptionID: id, Dimension: dim, Quantity: 1.25,
					EffectiveStart: usageNow.Add(-time.Duration(h) * time.Hour)})
			}
		}
		for len(batch) > 0 {
			n := min(25, len(batch))
			_, err := s.AcceptUsage(ctx, batch[:n], usageNow)
			require.NoError(b, err)
			batch = batch[n:]
		}
	}
	periods := []lifecycle.UsageBounds{{Start: usageNow.Add(-30 * 24 * time.Hour), End: usageNow.Add(time.Hour)}}
	b.ResetTimer()
	for n := range b.N {
		start := time.Now()
		for i := range subscriptions {
			id := fmt.Sprintf("sub_b%05d", i)
			got, err := s.ClaimUsage(ctx, id, lifecycle.UsageClaim{Key: fmt.Sprintf("%s/usage/run%d", id, n), Periods: periods})
			require.NoError(b, err)
			if n == 0 && len(got) != 3 {
				b.Fatalf("claimed %v", got)
			}
		}
		b.ReportMetric(float64(subscriptions)/time.Since(start).Seconds(), "closes/s")
	}
}

func benchOnPostgres() bool { return os.Getenv("BENCH_POSTGRES") == "1" }

// Late usage is checked against the subscription as it was when the
// event was effective: refused in a time it did not count (suspended),
// and named by the plan it had then (found by the hostile pass).
func TestLateUsageIsCheckedAgainstItsTime(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		partner, customer := seedTenant(t, s)
		sub := purchased("sub_m3", partner, customer, 3)
		sub.OfferID, sub.PlanID, sub.Quantity, sub.Status, sub.ActionNeeded = "contoso-api", "api-pro", 1, lifecycle.StatusActive, false
		started := usageNow.Add(-48 * time.Hour)
		sub.BillingStartedAt, sub.ActivatedAt, sub.TermStart = &started, &started, &started
		var standard, pro catalog.Plan
		for _, o := range catalog.Dev().Offers {
			if p, ok := o.Plan("api-standard"); ok {
				standard = p
			}
			if p, ok := o.Plan("api-pro"); ok {
				pro = p
			}
		}
		changed := usageNow.Add(-10 * time.Hour)
		sub.Metering = &store.Metering{Dimensions: pro.Snapshot().Dimensions,
			Periods: []store.UsagePeriod{
				{Start: started, End: changed, PlanID: "api-standard", Dimensions: standard.Snapshot().Dimensions},
				{Start: changed, End: usageNow.Add(20 * 24 * time.Hour), PlanID: "api-pro", Dimensions: pro.Snapshot().Dimensions},
			},
			Gaps: []metering.Gap{{Start: usageNow.Add(-6 * time.Hour), End: usageNow.Add(-4 * time.Hour)}}}
		_, err := s.ApplyStep(ctx, store.Step{Subscription: sub})
		require.NoError(t, err)
		post := func(plan string, effective time.Time) store.UsageResult {
			r, err := s.AcceptUsage(ctx, []store.UsageSubmission{{PublisherID: "isv-demo", SubscriptionID: "sub_m3", PlanID: plan, Dimension: "api-calls", Quantity: 1, EffectiveStart: effective}}, usageNow)
			require.NoError(t, err)
			return r[0]
		}
		assert.Equal(t, metering.ResourceNotActive, post("api-pro", usageNow.Add(-5*time.Hour)).Status, "effective while suspended")
		assert.Equal(t, metering.Accepted, post("api-pro", usageNow.Add(-4*time.Hour)).Status, "from the reinstatement")
		assert.Equal(t, metering.Accepted, post("api-pro", usageNow.Add(-7*time.Hour)).Status, "before the suspension")
		late := post("api-standard", usageNow.Add(-12*time.Hour))
		assert.Equal(t, metering.Accepted, late.Status, "late usage of before the change names the plan it had: %s", late.Message)
		assert.Equal(t, "api-standard", late.Event.PlanID)
		assert.Equal(t, metering.BadArgument, post("api-pro", usageNow.Add(-13*time.Hour)).Status, "not the plan it had then")

		// A plan of short periods keeps fewer than 24 hours of them: usage
		// older than the oldest kept is refused, never priced elsewhere.
		short := sub
		short.ID = "sub_m4"
		short.Metering = &store.Metering{Dimensions: pro.Snapshot().Dimensions, Periods: []store.UsagePeriod{
			{Start: usageNow.Add(-3 * time.Hour), End: usageNow.Add(time.Hour), PlanID: "api-pro", Dimensions: pro.Snapshot().Dimensions}}}
		_, err = s.ApplyStep(ctx, store.Step{Subscription: short})
		require.NoError(t, err)
		for effective, want := range map[time.Duration]string{-5 * time.Hour: metering.Expired, -2 * time.Hour: metering.Accepted} {
			r, err := s.AcceptUsage(ctx, []store.UsageSubmission{{PublisherID: "isv-demo", SubscriptionID: "sub_m4", Dimension: "api-calls", Quantity: 1, EffectiveStart: usageNow.Add(effective)}}, usageNow)
			require.NoError(t, err)
			assert.Equal(t, want, r[0].Status, "effective %s", effective)
		}
	})
}
