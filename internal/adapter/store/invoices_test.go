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
)

func commitLine(t *testing.T, s *store.Store, sub store.Subscription, key, kind string, amount int64, postedAt time.Time) {
	t.Helper()
	_, err := s.ApplyStep(context.Background(), store.Step{Subscription: sub, Charges: []billing.Charge{{
		Key: key, SubscriptionID: sub.ID, PartnerID: sub.PartnerID, Kind: kind, Amount: amount, Currency: "USD", Quantity: 1,
		PeriodStart: postedAt, PeriodEnd: postedAt.AddDate(0, 1, 0), Reason: "installment", UnitPrice: amount, PostedAt: postedAt,
	}}})
	require.NoError(t, err)
}

// An invoice holds the month's uninvoiced lines, numbered next for the
// partner; issuing it again changes nothing, and a line posted in the
// month but recorded after it was invoiced waits for the next month.
func TestInvoicesAreIssuedOnceAndNeverChange(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		partnerID, customerID := seedTenant(t, s)
		sub := purchased("sub_inv", partnerID, customerID, 1)
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		dec := nov.AddDate(0, 1, 0)
		commitLine(t, s, sub, "a", "charge", 3600, nov.Add(24*time.Hour))
		commitLine(t, s, sub, "b", "credit", 1200, nov.Add(48*time.Hour))
		commitLine(t, s, sub, "next-month", "charge", 500, dec.Add(time.Hour))

		g := store.InvoiceGroup{PartnerID: partnerID, CustomerID: customerID, Currency: "USD"}
		groups, err := s.UninvoicedGroups(ctx, dec, nil, 10)
		require.NoError(t, err)
		assert.Equal(t, []store.InvoiceGroup{g}, groups)

		inv, fresh, err := s.IssueInvoice(ctx, g, nov, dec, dec, "run-1", dec)
		require.NoError(t, err)
		require.True(t, fresh)
		assert.Equal(t, int64(1), inv.Number)
		assert.Equal(t, int64(2400), inv.Total)
		_, lines, err := s.Invoice(ctx, partnerID, inv.ID)
		require.NoError(t, err)
		require.Len(t, lines, 2)
		assert.Equal(t, "a", lines[0].ChargeKey)
		assert.Equal(t, "contoso-crm", lines[0].OfferID)

		// A line of November recorded late, after November was invoiced.
		commitLine(t, s, sub, "late", "charge", 100, nov.Add(72*time.Hour))
		again, fresh, err := s.IssueInvoice(ctx, g, nov, dec, dec, "run-2", dec)
		require.NoError(t, err)
		assert.False(t, fresh, "issuing again issues nothing")
		assert.Equal(t, inv.ID, again.ID)
		_, lines, err = s.Invoice(ctx, partnerID, inv.ID)
		require.NoError(t, err)
		assert.Len(t, lines, 2, "an issued invoice never changes")
		unbilled, err := s.UnbilledLines(ctx, partnerID, customerID)
		require.NoError(t, err)
		require.Len(t, unbilled, 2)
		assert.Equal(t, "late", unbilled[0].ChargeKey)

		// December's invoice takes the late line, numbered 2.
		jan := dec.AddDate(0, 1, 0)
		decInv, fresh, err := s.IssueInvoice(ctx, g, dec, jan, jan, "run-3", jan)
		require.NoError(t, err)
		require.True(t, fresh)
		assert.Equal(t, int64(2), decInv.Number)
		assert.Equal(t, int64(600), decInv.Total)

		_, err = s.Invoices(ctx, "partner-other", customerID, 0, 10)
		require.NoError(t, err)
		_, _, err = s.Invoice(ctx, "partner-other", inv.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "another partner's invoice does not exist for it")
	})
}

// Invoices of many customers issued at once are numbered 1..n for the
// partner, without a gap or a repeat.
func TestInvoiceNumbersHaveNoGapsUnderConcurrency(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		partnerID, _ := seedTenant(t, s)
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		dec := nov.AddDate(0, 1, 0)
		const customers = 8
		var groups []store.InvoiceGroup
		for i := range customers {
			c, err := s.CreateCustomer(ctx, partnerID, fmt.Sprintf("C%d", i))
			require.NoError(t, err)
			sub := purchased(fmt.Sprintf("sub_%d", i), partnerID, c.ID, 1)
			commitLine(t, s, sub, fmt.Sprintf("k%d", i), "charge", 100, nov.Add(time.Hour))
			groups = append(groups, store.InvoiceGroup{PartnerID: partnerID, CustomerID: c.ID, Currency: "USD"})
		}
		var wg sync.WaitGroup
		for _, g := range groups {
			wg.Go(func() {
				// A conflict (another numbering won) is retried, as the
				// invoicing activity is.
				for range 50 {
					if _, _, err := s.IssueInvoice(ctx, g, nov, dec, dec, "run", dec); err == nil {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				t.Errorf("group %v was never invoiced", g)
			})
		}
		wg.Wait()
		invoices, err := s.AllInvoices(ctx)
		require.NoError(t, err)
		require.Len(t, invoices, customers)
		for i, inv := range invoices {
			assert.Equal(t, int64(i+1), inv.Number)
		}
	})
}
