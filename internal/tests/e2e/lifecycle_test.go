package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	workflowpb "go.temporal.io/api/workflowservice/v1"

	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/workflows"
)

// TestFastPlanCancelInsideAndAfterTheWindow is the acceptance on
// the dev catalog's demo plan `fast` (60-second window): a cancel inside
// the window is accepted and refunded, after it 409; the rest of the PATCH
// surface is checked on the way.
func TestFastPlanCancelInsideAndAfterTheWindow(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	customer := p.customer("Northwind")
	early := p.buy(customer, "contoso-demo", "fast", 2)
	late := p.buy(customer, "contoso-demo", "fast", 2)
	for _, s := range []subscriptionJSON{early, late} {
		require.Equal(t, http.StatusAccepted, p.event("act-"+s.ID, lifecycle.EventActivated, s.ID, nil).status)
		p.waitStatus(customer, s.ID, lifecycle.StatusActive)
	}

	// Roles, bounds and If-Match.
	r := p.do(http.MethodPatch, "/v1/customers/"+customer+"/subscriptions/"+early.ID, "dev-sales-token", map[string]any{"nickname": "x"})
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, "role_forbidden", r.code(t))
	r = p.patch(early, map[string]any{"quantity": 1000})
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	r = p.patch(early, map[string]any{"nickname": "renamed"}, "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, r.status, string(r.body))
	current := p.waitStatus(customer, early.ID, lifecycle.StatusActive)
	r = p.patch(early, map[string]any{"nickname": "renamed", "quantity": 3}, "If-Match", current.ETag)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	renamed := r.sub(t)
	assert.Equal(t, "renamed", renamed.Nickname)
	assert.Equal(t, 3, renamed.Quantity)
	assert.Equal(t, r.header.Get("ETag"), renamed.ETag)
	assert.Equal(t, current.Version+1, renamed.Version, "both fields in one step")
	r.conforms(t, "Subscription")

	// Idempotency-Key on PATCH: the first response is replayed, another body is 409.
	first := p.patch(early, map[string]any{"nickname": "keyed"}, "Idempotency-Key", "rename-1")
	require.Equal(t, http.StatusOK, first.status, string(first.body))
	again := p.patch(early, map[string]any{"nickname": "keyed"}, "Idempotency-Key", "rename-1")
	assert.Equal(t, http.StatusOK, again.status)
	assert.JSONEq(t, string(first.body), string(again.body))
	assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	assert.Equal(t, first.header.Get("ETag"), again.header.Get("ETag"))
	other := p.patch(early, map[string]any{"nickname": "something else"}, "Idempotency-Key", "rename-1")
	assert.Equal(t, http.StatusConflict, other.status)
	assert.Equal(t, "idempotency_key_reused", other.code(t))

	// Cancel inside the window: accepted, every charge of the term credited.
	r = p.patch(early, map[string]any{"status": "cancelled"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, lifecycle.StatusCancelled, r.sub(t).Status)
	charges, err := p.app.Store.Charges(context.Background(), early.ID)
	require.NoError(t, err)
	var net int64
	for _, c := range charges {
		if c.Kind == "credit" {
			net -= c.Amount
		} else {
			net += c.Amount
		}
	}
	assert.Equal(t, int64(0), net, "refunded: %+v", charges)
	// A closed subscription takes no more changes (lifecycle row L36).
	r = p.patch(early, map[string]any{"nickname": "again"})
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "invalid_state", r.code(t))

	// After the window: 409, but auto-renew can still be turned off.
	windowEnd := *late.CancellationWindowEndsAt
	time.Sleep(time.Until(windowEnd) + time.Second)
	r = p.patch(late, map[string]any{"status": "cancelled"})
	assert.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Equal(t, "cancellation_window_closed", r.code(t))
	r = p.patch(late, map[string]any{"autoRenew": false})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.False(t, r.sub(t).AutoRenew)
}

