package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// UpsertPartner creates the partner or renames it.
func (s *Store) UpsertPartner(ctx context.Context, id, name string) error {
	row := &partnerRow{ID: id, Name: name, CreatedAt: now()}
	_, err := s.db.NewInsert().Model(row).On("CONFLICT (id) DO UPDATE").Set("name = EXCLUDED.name").Exec(ctx)
	return err
}

// PartnerExists reports whether the partner is known.
func (s *Store) PartnerExists(ctx context.Context, id string) (bool, error) {
	return s.db.NewSelect().Model((*partnerRow)(nil)).Where("id = ?", id).Exists(ctx)
}

// CreateAgent stores a new agent token by its hash and returns the agent id.
func (s *Store) CreateAgent(ctx context.Context, partnerID, name, role, tokenHash string) (string, error) {
	row := &agentRow{ID: "agt_" + uuid.NewString(), PartnerID: partnerID, Name: name, Role: role, TokenHash: tokenHash, CreatedAt: now()}
	if _, err := s.db.NewInsert().Model(row).Exec(ctx); err != nil {
		return "", err
	}
	return row.ID, nil
}

// EnsureAgent makes the fixture agent with this token hash exist, with this
// role; it is how dev tokens are seeded idempotently. An agent an operator
// revoked stays revoked: seeding again at the next start never brings a
// revoked token back.
func (s *Store) EnsureAgent(ctx context.Context, id, partnerID, name, role, tokenHash string) error {
	row := &agentRow{ID: id, PartnerID: partnerID, Name: name, Role: role, TokenHash: tokenHash, CreatedAt: now()}
	_, err := s.db.NewInsert().Model(row).
		On("CONFLICT (id) DO UPDATE").
		Set("partner_id = EXCLUDED.partner_id, name = EXCLUDED.name, role = EXCLUDED.role, token_hash = EXCLUDED.token_hash").
		Exec(ctx)
	return err
}

// AgentByTokenHash finds the active agent holding a token.
func (s *Store) AgentByTokenHash(ctx context.Context, tokenHash string) (Agent, error) {
	var row agentRow
	err := s.db.NewSelect().Model(&row).Where("token_hash = ?", tokenHash).Where("revoked_at IS NULL").Scan(ctx)
	return row.agent(), notFound(err)
}

// AgentNames are the names of a partner's agents with these ids (revoked
// ones too: the audit trail keeps who did what); another partner's agents
// are not named.
func (s *Store) AgentNames(ctx context.Context, partnerID string, ids []string) (map[string]string, error) {
	names := map[string]string{}
	if len(ids) == 0 {
		return names, nil
	}
	var rows []agentRow
	if err := s.db.NewSelect().Model(&rows).Column("id", "name").Where("partner_id = ?", partnerID).
		Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	for _, r := range rows {
		names[r.ID] = r.Name
	}
	return names, nil
}

// RevokeAgent disables an agent's token.
func (s *Store) RevokeAgent(ctx context.Context, agentID string) error {
	res, err := s.db.NewUpdate().Model((*agentRow)(nil)).Set("revoked_at = ?", now()).Where("id = ?", agentID).Where("revoked_at IS NULL").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// CreateCustomer adds a customer to a partner.
func (s *Store) CreateCustomer(ctx context.Context, partnerID, name string) (Customer, error) {
	row := customerRow{ID: "cus_" + uuid.NewString(), PartnerID: partnerID, Name: name, CreatedAt: now()}
	if _, err := s.db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return Customer{}, err
	}
	return row.customer(), nil
}

// EnsureCustomer creates a fixture customer with a fixed id.
func (s *Store) EnsureCustomer(ctx context.Context, id, partnerID, name string) error {
	row := &customerRow{ID: id, PartnerID: partnerID, Name: name, CreatedAt: now()}
	_, err := s.db.NewInsert().Model(row).On("CONFLICT (id) DO NOTHING").Exec(ctx)
	return err
}

// Customer returns a partner's customer; another partner's is ErrNotFound.
func (s *Store) Customer(ctx context.Context, partnerID, customerID string) (Customer, error) {
	var row customerRow
	err := s.db.NewSelect().Model(&row).Where("id = ?", customerID).Where("partner_id = ?", partnerID).Scan(ctx)
	return row.customer(), notFound(err)
}

// Cursor is a position in a list sorted by (time, id).
type Cursor struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

// Customers lists a partner's customers oldest first, after the cursor.
func (s *Store) Customers(ctx context.Context, partnerID string, after *Cursor, limit int) ([]Customer, error) {
	var rows []customerRow
	q := s.db.NewSelect().Model(&rows).Where("partner_id = ?", partnerID).OrderExpr("created_at ASC, id ASC").Limit(int64(limit))
	if after != nil {
		q = q.Where("(created_at > ? OR (created_at = ? AND id > ?))", utc(after.At), utc(after.At), after.ID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	return convert(rows, customerRow.customer), nil
}
