package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// NewConsoleSession is a sign-in to record: an agent's (AgentID, Secret
// its token) or a person's (PersonID, PartnerID and Role as the directory
// gave them, Secret the ID token, kept for the provider's sign-out).
type NewConsoleSession struct {
	IDHash, AgentID, PersonID string
	PartnerID, Role           string
	Secret, CSRFToken         string
}

// CreateConsoleSession records a sign-in.
func (s *Store) CreateConsoleSession(ctx context.Context, n NewConsoleSession, at time.Time) error {
	if (n.AgentID == "") == (n.PersonID == "") {
		return errors.New("create console session: an agent's or a person's, not both")
	}
	sealed, err := s.box.Seal([]byte(n.Secret))
	if err != nil {
		return err
	}
	row := consoleSessionRow{IDHash: n.IDHash, PartnerID: n.PartnerID, Role: n.Role, SealedSecret: sealed, CSRFToken: n.CSRFToken,
		CreatedAt: utc(at), LastSeenAt: utc(at)}
	if n.AgentID != "" {
		row.AgentID = &n.AgentID
	} else {
		row.PersonID = &n.PersonID
	}
	if _, err := s.db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return fmt.Errorf("create console session: %w", err)
	}
	return nil
}

// ConsoleSessionByHash returns a session, ErrNotFound when there is none.
func (s *Store) ConsoleSessionByHash(ctx context.Context, idHash string) (*ConsoleSession, error) {
	row := new(consoleSessionRow)
	if err := s.db.NewSelect().Model(row).Where("id_hash = ?", idHash).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	secret, err := s.box.Open(row.SealedSecret)
	if err != nil {
		return nil, fmt.Errorf("open console session: %w", err)
	}
	session := row.session(string(secret))
	return &session, nil
}

// TouchConsoleSession records activity on a session (its idle expiry).
func (s *Store) TouchConsoleSession(ctx context.Context, idHash string, at time.Time) error {
	_, err := s.db.NewUpdate().Model((*consoleSessionRow)(nil)).Set("last_seen_at = ?", utc(at)).Where("id_hash = ?", idHash).Exec(ctx)
	return err
}

// DeleteConsoleSession ends a session (sign-out, expiry).
func (s *Store) DeleteConsoleSession(ctx context.Context, idHash string) error {
	_, err := s.db.NewDelete().Model((*consoleSessionRow)(nil)).Where("id_hash = ?", idHash).Exec(ctx)
	return err
}