// TestEveryTimerOnTheRealServer runs each timer-driven path against the
// real embedded server with a catalog of seconds-long plans and short
// lifecycle delays. It also records the histories the replay test uses.
func TestEveryTimerOnTheRealServer(t *testing.T) {
	t.Parallel()
	catalogFile, err := filepath.Abs(filepath.Join("testdata", "quick-catalog.json"))
	require.NoError(t, err)
	p := startProduct(t, "", "CATALOG_FILE", catalogFile,
		"ACTIVATION_DEADLINE", "10s", "CANCELLATION_APPROVAL_TIMEOUT", "6s", "RENEWAL_NOTICE", "4s")
	customer := p.customer("Tailspin")

	abandoned := p.buy(customer, "quick", "quick", 1)
	renewing := p.buy(customer, "quick", "quick", 2)
	changed := p.buy(customer, "quick", "quick", 2)
	rejected := p.buy(customer, "quick", "quick-managed", 1)
	approved := p.buy(customer, "quick", "quick-managed", 1)
	lapsed := p.buy(customer, "quick", "quick-managed", 1)
	toggled := p.buy(customer, "quick", "quick", 1)
	require.Equal(t, http.StatusAccepted, p.event("prov-"+toggled.ID, lifecycle.EventProvisioned, toggled.ID, nil).status)
	for _, s := range []subscriptionJSON{renewing, changed, rejected, approved, lapsed, toggled} {
		require.Equal(t, http.StatusAccepted, p.event("act-"+s.ID, lifecycle.EventActivated, s.ID, nil).status)
	}
	for _, s := range []subscriptionJSON{renewing, changed, rejected, approved, lapsed} {
		p.waitStatus(customer, s.ID, lifecycle.StatusActive)
	}
	firstTerm := p.waitStatus(customer, renewing.ID, lifecycle.StatusActive).TermStart

	// The ISV suspends, reinstates, then unsubscribes.
	p.waitStatus(customer, toggled.ID, lifecycle.StatusActive)
	for _, e := range []struct{ id, typ string }{{"s", lifecycle.EventSuspended}, {"r", lifecycle.EventReinstated}, {"u", lifecycle.EventUnsubscribed}} {
		require.Equal(t, http.StatusAccepted, p.event(e.id+"-"+toggled.ID, e.typ, toggled.ID, nil).status)
	}
	p.waitStatus(customer, toggled.ID, lifecycle.StatusCancelled)
	p.recordHistory("quick-provision-activate-suspend-reinstate-unsubscribe", workflows.WorkflowID(toggled.ID))

	// Changes inside the window, then a refunded cancel.
	require.Equal(t, http.StatusOK, p.patch(changed, map[string]any{"quantity": 5, "nickname": "grown"}).status)
	require.Equal(t, http.StatusOK, p.patch(changed, map[string]any{"quantity": 1, "resellerPartnerId": "RESELLER-1"}).status)
	require.Equal(t, http.StatusOK, p.patch(changed, map[string]any{"status": "cancelled"}).status)

	// ISV-approved cancellations: rejected, approved, and one left to lapse.
	for _, s := range []subscriptionJSON{rejected, approved, lapsed} {
		r := p.patch(s, map[string]any{"status": "cancelled"})
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
		assert.Equal(t, lifecycle.StatusPendingCancellation, r.sub(t).Status)
	}
	require.Equal(t, http.StatusAccepted, p.event("no-"+rejected.ID, lifecycle.EventCancellationRejected, rejected.ID, nil).status)
	require.Equal(t, http.StatusAccepted, p.event("ok-"+approved.ID, lifecycle.EventCancellationApproved, approved.ID, nil).status)
	p.waitStatus(customer, rejected.ID, lifecycle.StatusActive)
	p.waitStatus(customer, approved.ID, lifecycle.StatusCancelled)
	p.waitStatus(customer, lapsed.ID, lifecycle.StatusActive) // after the 6 s approval timeout
	// Recorded now, inside their first 30 s term (they renew later).
	p.recordHistory("quick-publisher-rejects-cancellation", workflows.WorkflowID(rejected.ID))
	p.recordHistory("quick-cancellation-lapses", workflows.WorkflowID(lapsed.ID))

	// The activation deadline cancels the purchase nobody activated.
	p.waitStatus(customer, abandoned.ID, lifecycle.StatusCancelled)
	charges, err := p.app.Store.Charges(context.Background(), abandoned.ID)
	require.NoError(t, err)
	assert.Empty(t, charges)

	// Renewal at the 30 s term end continues as new; then auto-renew off
	// lets the second term expire.
	wfID := workflows.WorkflowID(renewing.ID)
	waitFor(t, 60*time.Second, func() bool {
		s := p.waitStatus(customer, renewing.ID, lifecycle.StatusActive)
		return s.TermStart != nil && s.TermStart.After(*firstTerm)
	})
	r := p.patch(renewing, map[string]any{"autoRenew": false})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	p.waitStatusWithin(customer, renewing.ID, lifecycle.StatusExpired, 60*time.Second)
	charges, err = p.app.Store.Charges(context.Background(), renewing.ID)
	require.NoError(t, err)
	assert.Len(t, charges, 2, "one charge per term")

	runs := p.runsOf(wfID)
	require.Len(t, runs, 2, "one run per term")
	p.assertGenerationByType(wfID, runs...)
	p.recordRun("quick-renewal-first-term", wfID, runs[1])
	p.recordRun("quick-renewal-second-term-expires", wfID, runs[0])
	p.recordHistory("quick-changes-then-refunded-cancel", workflows.WorkflowID(changed.ID))
	p.recordHistory("quick-publisher-approves-cancellation", workflows.WorkflowID(approved.ID))
	p.recordHistory("quick-activation-deadline", workflows.WorkflowID(abandoned.ID))
}

// runsOf lists a workflow's run ids, newest first.
func (p *product) runsOf(workflowID string) []string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var runs []string
	waitFor(p.t, 10*time.Second, func() bool {
		resp, err := p.app.Client.ListWorkflow(ctx, &workflowpb.ListWorkflowExecutionsRequest{Query: `WorkflowId = "` + workflowID + `"`})
		require.NoError(p.t, err)
		runs = runs[:0]
		for _, e := range resp.GetExecutions() {
			runs = append(runs, e.GetExecution().GetRunId())
		}
		return len(runs) >= 2
	})
	return runs
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
