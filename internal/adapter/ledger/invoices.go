package ledger

import (
	"context"
	"fmt"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
)

// verifyInvoices checks every issued invoice against the ledger: numbered
// 1..n per partner without a gap, its total the sum of its lines (credits
// negative), each line the same as the ledger line it invoices, and that
// line marked as invoiced by it and by no other.
func verifyInvoices(ctx context.Context, s *store.Store) ([]string, int, error) {
	invoices, err := s.AllInvoices(ctx)
	if err != nil {
		return nil, 0, err
	}
	var diffs []string
	number := map[string]int64{}
	for _, inv := range invoices {
		number[inv.PartnerID]++
		if inv.Number != number[inv.PartnerID] {
			diffs = append(diffs, fmt.Sprintf("invoice %s: number %d of partner %s, expected %d (numbers have a gap or a repeat)", inv.ID, inv.Number, inv.PartnerID, number[inv.PartnerID]))
			number[inv.PartnerID] = inv.Number
		}
		lines, err := s.InvoiceLines(ctx, inv.ID)
		if err != nil {
			return nil, 0, err
		}
		var sum int64
		for _, l := range lines {
			sum = billing.Add(sum, l.Signed())
			c, err := s.Charge(ctx, l.ChargeKey)
			if err != nil {
				diffs = append(diffs, fmt.Sprintf("invoice %s: line %d invoices %s, which is not in the ledger", inv.ID, l.Position, l.ChargeKey))
				continue
			}
			if c.Kind != l.Kind || c.Amount != l.Amount || c.Quantity != l.Quantity || c.Currency != l.Currency || c.SubscriptionID != l.SubscriptionID {
				diffs = append(diffs, fmt.Sprintf("invoice %s: line %d is %s %d %s x%d, the ledger line %s is %s %d %s x%d",
					inv.ID, l.Position, l.Kind, l.Amount, l.Currency, l.Quantity, c.Key, c.Kind, c.Amount, c.Currency, c.Quantity))
			}
			if c.InvoiceID == nil || *c.InvoiceID != inv.ID {
				diffs = append(diffs, fmt.Sprintf("invoice %s: ledger line %s is not marked as invoiced by it", inv.ID, c.Key))
			}
			if !l.PostedAt.Before(inv.PeriodEnd) {
				diffs = append(diffs, fmt.Sprintf("invoice %s: line %d was posted %s, after the invoice's month", inv.ID, l.Position, l.PostedAt.UTC().Format("2006-01-02T15:04:05Z")))
			}
			if c.CustomerID != inv.CustomerID || c.PartnerID != inv.PartnerID || c.Currency != inv.Currency {
				diffs = append(diffs, fmt.Sprintf("invoice %s: ledger line %s belongs to another partner, customer or currency", inv.ID, c.Key))
			}
		}
		if len(lines) == 0 {
			diffs = append(diffs, fmt.Sprintf("invoice %s has no lines", inv.ID))
		}
		if sum != inv.Subtotal || inv.Total != inv.Subtotal {
			diffs = append(diffs, fmt.Sprintf("invoice %s: subtotal %d and total %d, its lines sum to %d", inv.ID, inv.Subtotal, inv.Total, sum))
		}
	}
	invoiced, err := s.InvoicedChargeKeys(ctx)
	if err != nil {
		return nil, 0, err
	}
	for key, invoiceID := range invoiced {
		if !s.InvoiceHasLine(ctx, invoiceID, key) {
			diffs = append(diffs, fmt.Sprintf("ledger line %s is marked as invoiced by %s, which does not list it", key, invoiceID))
		}
	}
	return diffs, len(invoices), nil
}
