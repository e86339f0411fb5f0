package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
)

// workflowFirst is a Temporal client whose workflow commits the event's
// receipt before SignalWorkflow even returns, as a fast worker does.
type workflowFirst struct {
	client.Client
	store *store.Store
}

func (w workflowFirst) SignalWorkflow(ctx context.Context, _, _, _ string, arg any) error {
	e := arg.(payload.ISVEvent)
	err := w.store.RecordISVEventReceipt(ctx, store.Receipt{PublisherID: e.PublisherID, EventID: e.ID, SubscriptionID: "sub_race", Type: e.Type, ReceivedAt: e.ReceivedAt})
	if errors.Is(err, store.ErrDuplicate) {
		return nil // the workflow ignores an id it has
	}
	return err
}

// An event's first delivery is 202 even when the workflow recorded its
// receipt before the API did (it answered 200 "duplicate": seen in the
// browser tests on a fast machine); a real repeat is 200.
func TestFirstDeliveryIsAcceptedWhenTheWorkflowRecordsItFirst(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	require.NoError(t, fixtures.Seed(ctx, s))
	sub := storedSubscription("sub_race", "cus_race", "pending_fulfillment", false, time.Now(), 1)
	require.NoError(t, s.EnsureCustomer(ctx, "cus_race", "partner-demo", "Race"))
	_, err := s.ApplyStep(ctx, store.Step{Subscription: sub})
	require.NoError(t, err)
	srv := httptest.NewServer((&Server{Store: s, Temporal: workflowFirst{store: s}, Logger: slog.New(slog.DiscardHandler),
		CheckTemporal: func(context.Context) error { return nil }}).Handler())
	defer srv.Close()

	body := `{"id":"evt-race","type":"subscription.activated","subscriptionId":"sub_race"}`
	send := func() int {
		sig := signature.Sign([]byte(fixtures.PublisherDemoSecret), time.Now(), []byte(body))
		resp, _ := call(t, srv, "POST", "/isv/v1/webhook", "", body, signature.PublisherHeader, fixtures.PublisherDemo, signature.Header, sig)
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusAccepted, send(), "the first delivery")
	assert.Equal(t, http.StatusOK, send(), "a repeat")
}
