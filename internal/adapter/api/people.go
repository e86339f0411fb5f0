package api

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/identity"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
)

// maxAccessTokenLength bounds a bearer token: providers' JWTs run to a
// few kilobytes (Entra ID's with many groups), agent tokens to 47 bytes.
const maxAccessTokenLength = 16 << 10

// looksLikeJWT tells a provider's access token (a compact JWS, three
// base64url parts) from an agent token (mpt_…), which has no dot.
func looksLikeJWT(token string) bool { return strings.Count(token, ".") == 2 }

// personCalls authenticates a request by a person's access token: the
// token verified by the provider's keys (issuer, the API's audience,
// expiry), the directory's mapping, and the person recorded (named in
// the audit trail from their first request). A role removed in the
// directory takes effect with the next token the provider issues.
func (s *Server) personCalls(w http.ResponseWriter, r *http.Request, token string, next func(http.ResponseWriter, *http.Request, auth.Agent)) {
	person, err := s.Identity.Person(r.Context(), token)
	switch {
	case errors.Is(err, identity.ErrUnavailable):
		s.Logger.Warn("identity provider unavailable", "requestId", requestID(r), "error", err)
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, http.StatusServiceUnavailable, "identity_provider_unavailable", "The identity provider does not answer; retry later.")
		return
	case errors.Is(err, auth.ErrNoRole), errors.Is(err, auth.ErrUnknownPartner), errors.Is(err, auth.ErrNoSubject):
		writeProblem(w, r, http.StatusForbidden, "not_a_partner_agent", "The access token is valid, but "+err.Error()+".")
		return
	case err != nil:
		// Never the token itself: the reason only.
		s.Logger.Info("access token refused", "requestId", requestID(r), "reason", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="marketplace", error="invalid_token"`)
		s.refuseFailedAuthentication(w, r, "unauthenticated", "The access token is not valid here (signature, issuer, audience or expiry).")
		return
	}
	a, err := s.people.agent(r, s, person, token)
	if errors.Is(err, errRevoked) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="marketplace", error="invalid_token"`)
		s.refuseFailedAuthentication(w, r, "unauthenticated", "This person's access was revoked here.")
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, http.StatusForbidden, "not_a_partner_agent", "The directory maps your organisation to partner "+person.PartnerID+", which does not exist here.")
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	next(w, r, a)
}

var errRevoked = errors.New("revoked")

// peopleSeen remembers, for a minute, the people recorded for the access
// tokens seen: a script calling the API many times a second writes their
// row once a minute. A revocation is read at every request, as an agent
// token's is.
type peopleSeen struct {
	mu   sync.Mutex
	seen map[auth.Person]seenPerson
}

type seenPerson struct {
	agent auth.Agent
	at    time.Time
}

const (
	rememberPeopleFor = time.Minute
	maxPeopleSeen     = 10_000
)

func newPeopleSeen() *peopleSeen { return &peopleSeen{seen: map[auth.Person]seenPerson{}} }

func (p *peopleSeen) agent(r *http.Request, s *Server, person auth.Person, token string) (auth.Agent, error) {
	now := s.Now()
	p.mu.Lock()
	hit, ok := p.seen[person]
	p.mu.Unlock()
	if !ok || now.Sub(hit.at) > rememberPeopleFor || now.Before(hit.at) {
		key := person
		if person.Name == "" && person.Email == "" {
			// Once a minute at most per person: their name for the audit
			// trail, which the access token did not carry.
			person.Name, person.Email = s.Identity.Profile(r.Context(), person.Subject, token)
		}
		row, err := s.Store.RecordPerson(r.Context(), store.PersonSeen{Issuer: s.Identity.Issuer(), Subject: person.Subject,
			PartnerID: person.PartnerID, Name: person.Name, Email: person.Email, Role: string(person.Role)}, now)
		if err != nil {
			return auth.Agent{}, err
		}
		if row.RevokedAt != nil {
			return auth.Agent{}, errRevoked
		}
		hit = seenPerson{agent: auth.Agent{ID: row.ID, PartnerID: row.PartnerID, Role: person.Role, Person: true, Name: row.Name}, at: now}
		p.mu.Lock()
		if len(p.seen) >= maxPeopleSeen {
			clear(p.seen)
		}
		p.seen[key] = hit
		p.mu.Unlock()
		return hit.agent, nil
	}
	row, err := s.Store.PersonByID(r.Context(), hit.agent.ID)
	if err != nil {
		return auth.Agent{}, err
	}
	if row.RevokedAt != nil {
		return auth.Agent{}, errRevoked
	}
	return hit.agent, nil
}
