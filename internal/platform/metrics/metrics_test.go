package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func page(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// The SDK names one metric with different tag sets (pollers add
// poller_type): every series must still be exported, none refused.
func TestSDKMetricsWithDifferentTagSetsAreAllExported(t *testing.T) {
	r := New()
	h := r.SDKHandler().WithTags(map[string]string{"namespace": "default"})
	h.Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	h.WithTags(map[string]string{"task-queue": "subscriptions"}).Gauge("temporal_num_pollers").Update(3)
	h.Timer("temporal_request_latency").Record(20 * time.Millisecond)
	h.Counter("temporal_request").Inc(1) // the same series again

	text := page(t, r)
	assert.Contains(t, text, `temporal_request{namespace="default"} 3`)
	assert.Contains(t, text, `temporal_request{namespace="default",operation="StartWorkflowExecution"} 1`)
	assert.Contains(t, text, `temporal_num_pollers{namespace="default",task_queue="subscriptions"} 3`, "label names made valid")
	assert.Contains(t, text, `temporal_request_latency_bucket{namespace="default",le="0.025"} 1`, "timers are histograms in seconds")
	assert.NotContains(t, text, "error")
}

func TestRequestsAreCountedByRoutePatternAndWebhooksByOutcome(t *testing.T) {
	r := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/customers/{id}", func(w http.ResponseWriter, req *http.Request) {})
	mux.HandleFunc(WebhookRoute, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Query().Get("bad") != "" {
			NoteProblem(req.Context(), "invalid_signature")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mux.ServeHTTP(w, req)
		if req.Pattern != "" {
			NoteRoute(req.Context(), req.Pattern)
		}
	}))
	for _, target := range []string{"/v1/customers/a", "/v1/customers/b", "/wp-admin.php"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/isv/v1/webhook", strings.NewReader("{}")))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/isv/v1/webhook?bad=1", strings.NewReader("{}")))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/v1/customers/a", nil))

	text := page(t, r)
	assert.Contains(t, text, `http_requests_total{method="GET",route="GET /v1/customers/{id}",status="200"} 2`)
	assert.Contains(t, text, `http_requests_total{method="GET",route="unmatched",status="404"} 1`, "a path no route serves is not a label")
	assert.Contains(t, text, `http_requests_total{method="other",route="unmatched",status="405"} 1`, "nor is an odd method")
	assert.Contains(t, text, `marketplace_webhooks_total{outcome="accepted",reason="applied"} 1`)
	assert.Contains(t, text, `marketplace_webhooks_total{outcome="rejected",reason="invalid_signature"} 1`)
	assert.Contains(t, text, `http_request_duration_seconds_count{class="2xx",method="GET",route="GET /v1/customers/{id}"} 2`)
	assert.NotContains(t, text, "/wp-admin")
}

func TestANilRegistryCountsNothing(t *testing.T) {
	var r *Registry
	r.Purchased()
	r.Activated()
	r.Cancelled()
	r.LedgerLine("installment")
	r.Notification("delivered", "")
	r.SDKHandler().Counter("x").Inc(1)
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { w.WriteHeader(http.StatusTeapot) })
	rec := httptest.NewRecorder()
	r.Middleware(next).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusTeapot, rec.Code)
}

// A client that hangs up before the answer is not a server error, and a
// webhook it abandoned is neither accepted nor rejected.
func TestAClientThatHangsUpIsCountedAs499(t *testing.T) {
	r := New()
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		NoteRoute(req.Context(), WebhookRoute)
		<-req.Context().Done() // the handler writes nothing once the client is gone
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/isv/v1/webhook", strings.NewReader("{}")).WithContext(ctx))
	text := page(t, r)
	assert.Contains(t, text, `http_requests_total{method="POST",route="POST /isv/v1/webhook",status="499"} 1`)
	assert.Contains(t, text, `marketplace_webhooks_total{outcome="unanswered",reason="client_closed_request"} 1`)
	assert.NotContains(t, text, `outcome="accepted"`)
}
