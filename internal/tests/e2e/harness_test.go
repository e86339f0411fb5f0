// Package e2e drives the whole product through HTTP: the real embedded
// Temporal server, the in-process worker, the API and a real database
// (SQLite, then Postgres), exactly as `go run ./starter` runs them.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"

	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/platform/app"
	"github.com/cspmarket/orchestrator/internal/platform/config"
	"github.com/cspmarket/orchestrator/internal/tests/openapitest"
	"github.com/cspmarket/orchestrator/workflows"
)

// product is one running product under test.
type product struct {
	t       *testing.T
	app     *app.App
	base    string
	dataDir string
}

// withUI are startProduct's extra settings for a test that asks the
// embedded Web UI.
var withUI = []string{"TEMPORAL_UI_PORT", "auto"}

// startProduct starts the embedded default on free ports in a temporary
// data directory; databaseURL "" keeps the SQLite default; extra are more
// environment variables, as name, value pairs.
func startProduct(t *testing.T, databaseURL string, extra ...string) *product {
	t.Helper()
	return startProductWith(t, app.Parts{}, databaseURL, extra...)
}

// startProductWith is startProduct with the worker's interceptors of parts.
func startProductWith(t *testing.T, parts app.Parts, databaseURL string, extra ...string) *product {
	t.Helper()
	dataDir := t.TempDir()
	if os.Getenv(storetest.KeepTestDatabasesEnv) != "" {
		// Kept for the ledger check after the tests (.ci/run).
		var err error
		dataDir, err = os.MkdirTemp("", "e2e-product-")
		require.NoError(t, err)
		url := databaseURL
		if url == "" {
			url = "sqlite://" + filepath.Join(dataDir, "app.db")
		}
		storetest.KeepForLedgerCheck(t, url, dataDir)
	}
	env := map[string]string{
		"HTTP_ADDR":         "127.0.0.1:0",
		"DATA_DIR":          dataDir,
		"TEMPORAL_DEV_PORT": "0", // the embedded server picks its ports under a lock
		"TEMPORAL_UI_PORT":  "0", // off unless a test asks for it (withUI)
		"DATABASE_URL":      databaseURL,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.Start(ctx, cfg, app.Parts{HTTP: true, Worker: cfg.EmbeddedWorker, WorkerInterceptors: parts.WorkerInterceptors}, logger)
	require.NoError(t, err)
	t.Cleanup(func() { a.Stop(context.Background()) })
	return &product{t: t, app: a, base: "http://" + a.HTTPAddress(), dataDir: dataDir}
}

// startWorker runs a worker process-alike against the product's Temporal
// server and database; stop it with its Stop.
func (p *product) startWorker() *app.App {
	p.t.Helper()
	env := map[string]string{"TEMPORAL_ADDRESS": p.app.TemporalAddress(), "DATA_DIR": p.dataDir, "METRICS_ADDR": "127.0.0.1:0"}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	require.NoError(p.t, err)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := app.Start(context.Background(), cfg, app.Parts{Worker: true}, logger)
	require.NoError(p.t, err)
	return w
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), string(r.body))
}

func (r response) sub(t *testing.T) subscriptionJSON {
	t.Helper()
	var s subscriptionJSON
	r.json(t, &s)
	return s
}

// conforms asserts the body matches a schema of openapi.yaml.
func (r response) conforms(t *testing.T, schema string) {
	t.Helper()
	require.NoError(t, openapitest.Validate(schema, r.body), "%s: %s", schema, r.body)
}

func (r response) code(t *testing.T) string {
	var p struct {
		Code string `json:"code"`
	}
	r.json(t, &p)
	return p.Code
}

