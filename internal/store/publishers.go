package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// UpsertPublisher creates or updates an ISV.
func (s *Store) UpsertPublisher(ctx context.Context, id, name, landingURL string) error {
	row := &PublisherRow{ID: id, Name: name, LandingURL: landingURL, CreatedAt: now()}
	_, err := s.db.NewInsert().Model(row).On("CONFLICT (id) DO UPDATE").
		Set("name = EXCLUDED.name, landing_url = EXCLUDED.landing_url").Exec(ctx)
	return err
}

// Publisher returns one ISV.
func (s *Store) Publisher(ctx context.Context, id string) (*PublisherRow, error) {
	row := new(PublisherRow)
	err := s.db.NewSelect().Model(row).Where("id = ?", id).Scan(ctx)
	return row, notFound(err)
}

// EnsurePublisherSecret seals and stores a webhook secret under a fixed id
// unless that id exists already (fixtures; a rotation adds a new id).
func (s *Store) EnsurePublisherSecret(ctx context.Context, secretID, publisherID string, secret []byte) error {
	sealed, err := s.box.Seal(secret)
	if err != nil {
		return err
	}
	row := &PublisherSecretRow{ID: secretID, PublisherID: publisherID, SealedSecret: sealed, CreatedAt: now()}
	_, err = s.db.NewInsert().Model(row).On("CONFLICT (id) DO NOTHING").Exec(ctx)
	return err
}

// AddPublisherSecret stores a new webhook secret for a publisher.
func (s *Store) AddPublisherSecret(ctx context.Context, publisherID string, secret []byte) (string, error) {
	id := "sec_" + uuid.NewString()
	return id, s.EnsurePublisherSecret(ctx, id, publisherID, secret)
}

// PublisherSecrets returns the publisher's active webhook secrets, newest
// first, unsealed. An unknown publisher has none.
func (s *Store) PublisherSecrets(ctx context.Context, publisherID string) ([][]byte, error) {
	var rows []PublisherSecretRow
	err := s.db.NewSelect().Model(&rows).Where("publisher_id = ?", publisherID).Where("revoked_at IS NULL").
		OrderExpr("created_at DESC").Limit(2).Scan(ctx)
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

// RotatePublisherSecret adds a new webhook secret and revokes all but the
// two newest: the old one keeps working while the ISV switches over, and
// the next rotation retires it.
func (s *Store) RotatePublisherSecret(ctx context.Context, publisherID string, secret []byte) (string, error) {
	id, err := s.AddPublisherSecret(ctx, publisherID, secret)
	if err != nil {
		return "", err
	}
	var keep []string
	if err := s.db.NewSelect().Model((*PublisherSecretRow)(nil)).Column("id").Where("publisher_id = ?", publisherID).
		Where("revoked_at IS NULL").OrderExpr("created_at DESC, id DESC").Limit(2).Scan(ctx, &keep); err != nil {
		return "", err
	}
	_, err = s.db.NewUpdate().Model((*PublisherSecretRow)(nil)).Set("revoked_at = ?", now()).
		Where("publisher_id = ?", publisherID).Where("revoked_at IS NULL").Where("id NOT IN (?)", bun.List(keep)).Exec(ctx)
	return id, err
}
