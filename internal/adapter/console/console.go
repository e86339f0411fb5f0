// Package console is the partner console: server-rendered pages on the
// API's listener for the Partner Center walk-through of the source
// document (sign in → Customers → a customer → Subscriptions, Marketplace
// tab). It adds no business rule: every read and change is a request to
// the partner API's own handler, in process, as the signed-in agent or
// person (package caller), so validation, roles, tenancy and the
// workflow's Updates are the API's. People sign in with an agent token or
// with their organisation's identity provider (provider.go).
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/caller"
	"github.com/cspmarket/orchestrator/internal/adapter/identity"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/platform/metrics"
	"github.com/cspmarket/orchestrator/internal/platform/secretbox"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// Session lifetimes: idle since the last request, and absolute since sign-in.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	sessionCookie          = "console_session"
	langCookie             = "console_lang"
	preCSRFCookie          = "console_signin"
)

// contentSecurityPolicy is every page's: nothing but this site's own
// scripts, styles and forms (the provider's sign-out page adds the
// provider's origin to form-action).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// withFormAction is the policy letting forms go to origin too.
func withFormAction(origin string) string {
	return strings.Replace(contentSecurityPolicy, "form-action 'self'", "form-action 'self' "+origin, 1)
}

// Console serves the partner console.
type Console struct {
	// API is the partner API's handler; the console only talks to it.
	API   http.Handler
	Store *store.Store
	// Secure marks cookies Secure (the console is served over TLS).
	Secure          bool
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
	// Identity is the partners' identity provider ("Sign in with …");
	// nil offers the agent token form only. Box seals its sign-ins under
	// way in their cookies.
	Identity *identity.Provider
	Box      *secretbox.Box

	pages map[string]*template.Template
}

// Mount serves the console and the API on one listener: the API keeps
// its paths (/v1/, /isv/, /healthz, /openapi.yaml), the console the rest.
func Mount(api, console http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/isv/", "/api/", "/oauth2/", "/.well-known/", "/healthz", "/openapi.yaml"} {
		mux.Handle(p, api)
	}
	mux.Handle("/", console)
	return mux
}

