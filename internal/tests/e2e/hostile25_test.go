package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/ledger"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/workflows"
)

// The defects a hostile pass found in the running product (issue 25),
// each reproduced through HTTP against the embedded default: every
// subtest failed on the build before its fix.
func TestHostilePassFindingsStayFixed(t *testing.T) {
	p := startProduct(t, "")
	customer := p.customer("Hostile Inc")

	// An activation confirms what the partner bought: naming another plan
	// or quantity is refused, nothing is charged; the ISV could re-price a
	// purchase (monthly x 1 became annual x 1000, charged 10 000.00).
	t.Run("an activation cannot change what was bought", func(t *testing.T) {
		sub := p.buy(customer, "contoso-crm", "monthly", 1)
		r := p.event("act-annual", lifecycle.EventActivated, sub.ID, map[string]any{"planId": "annual", "quantity": 1000})
		require.Equal(t, http.StatusConflict, r.status, string(r.body))
		assert.Equal(t, "activation_mismatch", r.code(t))
		r = p.event("act-more", lifecycle.EventActivated, sub.ID, map[string]any{"planId": "monthly", "quantity": 1000})
		require.Equal(t, http.StatusConflict, r.status, string(r.body))
		assert.Equal(t, lifecycle.StatusPendingFulfillment, p.get(customer, sub.ID).Status, "nothing applied")
		assert.Empty(t, p.charges(sub), "nothing charged")

		r = p.event("act-ok", lifecycle.EventActivated, sub.ID, map[string]any{"planId": "monthly", "quantity": 1})
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
		active := p.waitStatus(customer, sub.ID, lifecycle.StatusActive)
		assert.Equal(t, "monthly", active.PlanID)
		charges := p.charges(sub)
		require.Len(t, charges, 1)
		assert.Equal(t, int64(1200), charges[0].Amount, "what the partner bought: 1 x 12.00")
	})

	// A key reused once its reservation has expired is a new request: the
	// change is applied (it used to answer the first change's outcome,
	// with status active, and cancel nothing).
	t.Run("a reused Idempotency-Key never drops a change", func(t *testing.T) {
		sub := p.activeSubscription(customer, "contoso-demo", "fast", 1)
		r := p.patch(sub, map[string]any{"nickname": "first"}, "Idempotency-Key", "reused-key")
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		_, err := p.app.Store.DB().NewUpdate().Table("idempotency_keys").Set("created_at = ?", time.Now().Add(-25*time.Hour).UTC()).
			Where("key = ?", "reused-key").Exec(context.Background())
		require.NoError(t, err)
		r = p.patch(sub, map[string]any{"status": "cancelled"}, "Idempotency-Key", "reused-key")
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		assert.Equal(t, lifecycle.StatusCancelled, r.sub(t).Status, "the change is applied, not answered with the first one's outcome")
		assert.Empty(t, r.header.Get("Idempotent-Replayed"))
		assert.Equal(t, lifecycle.StatusCancelled, p.get(customer, sub.ID).Status)
		r = p.patch(sub, map[string]any{"status": "cancelled"}, "Idempotency-Key", "reused-key")
		assert.Equal(t, "true", r.header.Get("Idempotent-Replayed"), "within its new reservation, the key replays the cancel")
	})

	// Sales agents may buy but see no money: not the ledger, not the
	// amounts in the audit trail, not the subscription's unit price.
	t.Run("a sales agent reads no amount", func(t *testing.T) {
		r := p.do(http.MethodPost, "/v1/customers/"+customer+"/subscriptions", "dev-sales-token",
			map[string]any{"offerId": "contoso-crm", "planId": "monthly", "quantity": 2})
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		assert.NotContains(t, string(r.body), `"unitPrice"`, "the purchase's answer")
		var sub subscriptionJSON
		r.json(t, &sub)
		require.Equal(t, http.StatusAccepted, p.event("act-"+sub.ID, lifecycle.EventActivated, sub.ID, nil).status)
		p.waitStatus(customer, sub.ID, lifecycle.StatusActive)
		path := "/v1/customers/" + customer + "/subscriptions/" + sub.ID

		r = p.do(http.MethodGet, path+"/charges", "dev-sales-token", nil)
		assert.Equal(t, http.StatusForbidden, r.status)
		assert.Equal(t, "role_forbidden", r.code(t))
		r = p.do(http.MethodGet, path, "dev-sales-token", nil)
		require.Equal(t, http.StatusOK, r.status)
		r.conforms(t, "Subscription")
		assert.NotContains(t, string(r.body), `"unitPrice"`)
		r = p.do(http.MethodGet, "/v1/customers/"+customer+"/subscriptions?licenseBased=any", "dev-sales-token", nil)
		assert.NotContains(t, string(r.body), `"unitPrice"`, "the list")
		r = p.do(http.MethodGet, path+"/events", "dev-sales-token", nil)
		require.Equal(t, http.StatusOK, r.status)
		for _, money := range []string{`"amount"`, `"unitPrice"`, `"refunded"`, `"charged"`} {
			assert.NotContains(t, string(r.body), money, "the audit trail")
		}
		assert.Contains(t, string(r.body), "billing.installment_charged", "the events themselves stay")

		r = p.do(http.MethodGet, path, "dev-admin-token", nil)
		assert.Contains(t, string(r.body), `"unitPrice":1200`, "admin agents see money")
		r = p.do(http.MethodGet, path+"/events", "dev-admin-token", nil)
		assert.Contains(t, string(r.body), `"amount":2400`)
	})

	// Buy 5, remove 3, cancel: the refund credits the 2 licences left; the
	// export and the ledger check agree line by line.
	t.Run("refund lines count the licences left", func(t *testing.T) {
		sub := p.activeSubscription(customer, "contoso-crm", "monthly", 5)
		require.Equal(t, http.StatusOK, p.patch(sub, map[string]any{"quantity": 2}).status)
		require.Equal(t, http.StatusOK, p.patch(sub, map[string]any{"status": "cancelled"}).status)
		charges := p.charges(sub)
		require.Len(t, charges, 3)
		refund := charges[2]
		assert.Equal(t, "refund", refund.Reason)
		assert.Equal(t, 2, refund.Quantity)
		assert.Equal(t, int64(1200), refund.UnitPrice)
		assert.Equal(t, int64(2400), refund.Amount)
		for _, c := range charges {
			assert.Equal(t, c.Amount, int64(c.Quantity)*c.UnitPrice, "%s %s", c.Reason, c.ID)
		}
		p.recordHistory("remove-then-cancel-exact-lines", workflows.WorkflowID(sub.ID))
	})

	// A change to the values the subscription has moves nothing: the same
	// ETag, no audit line (five of them moved it from "3" to "7").
	t.Run("a change that changes nothing keeps the version", func(t *testing.T) {
		sub := p.activeSubscription(customer, "contoso-crm", "monthly", 2)
		r := p.patch(sub, map[string]any{"nickname": "Seats"})
		require.Equal(t, http.StatusOK, r.status)
		etag := r.header.Get("ETag")
		events := len(p.events(customer, sub.ID))
		for _, body := range []map[string]any{{"nickname": "Seats"}, {"nickname": " Seats "}, {"quantity": 2}, {"autoRenew": true, "quantity": 2}} {
			r = p.patch(sub, body, "If-Match", etag)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			assert.Equal(t, etag, r.header.Get("ETag"), "%v", body)
		}
		assert.Equal(t, events, len(p.events(customer, sub.ID)), "no audit line")
		assert.Equal(t, http.StatusOK, p.patch(sub, map[string]any{"nickname": "Other"}, "If-Match", etag).status, "the ETag is still good")
	})

	report, err := ledger.Verify(context.Background(), p.app.Store)
	require.NoError(t, err)
	assert.Empty(t, report.Differences, "the ledger check")
}

// events reads a subscription's audit trail as the admin agent.
func (p *product) events(customerID, subscriptionID string) []json.RawMessage {
	p.t.Helper()
	r := p.do(http.MethodGet, "/v1/customers/"+customerID+"/subscriptions/"+subscriptionID+"/events", "dev-admin-token", nil)
	require.Equal(p.t, http.StatusOK, r.status, string(r.body))
	var page struct{ Items []json.RawMessage }
	r.json(p.t, &page)
	return page.Items
}

// activeSubscription buys and has the ISV activate it.
func (p *product) activeSubscription(customerID, offerID, planID string, quantity int) subscriptionJSON {
	p.t.Helper()
	sub := p.buy(customerID, offerID, planID, quantity)
	r := p.event("activate-"+sub.ID, lifecycle.EventActivated, sub.ID, nil)
	require.Equal(p.t, http.StatusAccepted, r.status, string(r.body))
	return p.waitStatus(customerID, sub.ID, lifecycle.StatusActive)
}
