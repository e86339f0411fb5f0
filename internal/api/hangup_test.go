package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
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
