package e2e

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/adapter/ledger"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/platform/app"
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
	require.Equal(t, http.StatusAccepted, p.event("prov", lifecycle.EventProvisioned, sub.ID, nil).status)
	require.Equal(t, http.StatusAccepted, p.event("act", lifecycle.EventActivated, sub.ID, nil).status)
	active := p.waitStatus(customer, sub.ID, lifecycle.StatusActive)
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
	runID := p.reset(id, resetPoint, "e2e: an operator rewinds the subscription")

	// The reset run's state and the projection agree, and the run is not
	// stuck retrying a refused commit.
	state := p.waitCaughtUp(sub.ID, runID, lifecycle.StatusActive)
	d, err := p.app.Client.DescribeWorkflowExecution(ctx, id, runID)
	require.NoError(t, err)
	for _, a := range d.GetPendingActivities() {
		assert.LessOrEqual(t, a.GetAttempt(), int32(1), "a pending commit retried: %s", a.GetLastFailure().GetMessage())
	}
	got := p.get(customer, sub.ID)
	assert.Equal(t, state.Quantity, got.Quantity)
	p.ledgerHolds(sub.ID)
}

// slowCommit holds the first attempt of the commit activity of one step
// version for a while (or, with release, until release is closed), and
// says when it started holding.
type slowCommit struct {
	interceptor.WorkerInterceptorBase
	version int64
	hold    time.Duration
	release chan struct{}
	holding chan struct{}
	fired   atomic.Bool
}

func (s *slowCommit) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &slowCommitInbound{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, s: s}
}

type slowCommitInbound struct {
	interceptor.ActivityInboundInterceptorBase
	s *slowCommit
}

func (i *slowCommitInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	if info := activity.GetInfo(ctx); !info.IsLocalActivity && info.ActivityType.Name == "CommitTransition" && len(in.Args) == 1 {
		if t, ok := in.Args[0].(activities.Transition); ok && t.Subscription.Version == i.s.version && i.s.fired.CompareAndSwap(false, true) {
			close(i.s.holding)
			if i.s.release != nil {
				<-i.s.release
			} else {
				time.Sleep(i.s.hold)
			}
		}
	}
	return i.Next.ExecuteActivity(ctx, in)
}

// TestAResetCarryingACommitActivityOverCatchesUp: a partner's change
// commits by an activity; while it runs, the ISV suspends the
// subscription (a signal: a workflow task that waits for the change's
// step). Both steps commit; then an operator resets the run to that
// task. The reset run takes the pending commit again with the fence it
// was scheduled with, older than the one the suspension wrote: it must
// still land (before, it was refused on every attempt and the run waited
// behind it for good), then the suspension again, and the database ends
// as the reset run says.
func TestAResetCarryingACommitActivityOverCatchesUp(t *testing.T) {
	t.Parallel()
	slow := &slowCommit{version: 3, hold: 3 * time.Second, holding: make(chan struct{})}
	p := startProductWith(t, app.Parts{WorkerInterceptors: []interceptor.WorkerInterceptor{slow}}, "")
	ctx := context.Background()
	customer := p.customer("Wingtip")
	sub := p.buy(customer, "contoso-crm", "monthly", 3)
	require.Equal(t, http.StatusAccepted, p.event("act", lifecycle.EventActivated, sub.ID, nil).status)
	active := p.waitStatus(customer, sub.ID, lifecycle.StatusActive)
	require.EqualValues(t, 2, active.Version)

	patched := make(chan response, 1)
	go func() { patched <- p.patch(active, map[string]any{"quantity": 5}) }()
	select {
	case <-slow.holding:
	case <-time.After(20 * time.Second):
		t.Fatal("the change's commit activity never ran")
	}
	require.Equal(t, http.StatusAccepted, p.event("sus", lifecycle.EventSuspended, sub.ID, nil).status)

	// The task that took the signal while the change's commit was pending.
	id := workflows.WorkflowID(sub.ID)
	var resetPoint int64
	waitFor(t, 10*time.Second, func() bool {
		scheduled, signaled := false, false
		iter := p.app.Client.GetWorkflowHistory(ctx, id, "", false, 0)
		for iter.HasNext() {
			e, err := iter.Next()
			require.NoError(t, err)
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				scheduled = true
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				signaled = scheduled
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
				return false // too late: the commit is no longer pending there
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				if signaled {
					resetPoint = e.GetEventId()
					return true
				}
			}
		}
		return false
	})
	r := <-patched
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	p.waitStatus(customer, sub.ID, lifecycle.StatusSuspended)

	runID := p.reset(id, resetPoint, "e2e: rewind to while the change was committing")
	state := p.waitCaughtUp(sub.ID, runID, lifecycle.StatusSuspended)
	assert.Equal(t, 5, state.Quantity, "the change is in the reset run")
	row, err := p.app.Store.SubscriptionByID(ctx, sub.ID)
	require.NoError(t, err)
	assert.Regexp(t, `^R`, row.Fence, "the reset run's fences")
	p.ledgerHolds(sub.ID)
}

