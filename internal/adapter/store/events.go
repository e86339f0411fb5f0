package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// LiveAuthorizationCode is the one code of a subscription that resolves:
// the live one while it stays valid past validUntil and can be shown again,
// otherwise a new one from mint, stored as the only live code (every other
// is revoked) in the same transaction. Concurrent callers get the same code.
func (s *Store) LiveAuthorizationCode(ctx context.Context, subscriptionID, publisherID string, validUntil time.Time,
	mint func() (code, hash string, expiresAt time.Time)) (string, time.Time, error) {
	var code string
	var expiresAt time.Time
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if s.dialect.Name == "pg" {
			// SQLite's IMMEDIATE transactions already serialise writers.
			if _, err := tx.NewSelect().Model((*subscriptionRow)(nil)).Column("id").Where("id = ?", subscriptionID).For("UPDATE").Exec(ctx); err != nil {
				return err
			}
		}
		var live struct {
			ExpiresAt  time.Time `bun:"expires_at"`
			SealedCode []byte    `bun:"sealed_code"`
		}
		err := tx.NewSelect().TableExpr("authorization_codes AS c").Join("JOIN sealed_authorization_codes AS s ON s.code_hash = c.code_hash").
			ColumnExpr("c.expires_at, s.sealed_code").Where("c.subscription_id = ?", subscriptionID).Where("c.revoked_at IS NULL").
			Where("c.expires_at > ?", utc(validUntil)).OrderExpr("c.expires_at DESC").Limit(1).Scan(ctx, &live)
		if err == nil {
			plain, err := s.box.Open(live.SealedCode)
			if err != nil {
				return fmt.Errorf("open authorization code: %w", err)
			}
			code, expiresAt = string(plain), live.ExpiresAt.UTC()
			return nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		c, hash, exp := mint()
		at := now()
		if err := s.keepCode(ctx, tx, c, hash, at); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*authorizationCodeRow)(nil)).Set("revoked_at = ?", at).
			Where("subscription_id = ?", subscriptionID).Where("revoked_at IS NULL").Exec(ctx); err != nil {
			return err
		}
		row := &authorizationCodeRow{CodeHash: hash, SubscriptionID: subscriptionID, PublisherID: publisherID, ExpiresAt: utc(exp), CreatedAt: at}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		code, expiresAt = c, row.ExpiresAt
		return nil
	})
	return code, expiresAt, err
}

// KeepAuthorizationCode stores a code's sealed plaintext before the
// purchase's workflow records its hash, so that the purchase's code is
// the one shown again while it lives.
func (s *Store) KeepAuthorizationCode(ctx context.Context, code, hash string) error {
	return s.keepCode(ctx, s.db, code, hash, now())
}

func (s *Store) keepCode(ctx context.Context, db bun.IDB, code, hash string, at time.Time) error {
	sealed, err := s.box.Seal([]byte(code))
	if err != nil {
		return err
	}
	row := &sealedCodeRow{CodeHash: hash, SealedCode: sealed, CreatedAt: at}
	_, err = db.NewInsert().Model(row).On("CONFLICT (code_hash) DO NOTHING").Exec(ctx)
	return err
}

// AuthorizationCode looks a code up by its hash.
func (s *Store) AuthorizationCode(ctx context.Context, codeHash string) (AuthorizationCode, error) {
	var row authorizationCodeRow
	err := s.db.NewSelect().Model(&row).Where("code_hash = ?", codeHash).Scan(ctx)
	return row.code(), notFound(err)
}

// ErrDuplicate reports a write that an earlier identical one already made.
var ErrDuplicate = errors.New("duplicate")

// RecordISVEventReceipt records that an ISV event was received, keyed by
// (publisher, event id). It returns ErrDuplicate when that publisher's event
// id was recorded before: the durable deduplication of webhook deliveries.
func (s *Store) RecordISVEventReceipt(ctx context.Context, r Receipt) error {
	e := r.row()
	res, err := s.db.NewInsert().Model(&e).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrDuplicate
	}
	return nil
}

// ISVEventReceivedAt is when the delivery of a publisher's event id that
// was recorded arrived (its receipt's time), ErrNotFound without one.
func (s *Store) ISVEventReceivedAt(ctx context.Context, publisherID, eventID string) (time.Time, error) {
	var row eventRow
	err := s.db.NewSelect().Model(&row).Column("created_at").Where("key = ?", "isv/"+publisherID+"/"+eventID).Scan(ctx)
	return row.CreatedAt.UTC(), notFound(err)
}

// ISVEventReceived reports whether a publisher's event id was recorded.
func (s *Store) ISVEventReceived(ctx context.Context, publisherID, eventID string) (bool, error) {
	return s.db.NewSelect().Model((*eventRow)(nil)).Where("publisher_id = ?", publisherID).Where("isv_event_id = ?", eventID).Exists(ctx)
}

// Events is a subscription's audit trail, oldest first.
func (s *Store) Events(ctx context.Context, subscriptionID string) ([]AuditLine, error) {
	var rows []eventRow
	err := s.db.NewSelect().Model(&rows).Where("subscription_id = ?", subscriptionID).OrderExpr("id ASC").Scan(ctx)
	return convert(rows, eventRow.line), err
}

// Charges is a subscription's ledger, oldest first.
func (s *Store) Charges(ctx context.Context, subscriptionID string) ([]Line, error) {
	var rows []chargeRow
	err := s.db.NewSelect().Model(&rows).Where("subscription_id = ?", subscriptionID).OrderExpr("id ASC").Scan(ctx)
	return convert(rows, chargeRow.line), err
}

// Notifications is a subscription's outbox, oldest first.
func (s *Store) Notifications(ctx context.Context, subscriptionID string) ([]Notification, error) {
	var rows []notificationRow
	err := s.db.NewSelect().Model(&rows).Where("subscription_id = ?", subscriptionID).OrderExpr("id ASC").Scan(ctx)
	return convert(rows, notificationRow.notification), err
}

// ISVEventType is the type of a publisher's event id that was recorded,
// ErrNotFound without one.
func (s *Store) ISVEventType(ctx context.Context, publisherID, eventID string) (string, error) {
	var row eventRow
	if err := s.db.NewSelect().Model(&row).Column("detail").Where("key = ?", "isv/"+publisherID+"/"+eventID).Scan(ctx); err != nil {
		return "", notFound(err)
	}
	var detail struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal([]byte(row.Detail), &detail)
	return detail.Type, nil
}
