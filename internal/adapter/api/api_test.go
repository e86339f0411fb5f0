package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/authcode"
	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
)

// newTestServer serves the API over a seeded SQLite store. It has no
// Temporal client: these tests cover everything answered before a
// workflow is involved (the end-to-end tests cover the rest).
func newTestServer(t *testing.T) (*httptest.Server, *store.Store) {
	t.Helper()
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	require.NoError(t, fixtures.Seed(ctx, s))
	srv := httptest.NewServer((&Server{Store: s, Logger: slog.New(slog.DiscardHandler), CheckTemporal: func(context.Context) error { return nil }}).Handler())
	t.Cleanup(srv.Close)
	return srv, s
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string, headers ...string) (*http.Response, Problem) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json") // as clients send it; a header "" below removes it
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var p Problem
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	}
	return resp, p
}

func TestMalformedRequestsGetClearProblemsNeverServerErrors(t *testing.T) {
	srv, s := newTestServer(t)
	c, err := s.CreateCustomer(context.Background(), fixtures.PartnerDemo, "Fabrikam")
	require.NoError(t, err)
	purchase := "/v1/customers/" + c.ID + "/subscriptions"
	admin := fixtures.AdminToken
	_, err = s.ApplyStep(context.Background(), store.Step{Subscription: storedSubscription("sub_1", c.ID, "active", true, time.Now(), 2)})
	require.NoError(t, err)
	sub := purchase + "/sub_1"

	cases := []struct {
		name, method, path, token, body string
		headers                         []string
		status                          int
		code, field                     string
	}{
		{"no token", "GET", "/v1/offers", "", "", nil, 401, "unauthenticated", ""},
		{"unknown token", "GET", "/v1/offers", "nope", "", nil, 401, "unauthenticated", ""},
		{"unknown route", "GET", "/v2/things", admin, "", nil, 404, "not_found", ""},
		{"empty customer body", "POST", "/v1/customers", admin, "", nil, 422, "validation_failed", ""},
		{"customer name missing", "POST", "/v1/customers", admin, `{}`, nil, 422, "validation_failed", "name"},
		{"customer name wrong type", "POST", "/v1/customers", admin, `{"name":42}`, nil, 422, "validation_failed", "name"},
		{"unknown field", "POST", "/v1/customers", admin, `{"name":"x","nmae":"y"}`, nil, 422, "validation_failed", "nmae"},
		{"trailing garbage", "POST", "/v1/customers", admin, `{"name":"x"} {}`, nil, 422, "validation_failed", ""},
		{"not JSON", "POST", "/v1/customers", admin, `name=x`, nil, 422, "validation_failed", ""},
		{"body too large", "POST", "/v1/customers", admin, `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, nil, 413, "body_too_large", ""},
		{"body too large past its JSON", "POST", "/v1/customers", admin, `{"name":"ok"}` + strings.Repeat(" ", 1<<20), nil, 413, "body_too_large", ""},
		{"plain text body", "POST", "/v1/customers", admin, `{"name":"x"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", ""},
		{"form body", "POST", "/v1/customers", admin, `name=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		{"unknown method on a known path", "DELETE", "/v1/customers", admin, "", nil, 405, "method_not_allowed", ""},
		{"change without a Content-Type", "PATCH", sub, admin, `{"nickname":"x"}`, []string{"Content-Type", ""}, 415, "unsupported_media_type", ""},
		{"change as a JSON Patch", "PATCH", sub, admin, `[{"op":"replace","path":"/nickname","value":"x"}]`, []string{"Content-Type", "application/json-patch+json"}, 415, "unsupported_media_type", ""},
		{"purchase with a key twice", "POST", purchase, admin, `{"offerId":"contoso-crm","planId":"monthly","quantity":1,"quantity":1000}`, nil, 422, "validation_failed", "quantity"},
		{"change with a key twice", "PATCH", sub, admin, `{"status":"cancelled","nickname":"x","status":"active"}`, nil, 422, "validation_failed", "status"},
		{"customer with a nested key twice", "POST", "/v1/customers", admin, `{"name":"x","meta":{"a":1,"a":2}}`, nil, 422, "validation_failed", "meta.a"},
		{"NUL in a customer name", "POST", "/v1/customers", admin, `{"name":"a\u0000b"}`, nil, 422, "validation_failed", "name"},
		{"escape in a customer name", "POST", "/v1/customers", admin, `{"name":"a\u001b[31mb"}`, nil, 422, "validation_failed", "name"},
		{"NUL in a nickname", "POST", purchase, admin, `{"offerId":"contoso-crm","planId":"monthly","quantity":1,"nickname":"x\u0000y"}`, nil, 422, "validation_failed", "nickname"},
		{"NUL in an offer id", "POST", purchase, admin, `{"offerId":"contoso\u0000crm","planId":"monthly","quantity":1}`, nil, 422, "validation_failed", "offerId"},
		{"NUL in a changed nickname", "PATCH", sub, admin, `{"nickname":"x\u0000y"}`, nil, 422, "validation_failed", "nickname"},
		{"line break in a changed nickname", "PATCH", sub, admin, `{"nickname":"x\ny"}`, nil, 422, "validation_failed", "nickname"},
		{"NUL and invalid UTF-8 in a path id", "GET", purchase + "/%00%ff", admin, "", nil, 400, "invalid_request", ""},
		{"malformed subscription id", "GET", purchase + "/sub%20one", admin, "", nil, 404, "subscription_not_found", ""},
		{"malformed customer id", "GET", "/v1/customers/cus%20one", admin, "", nil, 404, "customer_not_found", ""},
		{"NUL in a query", "GET", purchase + "?offerId=a%00b", admin, "", nil, 400, "invalid_request", ""},
		{"odd offer filter", "GET", purchase + "?offerId=a%20b", admin, "", nil, 422, "validation_failed", "offerId"},
		{"page token with a NUL id", "GET", "/v1/customers?pageToken=" + encodeCursorForTest(`{"at":"2026-01-01T00:00:00Z","id":"a\u0000b"}`), admin, "", nil, 422, "validation_failed", "pageToken"},
		{"foreign customer", "POST", purchase, fixtures.OtherAdminToken, `{"offerId":"contoso-crm","planId":"monthly","quantity":1}`, nil, 404, "customer_not_found", ""},
		{"unknown offer", "POST", purchase, admin, `{"offerId":"nope","planId":"monthly","quantity":1}`, nil, 422, "validation_failed", "offerId"},
		{"unknown plan", "POST", purchase, admin, `{"offerId":"contoso-crm","planId":"nope","quantity":1}`, nil, 422, "validation_failed", "planId"},
		{"quantity missing", "POST", purchase, admin, `{"offerId":"contoso-crm","planId":"monthly"}`, nil, 422, "validation_failed", "quantity"},
		{"quantity too big", "POST", purchase, admin, `{"offerId":"contoso-crm","planId":"monthly","quantity":100000}`, nil, 422, "validation_failed", "quantity"},
		{"quantity zero", "POST", purchase, admin, `{"offerId":"contoso-crm","planId":"monthly","quantity":0}`, nil, 422, "validation_failed", "quantity"},
		{"quantity not a number", "POST", purchase, admin, `{"offerId":"contoso-crm","planId":"monthly","quantity":"3"}`, nil, 422, "validation_failed", "quantity"},
		{"billing frequency not offered", "POST", purchase, admin, `{"offerId":"contoso-crm","planId":"monthly","quantity":1,"billingFrequency":"annual"}`, nil, 422, "validation_failed", "billingFrequency"},
		{"bad reseller", "POST", purchase, admin, `{"offerId":"contoso-crm","planId":"monthly","quantity":1,"resellerPartnerId":"<script>"}`, nil, 422, "validation_failed", "resellerPartnerId"},
		{"bad idempotency key", "POST", purchase, admin, `{"offerId":"contoso-crm","planId":"monthly","quantity":1}`, []string{"Idempotency-Key", strings.Repeat("k", 300)}, 422, "validation_failed", "Idempotency-Key"},
		{"bad page token", "GET", "/v1/customers?pageToken=%21%21", admin, "", nil, 422, "validation_failed", "pageToken"},
		{"forged page token", "GET", "/v1/customers?pageToken=e30", admin, "", nil, 422, "validation_failed", "pageToken"},
		{"bad page size", "GET", "/v1/customers?pageSize=100000", admin, "", nil, 422, "validation_failed", "pageSize"},
		{"bad status filter", "GET", purchase + "?status=paused", admin, "", nil, 422, "validation_failed", "status"},
		{"unknown subscription", "GET", purchase + "/sub_nope", admin, "", nil, 404, "subscription_not_found", ""},
		{"sales agent may not change", "PATCH", sub, fixtures.SalesToken, `{"nickname":"x"}`, nil, 403, "role_forbidden", ""},
		{"foreign subscription", "PATCH", sub, fixtures.OtherAdminToken, `{"nickname":"x"}`, nil, 404, "subscription_not_found", ""},
		{"status other than cancelled", "PATCH", sub, admin, `{"status":"active"}`, nil, 422, "validation_failed", "status"},
		{"empty change", "PATCH", sub, admin, `{}`, nil, 422, "validation_failed", ""},
		{"quantity as text", "PATCH", sub, admin, `{"quantity":"many"}`, nil, 422, "validation_failed", "quantity"},
		{"unknown change field", "PATCH", sub, admin, `{"price":1}`, nil, 422, "validation_failed", "price"},
		{"garbage If-Match", "PATCH", sub, admin, `{"nickname":"x"}`, []string{"If-Match", "abc"}, 412, "precondition_failed", ""},
		{"unsigned webhook", "POST", "/isv/v1/webhook", "", `{}`, nil, 401, "invalid_signature", ""},
		{"unsigned resolve", "POST", "/isv/v1/subscriptions/resolve", "", `{}`, nil, 401, "invalid_signature", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, p := call(t, srv, tc.method, tc.path, tc.token, tc.body, tc.headers...)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			assert.Equal(t, tc.code, p.Code)
			assert.Equal(t, tc.field, p.Field)
			assert.NotEmpty(t, p.Detail)
			assert.Equal(t, resp.Header.Get("X-Request-Id"), p.RequestID)
		})
	}
}

func TestSignedWebhookValidation(t *testing.T) {
	srv, _ := newTestServer(t)
	send := func(body string) (*http.Response, Problem) {
		sig := signature.Sign([]byte(fixtures.PublisherDemoSecret), time.Now(), []byte(body))
		return call(t, srv, "POST", "/isv/v1/webhook", "", body, signature.PublisherHeader, fixtures.PublisherDemo, signature.Header, sig)
	}
	for body, field := range map[string]string{
		`{"id":"","type":"subscription.activated","subscriptionId":"s"}`:                               "id",
		`{"id":"e1","type":"subscription.exploded","subscriptionId":"s"}`:                              "type",
		`{"id":"e1","type":"subscription.activated"}`:                                                  "subscriptionId",
		`{"id":"e1","type":"subscription.activated","subscriptionId":"s","data":{"quantity":-1}}`:      "data.quantity",
		`{"id":"e\u00001","type":"subscription.activated","subscriptionId":"s"}`:                       "id",
		`{"id":"e1","type":"subscription.activated","subscriptionId":"s\u0000"}`:                       "subscriptionId",
		`{"id":"e1","type":"subscription.activated","subscriptionId":"s","data":{"planId":"p\u0000"}}`: "data.planId",
	} {
		resp, p := send(body)
		assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
		assert.Equal(t, field, p.Field, body)
	}
	resp, p := send(`{"id":"e1","type":"subscription.activated","subscriptionId":"sub_unknown"}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "subscription_not_found", p.Code)
	resp, _ = send(`not json`)
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
}

func TestHealthz(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, _ := call(t, srv, "GET", "/healthz", "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

func TestListsPageStablyAndFilter(t *testing.T) {
	srv, s := newTestServer(t)
	ctx := context.Background()
	var want []string
	for i := 0; i < 5; i++ {
		c, err := s.CreateCustomer(ctx, fixtures.PartnerDemo, fmt.Sprintf("Customer %d", i))
		require.NoError(t, err)
		want = append(want, c.ID)
	}
	var got []string
	token := ""
	for pages := 0; pages < 10; pages++ {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/customers?pageSize=2&pageToken="+token, nil)
		req.Header.Set("Authorization", "Bearer "+fixtures.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var page struct {
			Items         []wire.Customer
			NextPageToken string
		}
		require.NoError(t, jsonDecode(resp, &page))
		resp.Body.Close()
		for _, c := range page.Items {
			got = append(got, c.ID)
		}
		if page.NextPageToken == "" {
			break
		}
		token = page.NextPageToken
	}
	assert.Equal(t, want, got, "every customer once, oldest first")

	for i, status := range []string{"active", "pending_fulfillment", "active"} {
		row := storedSubscription(fmt.Sprintf("sub_%d", i), want[0], status, i != 2, time.Now().Add(time.Duration(i)*time.Second), 1)
		_, err := s.ApplyStep(ctx, store.Step{Subscription: row})
		require.NoError(t, err)
	}
	list := func(query string) []string {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/customers/"+want[0]+"/subscriptions?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+fixtures.SalesToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, query)
		var page struct{ Items []struct{ ID string } }
		require.NoError(t, jsonDecode(resp, &page))
		var ids []string
		for _, s := range page.Items {
			ids = append(ids, s.ID)
		}
		return ids
	}
	assert.Equal(t, []string{"sub_0", "sub_1"}, list(""), "license-based only by default")
	assert.Equal(t, []string{"sub_0", "sub_1", "sub_2"}, list("licenseBased=any"))
	assert.Equal(t, []string{"sub_0", "sub_2"}, list("licenseBased=any&status=active"))
	assert.Equal(t, []string{"sub_0", "sub_1"}, list("offerId=contoso-crm"))
	assert.Empty(t, list("offerId=other"))
}

func TestAPublisherCannotTouchAnotherPublishersSubscription(t *testing.T) {
	srv, s := newTestServer(t)
	ctx := context.Background()
	require.NoError(t, s.UpsertPublisher(ctx, "isv-other", "Other ISV", "https://other.example"))
	require.NoError(t, s.EnsurePublisherSecret(ctx, "sec_other", "isv-other", []byte("other-secret")))
	c, err := s.CreateCustomer(ctx, fixtures.PartnerDemo, "Fabrikam")
	require.NoError(t, err)
	_, err = s.ApplyStep(ctx, store.Step{Subscription: storedSubscription("sub_1", c.ID, "pending_fulfillment", true, time.Now(), 1), AuthorizationCode: &store.AuthorizationCode{CodeHash: authcodeHash("ac_demo"), SubscriptionID: "sub_1", PublisherID: "isv-demo", ExpiresAt: time.Now().Add(time.Hour)}})
	require.NoError(t, err)

	as := func(publisher, secret, path, body string) (*http.Response, Problem) {
		sig := signature.Sign([]byte(secret), time.Now(), []byte(body))
		return call(t, srv, "POST", path, "", body, signature.PublisherHeader, publisher, signature.Header, sig)
	}
	resp, p := as("isv-other", "other-secret", "/isv/v1/webhook", `{"id":"e1","type":"subscription.activated","subscriptionId":"sub_1"}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "subscription_not_found", p.Code)
	resp, p = as("isv-other", "other-secret", "/isv/v1/subscriptions/resolve", `{"authorizationCode":"ac_demo"}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "authorization_code_not_found", p.Code)
	// isv-demo's own secret, sent as isv-other: the signature does not verify.
	resp, _ = as("isv-other", fixtures.PublisherDemoSecret, "/isv/v1/subscriptions/resolve", `{"authorizationCode":"ac_demo"}`)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	// The owner resolves it.
	resp, _ = as("isv-demo", fixtures.PublisherDemoSecret, "/isv/v1/subscriptions/resolve", `{"authorizationCode":"ac_demo"}`)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// A rotation's previous secret keeps verifying for the overlap, then stops
// by itself, and an operator can stop it sooner; a revoked secret never
// verifies again (hostile pass, issue 25: the old one stayed valid until
// the next rotation, with no way to revoke it).
func TestPublisherSecretRotationOverlapEndsAndCanBeRevoked(t *testing.T) {
	srv, s := newTestServer(t)
	ctx := context.Background()
	body := `{"authorizationCode":"ac_unknown"}`
	send := func(secret string) int {
		sig := signature.Sign([]byte(secret), time.Now(), []byte(body))
		resp, _ := call(t, srv, "POST", "/isv/v1/subscriptions/resolve", "", body, signature.PublisherHeader, fixtures.PublisherDemo, signature.Header, sig)
		return resp.StatusCode
	}
	const verified, refused = http.StatusNotFound, http.StatusUnauthorized // verified, then the code is unknown
	assert.Equal(t, verified, send(fixtures.PublisherDemoSecret))

	_, err := s.RotatePublisherSecret(ctx, fixtures.PublisherDemo, []byte("second-secret"), 300*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, verified, send(fixtures.PublisherDemoSecret), "the previous secret verifies during the overlap")
	assert.Equal(t, verified, send("second-secret"))
	time.Sleep(400 * time.Millisecond)
	assert.Equal(t, refused, send(fixtures.PublisherDemoSecret), "the overlap has ended")
	assert.Equal(t, verified, send("second-secret"))

	third, err := s.RotatePublisherSecret(ctx, fixtures.PublisherDemo, []byte("third-secret"), time.Hour)
	require.NoError(t, err)
	assert.Equal(t, verified, send("second-secret"))
	list, err := s.PublisherSecretList(ctx, fixtures.PublisherDemo)
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, third, list[0].ID)
	assert.Nil(t, list[0].RevokedAt, "the current secret")
	require.NotNil(t, list[1].RevokedAt)
	assert.WithinDuration(t, time.Now().Add(time.Hour), *list[1].RevokedAt, time.Minute, "the previous one, until the overlap's end")

	require.NoError(t, s.RevokePublisherSecret(ctx, fixtures.PublisherDemo, list[1].ID))
	assert.Equal(t, refused, send("second-secret"), "revoked before its overlap ended")
	assert.Equal(t, verified, send("third-secret"))
	assert.ErrorIs(t, s.RevokePublisherSecret(ctx, fixtures.PublisherDemo, list[1].ID), store.ErrNotFound, "revoked already")
	assert.ErrorIs(t, s.RevokePublisherSecret(ctx, "partner-other", third), store.ErrNotFound, "another publisher's")

	// A rotation with no overlap stops the previous secret at once.
	_, err = s.RotatePublisherSecret(ctx, fixtures.PublisherDemo, []byte("fourth-secret"), 0)
	require.NoError(t, err)
	assert.Equal(t, refused, send("third-secret"))
	assert.Equal(t, verified, send("fourth-secret"))
}

func authcodeHash(code string) string { return authcode.Hash(code) }

func TestExpiredAuthorizationCodeNoLongerResolves(t *testing.T) {
	srv, s := newTestServer(t)
	ctx := context.Background()
	c, err := s.CreateCustomer(ctx, fixtures.PartnerDemo, "Fabrikam")
	require.NoError(t, err)
	_, err = s.ApplyStep(ctx, store.Step{Subscription: storedSubscription("sub_1", c.ID, "pending_fulfillment", true, time.Now().Add(-25*time.Hour), 1), AuthorizationCode: &store.AuthorizationCode{CodeHash: authcode.Hash("ac_old"), SubscriptionID: "sub_1", PublisherID: "isv-demo", ExpiresAt: time.Now().Add(-time.Hour)}})
	require.NoError(t, err)
	body := `{"authorizationCode":"ac_old"}`
	sig := signature.Sign([]byte(fixtures.PublisherDemoSecret), time.Now(), []byte(body))
	resp, p := call(t, srv, "POST", "/isv/v1/subscriptions/resolve", "", body, signature.PublisherHeader, fixtures.PublisherDemo, signature.Header, sig)
	assert.Equal(t, http.StatusGone, resp.StatusCode)
	assert.Equal(t, "authorization_code_expired", p.Code)

	// The partner issues a fresh one, which resolves.
	req, _ := http.NewRequest("GET", srv.URL+"/v1/customers/"+c.ID+"/subscriptions/sub_1/activation-link", nil)
	req.Header.Set("Authorization", "Bearer "+fixtures.AdminToken)
	got, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var link struct{ AuthorizationCode string }
	require.NoError(t, jsonDecode(got, &link))
	got.Body.Close()
	require.NotEmpty(t, link.AuthorizationCode)
	body = `{"authorizationCode":"` + link.AuthorizationCode + `"}`
	sig = signature.Sign([]byte(fixtures.PublisherDemoSecret), time.Now(), []byte(body))
	resp, _ = call(t, srv, "POST", "/isv/v1/subscriptions/resolve", "", body, signature.PublisherHeader, fixtures.PublisherDemo, signature.Header, sig)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// storedSubscription is a subscription of partner-demo as the store keeps
// it, for tests that need one without running its workflow.
func storedSubscription(id, customerID, status string, licenseBased bool, purchasedAt time.Time, version int64) store.Subscription {
	return store.Subscription{Subscription: lifecycle.Subscription{
		ID: id, PartnerID: fixtures.PartnerDemo, CustomerID: customerID, OfferID: "contoso-crm", PlanID: "monthly", PublisherID: "isv-demo",
		Quantity: 1, Status: lifecycle.Status(status), BillingFrequency: "monthly", TermDuration: "P1M", UnitPrice: 1200,
		Currency: "USD", PurchasedAt: purchasedAt, Version: version,
	}, LicenseBased: licenseBased, RequestHash: "h"}
}

func encodeCursorForTest(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
