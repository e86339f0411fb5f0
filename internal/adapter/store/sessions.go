package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
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

// spentSignInRow is the state of a sign-in that ended in a session.
type spentSignInRow struct {
	bun.BaseModel `bun:"table:console_sign_ins_spent"`

	StateHash string    `bun:"state_hash,pk"`
	SpentAt   time.Time `bun:"spent_at,notnull"`
}

// spentSignInsKept is how long a spent state is remembered: longer than
// a sign-in under way may last, after which its cookie is refused anyway.
const spentSignInsKept = 30 * time.Minute

// SpendSignIn records that the sign-in of this state ended in a session;
// false when it had already (a second callback of the same login), and
// then nothing is recorded. States older than a sign-in's life are
// forgotten.
func (s *Store) SpendSignIn(ctx context.Context, stateHash string, at time.Time) (bool, error) {
	if _, err := s.db.NewDelete().Model((*spentSignInRow)(nil)).Where("spent_at < ?", utc(at.Add(-spentSignInsKept))).Exec(ctx); err != nil {
		return false, fmt.Errorf("forget spent sign-ins: %w", err)
	}
	res, err := s.db.NewInsert().Model(&spentSignInRow{StateHash: stateHash, SpentAt: utc(at)}).On("CONFLICT (state_hash) DO NOTHING").Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("spend sign-in: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
