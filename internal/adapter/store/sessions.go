package store

import (
	"context"
	"database/sql"
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

// SignIn is a sign-in under way at the identity provider: what its
// callback needs.
type SignIn struct {
	StateHash, BrowserHash, Nonce, Verifier string
}

// SignInLifetime is how long a person has at the provider's login page
// before the sign-in must begin again.
const SignInLifetime = 10 * time.Minute

// BeginSignIn records a sign-in under way (and forgets those abandoned).
func (s *Store) BeginSignIn(ctx context.Context, in SignIn, at time.Time) error {
	sealed, err := s.box.Seal([]byte(in.Verifier))
	if err != nil {
		return err
	}
	if _, err := s.db.NewDelete().Model((*signInRow)(nil)).Where("created_at < ?", utc(at.Add(-SignInLifetime))).Exec(ctx); err != nil {
		return fmt.Errorf("forget abandoned sign-ins: %w", err)
	}
	row := signInRow{StateHash: in.StateHash, BrowserHash: in.BrowserHash, Nonce: in.Nonce, SealedVerifier: sealed, CreatedAt: utc(at)}
	if _, err := s.db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return fmt.Errorf("begin sign-in: %w", err)
	}
	return nil
}

// TakeSignIn is the sign-in under way with this state, begun by this
// browser less than SignInLifetime ago, taken once: a second callback
// with the same state (a replay, or another browser's) finds nothing
// (ErrNotFound) and changes nothing.
func (s *Store) TakeSignIn(ctx context.Context, stateHash, browserHash string, at time.Time) (SignIn, error) {
	var row signInRow
	err := s.db.NewSelect().Model(&row).Where("state_hash = ?", stateHash).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && row.BrowserHash != browserHash) {
		// Another browser's state is left for that browser.
		return SignIn{}, ErrNotFound
	}
	if err != nil {
		return SignIn{}, err
	}
	res, err := s.db.NewDelete().Model((*signInRow)(nil)).Where("state_hash = ?", stateHash).Exec(ctx)
	if err != nil {
		return SignIn{}, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return SignIn{}, ErrNotFound // taken by a callback at the same moment
	}
	if at.Sub(row.CreatedAt) > SignInLifetime {
		return SignIn{}, ErrNotFound
	}
	verifier, err := s.box.Open(row.SealedVerifier)
	if err != nil {
		return SignIn{}, fmt.Errorf("open sign-in: %w", err)
	}
	return SignIn{StateHash: row.StateHash, BrowserHash: row.BrowserHash, Nonce: row.Nonce, Verifier: string(verifier)}, nil
}
