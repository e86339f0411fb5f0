package store

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/cspmarket/orchestrator/internal/domain/auth"
)

// PersonSeen is who the identity provider vouched for at a sign-in (or in
// an access token): the directory's person.
type PersonSeen struct {
	Issuer, Subject, PartnerID, Name, Email, Role string
}

// RecordPerson records a person at their first sign-in and keeps their
// name, email and role as the provider last said (a name or email the
// provider did not send this time is kept as it was: access tokens often
// carry neither). ErrNotFound when the partner does not exist. A revoked
// person is returned as such; the caller refuses them.
func (s *Store) RecordPerson(ctx context.Context, p PersonSeen, at time.Time) (Person, error) {
	exists, err := s.PartnerExists(ctx, p.PartnerID)
	if err != nil {
		return Person{}, err
	}
	if !exists {
		return Person{}, fmt.Errorf("partner %s: %w", p.PartnerID, ErrNotFound)
	}
	// Whatever path the name came by, it is recorded as it may be shown.
	row := personRow{ID: "per_" + uuid.NewString(), PartnerID: p.PartnerID, Issuer: p.Issuer, Subject: p.Subject, Name: auth.Shown(p.Name),
		Email: auth.Shown(p.Email), Role: p.Role, CreatedAt: utc(at), LastSignedInAt: utc(at)}
	if _, err := s.db.NewInsert().Model(&row).
		On("CONFLICT (issuer, subject, partner_id) DO UPDATE").
		Set("name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE people.name END").
		Set("email = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE people.email END").
		Set("role = EXCLUDED.role, last_signed_in_at = EXCLUDED.last_signed_in_at").
		Exec(ctx); err != nil {
		return Person{}, fmt.Errorf("record person: %w", err)
	}
	var out personRow
	err = s.db.NewSelect().Model(&out).Where("issuer = ? AND subject = ? AND partner_id = ?", p.Issuer, p.Subject, p.PartnerID).Scan(ctx)
	return out.person(), notFound(err)
}

// PersonByID is a recorded person (revoked ones too).
func (s *Store) PersonByID(ctx context.Context, id string) (Person, error) {
	var row personRow
	err := s.db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	return row.person(), notFound(err)
}

// PersonNames are the names of a partner's people with these ids (revoked
// ones too: the audit trail keeps who did what); another partner's people
// are not named.
func (s *Store) PersonNames(ctx context.Context, partnerID string, ids []string) (map[string]string, error) {
	names := map[string]string{}
	if len(ids) == 0 {
		return names, nil
	}
	var rows []personRow
	if err := s.db.NewSelect().Model(&rows).Column("id", "name", "email", "subject").Where("partner_id = ?", partnerID).
		Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	for _, r := range rows {
		names[r.ID] = cmp.Or(r.Name, r.Email, r.Subject)
	}
	return names, nil
}

// RevokePerson refuses a person from now on, whatever the provider says:
// their sessions end at their next request and their access tokens are
// refused.
func (s *Store) RevokePerson(ctx context.Context, id string) error {
	res, err := s.db.NewUpdate().Model((*personRow)(nil)).Set("revoked_at = ?", now()).Where("id = ?", id).Where("revoked_at IS NULL").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// People are everyone recorded, by partner and name (an operator's list).
func (s *Store) People(ctx context.Context) ([]Person, error) {
	var rows []personRow
	if err := s.db.NewSelect().Model(&rows).Order("partner_id", "name", "id").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]Person, len(rows))
	for i, r := range rows {
		out[i] = r.person()
	}
	return out, nil
}