func (p *product) do(method, path, token string, body any, headers ...string) response {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(p.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	require.NoError(p.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return p.send(req)
}

func (p *product) send(req *http.Request) response {
	p.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// isv sends a signed ISV request; at shifts the signature's timestamp.
func (p *product) isv(path, publisher string, secret []byte, at time.Time, body any) response {
	p.t.Helper()
	return p.isvMethod(http.MethodPost, path, publisher, secret, at, body)
}

// isvMethod is a signed ISV request of any method.
func (p *product) isvMethod(method, path, publisher string, secret []byte, at time.Time, body any) response {
	p.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(p.t, err)
	req, err := http.NewRequest(method, p.base+path, bytes.NewReader(b))
	require.NoError(p.t, err)
	req.Header.Set(signature.PublisherHeader, publisher)
	req.Header.Set(signature.Header, signature.Sign(secret, at, b))
	return p.send(req)
}

func (p *product) event(id, typ, subscriptionID string, data map[string]any) response {
	body := map[string]any{"id": id, "type": typ, "subscriptionId": subscriptionID}
	if data != nil {
		body["data"] = data
	}
	return p.isv("/isv/v1/webhook", "isv-demo", []byte("dev-isv-secret"), time.Now(), body)
}

type subscriptionJSON struct {
	workflows.Subscription
	ETag string `json:"etag"`
}

// get reads a subscription once, as the admin agent.
func (p *product) get(customerID, subscriptionID string) subscriptionJSON {
	p.t.Helper()
	r := p.do(http.MethodGet, "/v1/customers/"+customerID+"/subscriptions/"+subscriptionID, "dev-admin-token", nil)
	require.Equal(p.t, http.StatusOK, r.status, string(r.body))
	return r.sub(p.t)
}

// waitStatus polls the subscription until it has the status.
func (p *product) waitStatus(customerID, subscriptionID string, want lifecycle.Status) subscriptionJSON {
	p.t.Helper()
	return p.waitStatusWithin(customerID, subscriptionID, want, 20*time.Second)
}

func (p *product) waitStatusWithin(customerID, subscriptionID string, want lifecycle.Status, within time.Duration) subscriptionJSON {
	p.t.Helper()
	var sub subscriptionJSON
	deadline := time.Now().Add(within)
	for {
		r := p.do(http.MethodGet, "/v1/customers/"+customerID+"/subscriptions/"+subscriptionID, "dev-admin-token", nil)
		require.Equal(p.t, http.StatusOK, r.status, string(r.body))
		r.json(p.t, &sub)
		if sub.Status == want {
			return sub
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("subscription %s stayed %s, want %s", subscriptionID, sub.Status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// customer creates a customer of partner-demo and returns its id.
func (p *product) customer(name string) string {
	p.t.Helper()
	r := p.do(http.MethodPost, "/v1/customers", "dev-admin-token", map[string]any{"name": name})
	require.Equal(p.t, http.StatusCreated, r.status, string(r.body))
	var c struct{ ID string }
	r.json(p.t, &c)
	return c.ID
}

// buy purchases and returns the subscription.
func (p *product) buy(customerID, offerID, planID string, quantity int) subscriptionJSON {
	p.t.Helper()
	r := p.do(http.MethodPost, "/v1/customers/"+customerID+"/subscriptions", "dev-admin-token",
		map[string]any{"offerId": offerID, "planId": planID, "quantity": quantity})
	require.Equal(p.t, http.StatusCreated, r.status, string(r.body))
	return r.sub(p.t)
}

// patch changes a subscription as the admin agent.
func (p *product) patch(sub subscriptionJSON, body map[string]any, headers ...string) response {
	p.t.Helper()
	return p.do(http.MethodPatch, "/v1/customers/"+sub.CustomerID+"/subscriptions/"+sub.ID, "dev-admin-token", body, headers...)
}

// patchUntilConfirmed changes a subscription as a careful client does:
// with an Idempotency-Key, repeated with that key while the answer is 503
// (the change was not confirmed before the request's deadline, which a
// loaded machine reaches: CI's did with twenty changes at once). The
// repeats must not apply the change twice; the caller's checks on the
// ledger say whether they did.
func (p *product) patchUntilConfirmed(sub subscriptionJSON, body map[string]any, idempotencyKey string) response {
	p.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		r := p.patch(sub, body, "Idempotency-Key", idempotencyKey)
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return r
		}
		p.t.Logf("PATCH %s answered 503 (%s); repeating it with the same Idempotency-Key", idempotencyKey, r.body)
		time.Sleep(time.Second)
	}
}

// historyGeneration names the newest workflows/versions.go change the
// histories recorded now carry: each generation is recorded beside the
// older ones, which stay as they are (they stand for running workflows).
// "generation-by-type" are the runs of SubscriptionGeneration3;
// "generation-4" those of SubscriptionGeneration4 (exact lines);
// "generation-5" those of SubscriptionGeneration5 (plan changes);
// "generation-6" those of SubscriptionGeneration6 (metering).
const historyGeneration = "generation-6"

// recordHistory writes a workflow's history to
// RECORD_HISTORIES/<name>.<historyGeneration>.json when that variable names
// a directory: that is how the replay test's testdata is made (see
// workflows/replay_test.go).
func (p *product) recordHistory(name, workflowID string) { p.recordRun(name, workflowID, "") }

// recordRun records one run of a workflow ("" is the latest).
func (p *product) recordRun(name, workflowID, runID string) {
	dir := os.Getenv("RECORD_HISTORIES")
	if dir == "" {
		return
	}
	path := filepath.Join(dir, name+"."+historyGeneration+".json")
	if _, err := os.Stat(path); err == nil {
		// A recorded history stands for workflows already running: it is
		// never replaced, or the replay test would stop guarding them.
		p.t.Logf("history %s exists; not re-recorded", path)
		return
	}
	hist := &historypb.History{Events: p.history(workflowID, runID)}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(p.t, err)
	require.NoError(p.t, os.WriteFile(path, b, 0o644))
}

// history reads one run of a workflow ("" is the latest).
func (p *product) history(workflowID, runID string) []*historypb.HistoryEvent {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := p.app.Client.GetWorkflowHistory(ctx, workflowID, runID, false, 0)
	var events []*historypb.HistoryEvent
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(p.t, err)
		events = append(events, e)
	}
	return events
}

// assertGenerationByType checks that runs of a subscription started now
// (or continued as new) carry their generation in their workflow type
// and record no version marker: no GetVersion marker, no upsert of
// TemporalChangeVersion (workflows/versions.go).
func (p *product) assertGenerationByType(workflowID string, runIDs ...string) {
	p.t.Helper()
	for _, runID := range runIDs {
		events := p.history(workflowID, runID)
		require.NotEmpty(p.t, events)
		started := events[0].GetWorkflowExecutionStartedEventAttributes()
		assert.Equal(p.t, workflows.SubscriptionWorkflowType, started.GetWorkflowType().GetName(), "run %s", runID)
		for _, e := range events {
			assert.NotEqual(p.t, "Version", e.GetMarkerRecordedEventAttributes().GetMarkerName(), "run %s: event %d is a version marker", runID, e.GetEventId())
			_, changeVersion := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()["TemporalChangeVersion"]
			assert.False(p.t, changeVersion, "run %s: event %d upserts TemporalChangeVersion", runID, e.GetEventId())
		}
	}
}
