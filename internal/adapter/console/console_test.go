package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/api"
	"github.com/cspmarket/orchestrator/internal/adapter/console"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
)

func startConsole(t *testing.T) (*httptest.Server, *store.Store) {
	t.Helper()
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	require.NoError(t, fixtures.Seed(ctx, s))
	apiHandler := (&api.Server{Store: s, Logger: slog.New(slog.DiscardHandler), CheckTemporal: func(context.Context) error { return nil }}).Handler()
	c := &console.Console{API: apiHandler, Store: s, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(console.Mount(apiHandler, c.Handler()))
	t.Cleanup(srv.Close)
	return srv, s
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, headers ...string) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.http.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(page), resp.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) signIn(token string) string {
	b.t.Helper()
	_, page, _ := b.do(http.MethodGet, "/sign-in", nil)
	m := csrfField.FindStringSubmatch(page)
	require.Len(b.t, m, 2, page)
	status, _, h := b.do(http.MethodPost, "/sign-in", url.Values{"csrf": {m[1]}, "token": {token}})
	require.Equal(b.t, http.StatusSeeOther, status)
	require.Equal(b.t, "/customers", h.Get("Location"))
	_, page, _ = b.do(http.MethodGet, "/customers", nil)
	m = csrfField.FindStringSubmatch(page)
	require.Len(b.t, m, 2, page)
	return m[1]
}

func TestSignInSessionCookieAndSecurityHeaders(t *testing.T) {
	srv, _ := startConsole(t)
	b := newBrowser(t, srv.URL)
	status, _, h := b.do(http.MethodGet, "/customers", nil)
	assert.Equal(t, http.StatusSeeOther, status, "signed out: to the sign-in page")
	assert.Equal(t, "/sign-in", h.Get("Location"))

	_, page, h := b.do(http.MethodGet, "/sign-in", nil)
	assert.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'")
	assert.Equal(t, "DENY", h.Get("X-Frame-Options"))
	assert.Empty(t, h.Get("Strict-Transport-Security"), "plain http on loopback (this test's server)")
	assert.NotContains(t, page, "<script>", "no inline script")
	m := csrfField.FindStringSubmatch(page)
	require.Len(t, m, 2)
	status, page, _ = b.do(http.MethodPost, "/sign-in", url.Values{"csrf": {m[1]}, "token": {"not-a-token"}})
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, page, "unknown or revoked")

	m = csrfField.FindStringSubmatch(page)
	status, _, h = b.do(http.MethodPost, "/sign-in", url.Values{"csrf": {m[1]}, "token": {fixtures.AdminToken}})
	require.Equal(t, http.StatusSeeOther, status)
	cookie := h.Get("Set-Cookie")
	assert.Contains(t, cookie, "HttpOnly")
	assert.Contains(t, cookie, "SameSite=Strict")
	assert.NotContains(t, cookie, fixtures.AdminToken, "the token stays on the server")
	assert.NotContains(t, h.Get("Location"), fixtures.AdminToken)

	// A sign-in without the form's CSRF token is refused.
	other := newBrowser(t, srv.URL)
	status, _, _ = other.do(http.MethodPost, "/sign-in", url.Values{"token": {fixtures.AdminToken}})
	assert.Equal(t, http.StatusForbidden, status)
}

// Served behind TLS (the default for a listener others can reach:
// config.ConsoleSecureCookies), every cookie is Secure and browsers are
// told never to come back over plain http.
func TestSecureConsoleSendsHSTSAndSecureCookies(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	require.NoError(t, fixtures.Seed(ctx, s))
	apiHandler := (&api.Server{Store: s, Logger: slog.New(slog.DiscardHandler), CheckTemporal: func(context.Context) error { return nil }}).Handler()
	c := &console.Console{API: apiHandler, Store: s, Logger: slog.New(slog.DiscardHandler), Secure: true}
	srv := httptest.NewServer(console.Mount(apiHandler, c.Handler()))
	defer srv.Close()
	b := newBrowser(t, srv.URL)
	_, page, h := b.do(http.MethodGet, "/sign-in", nil)
	assert.Equal(t, "max-age=31536000", h.Get("Strict-Transport-Security"))
	assert.Contains(t, h.Get("Set-Cookie"), "Secure")
	m := csrfField.FindStringSubmatch(page)
	require.Len(t, m, 2)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/sign-in", strings.NewReader(url.Values{"csrf": {m[1]}, "token": {fixtures.AdminToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "console_signin", Value: m[1]}) // the jar keeps Secure cookies off plain http
	resp, err := b.http.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	for _, ck := range resp.Cookies() {
		assert.True(t, ck.Secure, "cookie %s", ck.Name)
	}
}

