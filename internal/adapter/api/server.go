// Package api is the HTTP front door: the partner API (/v1, bearer tokens),
// the ISV API (/isv/v1, signed requests) and /healthz. It reads the
// database projection and moves subscriptions only through their
// workflows.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/cspmarket/orchestrator/internal/adapter/accesstoken"
	"github.com/cspmarket/orchestrator/internal/adapter/egress"
	"github.com/cspmarket/orchestrator/internal/adapter/identity"
	"github.com/cspmarket/orchestrator/internal/adapter/orchestrator"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/platform/httpstatus"
	"github.com/cspmarket/orchestrator/internal/platform/metrics"
)

// Server serves the API.
type Server struct {
	Store    *store.Store
	Temporal client.Client
	Logger   *slog.Logger
	// Now is the clock (tests move it); default time.Now.
	Now func() time.Time
	// PurchaseTimeout bounds how long a purchase waits for its workflow to
	// record it; default 15 s.
	PurchaseTimeout time.Duration
	// Settings are the lifecycle delays given to each new subscription.
	Settings payload.Settings
	// CheckTemporal tells /healthz whether Temporal answers; default: the
	// client's CheckHealth.
	CheckTemporal func(context.Context) error
	// Egress is where notification endpoints may point.
	Egress egress.Policy
	// AuthFailureLimit is how many failed authentications one client
	// address may make per minute before it is answered 429; default 30.
	AuthFailureLimit int
	// Tokens issues and verifies the access tokens of Microsoft's dialect
	// (/oauth2/token, /api); nil serves neither.
	Tokens *accesstoken.Issuer
	// Identity is the partners' identity provider, whose access tokens
	// the partner API accepts besides agent tokens; nil accepts agent
	// tokens only.
	Identity *identity.Provider

	authFailures *failureLimiter
	// people remembers the people whose access tokens were seen lately
	// (no database write at each request).
	people *peopleSeen
	// workflows is the one door to the subscription workflows.
	workflows *orchestrator.Client
}

// maxBodyBytes bounds every request body.
const maxBodyBytes = 1 << 20

// Handler returns the routed, instrumented handler.
func (s *Server) Handler() http.Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.PurchaseTimeout == 0 {
		s.PurchaseTimeout = 15 * time.Second
	}
	if s.authFailures == nil {
		s.authFailures = newFailureLimiter(s.AuthFailureLimit, s.Now)
	}
	if s.people == nil {
		s.people = newPeopleSeen()
	}
	s.workflows = &orchestrator.Client{Temporal: s.Temporal, Logger: s.Logger}
	mux := http.NewServeMux()
	// paths knows every route's path whatever its method, to answer 405
	// with the methods it does take.
	paths := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range s.routes() {
		mux.HandleFunc(rt.Method+" "+rt.Pattern, rt.handler)
		if _, ok := allowed[rt.Pattern]; !ok {
			paths.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", strings.Join(allowed[rt.Pattern], ", "))
				writeProblem(w, r, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+rt.Pattern)
			})
		}
		allowed[rt.Pattern] = append(allowed[rt.Pattern], rt.Method)
	}
	// Microsoft's dialect and the token endpoints are not this API's
	// routes (openapi.yaml): saasapi.v2.json and RFC 6749 describe them.
	mux.Handle("/api/", s.saasRoutes())
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.openIDConfiguration)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			paths.ServeHTTP(w, r)
			return
		}
		writeProblem(w, r, http.StatusNotFound, "not_found", "No such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s.instrument(mux)
}

// refuseRequest says why a request is refused before any handler sees
// it, as an HTTP status and a problem, or 0.
func refuseRequest(r *http.Request) (int, string, string) {
	// Paths and query strings name ids and filters: bytes no id has (NUL,
	// invalid UTF-8) would reach a query otherwise.
	if !fields.CleanText(r.URL.Path) {
		return http.StatusBadRequest, "invalid_request", "The path holds control characters or invalid UTF-8."
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return http.StatusBadRequest, "invalid_request", "The query string is malformed."
	}
	for k, vs := range q {
		for _, v := range append(vs, k) {
			if !fields.CleanText(v) {
				return http.StatusBadRequest, "invalid_request", "The query string holds control characters or invalid UTF-8."
			}
		}
	}
	switch {
	case r.URL.Path == "/oauth2/token":
		// A form (RFC 6749): the token endpoint reads its own.
	case r.Method == http.MethodPost, r.Method == http.MethodPut:
		// Bodies are JSON; a form or plain text is refused rather than
		// read as JSON by accident. No Content-Type at all is taken as
		// JSON: scripts that create things often send none.
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
				return http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body as application/json."
			}
		}
	case r.Method == http.MethodPatch:
		// A PATCH's media type is its patch format (RFC 5789): this API
		// merges the fields sent (application/json, or its formal name
		// application/merge-patch+json). None, or another format such as
		// a JSON Patch (application/json-patch+json), would be read as
		// what it is not: 415.
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
			return http.StatusUnsupportedMediaType, "unsupported_media_type",
				"Send the change as application/json (or application/merge-patch+json), with that Content-Type."
		}
	}
	return 0, "", ""
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type ctxKey int

const requestIDKey ctxKey = iota

// instrument adds a request id, an access log line, a body limit and
// panic recovery around every request.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		// Every answer is one agent's or one publisher's data, some with
		// secrets (authorization codes): no cache keeps any.
		w.Header().Set("Cache-Control", "no-store")
		rec := httpstatus.New(w)
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				s.Logger.Error("panic serving request", "requestId", id, "panic", p, "stack", string(debug.Stack()))
				if !rec.Wrote {
					writeProblem(rec, r, http.StatusInternalServerError, "internal", "An internal error occurred; it has been logged.")
				}
			}
			s.Logger.Info("http", "requestId", id, "method", r.Method, "path", r.URL.Path, "status", rec.Status,
				"durationMs", time.Since(start).Milliseconds())
		}()
		if status, code, detail := refuseRequest(r); status != 0 {
			// Counted under the route the request was for (a webhook
			// refused here is still a webhook refused).
			if mux, ok := next.(*http.ServeMux); ok {
				if _, pattern := mux.Handler(r); pattern != "" && pattern != "/" {
					metrics.NoteRoute(r.Context(), pattern)
				}
			}
			writeProblem(rec, r, status, code, detail)
			return
		}
		next.ServeHTTP(rec, r)
		if r.Pattern != "/" { // "/" answers 404 and 405: no route
			metrics.NoteRoute(r.Context(), r.Pattern)
		}
	})
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "database_unavailable", "The database does not answer.")
		return
	}
	check := s.CheckTemporal
	if check == nil {
		check = s.workflows.Healthy
	}
	if err := check(ctx); err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "temporal_unavailable", "Temporal does not answer.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
