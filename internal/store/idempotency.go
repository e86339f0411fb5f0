package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// IdempotencyTTL is how long a stored response answers repeats of its key.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyRow is the first response to a request made with an
// Idempotency-Key, replayed to repeats of that key for IdempotencyTTL.
type IdempotencyRow struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	PartnerID   string    `bun:"partner_id,pk"`
	Key         string    `bun:"key,pk"`
	Scope       string    `bun:"scope,notnull"` // method and path the key was used on
	RequestHash string    `bun:"request_hash,notnull"`
	StatusCode  int       `bun:"status_code,notnull"`
	Body        []byte    `bun:"body,notnull"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
}

// IdempotentResponse returns the live stored response of a partner's key.
func (s *Store) IdempotentResponse(ctx context.Context, partnerID, key string) (*IdempotencyRow, error) {
	row := new(IdempotencyRow)
	err := s.db.NewSelect().Model(row).Where("partner_id = ?", partnerID).Where("key = ?", key).
		Where("created_at > ?", now().Add(-IdempotencyTTL)).Scan(ctx)
	return row, notFound(err)
}

// SaveIdempotentResponse stores the first response of a key; an expired
// row of the same key is replaced, a live one kept.
func (s *Store) SaveIdempotentResponse(ctx context.Context, row IdempotencyRow) error {
	row.CreatedAt = now()
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*IdempotencyRow)(nil)).Where("partner_id = ?", row.PartnerID).Where("key = ?", row.Key).
			Where("created_at <= ?", now().Add(-IdempotencyTTL)).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewInsert().Model(&row).On("CONFLICT DO NOTHING").Exec(ctx)
		return err
	})
}
