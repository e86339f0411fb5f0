package e2e

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/ledger"
	"github.com/cspmarket/orchestrator/internal/adapter/orchestrator"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/workflows"
)

type chargeJSON struct {
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	Reason    string  `json:"reason"`
	Quantity  int     `json:"quantity"`
	UnitPrice int64   `json:"unitPrice"`
	Amount    int64   `json:"amount"`
	InvoiceID *string `json:"invoiceId"`
	Dimension string  `json:"dimension"`
}

type invoiceJSON struct {
	ID       string `json:"id"`
	Number   int64  `json:"number"`
	Currency string `json:"currency"`
	Total    int64  `json:"total"`
	Subtotal int64  `json:"subtotal"`
	Lines    []struct {
		ChargeID       string `json:"chargeId"`
		SubscriptionID string `json:"subscriptionId"`
		Kind           string `json:"kind"`
		Amount         int64  `json:"amount"`
	} `json:"lines"`
}

func (p *product) charges(sub subscriptionJSON) []chargeJSON {
	p.t.Helper()
	r := p.do(http.MethodGet, "/v1/customers/"+sub.CustomerID+"/subscriptions/"+sub.ID+"/charges", "dev-admin-token", nil)
	require.Equal(p.t, http.StatusOK, r.status, string(r.body))
	var out struct{ Items []chargeJSON }
	r.json(p.t, &out)
	return out.Items
}

func net(charges []chargeJSON) int64 {
	var sum int64
	for _, c := range charges {
		sum += billing.Signed(c.Kind, c.Amount)
	}
	return sum
}

