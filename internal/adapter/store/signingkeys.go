package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// signingKeyRow is a key that signs access tokens, sealed like every
// secret the product must be able to use again.
type signingKeyRow struct {
	bun.BaseModel `bun:"table:token_signing_keys"`

	KID              string    `bun:"kid,pk"`
	SealedPrivateKey []byte    `bun:"sealed_private_key,notnull"`
	CreatedAt        time.Time `bun:"created_at,notnull"`
}

// SigningKey is a token signing key, unsealed: a PKCS #8 private key.
type SigningKey struct {
	KID        string
	PrivateKey []byte
	CreatedAt  time.Time
}

// AddSigningKey seals and stores a new signing key.
func (s *Store) AddSigningKey(ctx context.Context, k SigningKey) error {
	sealed, err := s.box.Seal(k.PrivateKey)
	if err != nil {
		return err
	}
	_, err = s.db.NewInsert().Model(&signingKeyRow{KID: k.KID, SealedPrivateKey: sealed, CreatedAt: utc(k.CreatedAt)}).Exec(ctx)
	return err
}

// SigningKeys are the signing keys created after since, newest first.
func (s *Store) SigningKeys(ctx context.Context, since time.Time) ([]SigningKey, error) {
	var rows []signingKeyRow
	if err := s.db.NewSelect().Model(&rows).Where("created_at > ?", utc(since)).OrderExpr("created_at DESC, kid DESC").Scan(ctx); err != nil {
		return nil, err
	}
	keys := make([]SigningKey, 0, len(rows))
	for _, r := range rows {
		plain, err := s.box.Open(r.SealedPrivateKey)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", r.KID, err)
		}
		keys = append(keys, SigningKey{KID: r.KID, PrivateKey: plain, CreatedAt: r.CreatedAt.UTC()})
	}
	return keys, nil
}