// A POST without the session's CSRF token changes nothing and answers 403.
func TestFormsWithoutTheCSRFTokenChangeNothing(t *testing.T) {
	srv, s := startConsole(t)
	b := newBrowser(t, srv.URL)
	csrf := b.signIn(fixtures.AdminToken)
	status, _, _ := b.do(http.MethodPost, "/customers", url.Values{"name": {"Forged"}})
	assert.Equal(t, http.StatusForbidden, status)
	status, _, _ = b.do(http.MethodPost, "/customers", url.Values{"name": {"Forged"}, "csrf": {"wrong"}})
	assert.Equal(t, http.StatusForbidden, status)
	customers, err := s.Customers(context.Background(), "partner-demo", nil, 100)
	require.NoError(t, err)
	for _, c := range customers {
		assert.NotEqual(t, "Forged", c.Name)
	}
	status, _, h := b.do(http.MethodPost, "/customers", url.Values{"name": {"Northwind"}, "csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, status)
	assert.Regexp(t, `^/customers/cus_[^/]+/subscriptions$`, h.Get("Location"))

	// A field the API refuses is shown as the API's message, not a JSON page.
	status, page, _ := b.do(http.MethodPost, "/customers", url.Values{"name": {"   "}, "csrf": {csrf}})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, page, `role="alert"`)
	assert.NotContains(t, page, `"code"`)

	// Sign-out ends the session.
	status, _, _ = b.do(http.MethodPost, "/sign-out", url.Values{"csrf": {csrf}})
	assert.Equal(t, http.StatusSeeOther, status)
	status, _, _ = b.do(http.MethodGet, "/customers", nil)
	assert.Equal(t, http.StatusSeeOther, status)
}

// Another partner's customer is the console's 404 page.
func TestAnotherPartnersPagesAreNotFound(t *testing.T) {
	srv, s := startConsole(t)
	c, err := s.CreateCustomer(context.Background(), "partner-demo", "Mine")
	require.NoError(t, err)
	mine := newBrowser(t, srv.URL)
	mine.signIn(fixtures.AdminToken)
	status, page, _ := mine.do(http.MethodGet, "/customers/"+c.ID+"/subscriptions", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, page, "Mine")

	other := newBrowser(t, srv.URL)
	other.signIn(fixtures.OtherAdminToken)
	status, page, _ = other.do(http.MethodGet, "/customers/"+c.ID+"/subscriptions", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, page, "not yours")
	assert.NotContains(t, page, "Mine")
}

func TestFrenchFromAcceptLanguageAndTheSwitch(t *testing.T) {
	srv, _ := startConsole(t)
	b := newBrowser(t, srv.URL)
	_, page, h := b.do(http.MethodGet, "/sign-in", nil, "Accept-Language", "fr-CA,fr;q=0.9,en;q=0.5")
	assert.Contains(t, page, `lang="fr"`)
	assert.Contains(t, page, "Se connecter")
	assert.Equal(t, "fr", h.Get("Content-Language"))
	status, _, h := b.do(http.MethodGet, "/language?to=en&back=/sign-in", nil)
	assert.Equal(t, http.StatusSeeOther, status)
	assert.Equal(t, "/sign-in", h.Get("Location"))
	_, page, _ = b.do(http.MethodGet, "/sign-in", nil, "Accept-Language", "fr")
	assert.Contains(t, page, "Sign in", "the switch wins over Accept-Language")
	_, _, h = b.do(http.MethodGet, "/language?to=fr&back=//evil.example", nil)
	assert.Equal(t, "/", h.Get("Location"), "no open redirect")
}

// A session ends after 30 idle minutes, and after 12 hours however busy.
func TestSessionsExpireIdleAndAbsolute(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	require.NoError(t, fixtures.Seed(ctx, s))
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	apiHandler := (&api.Server{Store: s, Logger: slog.New(slog.DiscardHandler), CheckTemporal: func(context.Context) error { return nil }}).Handler()
	c := &console.Console{API: apiHandler, Store: s, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
	srv := httptest.NewServer(console.Mount(apiHandler, c.Handler()))
	defer srv.Close()

	b := newBrowser(t, srv.URL)
	b.signIn(fixtures.AdminToken)
	for range 26 { // busy every 29 minutes: still signed in, until 12 h
		now = now.Add(29 * time.Minute)
		status, _, _ := b.do(http.MethodGet, "/customers", nil)
		if now.Sub(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)) <= 12*time.Hour {
			require.Equal(t, http.StatusOK, status, "at %s", now)
		} else {
			require.Equal(t, http.StatusSeeOther, status, "past 12 h at %s", now)
		}
	}

	b = newBrowser(t, srv.URL)
	b.signIn(fixtures.AdminToken)
	now = now.Add(31 * time.Minute)
	status, _, h := b.do(http.MethodGet, "/customers", nil)
	assert.Equal(t, http.StatusSeeOther, status, "idle for 31 minutes")
	assert.Equal(t, "/sign-in", h.Get("Location"))

	// A tab left open polls its subscription's status every 2 s: that is
	// the page's doing, not the person's, and the session still reaches
	// its idle limit (issue 25: every poll kept it alive).
	b = newBrowser(t, srv.URL)
	b.signIn(fixtures.AdminToken)
	for range 31 * 30 {
		now = now.Add(2 * time.Second)
		status, _, _ := b.do(http.MethodGet, "/customers/cus_1/subscriptions/sub_1/status", nil)
		if status == http.StatusUnauthorized {
			break
		}
	}
	status, _, _ = b.do(http.MethodGet, "/customers/cus_1/subscriptions/sub_1/status", nil)
	assert.Equal(t, http.StatusUnauthorized, status, "the poll sees the session ended")
	status, _, h = b.do(http.MethodGet, "/customers", nil)
	assert.Equal(t, http.StatusSeeOther, status, "31 minutes with nothing but polls is idle")
	assert.Equal(t, "/sign-in", h.Get("Location"))
}

// Found by a hostile tester: a tab (dropped by browsers) made "/\t/host"
// another site; malformed ids answered 502; the console's sign-in had no
// limit on failed tokens; a Buy without the review's key could buy twice;
// the language switch lost the page's query.
func TestHostileFindingsStayFixed(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	require.NoError(t, fixtures.Seed(ctx, s))
	apiHandler := (&api.Server{Store: s, Logger: slog.New(slog.DiscardHandler), AuthFailureLimit: 3,
		CheckTemporal: func(context.Context) error { return nil }}).Handler()
	c := &console.Console{API: apiHandler, Store: s, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(console.Mount(apiHandler, c.Handler()))
	defer srv.Close()

	b := newBrowser(t, srv.URL)
	for _, back := range []string{"/%09/evil.example/", "/%0b/evil.example", "/%00", `/\evil.example`, "//evil.example", "https://evil.example", "/%5c/evil.example"} {
		status, _, h := b.do(http.MethodGet, "/language?to=fr&back="+back, nil)
		assert.Equal(t, http.StatusSeeOther, status, back)
		assert.Equal(t, "/", h.Get("Location"), back)
	}
	_, _, h := b.do(http.MethodGet, "/language?to=en&back=/customers%3Fq%3Dx", nil)
	assert.Equal(t, "/customers?q=x", h.Get("Location"))

	csrf := b.signIn(fixtures.AdminToken)
	for _, path := range []string{"/customers/%ff/subscriptions", "/customers/%00/subscriptions", "/invoices/%ff", "/invoices/%ff/csv", "/customers/%ff/purchase"} {
		status, _, _ := b.do(http.MethodGet, path, nil)
		assert.Equal(t, http.StatusNotFound, status, path)
	}
	_, page, _ := b.do(http.MethodGet, "/customers?q=needle", nil)
	assert.Contains(t, page, "back=%2fcustomers%3fq%3dneedle", "the switch keeps the search")

	cu, err := s.CreateCustomer(ctx, "partner-demo", "Buyer")
	require.NoError(t, err)
	status, _, _ := b.do(http.MethodPost, "/customers/"+cu.ID+"/purchase", url.Values{"csrf": {csrf}, "offer": {"contoso-demo"}, "plan": {"fast"}, "quantity": {"1"}})
	assert.Equal(t, http.StatusUnprocessableEntity, status, "a Buy without the review's key")
	status, _, _ = b.do(http.MethodGet, "/customers/"+cu.ID+"/purchase/review?choice=contoso-crm/monthly&quantity=1&frequency=weekly", nil)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "a frequency the plan does not offer")

	// Failed sign-ins count against the API's limit for the address.
	other := newBrowser(t, srv.URL)
	statuses := []int{}
	for i := range 5 {
		_, page, _ := other.do(http.MethodGet, "/sign-in", nil)
		m := csrfField.FindStringSubmatch(page)
		require.Len(t, m, 2)
		status, _, _ := other.do(http.MethodPost, "/sign-in", url.Values{"csrf": {m[1]}, "token": {"guess-" + string(rune('a'+i))}})
		statuses = append(statuses, status)
	}
	assert.Equal(t, http.StatusTooManyRequests, statuses[len(statuses)-1], "%v", statuses)
	// ...and never keep out a valid token from the same address (every
	// browser behind one proxy shares it): issue 25.
	newBrowser(t, srv.URL).signIn(fixtures.SalesToken)
}
