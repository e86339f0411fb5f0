package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/authcode"
	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
)

// Guessing tokens or signatures is slowed down per client address: past
// the limit, that address's failing requests answer 429 with Retry-After.
// Valid credentials from the same address are always served: behind a
// load balancer every client shares one address, and 31 bad tokens used
// to lock out every agent and every correctly signed ISV (issue 25).
func TestFailedAuthenticationsThrottleOnlyWhatFails(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	require.NoError(t, fixtures.Seed(ctx, s))
	clock := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	api := &Server{Store: s, Logger: slog.New(slog.DiscardHandler), AuthFailureLimit: 30, Now: func() time.Time { return clock },
		CheckTemporal: func(context.Context) error { return nil }}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	badSignature := func() (*http.Response, Problem) {
		return call(t, srv, "GET", "/isv/v1/notifications", "", "", signature.PublisherHeader, fixtures.PublisherDemo,
			signature.Header, signature.Sign([]byte("wrong"), clock, nil))
	}
	goodSignature := func() (*http.Response, Problem) {
		return call(t, srv, "GET", "/isv/v1/notifications", "", "", signature.PublisherHeader, fixtures.PublisherDemo,
			signature.Header, signature.Sign([]byte(fixtures.PublisherDemoSecret), clock, nil))
	}

	for i := range 30 {
		resp, p := call(t, srv, "GET", "/v1/offers", "guess-"+strconv.Itoa(i), "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, p.Code)
	}
	resp, p := call(t, srv, "GET", "/v1/offers", "guess-31", "")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the 31st failure in a minute")
	assert.Equal(t, "too_many_failed_authentications", p.Code)
	assert.Equal(t, "61", resp.Header.Get("Retry-After"))
	resp, _ = badSignature()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "a bad signature from that address is throttled too")

	for _, token := range []string{fixtures.AdminToken, fixtures.SalesToken, fixtures.OtherAdminToken} {
		resp, p = call(t, srv, "GET", "/v1/offers", token, "")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "a valid token is served while its address is throttled: %s", p.Code)
	}
	resp, p = goodSignature()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a correctly signed ISV request is served while its address is throttled: %s", p.Code)

	// Failures go on counting while throttled: a sender that keeps
	// failing stays throttled, without locking anyone else out.
	for range 40 {
		clock = clock.Add(time.Second)
		resp, _ = call(t, srv, "GET", "/v1/offers", "guess", "")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		resp, _ = call(t, srv, "GET", "/v1/offers", fixtures.AdminToken, "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	clock = clock.Add(time.Minute)
	resp, p = call(t, srv, "GET", "/v1/offers", "guess", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the window has passed: a failure is a 401 again (%s)", p.Code)
	resp, _ = badSignature()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// Answers carry per-agent data and secrets (authorization codes): no cache
// may keep them.
func TestEveryAnswerIsNoStore(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, path := range []string{"/healthz", "/v1/offers", "/v1/nothing"} {
		resp, _ := call(t, srv, "GET", path, fixtures.AdminToken, "")
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), path)
	}
}

// Notification endpoints cannot point inside the network (SSRF): metadata,
// private ranges, loopback (unless configured), credentials in the URL.
func TestNotificationEndpointsRefuseNonPublicTargets(t *testing.T) {
	srv, _ := newTestServer(t) // the strict policy: no loopback
	for _, target := range []string{
		"http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/hook", "http://0.0.0.0:8080/", "http://127.0.0.1:8233/",
		"http://[::1]/", "http://localhost:7233/", "https://user:pw@partner.example.com/", "gopher://partner.example.com/",
	} {
		body := `{"url":"` + target + `"}`
		resp, p := call(t, srv, "PUT", "/v1/notification-endpoint", fixtures.AdminToken, body)
		assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, target)
		assert.Equal(t, "url", p.Field, target)
		resp, p = call(t, srv, "PUT", "/isv/v1/notification-endpoint", "", body, signature.PublisherHeader, fixtures.PublisherDemo,
			signature.Header, signature.Sign([]byte(fixtures.PublisherDemoSecret), time.Now(), []byte(body)))
		assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, target)
		assert.Equal(t, "url", p.Field, target)
	}
	resp, _ := call(t, srv, "PUT", "/v1/notification-endpoint", fixtures.AdminToken, `{"url":"https://partner.example.com/hooks"}`)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// A code replaced by a newer one stops resolving at once (one live code
