package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// Transition is everything one workflow step writes, in one transaction:
// the new projection of the subscription and the audit events, charges and
// notifications the step produced. Every part is idempotent, so the
// activity that applies it can be retried freely.
type Transition struct {
	Subscription      SubscriptionRow
	AuthorizationCode *AuthorizationCodeRow
	Events            []EventRow
	// Receipt is the receipt of the ISV event the step took, if any.
	Receipt       *EventRow
	Charges       []ChargeRow
	Notifications []NotificationRow
}

// mutableSubscriptionColumns are the columns a newer version may change.
var mutableSubscriptionColumns = []string{
	"plan_id", "nickname", "quantity", "status", "action_needed", "auto_renew", "billing_frequency", "next_billing_frequency",
	"term_duration", "reseller_partner_id", "unit_price", "currency", "activated_at", "billing_started_at",
	"term_start", "term_end", "cancellation_window_ends_at", "version", "updated_at", "lots", "fence",
}

// ErrStaleAttempt refuses a fenced step written by a workflow task attempt
// older than the one that wrote the stored state: the late write of a
// task that was discarded (its retry has written since).
var ErrStaleAttempt = errors.New("a later attempt of the workflow has written this subscription: this write is from a discarded workflow task")

// ApplyTransition writes a transition. It reports whether the projection
// moved.
//
// An unfenced transition (committed by an activity scheduled in the
// history) replaces the projection only when its version is newer than the
// stored one; events, charges and notifications are inserted once by their
// keys.
//
// A fenced transition (Subscription.Fence, see activities.StepFence) may
// come from a workflow task that is later discarded. Against the stored
// fence it is:
//   - older: the late write of a discarded task, refused (ErrStaleAttempt);
//   - the same, with a version already stored: this attempt wrote it
//     already (a retried commit), nothing to do;
//   - newer, with a version already stored: the stored versions from this
//     one on were written by a task that was discarded (this task's history
//     does not have them); what they wrote is deleted (but a line already
//     invoiced) and this step written in its place;
//   - otherwise the next step, written.
func (s *Store) ApplyTransition(ctx context.Context, t Transition) (bool, error) {
	var moved bool
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		row := t.Subscription
		row.normalise()
		row.UpdatedAt = now()
		q := tx.NewInsert().Model(&row).On("CONFLICT (id) DO UPDATE")
		for _, col := range mutableSubscriptionColumns {
			q = q.Set("? = EXCLUDED.?", bun.Ident(col), bun.Ident(col))
		}
		newVersion := true
		if row.Fence == "" {
			q = q.Where("?TableAlias.version < EXCLUDED.version")
		} else {
			write, replaced, err := s.fenceStep(ctx, tx, row)
			if err != nil || !write {
				return err
			}
			// A replacement is a version counted already; the guard
			// covers two first steps racing (no stored row to lock).
			newVersion = !replaced
			q = q.Where("?TableAlias.fence <= EXCLUDED.fence")
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return fmt.Errorf("upsert subscription %s v%d: %w", row.ID, row.Version, err)
		}
		n, _ := res.RowsAffected()
		moved = n > 0 && newVersion
		if code := t.AuthorizationCode; code != nil {
			c := *code
			c.ExpiresAt, c.CreatedAt = utc(c.ExpiresAt), now()
			if _, err := tx.NewInsert().Model(&c).On("CONFLICT (code_hash) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert authorization code: %w", err)
			}
		}
		for _, e := range t.Events {
			e.CreatedAt = utc(e.CreatedAt)
			if _, err := tx.NewInsert().Model(&e).On("CONFLICT (key) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert event %s: %w", e.Key, err)
			}
		}
		if r := t.Receipt; r != nil {
			e := *r
			e.CreatedAt = utc(e.CreatedAt)
			if _, err := tx.NewInsert().Model(&e).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert receipt %s: %w", e.Key, err)
			}
		}
		for _, c := range t.Charges {
			c.PeriodStart, c.PeriodEnd, c.CreatedAt = utc(c.PeriodStart), utc(c.PeriodEnd), now()
			if c.PostedAt.IsZero() {
				c.PostedAt = c.CreatedAt // a step recorded before lines had a posting time
			}
			c.PostedAt, c.CustomerID, c.InvoiceID = utc(c.PostedAt), row.CustomerID, nil
			if _, err := tx.NewInsert().Model(&c).On("CONFLICT (key) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert charge %s: %w", c.Key, err)
			}
		}
		if len(t.Notifications) > 0 {
			if err := s.lockOutbox(ctx, tx); err != nil {
				return err
			}
		}
		for _, n := range t.Notifications {
			n.CreatedAt = now()
			if n.Status == "" {
				n.Status = NotificationPending
			}
			if _, err := tx.NewInsert().Model(&n).On("CONFLICT (key) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert notification %s: %w", n.Key, err)
			}
		}
		return nil
	})
	return moved, err
}

