package store

import (
	"context"
	"fmt"
	"time"
)

// CreateConsoleSession records a sign-in.
func (s *Store) CreateConsoleSession(ctx context.Context, idHash, agentID, token, csrf string, at time.Time) error {
	sealed, err := s.box.Seal([]byte(token))
	if err != nil {
		return err
	}
	row := consoleSessionRow{IDHash: idHash, AgentID: agentID, SealedToken: sealed, CSRFToken: csrf, CreatedAt: utc(at), LastSeenAt: utc(at)}
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
	token, err := s.box.Open(row.SealedToken)
	if err != nil {
		return nil, fmt.Errorf("open console session: %w", err)
	}
	session := row.session(string(token))
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