// per subscription); the newer one resolves.
func TestReplacedAuthorizationCodeNoLongerResolves(t *testing.T) {
	srv, s := newTestServer(t)
	ctx := context.Background()
	c, err := s.CreateCustomer(ctx, fixtures.PartnerDemo, "Fabrikam")
	require.NoError(t, err)
	now := time.Now().UTC()
	require.NoError(t, s.KeepAuthorizationCode(ctx, "ac_old", authcode.Hash("ac_old")))
	_, err = s.ApplyStep(ctx, store.Step{
		Subscription:      storedSubscription("sub_1", c.ID, "pending_fulfillment", true, now, 1),
		AuthorizationCode: &store.AuthorizationCode{CodeHash: authcode.Hash("ac_old"), SubscriptionID: "sub_1", PublisherID: "isv-demo", ExpiresAt: now.Add(time.Hour)},
	})
	require.NoError(t, err)
	fresh, _, err := s.LiveAuthorizationCode(ctx, "sub_1", "isv-demo", now.Add(2*time.Hour), func() (string, string, time.Time) {
		return "ac_new", authcode.Hash("ac_new"), now.Add(24 * time.Hour)
	})
	require.NoError(t, err)
	require.Equal(t, "ac_new", fresh)

	resolve := func(code string) (*http.Response, Problem) {
		body := `{"authorizationCode":"` + code + `"}`
		return call(t, srv, "POST", "/isv/v1/subscriptions/resolve", "", body, signature.PublisherHeader, fixtures.PublisherDemo,
			signature.Header, signature.Sign([]byte(fixtures.PublisherDemoSecret), time.Now(), []byte(body)))
	}
	resp, p := resolve("ac_old")
	assert.Equal(t, http.StatusGone, resp.StatusCode)
	assert.Equal(t, "authorization_code_expired", p.Code)
	resp, _ = resolve("ac_new")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// A key given twice in any object is refused, named by its path; the same
// key in sibling objects, and malformed JSON (the decoder's to report),
// are not this check's.
func TestDuplicateKeysAreRefusedAtAnyDepth(t *testing.T) {
	for body, field := range map[string]string{
		`{"a":1,"a":1}`:                        "a",
		`{"a":{"b":[1,{"c":1,"c":2}]}}`:        "a.b.c",
		`{"data":{"planId":"x","planId":"y"}}`: "data.planId",
		`{"x":[{"k":1},{"k":2}],"y":{"k":1}}`:  "",
		`{"a":"a","b":{"a":1}}`:                "",
		`[{"a":1},{"a":1}]`:                    "",
		`{"a":1,`:                              "",
		`{"a":[{"b":1}],"a":2}`:                "a",
		// encoding/json matches names without case: the same field twice
		// (the hostile pass of issue 27 approved a change with
		// {"status":"Failure","Status":"Success"}).
		`{"status":"Failure","Status":"Success"}`: "Status",
		`{"kind":1,"\u212aIND":2}`:                "KIND",
		`{"ab":1,"aB":2}`:                         "aB",
	} {
		err := refuseDuplicateKeys([]byte(body))
		if field == "" {
			assert.NoError(t, err, body)
			continue
		}
		var v *validationError
		if assert.ErrorAs(t, err, &v, body) {
			assert.Equal(t, field, v.field, body)
		}
	}
}

// A signed ISV event naming a key twice is refused before anything is
// read from it: which of the two the ISV meant is not for this API to
// guess.
func TestASignedEventWithAKeyTwiceIsRefused(t *testing.T) {
	srv, _ := newTestServer(t)
	body := `{"id":"e1","type":"subscription.activated","subscriptionId":"sub_1","type":"subscription.unsubscribed"}`
	resp, p := call(t, srv, "POST", "/isv/v1/webhook", "", body, signature.PublisherHeader, fixtures.PublisherDemo,
		signature.Header, signature.Sign([]byte(fixtures.PublisherDemoSecret), time.Now(), []byte(body)))
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Equal(t, "type", p.Field)
}

// The bearer scheme's name is case-insensitive (RFC 9110): the hostile
// pass of issue 27 was refused with `bearer <token>`.
func TestTheBearerSchemeIsCaseInsensitive(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer dev-admin-token": "dev-admin-token", "bearer dev-admin-token": "dev-admin-token", "BEARER  dev-admin-token ": "dev-admin-token",
		"Basic dev-admin-token": "", "Bearer": "", "": "", "Bearerdev-admin-token": "",
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1/offers", nil)
		r.Header.Set("Authorization", header)
		token, ok := bearerToken(r)
		assert.Equal(t, want != "", ok, header)
		assert.Equal(t, want, token, header)
	}
	srv, _ := newTestServer(t)
	resp, _ := call(t, srv, "GET", "/v1/offers", "", "", "Authorization", "bearer "+fixtures.AdminToken)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
