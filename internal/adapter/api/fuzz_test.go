package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
)

var (
	fuzzOnce    sync.Once
	fuzzHandler http.Handler
	fuzzSub     string
)

// fuzzServer is one API over a seeded SQLite store whose Temporal is out of
// reach: whatever reaches a workflow ends as a 503, never a 500.
func fuzzServer(t testing.TB) http.Handler {
	fuzzOnce.Do(func() {
		// Shared by every fuzz target and iteration, so not tied to one
		// test's cleanup; the process's end removes nothing but a temp file.
		dir, err := os.MkdirTemp("", "fuzz-api-")
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		s, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "app.db"), storetest.Box(t), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.SyncCatalog(ctx, catalog.Dev()); err != nil {
			t.Fatal(err)
		}
		if err := fixtures.Seed(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureCustomer(ctx, "cus_fuzz", fixtures.PartnerDemo, "Fuzz"); err != nil {
			t.Fatal(err)
		}
		fuzzSub = "sub_fuzz"
		if _, err := s.ApplyStep(ctx, store.Step{Subscription: storedSubscription(fuzzSub, "cus_fuzz", "active", true, time.Now(), 2)}); err != nil {
			t.Fatal(err)
		}
		temporal, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: quietLogger{}})
		if err != nil {
			t.Fatal(err)
		}
		fuzzHandler = (&Server{
			Store: s, Temporal: temporal, Logger: slog.New(slog.DiscardHandler), PurchaseTimeout: 200 * time.Millisecond,
			CheckTemporal: func(context.Context) error { return nil },
		}).Handler()
	})
	return fuzzHandler
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("%s: answered %d: %s", what, rec.Code, rec.Body.String())
	}
	if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%s: %d is not a problem+json: %q", what, rec.Code, rec.Header().Get("Content-Type"))
	}
}

// FuzzPartnerAPI sends arbitrary methods, paths, bodies and headers to the
// partner API: every answer is a deliberate one (no 5xx but 503 for the
// unreachable Temporal), and every error is a problem+json.
func FuzzPartnerAPI(f *testing.F) {
	for _, seed := range []struct{ method, path, body, token, idem, ifMatch string }{
		{"GET", "/v1/offers", "", fixtures.AdminToken, "", ""},
		{"POST", "/v1/customers", `{"name":"Fabrikam"}`, fixtures.AdminToken, "", ""},
		{"POST", "/v1/customers/cus_fuzz/subscriptions", `{"offerId":"contoso-crm","planId":"monthly","quantity":3}`, fixtures.SalesToken, "k1", ""},
		{"PATCH", "/v1/customers/cus_fuzz/subscriptions/sub_fuzz", `{"quantity":2,"status":"cancelled"}`, fixtures.AdminToken, "k2", `"2"`},
		{"GET", "/v1/customers/cus_fuzz/subscriptions?pageSize=1&pageToken=eyJ0IjoiMjAyNiJ9&status=active", "", fixtures.AdminToken, "", ""},
		{"GET", "/v1/customers/cus_fuzz/subscriptions/sub_fuzz/activation-link", "", fixtures.OtherAdminToken, "", ""},
		{"DELETE", "/v1/customers/%00", "\x00\xff", "", "", ""},
		{"PATCH", "/v1/customers/cus_fuzz/subscriptions/sub_fuzz", `{"nickname":null,"autoRenew":"yes"}`, fixtures.AdminToken, "", "W/\"x\""},
	} {
		f.Add(seed.method, seed.path, []byte(seed.body), seed.token, seed.idem, seed.ifMatch)
	}
	f.Fuzz(func(t *testing.T, method, path string, body []byte, token, idem, ifMatch string) {
		h := fuzzServer(t)
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://api"+path, strings.NewReader(string(body)))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", idem)
		req.Header.Set("If-Match", ifMatch)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkAnswer(t, rec, method+" "+path)
	})
}

// FuzzISVAPI sends arbitrary bodies and signature headers to the ISV API,
// half of them correctly signed so the handlers themselves are reached.
func FuzzISVAPI(f *testing.F) {
	for _, seed := range []struct {
		path, body, header string
		sign               bool
	}{
		{"/isv/v1/webhook", `{"id":"e1","type":"subscription.activated","subscriptionId":"sub_fuzz","data":{"planId":"annual","quantity":3}}`, "", true},
		{"/isv/v1/webhook", `{"id":"e2","type":"subscription.suspended","subscriptionId":"sub_nope"}`, "", true},
		{"/isv/v1/subscriptions/resolve", `{"authorizationCode":"ac_x"}`, "", true},
		{"/isv/v1/webhook", `{"id":1}`, "t=1,v1=zz", false},
		{"/isv/v1/webhook", `[]`, "t=99999999999999999999,v1=00", false},
	} {
		f.Add(seed.path, []byte(seed.body), seed.header, seed.sign)
	}
	f.Fuzz(func(t *testing.T, path string, body []byte, header string, sign bool) {
		h := fuzzServer(t)
		if sign {
			header = signature.Sign([]byte(fixtures.PublisherDemoSecret), time.Now(), body)
		}
		if path != "/isv/v1/subscriptions/resolve" {
			path = "/isv/v1/webhook"
		}
		req := httptest.NewRequest("POST", path, io.NopCloser(strings.NewReader(string(body))))
		req.Header.Set(signature.PublisherHeader, fixtures.PublisherDemo)
		req.Header.Set(signature.Header, header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkAnswer(t, rec, path)
	})
}