// fenceStep compares a fenced step with what is stored (see
// ApplyTransition), deletes what a discarded task wrote when the step
// replaces it, and says whether the step is to be written and whether it
// replaces a version already stored.
func (s *Store) fenceStep(ctx context.Context, tx bun.Tx, row SubscriptionRow) (write, replaced bool, err error) {
	var stored struct {
		Version int64  `bun:"version"`
		Fence   string `bun:"fence"`
	}
	q := tx.NewSelect().Model((*SubscriptionRow)(nil)).Column("version", "fence").Where("id = ?", row.ID)
	if s.dialect.Name == "pg" {
		q = q.For("UPDATE") // SQLite's IMMEDIATE transactions already serialise writers
	}
	switch err := q.Scan(ctx, &stored); {
	case errors.Is(err, sql.ErrNoRows):
		return true, false, nil // the purchase
	case err != nil:
		return false, false, err
	case row.Fence < stored.Fence:
		return false, false, fmt.Errorf("subscription %s v%d of %s (stored v%d of %s): %w", row.ID, row.Version, row.Fence, stored.Version, stored.Fence, ErrStaleAttempt)
	case row.Version > stored.Version:
		return true, false, nil
	case row.Fence == stored.Fence:
		return false, false, nil
	}
	// Written by a discarded task: what it wrote from this version on goes.
	for _, model := range []any{(*EventRow)(nil), (*NotificationRow)(nil), (*ChargeRow)(nil)} {
		d := tx.NewDelete().Model(model).Where("subscription_id = ?", row.ID).Where("step_version >= ?", row.Version).Where("fence <> ''")
		if _, ok := model.(*ChargeRow); ok {
			// An invoice never changes; an invoiced line stays (the retry's
			// line of the same key is then not written).
			d = d.Where("invoice_id IS NULL")
		}
		if _, err := d.Exec(ctx); err != nil {
			return false, false, fmt.Errorf("replace subscription %s from v%d: %w", row.ID, row.Version, err)
		}
	}
	return true, true, nil
}

// outboxLockKey names the Postgres advisory lock of the outbox.
const outboxLockKey = 0x6f7574626f78 // "outbox"

// lockOutbox makes notifications commit in id order, which is how pullers
// page through the outbox ("after the last id seen"). Postgres hands out
// ids at insert, not at commit: without this, a smaller id could commit
// after a larger one was listed and a puller would pass it for good. The
// lock is taken just before a step's notifications are inserted (the last
// writes of its transaction) and held to the commit, so the next step
// takes its ids only once this one is visible. SQLite has one writer at a
// time already.
func (s *Store) lockOutbox(ctx context.Context, tx bun.Tx) error {
	if s.dialect.Name != "pg" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", int64(outboxLockKey)); err != nil {
		return fmt.Errorf("lock the outbox: %w", err)
	}
	return nil
}

