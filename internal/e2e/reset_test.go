package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/cspmarket/orchestrator/internal/ledger"
	"github.com/cspmarket/orchestrator/internal/subscription"
	"github.com/cspmarket/orchestrator/workflows"
)

// TestAnOperatorResetRewindsTheSubscription: an operator resets a
// subscription's workflow (Web UI → Reset) to the task right after its
// purchase. The reset run takes the ISV's events again (Temporal reapplies
// the signals) at history lengths shorter than the ones the first run
// committed at; its steps must still win over the first run's (before, the
// fences refused them forever and the subscription was stuck), and the
// database ends as the reset run's history says, its ledger consistent.
func TestAnOperatorResetRewindsTheSubscription(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	ctx := context.Background()
	customer := p.customer("Tailspin")
	sub := p.buy(customer, "contoso-crm", "monthly", 3)
	require.Equal(t, http.StatusAccepted, p.event("prov", subscription.EventProvisioned, sub.ID, nil).status)
	require.Equal(t, http.StatusAccepted, p.event("act", subscription.EventActivated, sub.ID, nil).status)
	active := p.waitStatus(customer, sub.ID, subscription.StatusActive)
	for _, q := range []int{5, 7, 9} {
		r := p.patch(active, map[string]any{"quantity": q})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		active = r.sub(t)
	}
	require.Equal(t, 9, active.Quantity)

	id := workflows.WorkflowID(sub.ID)
	var resetPoint int64
	iter := p.app.Client.GetWorkflowHistory(ctx, id, "", false, 0)
	for iter.HasNext() && resetPoint == 0 {
		e, err := iter.Next()
		require.NoError(t, err)
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			resetPoint = e.GetEventId() // the purchase's task
		}
	}
	require.NotZero(t, resetPoint)
	reset, err := p.app.Client.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id}, Reason: "e2e: an operator rewinds the subscription",
		WorkflowTaskFinishEventId: resetPoint, RequestId: uuid.NewString(),
	})
	require.NoError(t, err)
	require.NotEmpty(t, reset.GetRunId())

	// The reset run's state and the projection agree, and the run is not
	// stuck retrying a refused commit.
	var state subscription.Subscription
	waitFor(t, 30*time.Second, func() bool {
		q, err := p.app.Client.QueryWorkflow(ctx, id, reset.GetRunId(), workflows.QueryState)
		if err != nil {
			return false
		}
		require.NoError(t, q.Get(&state))
		row, err := p.app.Store.SubscriptionByID(ctx, sub.ID)
		require.NoError(t, err)
		return state.Status == subscription.StatusActive && row.Version == state.Version && row.Status == string(state.Status) && row.Quantity == state.Quantity
	})
	d, err := p.app.Client.DescribeWorkflowExecution(ctx, id, reset.GetRunId())
	require.NoError(t, err)
	for _, a := range d.GetPendingActivities() {
		assert.LessOrEqual(t, a.GetAttempt(), int32(1), "a pending commit retried: %s", a.GetLastFailure().GetMessage())
	}
	got := p.get(customer, sub.ID)
	assert.Equal(t, state.Quantity, got.Quantity)
	row, err := p.app.Store.SubscriptionByID(ctx, sub.ID)
	require.NoError(t, err)
	diffs, _, err := ledger.VerifySubscription(ctx, p.app.Store, *row)
	require.NoError(t, err)
	assert.Empty(t, diffs, "the ledger is what the reset run's audit trail implies")
}