// Handler is the console's routes, with its security headers.
func (c *Console) Handler() http.Handler {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.AbsoluteTimeout == 0 {
		c.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	c.pages = map[string]*template.Template{}
	for _, page := range []string{"signin", "signedin", "signout", "customers", "subscriptions", "subscription", "purchase", "review", "confirmation", "invoices", "invoice", "error"} {
		c.pages[page] = template.Must(template.New("layout.html").Funcs(template.FuncMap{
			"dict": func(kv ...any) map[string]any {
				m := map[string]any{}
				for i := 0; i+1 < len(kv); i += 2 {
					m[kv[i].(string)] = kv[i+1]
				}
				return m
			},
		}).ParseFS(templateFiles, "templates/layout.html", "templates/"+page+".html"))
	}
	assets, _ := fs.Sub(assetFiles, "assets")
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /{$}", c.home)
	mux.HandleFunc("GET /sign-in", c.signInPage)
	mux.HandleFunc("POST /sign-in", c.signIn)
	mux.HandleFunc("POST /sign-in/provider", c.beginProviderSignIn)
	mux.HandleFunc("GET /sign-in/callback", c.providerCallback)
	mux.HandleFunc("POST /sign-out", c.signedIn(c.signOut))
	mux.HandleFunc("GET /language", c.setLanguage)
	mux.HandleFunc("GET /customers", c.signedIn(c.customers))
	mux.HandleFunc("POST /customers", c.signedIn(c.createCustomer))
	mux.HandleFunc("GET /customers/{customerId}", c.signedIn(c.customerHome))
	mux.HandleFunc("GET /customers/{customerId}/subscriptions", c.signedIn(c.subscriptions))
	mux.HandleFunc("GET /customers/{customerId}/subscriptions/{subscriptionId}", c.signedIn(c.subscription))
	mux.HandleFunc("POST /customers/{customerId}/subscriptions/{subscriptionId}", c.signedIn(c.changeSubscription))
	// The page's live status is polled every few seconds by the page
	// itself: it is not the person's activity, so it keeps no session
	// alive past its idle limit.
	mux.HandleFunc("GET /customers/{customerId}/subscriptions/{subscriptionId}/status", c.signedInWithout(c.status))
	mux.HandleFunc("GET /customers/{customerId}/purchase", c.signedIn(c.purchasePage))
	mux.HandleFunc("GET /customers/{customerId}/purchase/review", c.signedIn(c.review))
	mux.HandleFunc("POST /customers/{customerId}/purchase", c.signedIn(c.buy))
	mux.HandleFunc("GET /customers/{customerId}/invoices", c.signedIn(c.invoices))
	mux.HandleFunc("GET /invoices/{invoiceId}", c.signedIn(c.invoice))
	mux.HandleFunc("GET /invoices/{invoiceId}/csv", c.signedIn(c.invoiceCSV))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { c.notFound(w, r, nil) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY") // frame-ancestors for browsers that predate it
		h.Set("X-Content-Type-Options", "nosniff")
		if c.Secure || r.TLS != nil {
			// Served over TLS (directly, or by the proxy in front):
			// browsers must never come back over plain http.
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
		if r.Pattern != "/" {
			metrics.NoteRoute(r.Context(), "console "+r.Pattern)
		}
	})
}

// session is a signed-in agent or person.
type session struct {
	idHash string
	// token is an agent's token (used only to check it at sign-in);
	// idToken a person's ID token, for the provider's sign-out.
	token, idToken string
	csrf           string
	Agent          auth.Agent
}

// view is what every page template gets.
type view struct {
	Lang    string
	Session *session
	CSRF    string
	Path    string
	Data    any
	Error   string
	// Limits are the fields' lengths (internal/domain/fields), for the
	// forms' maxlength: the rule's, never a number of the template's.
	Limits fields.Limits
}

// T is a string of the page's language (the catalog).
func (v view) T(key string) string { return translate(v.Lang, key) }

func (c *Console) lang(r *http.Request) string {
	var cookie string
	if ck, err := r.Cookie(langCookie); err == nil {
		cookie = ck.Value
	}
	return language(cookie, r.Header.Get("Accept-Language"))
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, s *session, data any, errMsg string) {
	lang := c.lang(r)
	back := r.URL.Path
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		back = r.URL.RequestURI() // the switch keeps the page's query (a search, an order under review)
	}
	v := view{Lang: lang, Session: s, Path: back, Data: data, Error: errMsg, Limits: fields.FormLimits}
	if s != nil {
		v.CSRF = s.csrf
	}
	var buf bytes.Buffer
	if err := c.pages[page].Execute(&buf, v); err != nil {
		c.Logger.Error("console render", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, http.StatusNotFound, "error", s, nil, "error.notfound")
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func (c *Console) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteStrictMode, MaxAge: maxAge}
}

// current is the request's live session, or nil, and counts the request
// as the person's activity (the idle limit starts again). An expired
// session is removed.
func (c *Console) current(r *http.Request) *session { return c.session(r, true) }

// session is the request's live session, or nil; activity says whether
// the request counts as the person's activity.
func (c *Console) session(r *http.Request, activity bool) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || len(ck.Value) > 100 {
		return nil
	}
	idHash := hashID(ck.Value)
	row, err := c.Store.ConsoleSessionByHash(r.Context(), idHash)
	if err != nil {
		return nil
	}
	now := c.Now()
	if now.Sub(row.LastSeenAt) > c.IdleTimeout || now.Sub(row.CreatedAt) > c.AbsoluteTimeout {
		_ = c.Store.DeleteConsoleSession(r.Context(), idHash)
		return nil
	}
	var who auth.Agent
	if row.PersonID != "" {
		// The role and partner the directory gave at sign-in hold for
		// the session; a person revoked here is signed out at once.
		person, err := c.Store.PersonByID(r.Context(), row.PersonID)
		if err != nil || person.RevokedAt != nil {
			_ = c.Store.DeleteConsoleSession(r.Context(), idHash)
			return nil
		}
		who = auth.Agent{ID: person.ID, PartnerID: row.PartnerID, Role: auth.Role(row.Role), Person: true, Name: person.Name}
	} else {
		agent, err := c.Store.AgentByTokenHash(r.Context(), auth.HashToken(row.Secret))
		if err != nil {
			return nil // the token was revoked since
		}
		who = auth.Agent{ID: agent.ID, PartnerID: agent.PartnerID, Role: auth.Role(agent.Role)}
	}
	if activity {
		_ = c.Store.TouchConsoleSession(r.Context(), idHash, now)
	}
	s := &session{idHash: idHash, csrf: row.CSRFToken, Agent: who}
	if who.Person {
		s.idToken = row.Secret
	}
	return s
}