// The acceptance: buy, activate, add licences, remove them inside
// their batch's window, cancel another subscription inside its window,
// invoice the month, and get an invoice whose total is the ledger's net to
// the cent, whose CSV has a row per line, and which does not change when a
// later change lands on the unbilled view. The ledger check agrees.
func TestInvoiceOfTheMonthIsTheLedgerToTheCent(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	customer := p.customer("Contoso Pharmaceuticals")
	kept := p.buy(customer, "contoso-crm", "monthly", 3)
	cancelled := p.buy(customer, "contoso-crm", "monthly", 1)
	for _, s := range []subscriptionJSON{kept, cancelled} {
		require.Equal(t, http.StatusAccepted, p.event("act-"+s.ID, lifecycle.EventActivated, s.ID, nil).status)
		p.waitStatus(customer, s.ID, lifecycle.StatusActive)
	}
	r := p.patch(kept, map[string]any{"quantity": 5})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var added struct {
		RefundableQuantity struct {
			Total   int `json:"total"`
			Details []struct {
				Quantity     int       `json:"quantity"`
				AllowedUntil time.Time `json:"allowedUntil"`
			} `json:"details"`
		} `json:"refundableQuantity"`
	}
	r.json(t, &added)
	assert.Equal(t, 5, added.RefundableQuantity.Total, "both batches are inside their windows")
	require.Len(t, added.RefundableQuantity.Details, 2)
	assert.Equal(t, 2, added.RefundableQuantity.Details[0].Quantity, "newest batch first")
	r.conforms(t, "Subscription")
	r = p.patch(kept, map[string]any{"quantity": 4})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = p.patch(cancelled, map[string]any{"status": "cancelled"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	keptLines, cancelledLines := p.charges(kept), p.charges(cancelled)
	require.Len(t, keptLines, 3, "installment, licences added, licences removed")
	assert.Equal(t, []string{"installment", "licences_added", "licences_removed"}, []string{keptLines[0].Reason, keptLines[1].Reason, keptLines[2].Reason})
	require.Len(t, cancelledLines, 2, "installment and its refund")
	assert.Equal(t, "refund", cancelledLines[1].Reason)
	assert.Zero(t, net(cancelledLines))
	ledgerNet := net(keptLines) + net(cancelledLines)

	// Billing is kept from sales agents; another partner sees nothing.
	for _, path := range []string{"/v1/customers/" + customer + "/invoices", "/v1/customers/" + customer + "/unbilled"} {
		r = p.do(http.MethodGet, path, "dev-sales-token", nil)
		assert.Equal(t, http.StatusForbidden, r.status, path)
		assert.Equal(t, "role_forbidden", r.code(t))
		assert.Equal(t, http.StatusNotFound, p.do(http.MethodGet, path, "dev-other-admin-token", nil).status, path)
	}
	r = p.do(http.MethodGet, "/v1/customers/"+customer+"/unbilled", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	r.conforms(t, "Unbilled")

	// Invoice the month (early: it has not ended), twice.
	month := time.Now().UTC().Format("2006-01")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	result, err := orchestrator.RunInvoicing(ctx, p.app.Client, month, true, time.Now())
	require.NoError(t, err)
	assert.Equal(t, 1, result.Issued)
	again, err := orchestrator.RunInvoicing(ctx, p.app.Client, month, true, time.Now())
	require.NoError(t, err)
	assert.Zero(t, again.Issued, "running it again issues nothing twice")
	_, err = orchestrator.RunInvoicing(ctx, p.app.Client, month, false, time.Now())
	require.Error(t, err, "a month that has not ended needs --close-early")
	next := time.Now().UTC().AddDate(0, 1, 0).Format("2006-01")
	_, err = orchestrator.RunInvoicing(ctx, p.app.Client, next, true, time.Now())
	require.Error(t, err, "a month that has not begun is never invoiced")

	r = p.do(http.MethodGet, "/v1/customers/"+customer+"/invoices", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r.conforms(t, "InvoicePage")
	var list struct{ Items []invoiceJSON }
	r.json(t, &list)
	require.Len(t, list.Items, 1)
	invoicePath := "/v1/invoices/" + list.Items[0].ID
	r = p.do(http.MethodGet, invoicePath, "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r.conforms(t, "Invoice")
	var inv invoiceJSON
	r.json(t, &inv)
	issued := string(r.body)
	assert.Equal(t, ledgerNet, inv.Total, "the invoice is the ledger's net to the cent")
	assert.Equal(t, "USD", inv.Currency)
	require.Len(t, inv.Lines, 5)
	for _, c := range append(keptLines, cancelledLines...) {
		assert.Contains(t, chargeIDs(inv), c.ID)
	}
	for _, c := range p.charges(kept) {
		require.NotNil(t, c.InvoiceID, "a ledger line says which invoice holds it")
		assert.Equal(t, inv.ID, *c.InvoiceID)
	}

	// The reconciliation export: RFC 4180, a header and one row per line.
	r = p.do(http.MethodGet, invoicePath, "dev-admin-token", nil, "Accept", "text/csv")
	require.Equal(t, http.StatusOK, r.status)
	assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/csv"))
	assert.Contains(t, string(r.body), "\r\n", "RFC 4180 lines end with CRLF")
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+len(inv.Lines))
	assert.Equal(t, "partner_id", rows[0][0])
	var csvNet int64
	for _, row := range rows[1:] {
		amount, err := strconv.ParseInt(row[16], 10, 64)
		require.NoError(t, err)
		if row[10] == "credit" {
			amount = -amount
		}
		csvNet += amount
		assert.Equal(t, "partner-demo", row[0])
		assert.Equal(t, "contoso-crm", row[6])
	}
	assert.Equal(t, inv.Total, csvNet)
	assert.Equal(t, http.StatusNotAcceptable, p.do(http.MethodGet, invoicePath, "dev-admin-token", nil, "Accept", "image/png").status)
	assert.Equal(t, http.StatusForbidden, p.do(http.MethodGet, invoicePath, "dev-sales-token", nil).status)
	assert.Equal(t, http.StatusNotFound, p.do(http.MethodGet, invoicePath, "dev-other-admin-token", nil).status)

	// A later change goes to the unbilled view; the issued invoice stays.
	r = p.patch(kept, map[string]any{"quantity": 6})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = p.do(http.MethodGet, "/v1/customers/"+customer+"/unbilled", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	var unbilled struct {
		Items []struct {
			SubscriptionID string `json:"subscriptionId"`
			Reason         string `json:"reason"`
		}
		Totals []struct {
			Currency string
			Total    int64
		}
	}
	r.json(t, &unbilled)
	require.Len(t, unbilled.Items, 1)
	assert.Equal(t, "licences_added", unbilled.Items[0].Reason)
	require.Len(t, unbilled.Totals, 1)
	assert.Positive(t, unbilled.Totals[0].Total)
	r = p.do(http.MethodGet, invoicePath, "dev-admin-token", nil)
	assert.JSONEq(t, issued, string(r.body), "an issued invoice never changes")

	// The schedule that invoices each month exists (Web UI → Schedules).
	desc, err := p.app.Client.ScheduleClient().GetHandle(ctx, workflows.InvoicingScheduleID).Describe(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, desc.Info.NextActionTimes)
	now := time.Now().UTC()
	firstOfNext := time.Date(now.Year(), now.Month(), 1, 0, 5, 0, 0, time.UTC)
	if !now.Before(firstOfNext) {
		firstOfNext = firstOfNext.AddDate(0, 1, 0)
	}
	assert.Equal(t, firstOfNext, desc.Info.NextActionTimes[0].UTC(), "just after this month ends")
	require.NoError(t, orchestrator.EnsureInvoicingSchedule(ctx, p.app.Client), "creating it again at start-up is a no-op")

	report, err := ledger.Verify(ctx, p.app.Store)
	require.NoError(t, err)
	assert.Empty(t, report.Differences)
	assert.Equal(t, 1, report.Invoices)
}

func chargeIDs(inv invoiceJSON) []string {
	var ids []string
	for _, l := range inv.Lines {
		ids = append(ids, l.ChargeID)
	}
	return ids
}
