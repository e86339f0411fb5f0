package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/caller"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// partner authenticates a partner API request: the caller the console
// hands in process, or a bearer token, an agent's or (with an identity
// provider configured) a person's access token.
func (s *Server) partner(next func(http.ResponseWriter, *http.Request, auth.Agent)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a, ok := caller.From(r.Context()); ok {
			next(w, r, a)
			return
		}
		token, ok := bearerToken(r)
		if !ok || token == "" || len(token) > maxAccessTokenLength {
			w.Header().Set("WWW-Authenticate", `Bearer realm="marketplace"`)
			s.refuseFailedAuthentication(w, r, "unauthenticated", "An 'Authorization: Bearer <agent token or access token>' header is required.")
			return
		}
		if s.Identity != nil && looksLikeJWT(token) {
			s.personCalls(w, r, token, next)
			return
		}
		row, err := s.Store.AgentByTokenHash(r.Context(), auth.HashToken(token))
		if errors.Is(err, store.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="marketplace", error="invalid_token"`)
			s.refuseFailedAuthentication(w, r, "unauthenticated", "The bearer token is unknown or revoked.")
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next(w, r, auth.Agent{ID: row.ID, PartnerID: row.PartnerID, Role: auth.Role(row.Role)})
	}
}

// actorOf is how the audit trail names the caller.
func actorOf(a auth.Agent) string {
	if a.Person {
		return lifecycle.PersonActor(a.ID)
	}
	return lifecycle.AgentActor(a.ID)
}

// allow answers 403 unless the agent's role grants p.
func allow(w http.ResponseWriter, r *http.Request, a auth.Agent, p auth.Permission) bool {
	if a.Role.Can(p) {
		return true
	}
	writeProblem(w, r, http.StatusForbidden, "role_forbidden", "The role "+string(a.Role)+" may not "+string(p)+" here; ask an admin agent.")
	return false
}

func (s *Server) listOffers(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermRead) {
		return
	}
	offers, err := s.Store.Offers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": offers})
}

func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermPurchase) {
		return
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	name, refused := fields.CustomerName(body.Name)
	if refused != nil {
		s.writeError(w, r, refused)
		return
	}
	c, err := s.Store.CreateCustomer(r.Context(), a.PartnerID, name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/customers/"+c.ID)
	writeJSON(w, http.StatusCreated, customerView(c))
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermRead) {
		return
	}
	size, after, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rows, err := s.Store.Customers(r.Context(), a.PartnerID, after, size+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := make([]wire.Customer, 0, len(rows))
	for i, c := range rows {
		if i == size {
			break
		}
		items = append(items, customerView(c))
	}
	resp := wire.Page[wire.Customer]{Items: items}
	if len(rows) > size {
		last := rows[size-1]
		resp.NextPageToken = encodeCursor(store.Cursor{At: last.CreatedAt, ID: last.ID})
	}
	writeJSON(w, http.StatusOK, resp)
}

// customer resolves {customerId} within the caller's partner, answering
// 404 for anything else (another partner's ids leak nothing).
func (s *Server) customer(w http.ResponseWriter, r *http.Request, a auth.Agent) (store.Customer, bool) {
	if !fields.ID(r.PathValue("customerId")) {
		writeProblem(w, r, http.StatusNotFound, "customer_not_found", "No such customer.")
		return store.Customer{}, false
	}
	c, err := s.Store.Customer(r.Context(), a.PartnerID, r.PathValue("customerId"))
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, "customer_not_found", "No such customer.")
		return store.Customer{}, false
	}
	if err != nil {
		s.writeError(w, r, err)
		return store.Customer{}, false
	}
	return c, true
}

const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// pageSizeParam is the pageSize query parameter, or the default.
func pageSizeParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("pageSize")
	if v == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, invalid("pageSize", "must be a whole number from 1 to %d", maxPageSize)
	}
	return n, nil
}

func pageParams(r *http.Request) (int, *store.Cursor, error) {
	size, err := pageSizeParam(r)
	if err != nil {
		return 0, nil, err
	}
	token := r.URL.Query().Get("pageToken")
	if token == "" {
		return size, nil, nil
	}
	c, err := decodeCursor(token)
	if err != nil {
		return 0, nil, invalid("pageToken", "is not a token this API issued")
	}
	return size, c, nil
}

func encodeCursor(c store.Cursor) string {
	c.At = c.At.UTC()
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(token string) (*store.Cursor, error) {
	if len(token) > 512 {
		return nil, errors.New("token too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, err
	}
	var c store.Cursor
	if err := json.Unmarshal(b, &c); err != nil || !fields.ID(c.ID) || c.At.IsZero() {
		return nil, errors.New("bad token")
	}
	return &c, nil
}

// withTimeout is a request-scoped deadline for calls to Temporal.
func withTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermRead) {
		return
	}
	c, ok := s.customer(w, r, a)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, customerView(c))
}

// bearerToken is the credentials of an `Authorization: Bearer <token>`
// header; the scheme's name is case-insensitive (RFC 9110 section 11.1).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}