// signedInWithout is signedIn for a GET the page makes by itself (its
// live status): it needs the session but is not the person's activity.
func (c *Console) signedInWithout(next func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.session(r, false)
		if s == nil {
			http.Error(w, "signed out", http.StatusUnauthorized)
			return
		}
		next(w, r, s)
	}
}

// signedIn runs next with the session, sends others to sign in, and
// refuses a POST whose CSRF token is not the session's (nothing changes).
func (c *Console) signedIn(next func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.current(r)
		if s == nil {
			http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) != 1 {
				c.render(w, r, http.StatusForbidden, "error", s, nil, "error.csrf")
				return
			}
		}
		next(w, r, s)
	}
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	if c.current(r) == nil {
		http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/customers", http.StatusSeeOther)
}

// signInPage shows the form with a pre-session CSRF token (double submit:
// a cookie and the same value in the form).
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	c.showSignIn(w, r, http.StatusOK, "")
}

func (c *Console) showSignIn(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	pre := randomToken()
	http.SetCookie(w, c.cookie(preCSRFCookie, pre, 600))
	data := map[string]any{"CSRF": pre}
	if c.Identity != nil {
		data["Provider"] = c.Identity.Name()
		if origin := c.Identity.LoginOrigin(r.Context()); origin != "" {
			// The provider's button posts here, which redirects there:
			// browsers hold the redirect to form-action too.
			w.Header().Set("Content-Security-Policy", withFormAction(origin))
		}
	}
	c.render(w, r, status, "signin", nil, data, errMsg)
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	pre, _ := r.Cookie(preCSRFCookie)
	if err := r.ParseForm(); err != nil || pre == nil || pre.Value == "" || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(pre.Value)) != 1 {
		c.render(w, r, http.StatusForbidden, "error", nil, nil, "error.csrf")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	// The token is checked by the API itself, so its limit on failed
	// credentials per client address applies to the console too.
	check := c.callAs(r, &session{token: token}, http.MethodGet, "/v1/offers", nil)
	switch {
	case check.Status == http.StatusTooManyRequests:
		c.showSignIn(w, r, http.StatusTooManyRequests, "signin.toomany")
		return
	case check.Status != http.StatusOK || token == "":
		metrics.NoteSignIn(r.Context(), "token", "bad_token")
		c.showSignIn(w, r, http.StatusUnauthorized, "signin.bad")
		return
	}
	agent, err := c.Store.AgentByTokenHash(r.Context(), auth.HashToken(token))
	if err != nil {
		c.showSignIn(w, r, http.StatusUnauthorized, "signin.bad")
		return
	}
	if !c.startSession(w, r, "token", store.NewConsoleSession{AgentID: agent.ID, PartnerID: agent.PartnerID, Role: agent.Role, Secret: token}) {
		return
	}
	http.Redirect(w, r, "/customers", http.StatusSeeOther)
}

// startSession records a sign-in's session under a new id and CSRF token
// (whatever session the browser had ends: no fixation) and sets its
// cookie; false when it could not be recorded (the page says so).
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, method string, n store.NewConsoleSession) bool {
	id := randomToken()
	n.IDHash, n.CSRFToken = hashID(id), randomToken()
	c.endOldSession(r)
	if err := c.Store.CreateConsoleSession(r.Context(), n, c.Now()); err != nil {
		c.Logger.Error("console sign-in", "error", err)
		c.render(w, r, http.StatusServiceUnavailable, "error", nil, nil, "error.unavailable")
		return false
	}
	http.SetCookie(w, c.cookie(sessionCookie, id, 0))
	http.SetCookie(w, c.cookie(preCSRFCookie, "", -1))
	metrics.NoteSignIn(r.Context(), method, "signed_in")
	return true
}

