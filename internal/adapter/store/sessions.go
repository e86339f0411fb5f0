package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// ConsoleSessionRow is a partner console sign-in. Only the hash of the
// session id (the cookie) is stored, and the agent token it acts with is
// sealed: a database leak gives neither a usable cookie nor a token.
type ConsoleSessionRow struct {
	bun.BaseModel `bun:"table:console_sessions"`

	IDHash      string    `bun:"id_hash,pk"`
	AgentID     string    `bun:"agent_id,notnull"`
	SealedToken []byte    `bun:"sealed_token,notnull"`
	CSRFToken   string    `bun:"csrf_token,notnull"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
	LastSeenAt  time.Time `bun:"last_seen_at,notnull"`
}

// ConsoleSession is a live session with its token opened.
type ConsoleSession struct {
	ConsoleSessionRow
	Token string
}

// CreateConsoleSession records a sign-in.
func (s *Store) CreateConsoleSession(ctx context.Context, idHash, agentID, token, csrf string, at time.Time) error {
	sealed, err := s.box.Seal([]byte(token))
	if err != nil {
		return err
	}
	row := ConsoleSessionRow{IDHash: idHash, AgentID: agentID, SealedToken: sealed, CSRFToken: csrf, CreatedAt: utc(at), LastSeenAt: utc(at)}
	if _, err := s.db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return fmt.Errorf("create console session: %w", err)
	}
	return nil
}

// ConsoleSessionByHash returns a session, ErrNotFound when there is none.
func (s *Store) ConsoleSessionByHash(ctx context.Context, idHash string) (*ConsoleSession, error) {
	row := new(ConsoleSessionRow)
	if err := s.db.NewSelect().Model(row).Where("id_hash = ?", idHash).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	token, err := s.box.Open(row.SealedToken)
	if err != nil {
		return nil, fmt.Errorf("open console session: %w", err)
	}
	return &ConsoleSession{ConsoleSessionRow: *row, Token: string(token)}, nil
}

// TouchConsoleSession records activity on a session (its idle expiry).
func (s *Store) TouchConsoleSession(ctx context.Context, idHash string, at time.Time) error {
	_, err := s.db.NewUpdate().Model((*ConsoleSessionRow)(nil)).Set("last_seen_at = ?", utc(at)).Where("id_hash = ?", idHash).Exec(ctx)
	return err
}

// DeleteConsoleSession ends a session (sign-out, expiry).
func (s *Store) DeleteConsoleSession(ctx context.Context, idHash string) error {
	_, err := s.db.NewDelete().Model((*ConsoleSessionRow)(nil)).Where("id_hash = ?", idHash).Exec(ctx)
	return err
}
