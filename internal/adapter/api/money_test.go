package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
)

// seedActive stores an active subscription with one charged installment
// and its audit lines, as a workflow step would.
func seedActive(t *testing.T, s *store.Store) (customerID, path string) {
	t.Helper()
	ctx := context.Background()
	c, err := s.CreateCustomer(ctx, fixtures.PartnerDemo, "Fabrikam")
	require.NoError(t, err)
	now := time.Now().UTC()
	row := storedSubscription("sub_money", c.ID, "active", true, now, 2)
	_, err = s.ApplyStep(ctx, store.Step{
		Subscription: row,
		Events: []lifecycle.AuditEvent{
			{Kind: "billing.installment_charged", Actor: "system", At: now,
				Detail: map[string]any{"amount": 1200, "unitPrice": 1200, "currency": "USD", "quantity": 1, "term": 1, "installment": 0}},
			{Kind: "changed", Actor: "agent:agt_dev_admin", At: now, Detail: map[string]any{"nickname": "x"}},
		},
		Charges: []billing.Charge{{Key: "sub_money/term-1/installment-0", SubscriptionID: "sub_money", PartnerID: fixtures.PartnerDemo, Kind: "charge",
			Amount: 1200, Currency: "USD", Quantity: 1, UnitPrice: 1200, Reason: "installment", PeriodStart: now, PeriodEnd: now.AddDate(0, 1, 0), PostedAt: now}},
	})
	require.NoError(t, err)
	return c.ID, "/v1/customers/" + c.ID + "/subscriptions/sub_money"
}

// Billing permission covers every amount: sales agents may buy but see no
// money of a subscription, neither its ledger nor the amounts of its
// audit trail nor its unit price (issue 25: charges, events and the
// subscription showed them while invoices answered 403).
func TestSalesAgentsSeeNoMoney(t *testing.T) {
	srv, s := newTestServer(t)
	_, path := seedActive(t, s)

	resp, p := call(t, srv, "GET", path+"/charges", fixtures.SalesToken, "")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "role_forbidden", p.Code)
	resp, _ = call(t, srv, "GET", path+"/charges", fixtures.AdminToken, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	for token, seesMoney := range map[string]bool{fixtures.SalesToken: false, fixtures.AdminToken: true} {
		sub := getJSON(t, srv, path, token)
		_, hasPrice := sub["unitPrice"]
		assert.Equal(t, seesMoney, hasPrice, "unitPrice for %s", token)

		var events struct{ Items []map[string]any }
		require.NoError(t, json.Unmarshal(mustJSON(t, getJSON(t, srv, path+"/events", token)), &events))
		require.Len(t, events.Items, 2)
		detail := events.Items[0]["detail"].(map[string]any)
		_, hasAmount := detail["amount"]
		assert.Equal(t, seesMoney, hasAmount, "amount for %s", token)
		assert.Equal(t, 1.0, detail["quantity"], "the rest of the detail stays")
		assert.Equal(t, "Dev admin agent", events.Items[1]["actorName"], "the actor by name")
	}
}

// An activation confirms what was bought: naming another plan or quantity
// is 409 before anything reaches the workflow (issue 25).
func TestAnActivationNamingAnotherPlanOrQuantityIsRefused(t *testing.T) {
	srv, s := newTestServer(t)
	ctx := context.Background()
	c, err := s.CreateCustomer(ctx, fixtures.PartnerDemo, "Fabrikam")
	require.NoError(t, err)
	_, err = s.ApplyStep(ctx, store.Step{Subscription: storedSubscription("sub_act", c.ID, "pending_fulfillment", true, time.Now(), 1)})
	require.NoError(t, err)
	for data, field := range map[string]string{`{"planId":"annual","quantity":1}`: "data.planId", `{"planId":"monthly","quantity":1000}`: "data.quantity", `{"quantity":2}`: "data.quantity"} {
		body := `{"id":"e-` + field + `","type":"subscription.activated","subscriptionId":"sub_act","data":` + data + `}`
		resp, p := call(t, srv, "POST", "/isv/v1/webhook", "", body, signature.PublisherHeader, fixtures.PublisherDemo,
			signature.Header, signature.Sign([]byte(fixtures.PublisherDemoSecret), time.Now(), []byte(body)))
		assert.Equal(t, http.StatusConflict, resp.StatusCode, data)
		assert.Equal(t, "activation_mismatch", p.Code, data)
		assert.Equal(t, field, p.Field, data)
	}
}

// getJSON reads a JSON answer as the agent.
func getJSON(t *testing.T, srv *httptest.Server, path, token string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var v map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
