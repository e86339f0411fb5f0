package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
)

// InvoiceGroup is whose lines one invoice holds: a partner's customer, in
// one currency.
type InvoiceGroup struct {
	PartnerID  string `bun:"partner_id" json:"partnerId"`
	CustomerID string `bun:"customer_id" json:"customerId"`
	Currency   string `bun:"currency" json:"currency"`
}

// InvoiceID is the id of a group's invoice for the month starting at
// periodStart: derived, so issuing it again finds the same invoice.
func InvoiceID(g InvoiceGroup, periodStart time.Time) string {
	sum := sha256.Sum256([]byte(g.PartnerID + "\x00" + g.CustomerID + "\x00" + g.Currency + "\x00" + periodStart.UTC().Format("2006-01")))
	return "inv_" + hex.EncodeToString(sum[:10])
}

// UninvoicedGroups lists, in a stable order after the given group, the
// groups that have lines posted before cutoff and not invoiced yet.
func (s *Store) UninvoicedGroups(ctx context.Context, cutoff time.Time, after *InvoiceGroup, limit int) ([]InvoiceGroup, error) {
	var groups []InvoiceGroup
	q := s.db.NewSelect().TableExpr("charges").ColumnExpr("DISTINCT partner_id, customer_id, currency").
		Where("invoice_id IS NULL").Where("posted_at < ?", utc(cutoff)).
		OrderExpr("partner_id, customer_id, currency").Limit(int64(limit))
	if after != nil {
		q = q.Where("(partner_id > ? OR (partner_id = ? AND (customer_id > ? OR (customer_id = ? AND currency > ?))))",
			after.PartnerID, after.PartnerID, after.CustomerID, after.CustomerID, after.Currency)
	}
	if err := q.Scan(ctx, &groups); err != nil {
		return nil, fmt.Errorf("list uninvoiced groups: %w", err)
	}
	return groups, nil
}

// IssueInvoice issues a group's invoice for the month [periodStart,
// periodEnd): every line of the group posted before cutoff and not yet
// invoiced, numbered next for the partner, in one transaction. Issuing it
// again returns the invoice already issued and changes nothing: lines
// posted meanwhile wait for the next month's invoice. It returns nil when
// the group has nothing to invoice.
func (s *Store) IssueInvoice(ctx context.Context, g InvoiceGroup, periodStart, periodEnd, cutoff time.Time, runID string, issuedAt time.Time) (*Invoice, bool, error) {
	id := InvoiceID(g, periodStart)
	var issued *invoiceRow
	var fresh bool
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		issued, fresh = nil, false
		if s.dialect.Name == "pg" {
			// One numbering at a time per partner: numbers without gaps.
			if _, err := tx.NewRaw("SELECT id FROM partners WHERE id = ? FOR UPDATE", g.PartnerID).Exec(ctx); err != nil {
				return err
			}
		}
		existing := new(invoiceRow)
		err := tx.NewSelect().Model(existing).Where("id = ?", id).Scan(ctx)
		if err == nil {
			issued = existing
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var lines []invoiceLineRow
		err = uninvoicedLines(tx, g.PartnerID, g.CustomerID).Where("c.currency = ?", g.Currency).
			Where("c.posted_at < ?", utc(cutoff)).OrderExpr("c.posted_at ASC, c.id ASC").Scan(ctx, &lines)
		if err != nil {
			return fmt.Errorf("lines to invoice: %w", err)
		}
		if len(lines) == 0 {
			return nil
		}
		var last sql.NullInt64
		if err := tx.NewSelect().TableExpr("invoices").ColumnExpr("MAX(number)").Where("partner_id = ?", g.PartnerID).Scan(ctx, &last); err != nil {
			return fmt.Errorf("last invoice number: %w", err)
		}
		inv := invoiceRow{
			ID: id, PartnerID: g.PartnerID, CustomerID: g.CustomerID, Currency: g.Currency,
			PeriodStart: utc(periodStart), PeriodEnd: utc(periodEnd), Number: last.Int64 + 1, IssuedAt: utc(issuedAt), RunID: runID,
		}
		keys := make([]string, len(lines))
		for i := range lines {
			l := &lines[i]
			l.InvoiceID, l.Position = id, i+1
			l.PeriodStart, l.PeriodEnd, l.PostedAt = utc(l.PeriodStart), utc(l.PeriodEnd), utc(l.PostedAt)
			keys[i] = l.ChargeKey
			inv.Subtotal = billing.Add(inv.Subtotal, billing.Signed(l.Kind, l.Amount))
		}
		inv.Total = billing.InvoiceTotal(inv.Subtotal)
		if _, err := tx.NewInsert().Model(&inv).Exec(ctx); err != nil {
			return fmt.Errorf("insert invoice: %w", err)
		}
		if _, err := tx.NewInsert().Model(&lines).Exec(ctx); err != nil {
			return fmt.Errorf("insert invoice lines: %w", err)
		}
		res, err := tx.NewUpdate().Table("charges").Set("invoice_id = ?", id).
			Where("key IN (?)", bun.List(keys)).Where("invoice_id IS NULL").Exec(ctx)
		if err != nil {
			return fmt.Errorf("mark lines invoiced: %w", err)
		}
		if n, _ := res.RowsAffected(); n != int64(len(keys)) {
			return fmt.Errorf("invoice %s: %d of %d lines were invoiced meanwhile", id, int64(len(keys))-n, len(keys))
		}
		issued, fresh = &inv, true
		return nil
	})
	if err != nil || issued == nil {
		return nil, false, err
	}
	inv := issued.invoice()
	return &inv, fresh, nil
}

