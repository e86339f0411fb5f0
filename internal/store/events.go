package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// IssueAuthorizationCode stores a new code (by hash) for a subscription.
func (s *Store) IssueAuthorizationCode(ctx context.Context, codeHash, subscriptionID, publisherID string, expiresAt time.Time) error {
	row := &AuthorizationCodeRow{CodeHash: codeHash, SubscriptionID: subscriptionID, PublisherID: publisherID, ExpiresAt: utc(expiresAt), CreatedAt: now()}
	_, err := s.db.NewInsert().Model(row).Exec(ctx)
	return err
}

// AuthorizationCode looks a code up by its hash.
func (s *Store) AuthorizationCode(ctx context.Context, codeHash string) (*AuthorizationCodeRow, error) {
	row := new(AuthorizationCodeRow)
	err := s.db.NewSelect().Model(row).Where("code_hash = ?", codeHash).Scan(ctx)
	return row, notFound(err)
}

// ErrDuplicate reports a write that an earlier identical one already made.
var ErrDuplicate = errors.New("duplicate")

// Kinds of receipt rows.
const (
	KindISVEventReceived = "isv_event.received"
	KindISVEventRejected = "isv_event.rejected"
)

// ISVEventReceipt is the receipt row of a publisher's event: the webhook
// writes it when it answers, and the workflow's step that takes the event
// writes it again (a no-op when it exists), so a duplicate is recognised
// even when the database was unavailable as the event arrived. reason is
// set when the event was refused without reaching the workflow.
func ISVEventReceipt(publisherID, eventID, subscriptionID, eventType, planID string, quantity int, receivedAt time.Time, reason string) EventRow {
	detail := map[string]any{"type": eventType, "data": map[string]any{"planId": planID, "quantity": quantity}}
	kind := KindISVEventReceived
	if reason != "" {
		kind = KindISVEventRejected
		detail["reason"] = reason
	}
	b, _ := json.Marshal(detail)
	return EventRow{
		Key: "isv/" + publisherID + "/" + eventID, SubscriptionID: subscriptionID, Kind: kind,
		Actor: "publisher:" + publisherID, Detail: string(b), PublisherID: &publisherID, ISVEventID: &eventID, CreatedAt: receivedAt,
	}
}

// RecordISVEventReceipt records that an ISV event was received, keyed by
// (publisher, event id). It returns ErrDuplicate when that publisher's event
// id was recorded before: the durable deduplication of webhook deliveries.
func (s *Store) RecordISVEventReceipt(ctx context.Context, e EventRow) error {
	e.CreatedAt = utc(e.CreatedAt)
	res, err := s.db.NewInsert().Model(&e).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrDuplicate
	}
	return nil
}

// ISVEventReceived reports whether a publisher's event id was recorded.
func (s *Store) ISVEventReceived(ctx context.Context, publisherID, eventID string) (bool, error) {
	return s.db.NewSelect().Model((*EventRow)(nil)).Where("publisher_id = ?", publisherID).Where("isv_event_id = ?", eventID).Exists(ctx)
}

// Events is a subscription's audit trail, oldest first.
func (s *Store) Events(ctx context.Context, subscriptionID string) ([]EventRow, error) {
	var rows []EventRow
	err := s.db.NewSelect().Model(&rows).Where("subscription_id = ?", subscriptionID).OrderExpr("id ASC").Scan(ctx)
	return rows, err
}

// Charges is a subscription's ledger, oldest first.
func (s *Store) Charges(ctx context.Context, subscriptionID string) ([]ChargeRow, error) {
	var rows []ChargeRow
	err := s.db.NewSelect().Model(&rows).Where("subscription_id = ?", subscriptionID).OrderExpr("id ASC").Scan(ctx)
	return rows, err
}

// Notifications is a subscription's outbox, oldest first.
func (s *Store) Notifications(ctx context.Context, subscriptionID string) ([]NotificationRow, error) {
	var rows []NotificationRow
	err := s.db.NewSelect().Model(&rows).Where("subscription_id = ?", subscriptionID).OrderExpr("id ASC").Scan(ctx)
	return rows, err
}
