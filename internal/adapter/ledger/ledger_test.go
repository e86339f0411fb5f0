package ledger_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/ledger"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// An invoice that holds a line posted after its month is a difference (an
// invoice issued for a month before it began would be one).
func TestLedgerCheckFindsALineInvoicedBeforeItsMonth(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.UpsertPartner(ctx, "p", "P"))
	require.NoError(t, s.EnsureCustomer(ctx, "c", "p", "C"))
	dec := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	sub := store.Subscription{Subscription: lifecycle.Subscription{ID: "sub_x", PartnerID: "p", CustomerID: "c", OfferID: "o", PlanID: "monthly", PublisherID: "isv",
		Quantity: 1, Status: lifecycle.StatusActive, BillingFrequency: "monthly", TermDuration: "P1M", UnitPrice: 100, Currency: "USD", PurchasedAt: dec, Version: 1}, RequestHash: "h"}
	_, err := s.ApplyStep(ctx, store.Step{Subscription: sub, Charges: []billing.Charge{{Key: "sub_x/term-1/installment-0",
		SubscriptionID: "sub_x", PartnerID: "p", Kind: "charge", Amount: 100, Currency: "USD", Quantity: 1, PeriodStart: dec, PeriodEnd: dec, PostedAt: dec}}})
	require.NoError(t, err)
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	_, _, err = s.IssueInvoice(ctx, store.InvoiceGroup{PartnerID: "p", CustomerID: "c", Currency: "USD"}, nov, nov.AddDate(0, 1, 0), dec.AddDate(0, 1, 0), "run", dec)
	require.NoError(t, err)
	report, err := ledger.Verify(ctx, s)
	require.NoError(t, err)
	assert.True(t, strings.Contains(strings.Join(report.Differences, "\n"), "after the invoice's month"), "%v", report.Differences)
}