// TestAnOperatorCancelRequestIsIgnored: the Web UI's Cancel (a Temporal
// cancel request) on the real server leaves the subscription running and
// changeable; it ends by the product's own cancellation. Its history is
// recorded for the replay test (the branch that notices the request).
func TestAnOperatorCancelRequestIsIgnored(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	ctx := context.Background()
	customer := p.customer("Adventure Works")
	sub := p.buy(customer, "contoso-crm", "monthly", 2)
	require.Equal(t, http.StatusAccepted, p.event("act", lifecycle.EventActivated, sub.ID, nil).status)
	active := p.waitStatus(customer, sub.ID, lifecycle.StatusActive)

	id := workflows.WorkflowID(sub.ID)
	require.NoError(t, p.app.Client.CancelWorkflow(ctx, id, ""))
	waitFor(t, 10*time.Second, func() bool {
		requested := false
		iter := p.app.Client.GetWorkflowHistory(ctx, id, "", false, 0)
		for iter.HasNext() {
			e, err := iter.Next()
			require.NoError(t, err)
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
				requested = true
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				if requested {
					return true
				}
			}
		}
		return false
	})
	r := p.patch(active, map[string]any{"quantity": 4})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	d, err := p.app.Client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, d.GetWorkflowExecutionInfo().GetStatus())

	r = p.patch(r.sub(t), map[string]any{"status": "cancelled"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var final workflows.Subscription
	require.NoError(t, p.app.Client.GetWorkflow(ctx, id, "").Get(ctx, &final))
	assert.Equal(t, lifecycle.StatusCancelled, final.Status, "ended by the product's cancellation, not the request")
	p.recordHistory("operator-cancel-request-ignored", id)
}

// reset resets a subscription's workflow to the task that completed at
// event eventID, as an operator does in the Web UI, and returns the reset
// run's id.
func (p *product) reset(workflowID string, eventID int64, reason string) string {
	p.t.Helper()
	r, err := p.app.Client.ResetWorkflowExecution(context.Background(), &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID},
		Reason: reason, WorkflowTaskFinishEventId: eventID, RequestId: uuid.NewString(),
	})
	require.NoError(p.t, err)
	require.NotEmpty(p.t, r.GetRunId())
	return r.GetRunId()
}

// waitCaughtUp waits until the run's state has the status and the
// projection agrees with it (version, status, quantity), and returns it.
func (p *product) waitCaughtUp(subscriptionID, runID string, want lifecycle.Status) workflows.Subscription {
	p.t.Helper()
	ctx := context.Background()
	var state workflows.Subscription
	waitFor(p.t, 30*time.Second, func() bool {
		q, err := p.app.Client.QueryWorkflow(ctx, workflows.WorkflowID(subscriptionID), runID, workflows.QueryState)
		if err != nil {
			return false
		}
		require.NoError(p.t, q.Get(&state))
		row, err := p.app.Store.SubscriptionByID(ctx, subscriptionID)
		require.NoError(p.t, err)
		return state.Status == want && row.Version == state.Version && row.Status == state.Status && row.Quantity == state.Quantity
	})
	return state
}

// ledgerHolds checks the subscription's ledger against its audit trail.
func (p *product) ledgerHolds(subscriptionID string) {
	p.t.Helper()
	row, err := p.app.Store.SubscriptionByID(context.Background(), subscriptionID)
	require.NoError(p.t, err)
	diffs, _, err := ledger.VerifySubscription(context.Background(), p.app.Store, row)
	require.NoError(p.t, err)
	assert.Empty(p.t, diffs, "the ledger is what the reset run's audit trail implies")
}
