package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/tests/openapitest"
	"github.com/cspmarket/orchestrator/workflows"
)

func TestPurchaseToActiveOnSQLite(t *testing.T) {
	p := startProduct(t, "", withUI...)
	purchaseToActive(t, p, true)
}

func TestPurchaseToActiveOnPostgres(t *testing.T) {
	p := startProduct(t, storetest.PostgresDatabase(t), withUI...)
	purchaseToActive(t, p, false)
}

// purchaseToActive is the walking skeleton's acceptance: a purchase goes
// from pending_fulfillment to active through two signed ISV events, with
// every rule of CONTRACT.md checked on the way.
func purchaseToActive(t *testing.T, p *product, record bool) {
	require.Equal(t, http.StatusOK, p.do(http.MethodGet, "/healthz", "", nil).status)

	// Offers: the dev catalog.
	var offers struct {
		Items []struct {
			ID    string `json:"id"`
			Plans []struct {
				ID string `json:"id"`
			} `json:"plans"`
		} `json:"items"`
	}
	r := p.do(http.MethodGet, "/v1/offers", "dev-sales-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	r.json(t, &offers)
	require.NotEmpty(t, offers.Items)

	// A customer, then a purchase by a sales agent.
	r = p.do(http.MethodPost, "/v1/customers", "dev-admin-token", map[string]any{"name": "Fabrikam"})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var customer struct{ ID string }
	r.json(t, &customer)

	purchase := map[string]any{"offerId": "contoso-crm", "planId": "monthly", "quantity": 3, "nickname": "CRM seats"}
	r = p.do(http.MethodPost, "/v1/customers/"+customer.ID+"/subscriptions", "dev-sales-token", purchase, "Idempotency-Key", "order-42")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	r.conforms(t, "Subscription")
	var sub subscriptionJSON
	r.json(t, &sub)
	assert.Equal(t, lifecycle.StatusPendingFulfillment, sub.Status)
	assert.True(t, sub.ActionNeeded)
	require.NotNil(t, sub.PublisherLink)
	assert.Equal(t, "https://isv-demo.example.com/activate", sub.PublisherLink.URL)
	code := sub.PublisherLink.AuthorizationCode
	require.NotEmpty(t, code)
	assert.Nil(t, sub.BillingStartedAt)
	assert.Equal(t, r.header.Get("ETag"), sub.ETag)
	path := "/v1/customers/" + customer.ID + "/subscriptions/" + sub.ID

	// Read-your-writes: the projection has it already; the code is not stored in clear.
	r = p.do(http.MethodGet, path, "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	r.conforms(t, "Subscription")
	assert.NotContains(t, string(r.body), code)

	// Idempotency: the same key and body buys nothing more; another body is refused.
	r = p.do(http.MethodPost, "/v1/customers/"+customer.ID+"/subscriptions", "dev-sales-token", purchase, "Idempotency-Key", "order-42")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var again subscriptionJSON
	r.json(t, &again)
	assert.Equal(t, sub.ID, again.ID)
	assert.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	other := map[string]any{"offerId": "contoso-crm", "planId": "monthly", "quantity": 4}
	r = p.do(http.MethodPost, "/v1/customers/"+customer.ID+"/subscriptions", "dev-sales-token", other, "Idempotency-Key", "order-42")
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "idempotency_key_reused", r.code(t))
	r.conforms(t, "Problem")

	// Tenancy: another partner sees nothing, not even that it exists.
	for _, path := range []string{path, "/v1/customers/" + customer.ID + "/subscriptions", path + "/activation-link", path + "/events"} {
		r = p.do(http.MethodGet, path, "dev-other-admin-token", nil)
		assert.Equal(t, http.StatusNotFound, r.status, path)
	}
	r = p.do(http.MethodPost, "/v1/customers/"+customer.ID+"/subscriptions", "dev-other-admin-token", purchase)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, http.StatusUnauthorized, p.do(http.MethodGet, path, "not-a-token", nil).status)

	// The ISV resolves the code to the purchase.
	r = p.isv("/isv/v1/subscriptions/resolve", "isv-demo", []byte("dev-isv-secret"), time.Now(), map[string]string{"authorizationCode": code})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r.conforms(t, "ResolvedSubscription")
	var resolved map[string]any
	r.json(t, &resolved)
	assert.Equal(t, sub.ID, resolved["id"])
	assert.Equal(t, "partner-demo", resolved["partnerId"])

	// Signatures: bad MAC, stale, future, unknown publisher, altered body all 401, none applied.
	provisioned := map[string]any{"id": "evt-prov-1", "type": lifecycle.EventProvisioned, "subscriptionId": sub.ID}
	for name, resp := range map[string]response{
		"wrong secret":      p.isv("/isv/v1/webhook", "isv-demo", []byte("wrong"), time.Now(), provisioned),
		"stale":             p.isv("/isv/v1/webhook", "isv-demo", []byte("dev-isv-secret"), time.Now().Add(-6*time.Minute), provisioned),
		"future":            p.isv("/isv/v1/webhook", "isv-demo", []byte("dev-isv-secret"), time.Now().Add(6*time.Minute), provisioned),
		"unknown publisher": p.isv("/isv/v1/webhook", "isv-nobody", []byte("dev-isv-secret"), time.Now(), provisioned),
	} {
		assert.Equal(t, http.StatusUnauthorized, resp.status, name)
	}
	time.Sleep(300 * time.Millisecond) // had a forged event been taken, it would be applied by now
	unchanged := p.get(customer.ID, sub.ID)
	assert.Equal(t, lifecycle.StatusPendingFulfillment, unchanged.Status)
	assert.Equal(t, int64(1), unchanged.Version, "no forged event was applied")

	// provisioned, repeated, then activated.
	r = p.event("evt-prov-1", lifecycle.EventProvisioned, sub.ID, nil)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	r.conforms(t, "WebhookAck")
	r = p.event("evt-prov-1", lifecycle.EventProvisioned, sub.ID, nil)
	assert.Equal(t, http.StatusOK, r.status, "a repeated event id answers 200 and changes nothing")
	p.waitStatus(customer.ID, sub.ID, lifecycle.StatusProvisioned)
	r = p.event("evt-act-1", lifecycle.EventActivated, sub.ID, map[string]any{"planId": "monthly", "quantity": 3})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	active := p.waitStatus(customer.ID, sub.ID, lifecycle.StatusActive)
	assert.False(t, active.ActionNeeded)
	require.NotNil(t, active.ActivatedAt)
	require.NotNil(t, active.BillingStartedAt)
	assert.Equal(t, int64(3), active.Version, "purchase, provisioned, activated: three steps, the repeat added none")
	// After activation the code no longer resolves.
	r = p.isv("/isv/v1/subscriptions/resolve", "isv-demo", []byte("dev-isv-secret"), time.Now(), map[string]string{"authorizationCode": code})
	assert.Equal(t, http.StatusGone, r.status)

	// The audit trail and the ledger, as the partner reads them.
	r = p.do(http.MethodGet, path+"/events", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	var trail struct{ Items []json.RawMessage }
	r.json(t, &trail)
	kinds := map[string]bool{}
	for _, item := range trail.Items {
		require.NoError(t, openapitest.Validate("AuditEvent", item))
		var e struct{ Kind string }
		require.NoError(t, json.Unmarshal(item, &e))
		kinds[e.Kind] = true
	}
	for _, k := range []string{"purchased", "isv_event.received", "isv_event.applied", "billing.started", "notification"} {
		assert.True(t, kinds[k], "the trail shows %s: %v", k, kinds)
	}
	r = p.do(http.MethodGet, path+"/charges", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	var ledger struct{ Items []json.RawMessage }
	r.json(t, &ledger)
	require.Len(t, ledger.Items, 1)
	require.NoError(t, openapitest.Validate("Charge", ledger.Items[0]))

	// The charge and notifications are in the database.
	charges, err := p.app.Store.Charges(context.Background(), sub.ID)
	require.NoError(t, err)
	require.Len(t, charges, 1)
	assert.Equal(t, int64(3*1200), charges[0].Amount)
	notes, err := p.app.Store.Notifications(context.Background(), sub.ID)
	require.NoError(t, err)
	var types []string
	for _, n := range notes {
		types = append(types, n.Type)
	}
	assert.ElementsMatch(t, []string{lifecycle.NotifyPurchased, lifecycle.NotifyActionNeeded, lifecycle.NotifyActivated}, types)

	// Operators: the workflow, its search attributes and its state query.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wfID := workflows.WorkflowID(sub.ID)
	q, err := p.app.Client.QueryWorkflow(ctx, wfID, "", workflows.QueryState)
	require.NoError(t, err)
	var state workflows.Subscription
	require.NoError(t, q.Get(&state))
	assert.Equal(t, lifecycle.StatusActive, state.Status)
	assertUIListsWorkflow(t, p, wfID, sub.CustomerID)
	p.assertGenerationByType(wfID, "")

	// Operators' metrics: what this product did, counted once each.
	m := scrape(t, p.base+"/metrics")
	for series, want := range map[string]float64{
		`http_requests_total{method="POST",route="POST /v1/customers/{customerId}/subscriptions",status="201"}`: 2,
		`http_requests_total{method="POST",route="POST /isv/v1/webhook",status="401"}`:                          4,
		`marketplace_purchases_total`:                                               1,
		`marketplace_activations_total`:                                             1,
		`marketplace_webhooks_total{outcome="accepted",reason="applied"}`:           2,
		`marketplace_webhooks_total{outcome="accepted",reason="duplicate"}`:         1,
		`marketplace_webhooks_total{outcome="rejected",reason="invalid_signature"}`: 4,
		`marketplace_ledger_lines_total{reason="installment"}`:                      1,
	} {
		assert.Equal(t, want, m[series], series)
	}
	assert.True(t, withPrefix(m, `http_request_duration_seconds_bucket{class="2xx",method="GET",route="GET /v1/customers/{customerId}/subscriptions/{subscriptionId}"`), "latency histograms by route")
	assert.True(t, withPrefix(m, "temporal_workflow_task_execution_latency_bucket{"), "the Temporal SDK's metrics")
	assert.True(t, withPrefix(m, "temporal_local_activity_execution_latency_bucket{"), "the Temporal SDK's metrics (each step's local commit)")
	assert.False(t, withPrefix(m, `http_requests_total{method="GET",route="/v1/`), "routes are patterns, not paths")
	assertDashboardDrawsWhatIsExported(t, m)

	if record {
		p.recordHistory("purchase-provision-activate", wfID)
	}
}

// assertUIListsWorkflow asks the embedded Web UI, as an operator's browser
// would, for the workflow and checks its search attributes.
func assertUIListsWorkflow(t *testing.T, p *product, workflowID, customerID string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + p.app.UIAddress() + "/api/v1/namespaces/default/workflows/" + workflowID)
		require.NoError(t, err)
		var desc struct {
			WorkflowExecutionInfo struct {
				SearchAttributes struct {
					IndexedFields map[string]struct {
						Data string `json:"data"`
					} `json:"indexedFields"`
				} `json:"searchAttributes"`
			} `json:"workflowExecutionInfo"`
		}
		err = json.NewDecoder(resp.Body).Decode(&desc)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK {
			got := map[string]string{}
			for k, v := range desc.WorkflowExecutionInfo.SearchAttributes.IndexedFields {
				b, _ := base64.StdEncoding.DecodeString(v.Data)
				var s string
				_ = json.Unmarshal(b, &s)
				got[k] = s
			}
			if got["SubscriptionStatus"] == "active" {
				assert.Equal(t, customerID, got["CustomerId"])
				assert.Equal(t, "partner-demo", got["PartnerId"])
				assert.Equal(t, "contoso-crm", got["OfferId"])
				assert.Equal(t, "isv-demo", got["PublisherId"])
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Web UI does not show %s as active (status %d, err %v)", workflowID, resp.StatusCode, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConcurrentDuplicatePurchasesBuyOnce fires the same keyed purchase
// from several clients at once: one subscription, one workflow.
func TestConcurrentDuplicatePurchasesBuyOnceAndOddEventsAreRecorded(t *testing.T) {
	p := startProduct(t, "")
	r := p.do(http.MethodPost, "/v1/customers", "dev-admin-token", map[string]any{"name": "Contoso"})
	require.Equal(t, http.StatusCreated, r.status)
	var customer struct{ ID string }
	r.json(t, &customer)

	purchase := map[string]any{"offerId": "contoso-crm", "planId": "annual", "quantity": 12, "billingFrequency": "monthly"}
	var wg sync.WaitGroup
	ids := make(chan string, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.do(http.MethodPost, "/v1/customers/"+customer.ID+"/subscriptions", "dev-admin-token", purchase, "Idempotency-Key", "burst-1")
			if !assert.Equal(t, http.StatusCreated, r.status, string(r.body)) {
				return
			}
			var s subscriptionJSON
			r.json(t, &s)
			assert.NotEmpty(t, s.PublisherLink.AuthorizationCode, "every answer carries a usable code")
			ids <- s.ID
		}()
	}
	wg.Wait()
	close(ids)
	var first string
	for id := range ids {
		if first == "" {
			first = id
		}
		assert.Equal(t, first, id)
	}
	r = p.do(http.MethodGet, "/v1/customers/"+customer.ID+"/subscriptions", "dev-admin-token", nil)
	var list struct{ Items []subscriptionJSON }
	r.json(t, &list)
	require.Len(t, list.Items, 1)

	// Out of order and impossible events: activated before provisioned is
	// taken; the late provisioned, and a reinstated while active, are
	// recorded and not applied; unsubscribed ends the workflow, after which
	// events are recorded as rejected.
	require.Equal(t, http.StatusAccepted, p.event("a1", lifecycle.EventActivated, first, nil).status)
	p.waitStatus(customer.ID, first, lifecycle.StatusActive)
	require.Equal(t, http.StatusAccepted, p.event("a2", lifecycle.EventProvisioned, first, nil).status)
	require.Equal(t, http.StatusAccepted, p.event("a3", lifecycle.EventReinstated, first, nil).status)
	require.Equal(t, http.StatusAccepted, p.event("a4", lifecycle.EventSuspended, first, nil).status)
	p.waitStatus(customer.ID, first, lifecycle.StatusSuspended)
	require.Equal(t, http.StatusAccepted, p.event("a5", lifecycle.EventReinstated, first, nil).status)
	p.waitStatus(customer.ID, first, lifecycle.StatusActive)
	require.Equal(t, http.StatusAccepted, p.event("a6", lifecycle.EventUnsubscribed, first, nil).status)
	p.waitStatus(customer.ID, first, lifecycle.StatusCancelled)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var final workflows.Subscription
	require.NoError(t, p.app.Client.GetWorkflow(ctx, workflows.WorkflowID(first), "").Get(ctx, &final))
	assert.Equal(t, lifecycle.StatusCancelled, final.Status)
	r = p.event("a7", lifecycle.EventReinstated, first, nil)
	assert.Equal(t, http.StatusAccepted, r.status, string(r.body))

	r = p.do(http.MethodGet, "/v1/customers/"+customer.ID+"/subscriptions/"+first+"/events", "dev-admin-token", nil)
	var events struct {
		Items []struct{ Kind, ISVEventID string }
	}
	r.json(t, &events)
	var rejected int
	for _, e := range events.Items {
		if e.Kind == lifecycle.KindISVEventRejected || e.Kind == "isv_event.rejected" {
			rejected++
		}
	}
	assert.Equal(t, 3, rejected, "a2, a3 rejected by the workflow; a7 after it ended")
	p.recordHistory("activate-first-suspend-reinstate-unsubscribe", workflows.WorkflowID(first))
}
