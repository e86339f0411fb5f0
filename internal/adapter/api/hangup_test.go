package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspmarket/orchestrator/internal/platform/metrics"
)

// A purchase whose client hung up while it waited for the workflow failed
// with the SDK's own error (not wrapping context.Canceled) and was answered
// 500, logged at ERROR: an impatient client or proxy drove the 5xx alarm.
func TestAnErrorAfterTheClientHungUpIsNotAServerError(t *testing.T) {
	s := &Server{Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest(http.MethodPost, "/v1/customers/c/subscriptions", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	s.writeError(w, r, errors.New("Timeout or cancellation waiting for update: context canceled"))
	assert.Empty(t, w.Body.String(), "no one is left to answer")
	assert.Empty(t, w.Header().Get("Content-Type"))
}

// A webhook refused before routing (not JSON, control bytes in the query)
// is counted as a webhook rejected for that reason, not as an unmatched
// request.
func TestWebhooksRefusedBeforeRoutingAreCountedAsWebhooks(t *testing.T) {
	reg := metrics.New()
	h := reg.Middleware((&Server{Logger: slog.New(slog.DiscardHandler)}).Handler())
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "/isv/v1/webhook", strings.NewReader("{}")),
		httptest.NewRequest(http.MethodPost, "/isv/v1/webhook?x=%00", strings.NewReader("{}")),
	} {
		if req.URL.RawQuery == "" {
			req.Header.Set("Content-Type", "text/plain")
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	text := rec.Body.String()
	assert.Contains(t, text, `marketplace_webhooks_total{outcome="rejected",reason="unsupported_media_type"} 1`)
	assert.Contains(t, text, `marketplace_webhooks_total{outcome="rejected",reason="invalid_request"} 1`)
	assert.NotContains(t, text, `route="unmatched"`)
}
