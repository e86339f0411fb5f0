package store

import (
	"cmp"
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// Notification statuses beyond pending and delivered.
const (
	// NotificationFailed: every retry failed; the notification stays
	// readable in the outbox.
	NotificationFailed = "failed"
)

// SetEndpoint sets where an owner receives notifications, in which dialect
// ("" is native); secret is sealed (nil for publishers, which sign with
// their webhook secret).
func (s *Store) SetEndpoint(ctx context.Context, ownerKind, ownerID, url, dialect string, secret []byte) error {
	row := &endpointRow{OwnerKind: ownerKind, OwnerID: ownerID, URL: url, Dialect: cmp.Or(dialect, DialectNative), UpdatedAt: now()}
	if secret != nil {
		sealed, err := s.box.Seal(secret)
		if err != nil {
			return err
		}
		row.SealedSecret = sealed
	}
	_, err := s.db.NewInsert().Model(row).On("CONFLICT (owner_kind, owner_id) DO UPDATE").
		Set("url = EXCLUDED.url, sealed_secret = EXCLUDED.sealed_secret, updated_at = EXCLUDED.updated_at, dialect = EXCLUDED.dialect").Exec(ctx)
	return err
}

// Endpoint returns an owner's endpoint and its unsealed secret (nil for a
// publisher's).
func (s *Store) Endpoint(ctx context.Context, ownerKind, ownerID string) (*Endpoint, []byte, error) {
	var row endpointRow
	if err := s.db.NewSelect().Model(&row).Where("owner_kind = ?", ownerKind).Where("owner_id = ?", ownerID).Scan(ctx); err != nil {
		return nil, nil, notFound(err)
	}
	endpoint := row.endpoint()
	if row.SealedSecret == nil {
		return &endpoint, nil, nil
	}
	secret, err := s.box.Open(row.SealedSecret)
	if err != nil {
		return nil, nil, fmt.Errorf("endpoint of %s %s: %w", ownerKind, ownerID, err)
	}
	return &endpoint, secret, nil
}

// Recipient names a notification's receiver.
type Recipient struct{ Kind, ID string }

// RecipientsWithEndpoints reports which of the recipients have an endpoint.
func (s *Store) RecipientsWithEndpoints(ctx context.Context, recipients []Recipient) (map[Recipient]bool, error) {
	out := map[Recipient]bool{}
	if len(recipients) == 0 {
		return out, nil
	}
	var rows []endpointRow
	q := s.db.NewSelect().Model(&rows).Column("owner_kind", "owner_id")
	q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		for _, r := range recipients {
			q = q.WhereOr("(owner_kind = ? AND owner_id = ?)", r.Kind, r.ID)
		}
		return q
	})
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[Recipient{r.OwnerKind, r.OwnerID}] = true
	}
	return out, nil
}

// NotificationsByKeys returns the notifications with these keys.
func (s *Store) NotificationsByKeys(ctx context.Context, keys []string) ([]Notification, error) {
	var rows []notificationRow
	if len(keys) == 0 {
		return nil, nil
	}
	err := s.db.NewSelect().Model(&rows).Where("key IN (?)", bun.List(keys)).OrderExpr("id ASC").Scan(ctx)
	return convert(rows, notificationRow.notification), err
}

// Notification returns one notification.
func (s *Store) Notification(ctx context.Context, id int64) (Notification, error) {
	var row notificationRow
	err := s.db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	return row.notification(), notFound(err)
}

// RecordAttempt logs a delivery attempt and moves the notification to
// status (pending while retries go on, delivered, failed).
func (s *Store) RecordAttempt(ctx context.Context, attempt Attempt, status string) error {
	a := attemptRowOf(attempt)
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		a.CreatedAt = now()
		if _, err := tx.NewInsert().Model(&a).Exec(ctx); err != nil {
			return err
		}
		q := tx.NewUpdate().Model((*notificationRow)(nil)).Where("id = ?", a.NotificationID).
			Set("attempts = attempts + 1").Set("last_error = ?", a.Error)
		if status != "" {
			q = q.Set("status = ?", status)
		}
		if status == NotificationDelivered {
			q = q.Set("delivered_at = ?", now())
		}
		_, err := q.Exec(ctx)
		return err
	})
}

// MarkNotification sets a notification's status.
func (s *Store) MarkNotification(ctx context.Context, id int64, status, lastError string) error {
	_, err := s.db.NewUpdate().Model((*notificationRow)(nil)).Where("id = ?", id).Set("status = ?", status).Set("last_error = ?", lastError).Exec(ctx)
	return err
}

// Attempts lists a notification's delivery attempts, oldest first.
func (s *Store) Attempts(ctx context.Context, notificationID int64) ([]Attempt, error) {
	var rows []attemptRow
	err := s.db.NewSelect().Model(&rows).Where("notification_id = ?", notificationID).OrderExpr("id ASC").Scan(ctx)
	return convert(rows, attemptRow.attempt), err
}

// Outbox lists a recipient's notifications after the id, oldest first.
func (s *Store) Outbox(ctx context.Context, recipientKind, recipientID, status string, afterID int64, limit int) ([]Notification, error) {
	var rows []notificationRow
	q := s.db.NewSelect().Model(&rows).Where("recipient_kind = ?", recipientKind).Where("recipient_id = ?", recipientID).
		Where("id > ?", afterID).OrderExpr("id ASC").Limit(int64(limit))
	if status != "" {
		q = q.Where("status = ?", status)
	}
	err := q.Scan(ctx)
	return convert(rows, notificationRow.notification), err
}