// Notification statuses in the outbox.
const (
	NotificationPending   = "pending"
	NotificationDelivered = "delivered"
)

func (r *SubscriptionRow) normalise() {
	r.PurchasedAt = utc(r.PurchasedAt)
	r.ActivatedAt = utcPtr(r.ActivatedAt)
	r.BillingStartedAt = utcPtr(r.BillingStartedAt)
	r.TermStart = utcPtr(r.TermStart)
	r.TermEnd = utcPtr(r.TermEnd)
	r.CancellationWindowEndsAt = utcPtr(r.CancellationWindowEndsAt)
	if r.IdempotencyKey != nil && *r.IdempotencyKey == "" {
		r.IdempotencyKey = nil
	}
}

// ToSubscription is the subscription the row projects.
func (r SubscriptionRow) ToSubscription() lifecycle.Subscription {
	return lifecycle.Subscription{
		ID: r.ID, CustomerID: r.CustomerID, PartnerID: r.PartnerID, OfferID: r.OfferID, PlanID: r.PlanID,
		PublisherID: r.PublisherID, Nickname: r.Nickname, Quantity: r.Quantity, Status: lifecycle.Status(r.Status),
		ActionNeeded: r.ActionNeeded, AutoRenew: r.AutoRenew, BillingFrequency: r.BillingFrequency,
		NextBillingFrequency: r.NextBillingFrequency, TermDuration: r.TermDuration, ResellerPartnerID: r.ResellerPartnerID, UnitPrice: r.UnitPrice,
		Currency: r.Currency, PurchasedAt: r.PurchasedAt.UTC(), ActivatedAt: utcPtr(r.ActivatedAt),
		BillingStartedAt: utcPtr(r.BillingStartedAt), TermStart: utcPtr(r.TermStart), TermEnd: utcPtr(r.TermEnd),
		CancellationWindowEndsAt: utcPtr(r.CancellationWindowEndsAt), PublisherURL: r.PublisherURL, Version: r.Version,
	}
}

// Subscription returns one subscription of a partner's customer; anything
// outside that scope is ErrNotFound.
func (s *Store) Subscription(ctx context.Context, partnerID, customerID, id string) (*SubscriptionRow, error) {
	row := new(SubscriptionRow)
	err := s.db.NewSelect().Model(row).Where("id = ?", id).Where("partner_id = ?", partnerID).Where("customer_id = ?", customerID).Scan(ctx)
	return row, notFound(err)
}

// SubscriptionByID returns a subscription with no tenant scope (ISV side,
// which checks the publisher itself, and internal use).
func (s *Store) SubscriptionByID(ctx context.Context, id string) (*SubscriptionRow, error) {
	row := new(SubscriptionRow)
	err := s.db.NewSelect().Model(row).Where("id = ?", id).Scan(ctx)
	return row, notFound(err)
}

// SubscriptionFilter narrows a subscription list.
type SubscriptionFilter struct {
	Status  string
	OfferID string
	// AllKinds includes subscriptions that are not license-based; by
	// default lists show license-based ones, as the Marketplace tab does.
	AllKinds bool
}

// Subscriptions lists a customer's subscriptions oldest purchase first.
func (s *Store) Subscriptions(ctx context.Context, partnerID, customerID string, f SubscriptionFilter, after *Cursor, limit int) ([]SubscriptionRow, error) {
	var rows []SubscriptionRow
	q := s.db.NewSelect().Model(&rows).Where("partner_id = ?", partnerID).Where("customer_id = ?", customerID).
		OrderExpr("purchased_at ASC, id ASC").Limit(int64(limit))
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.OfferID != "" {
		q = q.Where("offer_id = ?", f.OfferID)
	}
	if !f.AllKinds {
		q = q.Where("license_based = ?", true)
	}
	if after != nil {
		q = q.Where("(purchased_at > ? OR (purchased_at = ? AND id > ?))", utc(after.At), utc(after.At), after.ID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return rows, nil
}
