package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// Step is everything one workflow step writes, in one transaction: the
// subscription after the step and the audit events, ledger lines and
// notifications the step produced. Every part has a key derived from the
// step, so the activity that applies it can be retried freely.
type Step struct {
	Subscription      Subscription
	AuthorizationCode *AuthorizationCode
	Events            []lifecycle.AuditEvent
	// Receipt is the receipt of the ISV event the step took, if any.
	Receipt       *Receipt
	Charges       []billing.Charge
	Notifications []lifecycle.Notification
	// Operations are the operations the step creates or settles.
	Operations []lifecycle.Operation
	// WorkflowID and RunID are the run whose history records the step:
	// a delivery checks the step is there before it sends a notification.
	WorkflowID, RunID string
}

// NotificationKey is the outbox key of a step's notification.
func NotificationKey(subscriptionID string, version int64, n lifecycle.Notification) string {
	return fmt.Sprintf("%s/v%d/%s/%s:%s", subscriptionID, version, n.Type, n.RecipientKind, n.RecipientID)
}

// rows are the step's rows, keyed by the step.
func (t Step) rows() (sub subscriptionRow, events []eventRow, charges []chargeRow, notifications []notificationRow, err error) {
	sub, err = subscriptionRowOf(t.Subscription)
	if err != nil {
		return sub, nil, nil, nil, err
	}
	for i, e := range t.Events {
		detail, err := json.Marshal(orEmpty(e.Detail))
		if err != nil {
			return sub, nil, nil, nil, err
		}
		events = append(events, eventRow{
			Key:            fmt.Sprintf("%s/v%d/event-%d/%s", sub.ID, sub.Version, i, e.Kind),
			SubscriptionID: sub.ID, Kind: e.Kind, Actor: e.Actor, Detail: string(detail), CreatedAt: utc(e.At),
			StepVersion: sub.Version, Fence: sub.Fence,
		})
	}
	for _, c := range t.Charges {
		charges = append(charges, chargeRowOf(c, sub.CustomerID, sub.Version, sub.Fence))
	}
	for _, n := range t.Notifications {
		payload, err := json.Marshal(orEmpty(n.Payload))
		if err != nil {
			return sub, nil, nil, nil, err
		}
		notifications = append(notifications, notificationRow{
			Key:            NotificationKey(sub.ID, sub.Version, n),
			SubscriptionID: sub.ID, RecipientKind: n.RecipientKind, RecipientID: n.RecipientID, Type: n.Type, Payload: string(payload),
			Status: NotificationPending, StepVersion: sub.Version, Fence: sub.Fence, WorkflowID: t.WorkflowID, RunID: t.RunID,
		})
	}
	return sub, events, charges, notifications, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// ErrStaleAttempt refuses a fenced step written by a workflow task attempt
// older than the one that wrote the stored state: the late write of a
// task that was discarded (its retry has written since).
var ErrStaleAttempt = errors.New("a later attempt of the workflow has written this subscription: this write is from a discarded workflow task")

// ApplyStep writes a step. It reports whether the subscription moved.
//
// An unfenced step (committed by an activity scheduled in the
// history) replaces the projection only when its version is newer than the
// stored one; events, charges and notifications are inserted once by their
// keys.
//
// A fenced step (Subscription.Fence, see activities.StepFence) may
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
func (s *Store) ApplyStep(ctx context.Context, t Step) (bool, error) {
	row, events, charges, notifications, err := t.rows()
	if err != nil {
		return false, err
	}
	var moved bool
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
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
			c := authorizationCodeRowOf(*code)
			c.CreatedAt = now()
			if _, err := tx.NewInsert().Model(&c).On("CONFLICT (code_hash) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert authorization code: %w", err)
			}
		}
		for _, e := range events {
			if _, err := tx.NewInsert().Model(&e).On("CONFLICT (key) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert event %s: %w", e.Key, err)
			}
		}
		if r := t.Receipt; r != nil {
			e := r.row()
			if _, err := tx.NewInsert().Model(&e).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert receipt %s: %w", e.Key, err)
			}
		}
		for _, c := range charges {
			c.CreatedAt = now()
			if c.PostedAt.IsZero() {
				c.PostedAt = c.CreatedAt // a step recorded before lines had a posting time
			}
			if _, err := tx.NewInsert().Model(&c).On("CONFLICT (key) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert charge %s: %w", c.Key, err)
			}
		}
		if len(notifications) > 0 {
			if err := s.lockOutbox(ctx, tx); err != nil {
				return err
			}
		}
		for _, n := range notifications {
			n.CreatedAt = now()
			if _, err := tx.NewInsert().Model(&n).On("CONFLICT (key) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert notification %s: %w", n.Key, err)
			}
		}
		for _, op := range t.Operations {
			o := operationRow{Key: fmt.Sprintf("%s/v%d", op.ID, row.Version), OperationID: op.ID, SubscriptionID: row.ID, PublisherID: row.PublisherID,
				OfferID: row.OfferID, Action: op.Action, Status: op.Status, PlanID: op.PlanID, Quantity: op.Quantity, Source: op.Source,
				Reason: op.Reason, RequestedAt: utc(op.RequestedAt), CreatedAt: now(), StepVersion: row.Version, Fence: row.Fence}
			if _, err := tx.NewInsert().Model(&o).On("CONFLICT (key) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("insert operation %s: %w", o.Key, err)
			}
		}
		return nil
	})
	return moved, err
}