// endOldSession ends the session this browser had, if any, before a
// sign-in gives it a new one: a session id is never carried over a
// sign-in (no fixation), and no session outlives the next sign-in.
func (c *Console) endOldSession(r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil && len(ck.Value) <= 100 {
		_ = c.Store.DeleteConsoleSession(r.Context(), hashID(ck.Value))
	}
}

// signOut ends the session and, for a person whose provider offers it,
// their provider's session too: a page posts the provider's sign-out
// form (RP-Initiated Logout), which comes back to the sign-in page.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	_ = c.Store.DeleteConsoleSession(r.Context(), s.idHash)
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	if s.Agent.Person && c.Identity != nil {
		if endpoint, form, ok := c.Identity.SignOut(r.Context(), s.idToken); ok {
			if origin := identity.Origin(endpoint); origin != "" {
				w.Header().Set("Content-Security-Policy", withFormAction(origin))
				c.render(w, r, http.StatusOK, "signout", nil, map[string]any{"Endpoint": endpoint, "Form": form, "Provider": c.Identity.Name()}, "")
				return
			}
		}
	}
	http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
}

// setLanguage is the language switch: a preference cookie, then back.
func (c *Console) setLanguage(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	for _, l := range languages {
		if to == l {
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteStrictMode, Secure: c.Secure})
		}
	}
	back := r.URL.Query().Get("back")
	if !samePath(back) {
		back = "/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// samePath reports whether back is a path on this site and nothing else:
// browsers drop tabs and other control characters from URLs, so "/\t/x"
// would become "//x", another site.
func samePath(back string) bool {
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") {
		return false
	}
	for _, r := range back {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return false
		}
	}
	u, err := url.Parse(back)
	return err == nil && u.Scheme == "" && u.Host == "" && !strings.HasPrefix(u.Path, "//")
}

// apiAnswer is the partner API's answer to one console request.
type apiAnswer struct {
	Status int
	Body   []byte
}

// problem is the API's error body.
type problem struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Field  string `json:"field"`
}

// call sends one request to the partner API's handler as the signed-in agent.
func (c *Console) call(ctx context.Context, s *session, method, path string, body any) apiAnswer {
	return c.callWith(ctx, s, method, path, body)
}

// callAs is call on behalf of the browser's request: the API sees the
// browser's address (its per-client limits apply to it, not to all).
func (c *Console) callAs(r *http.Request, s *session, method, path string, body any) apiAnswer {
	return c.callWith(context.WithValue(r.Context(), remoteAddrKey{}, r.RemoteAddr), s, method, path, body)
}

type remoteAddrKey struct{}

