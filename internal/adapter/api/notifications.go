package api

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

type endpointRequest struct {
	URL string `json:"url"`
	// Dialect is a publisher's choice of notification shape: "native"
	// (the default) or "microsoft" (CONTRACT.md).
	Dialect string `json:"dialect"`
}

// validEndpointURL refuses an endpoint the product must not call: not
// http(s), with credentials, or on a non-public address (checked again at
// each delivery, after DNS resolution).
func (s *Server) validEndpointURL(raw string) error {
	if !fields.CleanText(raw) {
		return invalid("url", "must be plain text")
	}
	if err := s.Egress.CheckURL(raw); err != nil {
		return invalid("url", "%v", err)
	}
	return nil
}

// putPartnerEndpoint sets where the partner receives its notifications and
// issues the secret that signs them (shown once).
func (s *Server) putPartnerEndpoint(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermChange) {
		return
	}
	var req endpointRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.validEndpointURL(req.URL); err != nil {
		s.writeError(w, r, err)
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	secret := "whsec_" + base64.RawURLEncoding.EncodeToString(b)
	if req.Dialect != "" && req.Dialect != store.DialectNative {
		s.writeError(w, r, invalid("dialect", "a partner's notifications are native; only a publisher may choose %q", req.Dialect))
		return
	}
	if err := s.Store.SetEndpoint(r.Context(), lifecycle.RecipientPartner, a.PartnerID, req.URL, store.DialectNative, []byte(secret)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.Endpoint{URL: req.URL, Secret: secret, UpdatedAt: s.Now().UTC()})
}

func (s *Server) getPartnerEndpoint(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermRead) {
		return
	}
	s.writeEndpoint(w, r, lifecycle.RecipientPartner, a.PartnerID)
}

func (s *Server) writeEndpoint(w http.ResponseWriter, r *http.Request, kind, id string) {
	e, _, err := s.Store.Endpoint(r.Context(), kind, id)
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, "endpoint_not_set", "No notification endpoint is set; notifications wait in the outbox.")
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	endpoint := wire.Endpoint{URL: e.URL, UpdatedAt: e.UpdatedAt.UTC()}
	if kind == lifecycle.RecipientPublisher {
		endpoint.Dialect = e.Dialect
	}
	writeJSON(w, http.StatusOK, endpoint)
}

// putPublisherEndpoint sets where the ISV receives its notifications; they
// are signed with its webhook secret.
func (s *Server) putPublisherEndpoint(w http.ResponseWriter, r *http.Request, publisherID string, body []byte) {
	var req endpointRequest
	if err := decodeJSONBytes(body, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.validEndpointURL(req.URL); err != nil {
		s.writeError(w, r, err)
		return
	}
	dialect := cmp.Or(req.Dialect, store.DialectNative)
	if dialect != store.DialectNative && dialect != store.DialectMicrosoft {
		s.writeError(w, r, invalid("dialect", "must be %q or %q", store.DialectNative, store.DialectMicrosoft))
		return
	}
	if err := s.Store.SetEndpoint(r.Context(), lifecycle.RecipientPublisher, publisherID, req.URL, dialect, nil); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.Endpoint{URL: req.URL, Dialect: dialect, UpdatedAt: s.Now().UTC()})
}

func (s *Server) listPartnerNotifications(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermRead) {
		return
	}
	s.writeOutbox(w, r, lifecycle.RecipientPartner, a.PartnerID)
}

func (s *Server) listPublisherNotifications(w http.ResponseWriter, r *http.Request, publisherID string, _ []byte) {
	s.writeOutbox(w, r, lifecycle.RecipientPublisher, publisherID)
}

// writeOutbox answers a recipient's notifications, oldest first; the page
// token is the last id seen, so a poller can resume where it stopped.
func (s *Server) writeOutbox(w http.ResponseWriter, r *http.Request, kind, id string) {
	size, _, err := pageParams(withoutToken(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var after int64
	if tok := r.URL.Query().Get("pageToken"); tok != "" {
		if after, err = strconv.ParseInt(tok, 10, 64); err != nil || after < 0 {
			s.writeError(w, r, invalid("pageToken", "is not a token this API issued"))
			return
		}
	}
	status := r.URL.Query().Get("status")
	switch status {
	case "", store.NotificationPending, store.NotificationDelivered, store.NotificationFailed:
	default:
		s.writeError(w, r, invalid("status", "must be pending, delivered or failed"))
		return
	}
	rows, err := s.Store.Outbox(r.Context(), kind, id, status, after, size+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := make([]wire.Notification, 0, len(rows))
	for i, n := range rows {
		if i == size {
			break
		}
		items = append(items, wire.Notification{
			ID: "ntf-" + strconv.FormatInt(n.ID, 10), Type: n.Type, SubscriptionID: n.SubscriptionID, Status: n.Status,
			Attempts: n.Attempts, LastError: n.LastError, CreatedAt: n.CreatedAt, DeliveredAt: n.DeliveredAt, Data: json.RawMessage(n.Payload),
		})
	}
	resp := wire.Page[wire.Notification]{Items: items}
	if len(rows) > size {
		resp.NextPageToken = strconv.FormatInt(rows[size-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, resp)
}

// withoutToken reads paging parameters but pageToken, which the outbox
// parses itself.
func withoutToken(r *http.Request) *http.Request {
	q := r.URL.Query()
	q.Del("pageToken")
	c := r.Clone(r.Context())
	c.URL.RawQuery = q.Encode()
	return c
}