// fenceStep compares a fenced step with what is stored (see
// ApplyStep), deletes what a discarded task wrote when the step
// replaces it, and says whether the step is to be written and whether it
// replaces a version already stored.
func (s *Store) fenceStep(ctx context.Context, tx bun.Tx, row subscriptionRow) (write, replaced bool, err error) {
	var stored struct {
		Version int64  `bun:"version"`
		Fence   string `bun:"fence"`
	}
	q := tx.NewSelect().Model((*subscriptionRow)(nil)).Column("version", "fence").Where("id = ?", row.ID)
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
	for _, model := range []any{(*eventRow)(nil), (*notificationRow)(nil), (*chargeRow)(nil), (*operationRow)(nil)} {
		d := tx.NewDelete().Model(model).Where("subscription_id = ?", row.ID).Where("step_version >= ?", row.Version).Where("fence <> ''")
		if _, ok := model.(*chargeRow); ok {
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
	// NotificationSkipped: the recipient's dialect has no such message
	// (Microsoft's publishers are told of no purchase); it is not sent.
	NotificationSkipped = "skipped"
)

// Subscription returns one subscription of a partner's customer; anything
// outside that scope is ErrNotFound.
func (s *Store) Subscription(ctx context.Context, partnerID, customerID, id string) (Subscription, error) {
	var row subscriptionRow
	err := s.db.NewSelect().Model(&row).Where("id = ?", id).Where("partner_id = ?", partnerID).Where("customer_id = ?", customerID).Scan(ctx)
	return row.subscription(), notFound(err)
}

// SubscriptionByID returns a subscription with no tenant scope (ISV side,
// which checks the publisher itself, and internal use).
func (s *Store) SubscriptionByID(ctx context.Context, id string) (Subscription, error) {
	var row subscriptionRow
	err := s.db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	return row.subscription(), notFound(err)
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
func (s *Store) Subscriptions(ctx context.Context, partnerID, customerID string, f SubscriptionFilter, after *Cursor, limit int) ([]Subscription, error) {
	var rows []subscriptionRow
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
	return convert(rows, subscriptionRow.subscription), nil
}

// PublisherSubscriptions lists a publisher's subscriptions by id, after
// the id after ("" from the first).
func (s *Store) PublisherSubscriptions(ctx context.Context, publisherID, after string, limit int) ([]Subscription, error) {
	var rows []subscriptionRow
	q := s.db.NewSelect().Model(&rows).Where("publisher_id = ?", publisherID).OrderExpr("id ASC").Limit(int64(limit))
	if after != "" {
		q = q.Where("id > ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list a publisher's subscriptions: %w", err)
	}
	return convert(rows, subscriptionRow.subscription), nil
}
