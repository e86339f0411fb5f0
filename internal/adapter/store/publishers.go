package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// UpsertPublisher creates or updates an ISV.
func (s *Store) UpsertPublisher(ctx context.Context, id, name, landingURL string) error {
	row := &publisherRow{ID: id, Name: name, LandingURL: landingURL, CreatedAt: now()}
	_, err := s.db.NewInsert().Model(row).On("CONFLICT (id) DO UPDATE").
		Set("name = EXCLUDED.name, landing_url = EXCLUDED.landing_url").Exec(ctx)
	return err
}

// Publisher returns one ISV.
func (s *Store) Publisher(ctx context.Context, id string) (Publisher, error) {
	var row publisherRow
	err := s.db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	return row.publisher(), notFound(err)
}

// EnsurePublisherSecret seals and stores a webhook secret under a fixed id
// unless that id exists already (fixtures; a rotation adds a new id).
func (s *Store) EnsurePublisherSecret(ctx context.Context, secretID, publisherID string, secret []byte) error {
	sealed, err := s.box.Seal(secret)
	if err != nil {
		return err
	}
	row := &publisherSecretRow{ID: secretID, PublisherID: publisherID, SealedSecret: sealed, CreatedAt: now()}
	_, err = s.db.NewInsert().Model(row).On("CONFLICT (id) DO NOTHING").Exec(ctx)
	return err
}

// PublisherSecrets returns the publisher's secrets that verify now (at
// most the two newest: the current one and, during a rotation's overlap,
// the previous one), newest first, unsealed. An unknown publisher has none.
func (s *Store) PublisherSecrets(ctx context.Context, publisherID string) ([][]byte, error) {
	var rows []publisherSecretRow
	err := s.db.NewSelect().Model(&rows).Where("publisher_id = ?", publisherID).
		Where("(revoked_at IS NULL OR revoked_at > ?)", now()).
		OrderExpr("created_at DESC, id DESC").Limit(2).Scan(ctx)
	if err != nil {
		return nil, err
	}
	secrets := make([][]byte, 0, len(rows))
	for _, r := range rows {
		plain, err := s.box.Open(r.SealedSecret)
		if err != nil {
			return nil, fmt.Errorf("publisher %s secret %s: %w", publisherID, r.ID, err)
		}
		secrets = append(secrets, plain)
	}
	return secrets, nil
}

// PublisherSecretInfo is what operators see of a secret: never the secret.
type PublisherSecretInfo struct {
	ID        string
	CreatedAt time.Time
	// RevokedAt: when it stops (or stopped) verifying; nil while current.
	RevokedAt *time.Time
}

// PublisherSecretList lists a publisher's secrets, newest first, without
// their values.
func (s *Store) PublisherSecretList(ctx context.Context, publisherID string) ([]PublisherSecretInfo, error) {
	var rows []publisherSecretRow
	if err := s.db.NewSelect().Model(&rows).Column("id", "created_at", "revoked_at").Where("publisher_id = ?", publisherID).
		OrderExpr("created_at DESC, id DESC").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]PublisherSecretInfo, 0, len(rows))
	for _, r := range rows {
		out = append(out, PublisherSecretInfo{ID: r.ID, CreatedAt: r.CreatedAt.UTC(), RevokedAt: utcPtr(r.RevokedAt)})
	}
	return out, nil
}

// RotatePublisherSecret adds a new webhook secret. The previous current
// one keeps verifying for overlap, while the ISV switches over, then stops
// by itself; any older one stops now. An overlap of 0 stops the previous
// one at once (a leaked secret).
func (s *Store) RotatePublisherSecret(ctx context.Context, publisherID string, secret []byte, overlap time.Duration) (string, error) {
	sealed, err := s.box.Seal(secret)
	if err != nil {
		return "", err
	}
	id := "sec_" + uuid.NewString()
	at := now()
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var live []publisherSecretRow
		if err := tx.NewSelect().Model(&live).Column("id", "revoked_at").Where("publisher_id = ?", publisherID).
			Where("(revoked_at IS NULL OR revoked_at > ?)", at).OrderExpr("created_at DESC, id DESC").Scan(ctx); err != nil {
			return err
		}
		for i, row := range live {
			until := at
			if i == 0 && overlap > 0 {
				until = at.Add(overlap)
				if row.RevokedAt != nil && row.RevokedAt.Before(until) {
					until = *row.RevokedAt // a rotation never lengthens an overlap already running
				}
			}
			if _, err := tx.NewUpdate().Model((*publisherSecretRow)(nil)).Set("revoked_at = ?", utc(until)).
				Where("id = ?", row.ID).Exec(ctx); err != nil {
				return err
			}
		}
		row := &publisherSecretRow{ID: id, PublisherID: publisherID, SealedSecret: sealed, CreatedAt: at}
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
	return id, err
}

// RevokePublisherSecret stops one of a publisher's secrets now: the end of
// a rotation's overlap brought forward, or a leaked secret.
func (s *Store) RevokePublisherSecret(ctx context.Context, publisherID, secretID string) error {
	res, err := s.db.NewUpdate().Model((*publisherSecretRow)(nil)).Set("revoked_at = ?", now()).
		Where("id = ?", secretID).Where("publisher_id = ?", publisherID).
		Where("(revoked_at IS NULL OR revoked_at > ?)", now()).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
