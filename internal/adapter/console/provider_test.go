package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/api"
	"github.com/cspmarket/orchestrator/internal/adapter/console"
	"github.com/cspmarket/orchestrator/internal/adapter/identity"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
	"github.com/cspmarket/orchestrator/internal/tests/oidcprovider"
)

// startWithProvider serves the console with sign-in at a real provider;
// the console's clock is now() plus the returned offset.
func startWithProvider(t *testing.T) (*httptest.Server, *oidcprovider.Provider, *atomic.Int64) {
	t.Helper()
	op, err := oidcprovider.Start("127.0.0.1:0", "console", "secret", oidcprovider.DevPeople())
	require.NoError(t, err)
	t.Cleanup(op.Close)
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	require.NoError(t, fixtures.Seed(ctx, s))
	apiHandler := (&api.Server{Store: s, Logger: slog.New(slog.DiscardHandler), CheckTemporal: func(context.Context) error { return nil }}).Handler()
	var offset atomic.Int64
	c := &console.Console{API: apiHandler, Store: s, Logger: slog.New(slog.DiscardHandler), Box: storetest.Box(t),
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }}
	srv := httptest.NewServer(console.Mount(apiHandler, c.Handler()))
	t.Cleanup(srv.Close)
	c.Identity = identity.New(identity.Config{Issuer: op.Issuer, ClientID: "console", ClientSecret: "secret",
		RedirectURL: srv.URL + "/sign-in/callback", PostLogoutURL: srv.URL + "/sign-in",
		Directory: oidcprovider.Directory()})
	op.AllowRedirect(srv.URL+"/sign-in/callback", srv.URL+"/sign-in")
	return srv, op, &offset
}

// begin starts a sign-in in b and logs in at the provider as ada: the
// callback URL the provider sends the browser back to.
func begin(t *testing.T, b *browser, op *oidcprovider.Provider) *url.URL {
	t.Helper()
	_, page, h := b.do(http.MethodGet, "/sign-in", nil)
	assert.Contains(t, h.Get("Content-Security-Policy"), "form-action 'self' "+op.Issuer, "the button's redirect to the provider is allowed")
	m := csrfField.FindStringSubmatch(page)
	require.Len(t, m, 2, page)
	status, _, h := b.do(http.MethodPost, "/sign-in/provider", url.Values{"csrf": {m[1]}})
	require.Equal(t, http.StatusSeeOther, status)
	assert.Contains(t, h.Get("Set-Cookie"), "SameSite=Lax")
	assert.Contains(t, h.Get("Set-Cookie"), "HttpOnly")
	back, err := op.LogIn(b.http, h.Get("Location"), "ada", oidcprovider.DevPassword)
	require.NoError(t, err)
	return back
}

func callback(b *browser, back *url.URL) (int, string) {
	status, page, _ := b.do(http.MethodGet, "/sign-in/callback?"+back.RawQuery, nil)
	return status, page
}

// cookieName is the console's cookie of a sign-in under way with state.
func cookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return "console_provider_signin_" + hex.EncodeToString(sum[:])[:16]
}