// callWith is call with extra headers, as name, value pairs.
func (c *Console) callWith(ctx context.Context, s *session, method, path string, body any, headers ...string) apiAnswer {
	var reader io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		reader = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(ctx, method, path, reader)
	if addr, ok := ctx.Value(remoteAddrKey{}).(string); ok {
		req.RemoteAddr = addr
	}
	if s.Agent.ID != "" {
		// Signed in already: the API is handed who it is, in process.
		req = req.WithContext(caller.With(req.Context(), s.Agent))
	} else {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	rec := httptest.NewRecorder()
	c.API.ServeHTTP(rec, req)
	return apiAnswer{Status: rec.Code, Body: rec.Body.Bytes()}
}

func (a apiAnswer) decode(v any) error { return json.Unmarshal(a.Body, v) }

func (a apiAnswer) problem() problem {
	var p problem
	_ = json.Unmarshal(a.Body, &p)
	return p
}

// failed renders an API answer that is not a success as a page.
func (c *Console) failed(w http.ResponseWriter, r *http.Request, s *session, a apiAnswer) {
	switch a.Status {
	case http.StatusNotFound, http.StatusForbidden, http.StatusBadRequest:
		// 400: an id with bytes no id has (the API refuses it before any
		// lookup): to the partner, no such page.
		c.notFound(w, r, s)
	case http.StatusConflict:
		c.render(w, r, http.StatusConflict, "error", s, nil, "error.conflict")
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		c.render(w, r, http.StatusServiceUnavailable, "error", s, nil, "error.unavailable")
	default:
		c.Logger.Error("console: API answered", "status", a.Status, "code", a.problem().Code)
		c.render(w, r, http.StatusBadGateway, "error", s, nil, "error.unavailable")
	}
}

func (c *Console) customers(w http.ResponseWriter, r *http.Request, s *session) {
	c.showCustomers(w, r, s, http.StatusOK, "", "")
}

func (c *Console) showCustomers(w http.ResponseWriter, r *http.Request, s *session, status int, errMsg, name string) {
	var all []wire.Customer
	token := ""
	for range 20 { // up to 4 000 customers on one page; search narrows it
		path := "/v1/customers?pageSize=200"
		if token != "" {
			path += "&pageToken=" + url.QueryEscape(token)
		}
		a := c.call(r.Context(), s, http.MethodGet, path, nil)
		if a.Status != http.StatusOK {
			c.failed(w, r, s, a)
			return
		}
		var page wire.Page[wire.Customer]
		if err := a.decode(&page); err != nil {
			c.failed(w, r, s, apiAnswer{Status: http.StatusBadGateway})
			return
		}
		all = append(all, page.Items...)
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	shown := all[:0:0]
	for _, cu := range all {
		if q == "" || strings.Contains(strings.ToLower(cu.Name), strings.ToLower(q)) || cu.ID == q {
			shown = append(shown, cu)
		}
	}
	c.render(w, r, status, "customers", s, map[string]any{"Customers": shown, "Query": q, "Name": name}, errMsg)
}

func (c *Console) createCustomer(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PostForm.Get("name")
	a := c.call(r.Context(), s, http.MethodPost, "/v1/customers", map[string]string{"name": name})
	switch {
	case a.Status == http.StatusCreated:
		var cu wire.Customer
		_ = a.decode(&cu)
		http.Redirect(w, r, "/customers/"+url.PathEscape(cu.ID)+"/subscriptions", http.StatusSeeOther)
	case a.Status == http.StatusUnprocessableEntity:
		c.showCustomers(w, r, s, http.StatusUnprocessableEntity, a.problem().Detail, name)
	default:
		c.failed(w, r, s, a)
	}
}

func (c *Console) customerHome(w http.ResponseWriter, r *http.Request, s *session) {
	http.Redirect(w, r, "/customers/"+url.PathEscape(r.PathValue("customerId"))+"/subscriptions", http.StatusSeeOther)
}

// subscriptionRow is a subscription of the list with its offer's and
// plan's names, from the catalog.
type subscriptionRow struct {
	wire.Subscription
	OfferName, PlanName string
}

// subscriptions is a customer's Marketplace tab: licence-based
// subscriptions by default, all with ?all=1.
func (c *Console) subscriptions(w http.ResponseWriter, r *http.Request, s *session) {
	customerID := r.PathValue("customerId")
	cu := c.call(r.Context(), s, http.MethodGet, "/v1/customers/"+url.PathEscape(customerID), nil)
	if cu.Status != http.StatusOK {
		c.failed(w, r, s, cu)
		return
	}
	var customer wire.Customer
	_ = cu.decode(&customer)
	all := r.URL.Query().Get("all") == "1"
	path := "/v1/customers/" + url.PathEscape(customerID) + "/subscriptions?pageSize=200"
	if all {
		path += "&licenseBased=any"
	}
	a := c.call(r.Context(), s, http.MethodGet, path, nil)
	if a.Status != http.StatusOK {
		c.failed(w, r, s, a)
		return
	}
	var page wire.Page[wire.Subscription]
	if err := a.decode(&page); err != nil {
		c.failed(w, r, s, apiAnswer{Status: http.StatusBadGateway})
		return
	}
	offers, _ := c.offers(r, s)
	n := namesOf(offers)
	rows := make([]subscriptionRow, len(page.Items))
	for i, sub := range page.Items {
		rows[i] = subscriptionRow{Subscription: sub, OfferName: n.Offer(sub.OfferID), PlanName: n.Plan(sub.OfferID, sub.PlanID)}
	}
	c.render(w, r, http.StatusOK, "subscriptions", s, map[string]any{"Customer": customer, "Subscriptions": rows, "All": all}, "")
}
