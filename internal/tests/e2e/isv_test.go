package e2e

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/isvsim"
	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// TestISVSimulatorDrivesTheLifecycle: with the simulator playing isv-demo,
// a purchase becomes active with no manual step, and a cancellation that
// needs the publisher is approved by it.
func TestISVSimulatorDrivesTheLifecycle(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	sim, err := isvsim.Start(context.Background(), isvsim.Config{
		API: p.base, Listen: "127.0.0.1:0", PublisherID: "isv-demo", Secret: []byte("dev-isv-secret"),
		ProvisionAfter: 100 * time.Millisecond, ActivateAfter: 100 * time.Millisecond, Cancellations: "approve",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	defer sim.Stop()

	customer := p.customer("Adventure Works")
	plain := p.buy(customer, "contoso-crm", "monthly", 4)
	managed := p.buy(customer, "contoso-crm", "annual-managed", 5)
	p.waitStatus(customer, plain.ID, lifecycle.StatusActive)
	p.waitStatus(customer, managed.ID, lifecycle.StatusActive)

	r := p.patch(managed, map[string]any{"status": "cancelled"})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	assert.Equal(t, lifecycle.StatusPendingCancellation, r.sub(t).Status)
	p.waitStatus(customer, managed.ID, lifecycle.StatusCancelled)
}

// TestOutboundNotificationsAreRetriedAndDeliveredOnce: a partner endpoint
// that fails the first two attempts of every notification still gets each
// one exactly once, signed with the secret it was given.
func TestOutboundNotificationsAreRetriedAndDeliveredOnce(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	var (
		mu        sync.Mutex
		attempts  = map[string]int{}
		delivered = map[string]int{}
		types     = map[string]string{}
		secret    []byte
		badSig    int
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("X-Marketplace-Notification-Id")
		mu.Lock()
		defer mu.Unlock()
		if signature.Verify(r.Header.Get(signature.Header), [][]byte{secret}, body, time.Now(), signature.Tolerance) != nil {
			badSig++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		attempts[id]++
		if attempts[id] <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		delivered[id]++
		types[id] = string(body)
		w.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	r := p.do(http.MethodPut, "/v1/notification-endpoint", "dev-admin-token", map[string]string{"url": receiver.URL + "/hooks"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r.conforms(t, "Endpoint")
	var ep struct{ Secret string }
	r.json(t, &ep)
	require.NotEmpty(t, ep.Secret)
	mu.Lock()
	secret = []byte(ep.Secret)
	mu.Unlock()
	assert.Equal(t, http.StatusForbidden, p.do(http.MethodPut, "/v1/notification-endpoint", "dev-sales-token", map[string]string{"url": receiver.URL}).status)

	customer := p.customer("Litware")
	sub := p.buy(customer, "contoso-crm", "monthly", 1)
	require.Equal(t, http.StatusAccepted, p.event("act", lifecycle.EventActivated, sub.ID, nil).status)
	p.waitStatus(customer, sub.ID, lifecycle.StatusActive)

	// action_needed and activated go to the partner.
	waitFor(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) >= 2
	})
	time.Sleep(time.Second) // let any stray duplicate arrive
	mu.Lock()
	for id, n := range delivered {
		assert.Equal(t, 1, n, "notification %s delivered once", id)
		assert.Equal(t, 3, attempts[id], "two failures, then the delivery")
	}
	assert.Zero(t, badSig, "every delivery verifies with the endpoint's secret")
	mu.Unlock()

	r = p.do(http.MethodGet, "/v1/notifications?status=delivered", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	var outbox struct {
		Items []struct {
			ID       string
			Type     string
			Attempts int
			Status   string
		}
	}
	r.json(t, &outbox)
	require.Len(t, outbox.Items, 2)
	for _, n := range outbox.Items {
		assert.Equal(t, "delivered", n.Status)
		assert.Equal(t, 3, n.Attempts, "every attempt is logged")
	}
	// The ISV, with no endpoint set, finds its purchase notification in its outbox.
	req, err := http.NewRequest(http.MethodGet, p.base+"/isv/v1/notifications", nil)
	require.NoError(t, err)
	req.Header.Set(signature.PublisherHeader, "isv-demo")
	req.Header.Set(signature.Header, signature.Sign([]byte("dev-isv-secret"), time.Now(), nil))
	isvOutbox := p.send(req)
	require.Equal(t, http.StatusOK, isvOutbox.status, string(isvOutbox.body))
	assert.Contains(t, string(isvOutbox.body), "subscription.purchased")
	assert.Contains(t, string(isvOutbox.body), `"status":"pending"`)
}

// TestWebhooksWhileNoWorkerRunsAreAppliedAfterItStarts: ISV events are
// accepted (202) with every worker stopped, and applied once one starts.
func TestWebhooksWhileNoWorkerRunsAreAppliedAfterItStarts(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "", "EMBEDDED_WORKER", "false")
	w := p.startWorker()
	customer := p.customer("Wide World Importers")
	sub := p.buy(customer, "contoso-crm", "monthly", 2)
	w.Stop(context.Background())

	for _, e := range []struct{ id, typ string }{{"w1", lifecycle.EventProvisioned}, {"w2", lifecycle.EventActivated}} {
		r := p.event(e.id, e.typ, sub.ID, nil)
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	}
	time.Sleep(time.Second) // would a worker-less product apply them anyway, it would have by now
	r := p.do(http.MethodGet, "/v1/customers/"+customer+"/subscriptions/"+sub.ID, "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	still := r.sub(t)
	assert.Equal(t, lifecycle.StatusPendingFulfillment, still.Status, "no worker, nothing applied yet")
	assert.Equal(t, int64(1), still.Version)

	w = p.startWorker()
	defer w.Stop(context.Background())
	active := p.waitStatus(customer, sub.ID, lifecycle.StatusActive)
	assert.Equal(t, int64(3), active.Version)

	// The worker's own /metrics (METRICS_ADDR): its steps and the SDK's.
	// A step's local commit lands before its workflow task completes (and
	// the SDK records the task's latency): wait for the task.
	var m map[string]float64
	waitFor(t, 10*time.Second, func() bool {
		m = scrape(t, "http://"+w.MetricsAddress()+"/metrics")
		return withPrefix(m, "temporal_workflow_task_execution_latency_bucket{")
	})
	assert.Equal(t, 1.0, m["marketplace_activations_total"])
	assert.Equal(t, 0.0, m["marketplace_purchases_total"], "the purchase was the first worker's")
}

// TestSameEventsDeliveredFiveTimesConcurrentlyAndShuffledApplyOnce.
func TestSameEventsDeliveredFiveTimesConcurrentlyAndShuffledApplyOnce(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	customer := p.customer("Proseware")
	sub := p.buy(customer, "contoso-crm", "monthly", 2)

	type delivery struct{ id, typ string }
	var all []delivery
	for range 5 {
		all = append(all, delivery{"dup-prov", lifecycle.EventProvisioned}, delivery{"dup-act", lifecycle.EventActivated})
	}
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	var mu sync.Mutex
	accepted := map[string]int{}
	var wg sync.WaitGroup
	for _, d := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.event(d.id, d.typ, sub.ID, nil)
			assert.Contains(t, []int{http.StatusAccepted, http.StatusOK}, r.status, string(r.body))
			if r.status == http.StatusAccepted {
				mu.Lock()
				accepted[d.id]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, map[string]int{"dup-prov": 1, "dup-act": 1}, accepted, "one 202 per event id, 200 for the repeats")
	p.waitStatus(customer, sub.ID, lifecycle.StatusActive)
	time.Sleep(500 * time.Millisecond)

	charges, err := p.app.Store.Charges(context.Background(), sub.ID)
	require.NoError(t, err)
	assert.Len(t, charges, 1, "charged once")
	events, err := p.app.Store.Events(context.Background(), sub.ID)
	require.NoError(t, err)
	handled := map[string]int{}
	for _, e := range events {
		if e.Kind == "isv_event.applied" || e.Kind == "isv_event.rejected" {
			handled[e.Kind]++
		}
	}
	// Each id handled exactly once: the activation applied, the provisioning
	// applied too or, when the activation came first, recorded as rejected.
	assert.Equal(t, 2, handled["isv_event.applied"]+handled["isv_event.rejected"], "%v", handled)
	assert.GreaterOrEqual(t, handled["isv_event.applied"], 1, "%v", handled)
}