func TestASignInAtTheProviderIsItsBrowsersOnly(t *testing.T) {
	srv, op, offset := startWithProvider(t)
	callbackURL, _ := url.Parse(srv.URL + "/sign-in/callback")

	a := newBrowser(t, srv.URL)
	back := begin(t, a, op)
	// Another browser with the callback: nothing.
	status, page := callback(newBrowser(t, srv.URL), back)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, page, "expired or was already used")
	// Its own browser: signed in, on the customers page next.
	status, page = callback(a, back)
	require.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, `http-equiv="refresh" content="0; url=/customers"`)
	_, page, _ = a.do(http.MethodGet, "/customers", nil)
	assert.Contains(t, page, "Ada Admin")
	// Again: the cookie was spent.
	status, _ = callback(a, back)
	assert.Equal(t, http.StatusBadRequest, status)

	// A sign-in's sealed cookie put under another state's name.
	b := newBrowser(t, srv.URL)
	first := begin(t, b, op)
	var sealed string
	for _, ck := range b.http.Jar.Cookies(callbackURL) {
		if ck.Name == cookieName(first.Query().Get("state")) {
			sealed = ck.Value
		}
	}
	require.NotEmpty(t, sealed)
	q := first.Query()
	q.Set("state", "another-state")
	b.http.Jar.SetCookies(callbackURL, []*http.Cookie{{Name: cookieName("another-state"), Value: sealed, Path: "/sign-in/callback"}})
	status, _, _ = b.do(http.MethodGet, "/sign-in/callback?"+q.Encode(), nil)
	assert.Equal(t, http.StatusBadRequest, status, "sealed for one state, presented for another")
	// A tampered cookie.
	tampered := begin(t, b, op)
	b.http.Jar.SetCookies(callbackURL, []*http.Cookie{{Name: cookieName(tampered.Query().Get("state")), Value: strings.Repeat("A", 200), Path: "/sign-in/callback"}})
	status, _ = callback(b, tampered)
	assert.Equal(t, http.StatusBadRequest, status)

	// Too old: ten minutes at the provider's login page at most.
	late := newBrowser(t, srv.URL)
	slow := begin(t, late, op)
	offset.Store(int64(11 * time.Minute))
	status, _ = callback(late, slow)
	assert.Equal(t, http.StatusBadRequest, status)
	offset.Store(0)

	// Begun by an instance whose clock is half a minute ahead.
	ahead := newBrowser(t, srv.URL)
	offset.Store(int64(30 * time.Second))
	early := begin(t, ahead, op)
	offset.Store(0)
	status, _ = callback(ahead, early)
	assert.Equal(t, http.StatusOK, status, "clocks a little apart")
}

// Sign-ins abandoned in one browser do not pile up cookies: the newest
// few are kept, and the last one ends well.
func TestAbandonedSignInsAreForgotten(t *testing.T) {
	srv, op, _ := startWithProvider(t)
	root, _ := url.Parse(srv.URL + "/")
	b := newBrowser(t, srv.URL)
	var last *url.URL
	for range 6 {
		last = begin(t, b, op)
	}
	held := 0
	for _, ck := range b.http.Jar.Cookies(root) {
		if strings.HasPrefix(ck.Name, "console_provider_signin_") {
			held++
		}
	}
	assert.Equal(t, 3, held)
	status, _ := callback(b, last)
	assert.Equal(t, http.StatusOK, status)

	// Unreadable ones go whatever their number, ten an answer at most.
	junk := newBrowser(t, srv.URL)
	var plenty []*http.Cookie
	for i := range 50 {
		plenty = append(plenty, &http.Cookie{Name: fmt.Sprintf("console_provider_signin_%016d", i), Value: "junk", Path: "/"})
	}
	junk.http.Jar.SetCookies(root, plenty)
	_, page, _ := junk.do(http.MethodGet, "/sign-in", nil)
	m := csrfField.FindStringSubmatch(page)
	require.Len(t, m, 2)
	status, _, h := junk.do(http.MethodPost, "/sign-in/provider", url.Values{"csrf": {m[1]}})
	assert.Equal(t, http.StatusSeeOther, status)
	assert.Len(t, h.Values("Set-Cookie"), 11, "ten forgotten, one new")
}

// One login, one session: the same callback sent eight times at once with
// its cookie (a provider may exchange a code more than once).
func TestOneLoginEndsInOneSession(t *testing.T) {
	srv, op, _ := startWithProvider(t)
	b := newBrowser(t, srv.URL)
	back := begin(t, b, op)
	callbackURL, _ := url.Parse(srv.URL + "/sign-in/callback")
	cookies := b.http.Jar.Cookies(callbackURL)
	statuses := make(chan int, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/sign-in/callback?"+back.RawQuery, nil)
			for _, ck := range cookies {
				req.AddCookie(ck)
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	signedIn := 0
	for s := range statuses {
		if s == http.StatusOK {
			signedIn++
		}
	}
	assert.Equal(t, 1, signedIn)
}
