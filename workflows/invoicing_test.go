package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

func invoicingEnv(t *testing.T, s *store.Store, at time.Time) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(InvoicingWorkflow)
	env.RegisterActivity(&activities.Activities{Store: s})
	env.SetStartTime(at)
	return env
}

func seedLine(t *testing.T, s *store.Store, customerID, key string, amount int64, postedAt time.Time) {
	t.Helper()
	ctx := context.Background()
	sub := store.Subscription{Subscription: lifecycle.Subscription{
		ID: "sub_" + customerID, PartnerID: "partner-demo", CustomerID: customerID, OfferID: "contoso-crm", PlanID: "monthly",
		PublisherID: "isv-demo", Quantity: 1, Status: lifecycle.StatusActive, BillingFrequency: "monthly", TermDuration: "P1M", UnitPrice: amount,
		Currency: "USD", PurchasedAt: postedAt, Version: 1,
	}, RequestHash: "h"}
	_, err := s.ApplyStep(ctx, store.Step{Subscription: sub, Charges: []billing.Charge{{
		Key: key, SubscriptionID: sub.ID, PartnerID: sub.PartnerID, Kind: "charge", Amount: amount, Currency: "USD", Quantity: 1,
		PeriodStart: postedAt, PeriodEnd: postedAt.AddDate(0, 1, 0), Reason: "installment", UnitPrice: amount, PostedAt: postedAt,
	}}})
	require.NoError(t, err)
}

// The schedule's run (no month) invoices the month that just ended through
// that month's own run; a month is invoiced once however often it runs.
func TestScheduledInvoicingInvoicesTheMonthJustEnded(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.UpsertPartner(ctx, "partner-demo", "Demo"))
	for _, c := range []string{"cus_a", "cus_b"} {
		require.NoError(t, s.EnsureCustomer(ctx, c, "partner-demo", c))
	}
	seedLine(t, s, "cus_a", "a-nov", 1200, time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
	seedLine(t, s, "cus_b", "b-nov", 500, time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC))
	seedLine(t, s, "cus_a", "a-dec", 700, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))

	env := invoicingEnv(t, s, time.Date(2026, 12, 1, 0, 5, 0, 0, time.UTC))
	env.ExecuteWorkflow(InvoicingWorkflow, InvoicingInput{})
	require.NoError(t, env.GetWorkflowError())
	var result InvoicingResult
	require.NoError(t, env.GetWorkflowResult(&result))
	assert.Equal(t, "2026-11", result.Month)
	assert.Equal(t, 2, result.Issued)

	invoices, err := s.AllInvoices(ctx)
	require.NoError(t, err)
	require.Len(t, invoices, 2)
	assert.Equal(t, []int64{1, 2}, []int64{invoices[0].Number, invoices[1].Number})
	unbilled, err := s.UnbilledLines(ctx, "partner-demo", "cus_a")
	require.NoError(t, err)
	require.Len(t, unbilled, 1, "December's line waits for December's invoice")

	again := invoicingEnv(t, s, time.Date(2026, 12, 1, 0, 6, 0, 0, time.UTC))
	again.ExecuteWorkflow(InvoicingWorkflow, InvoicingInput{Month: "2026-11"})
	require.NoError(t, again.GetWorkflowError())
	require.NoError(t, again.GetWorkflowResult(&result))
	assert.Equal(t, 0, result.Issued, "nothing issued twice")
	invoices, err = s.AllInvoices(ctx)
	require.NoError(t, err)
	assert.Len(t, invoices, 2)
}

// A month that has not ended is refused without CloseEarly, and invoiced
// up to now with it.
func TestInvoicingAMonthBeforeItEnds(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.UpsertPartner(ctx, "partner-demo", "Demo"))
	require.NoError(t, s.EnsureCustomer(ctx, "cus_a", "partner-demo", "A"))
	seedLine(t, s, "cus_a", "early", 100, time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC))
	seedLine(t, s, "cus_a", "later", 200, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
	now := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)

	env := invoicingEnv(t, s, now)
	env.ExecuteWorkflow(InvoicingWorkflow, InvoicingInput{Month: "2026-11"})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	assert.Equal(t, ErrMonthNotEnded, appErr.Type())

	env = invoicingEnv(t, s, now)
	env.ExecuteWorkflow(InvoicingWorkflow, InvoicingInput{Month: "2026-11", CloseEarly: true})
	require.NoError(t, env.GetWorkflowError())
	invoices, err := s.AllInvoices(ctx)
	require.NoError(t, err)
	require.Len(t, invoices, 1)
	assert.Equal(t, int64(100), invoices[0].Total, "only what was posted before the early close")
}

// A month that has not begun is refused even with CloseEarly: its invoice
// would take this month's lines (found by a hostile tester, with 2026-12
// invoiced on 25 November and 9999-12 panicking on the year 10000).
func TestInvoicingAMonthThatHasNotBegunIsRefused(t *testing.T) {
	s := storetest.SQLite(t)
	for _, month := range []string{"2026-12", "9999-12"} {
		env := invoicingEnv(t, s, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
		env.ExecuteWorkflow(InvoicingWorkflow, InvoicingInput{Month: month, CloseEarly: true})
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(env.GetWorkflowError(), &appErr), month)
		assert.Equal(t, ErrMonthNotStarted, appErr.Type(), month)
	}
}
