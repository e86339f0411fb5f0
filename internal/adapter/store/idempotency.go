package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// IdempotencyTTL is how long a stored response answers repeats of its key.
const IdempotencyTTL = 24 * time.Hour

// ReserveIdempotencyKey claims a partner's key for a request (scope and
// content hash) before it runs, so that concurrent requests with one key
// cannot each run: it returns reserved when this request holds the key now,
// and otherwise what holds it (StatusCode 0 while its request is
// still running). An expired row of the same key is replaced.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, partnerID, key, scope, requestHash string) (HeldKey, bool, error) {
	row := &idempotencyRow{PartnerID: partnerID, Key: key, Scope: scope, RequestHash: requestHash, Body: []byte{}, CreatedAt: now()}
	reserved := false
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*idempotencyRow)(nil)).Where("partner_id = ?", partnerID).Where("key = ?", key).
			Where("created_at <= ?", now().Add(-IdempotencyTTL)).Exec(ctx); err != nil {
			return err
		}
		res, err := tx.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			reserved = true
			return nil
		}
		return tx.NewSelect().Model(row).Where("partner_id = ?", partnerID).Where("key = ?", key).Scan(ctx)
	})
	return row.held(), reserved, err
}

// CompleteIdempotentKey stores the response of the request that holds the
// key; it changes nothing once a response is stored. A request that gets
// no answer worth keeping (a 5xx) stores none and keeps the reservation:
// a repeat then finds it, with its CreatedAt, and runs the same request
// again under it (the API derives the change's Update id from it).
func (s *Store) CompleteIdempotentKey(ctx context.Context, partnerID, key string, status int, body []byte) error {
	_, err := s.db.NewUpdate().Model((*idempotencyRow)(nil)).Set("status_code = ?", status).Set("body = ?", body).
		Where("partner_id = ?", partnerID).Where("key = ?", key).Where("status_code = 0").Exec(ctx)
	return err
}