// Invoices lists a customer's invoices by number, after the given number.
func (s *Store) Invoices(ctx context.Context, partnerID, customerID string, afterNumber int64, limit int) ([]Invoice, error) {
	var rows []invoiceRow
	err := s.db.NewSelect().Model(&rows).Where("partner_id = ?", partnerID).Where("customer_id = ?", customerID).
		Where("number > ?", afterNumber).OrderExpr("number ASC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	return convert(rows, invoiceRow.invoice), nil
}

// Invoice returns one of a partner's invoices with its lines; another
// partner's is ErrNotFound.
func (s *Store) Invoice(ctx context.Context, partnerID, id string) (*Invoice, []InvoiceLine, error) {
	var row invoiceRow
	q := s.db.NewSelect().Model(&row).Where("id = ?", id)
	if partnerID != "" {
		q = q.Where("partner_id = ?", partnerID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, notFound(err)
	}
	lines, err := s.InvoiceLines(ctx, id)
	inv := row.invoice()
	return &inv, lines, err
}

// InvoiceLines are an invoice's lines in order.
func (s *Store) InvoiceLines(ctx context.Context, invoiceID string) ([]InvoiceLine, error) {
	var lines []invoiceLineRow
	err := s.db.NewSelect().Model(&lines).Where("invoice_id = ?", invoiceID).OrderExpr("position ASC").Scan(ctx)
	return convert(lines, invoiceLineRow.line), err
}

// uninvoicedLines selects a customer's ledger lines not invoiced yet as
// invoice lines: with what a reconciliation needs of their subscription.
// Issuing an invoice copies them; the unbilled view shows them.
func uninvoicedLines(db bun.IDB, partnerID, customerID string) *bun.SelectQuery {
	return db.NewSelect().TableExpr("charges AS c").Join("JOIN subscriptions AS s ON s.id = c.subscription_id").
		ColumnExpr("c.key AS charge_key, c.subscription_id, s.offer_id, s.plan_id, s.publisher_id, s.reseller_partner_id").
		ColumnExpr("c.kind, c.reason, c.quantity, c.unit_price, c.period_start, c.period_end, c.amount, c.currency, c.posted_at").
		ColumnExpr("c.dimension, c.usage_units").
		Where("c.partner_id = ?", partnerID).Where("c.customer_id = ?", customerID).Where("c.invoice_id IS NULL")
}

// UnbilledLines are a customer's lines not invoiced yet, in the order the
// next invoice will list them.
func (s *Store) UnbilledLines(ctx context.Context, partnerID, customerID string) ([]InvoiceLine, error) {
	var lines []invoiceLineRow
	err := uninvoicedLines(s.db, partnerID, customerID).OrderExpr("c.currency ASC, c.posted_at ASC, c.id ASC").Scan(ctx, &lines)
	if err != nil {
		return nil, fmt.Errorf("unbilled lines: %w", err)
	}
	return convert(lines, invoiceLineRow.line), nil
}

// AllInvoices is every invoice, by partner and number (the ledger check).
func (s *Store) AllInvoices(ctx context.Context) ([]Invoice, error) {
	var rows []invoiceRow
	err := s.db.NewSelect().Model(&rows).OrderExpr("partner_id ASC, number ASC").Scan(ctx)
	return convert(rows, invoiceRow.invoice), err
}

// AllSubscriptions pages through every subscription by id (the ledger check).
func (s *Store) AllSubscriptions(ctx context.Context, afterID string, limit int) ([]Subscription, error) {
	var rows []subscriptionRow
	err := s.db.NewSelect().Model(&rows).Where("id > ?", afterID).OrderExpr("id ASC").Limit(int64(limit)).Scan(ctx)
	return convert(rows, subscriptionRow.subscription), err
}

// Charge returns one ledger line by its key.
func (s *Store) Charge(ctx context.Context, key string) (Line, error) {
	var row chargeRow
	err := s.db.NewSelect().Model(&row).Where("key = ?", key).Scan(ctx)
	return row.line(), notFound(err)
}

// InvoicedChargeKeys maps every invoiced ledger line to its invoice.
func (s *Store) InvoicedChargeKeys(ctx context.Context) (map[string]string, error) {
	var rows []chargeRow
	if err := s.db.NewSelect().Model(&rows).Column("key", "invoice_id").Where("invoice_id IS NOT NULL").Scan(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Key] = *r.InvoiceID
	}
	return out, nil
}

// InvoiceHasLine reports whether an invoice lists the ledger line.
func (s *Store) InvoiceHasLine(ctx context.Context, invoiceID, chargeKey string) bool {
	n, err := s.db.NewSelect().Model((*invoiceLineRow)(nil)).Where("invoice_id = ?", invoiceID).Where("charge_key = ?", chargeKey).Count(ctx)
	return err == nil && n == 1
}
