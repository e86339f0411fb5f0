package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
)

// abortingTemporal aborts the first aborts sends of each change as the
// server does when it clears a workflow's update registry under load
// (retryable Unavailable), then applies it; it records every update id.
type abortingTemporal struct {
	client.Client
	aborts int
	mu     sync.Mutex
	ids    []string
}

func (a *abortingTemporal) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ids = append(a.ids, opts.UpdateID)
	if len(a.ids) <= a.aborts {
		return nil, serviceerror.NewUnavailable("workflow update was aborted")
	}
	req := opts.Args[0].(payload.ChangeRequest)
	return appliedChange{quantity: *req.Quantity}, nil
}

type appliedChange struct {
	client.WorkflowUpdateHandle
	quantity int
}

func (c appliedChange) Get(_ context.Context, v any) error {
	*(v.(*payload.ChangeResult)) = payload.ChangeResult{Subscription: payload.Subscription{
		ID: "sub_abort", CustomerID: "cus_abort", PartnerID: fixtures.PartnerDemo, Quantity: c.quantity, Status: lifecycle.StatusActive, Version: 3,
	}}
	return nil
}

// A change that Temporal aborted, retryably, before the workflow took it
// was answered 503 (seen under CPU starvation in CI, concurrent PATCHes);
// it is sent again, with the same update id so it can apply only once.
func TestAChangeAbortedByTemporalIsSentAgainWithTheSameUpdateID(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	require.NoError(t, fixtures.Seed(ctx, s))
	require.NoError(t, s.EnsureCustomer(ctx, "cus_abort", fixtures.PartnerDemo, "Abort"))
	_, err := s.ApplyStep(ctx, store.Step{Subscription: storedSubscription("sub_abort", "cus_abort", "active", true, time.Now(), 2)})
	require.NoError(t, err)
	temporal := &abortingTemporal{aborts: 3}
	srv := httptest.NewServer((&Server{Store: s, Temporal: temporal, Logger: slog.New(slog.DiscardHandler), PurchaseTimeout: 5 * time.Second,
		CheckTemporal: func(context.Context) error { return nil }}).Handler())
	defer srv.Close()

	resp, problem := call(t, srv, http.MethodPatch, "/v1/customers/cus_abort/subscriptions/sub_abort", "dev-admin-token", `{"quantity":4}`,
		"Content-Type", "application/json")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%+v", problem)
	require.Len(t, temporal.ids, 4, "three aborted sends, then the one applied")
	assert.NotEmpty(t, temporal.ids[0])
	for _, id := range temporal.ids {
		assert.Equal(t, temporal.ids[0], id, "every send of the change has one update id")
	}
}
