package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
)

// invoicesPerActivity bounds one IssueInvoices call, so a month with many
// customers is invoiced in pages and a retry redoes little.
const invoicesPerActivity = 200

// IssueInvoicesInput is one page of a month's invoicing.
type IssueInvoicesInput struct {
	PeriodStart time.Time `json:"periodStart"`
	PeriodEnd   time.Time `json:"periodEnd"`
	// Cutoff: lines posted before it are invoiced (the month's end, or
	// the moment of an early close).
	Cutoff time.Time `json:"cutoff"`
	RunID  string    `json:"runId"`
	// After is the last group of the previous page.
	After *store.InvoiceGroup `json:"after,omitempty"`
}

// IssueInvoicesResult is what a page issued and where the next one starts
// (nil when the month is done).
type IssueInvoicesResult struct {
	Issued        int                 `json:"issued"`
	AlreadyIssued int                 `json:"alreadyIssued"`
	Next          *store.InvoiceGroup `json:"next,omitempty"`
}

// IssueInvoices issues the invoices of one page of groups. Each invoice is
// issued in its own transaction under its derived id: a retry finds those
// already issued and issues nothing twice.
func (a *Activities) IssueInvoices(ctx context.Context, in IssueInvoicesInput) (IssueInvoicesResult, error) {
	var out IssueInvoicesResult
	groups, err := a.Store.UninvoicedGroups(ctx, in.Cutoff, in.After, invoicesPerActivity)
	if err != nil {
		return out, err
	}
	for i, g := range groups {
		inv, fresh, err := a.Store.IssueInvoice(ctx, g, in.PeriodStart, in.PeriodEnd, in.Cutoff, in.RunID, time.Now())
		if err != nil {
			return out, fmt.Errorf("invoice %s/%s/%s: %w", g.PartnerID, g.CustomerID, g.Currency, err)
		}
		switch {
		case inv == nil:
		case fresh:
			out.Issued++
			a.log().Info("invoice issued", "invoice", inv.ID, "partner", inv.PartnerID, "number", inv.Number, "total", inv.Total, "currency", inv.Currency)
		default:
			out.AlreadyIssued++
		}
		activity.RecordHeartbeat(ctx, i)
	}
	if len(groups) == invoicesPerActivity {
		last := groups[len(groups)-1]
		out.Next = &last
	}
	return out, nil
}
