package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/platform/app"
	"github.com/cspmarket/orchestrator/workflows"
)

// discardAfterCommit fails the workflow task that commits step version,
// once, right after its local commit wrote to the database: the task is
// discarded as if its worker had died before completing it.
type discardAfterCommit struct {
	interceptor.WorkerInterceptorBase
	version int64
	fired   atomic.Bool
}

func (d *discardAfterCommit) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &discardInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, d: d}
}

type discardInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	d *discardAfterCommit
}

func (i *discardInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&discardOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, d: i.d})
}

type discardOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	d *discardAfterCommit
}

func (o *discardOutbound) ExecuteLocalActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	f := o.Next.ExecuteLocalActivity(ctx, activityType, args...)
	if len(args) == 1 {
		if t, ok := args[0].(activities.Transition); ok && t.Subscription.Version == o.d.version {
			return &discardingFuture{Future: f, d: o.d}
		}
	}
	return f
}

type discardingFuture struct {
	workflow.Future
	d *discardAfterCommit
}

func (f *discardingFuture) Get(ctx workflow.Context, v any) error {
	err := f.Future.Get(ctx, v)
	if err == nil && f.d.fired.CompareAndSwap(false, true) {
		panic("injected: this workflow task is discarded after its local commit")
	}
	return err
}

// TestADiscardedTaskLeavesOnlyWhatTheHistoryRecords: the activation's step
// is committed by a local activity inside a workflow task that is then
// discarded; the task's retry takes the activation again, at another
// workflow time. The database must hold the retry's step only (the term
// and its charge start when the history says, one charge, one audit line,
// one notification) and the partner must receive the activation once.
func TestADiscardedTaskLeavesOnlyWhatTheHistoryRecords(t *testing.T) {
	t.Parallel()
	discard := &discardAfterCommit{version: 2}
	p := startProductWith(t, app.Parts{WorkerInterceptors: []interceptor.WorkerInterceptor{discard}}, "")

	var mu sync.Mutex
	delivered := map[string]int{} // notification type -> deliveries
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n struct{ Type string }
		_ = json.Unmarshal(body, &n)
		mu.Lock()
		delivered[n.Type]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()
	r := p.do(http.MethodPut, "/v1/notification-endpoint", "dev-admin-token", map[string]string{"url": receiver.URL + "/hooks"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	customer := p.customer("Litware")
	sub := p.buy(customer, "contoso-crm", "monthly", 3)
	require.Equal(t, http.StatusAccepted, p.event("act", lifecycle.EventActivated, sub.ID, nil).status)
	active := p.waitStatus(customer, sub.ID, lifecycle.StatusActive)
	// The commit is visible before the workflow goes on to fail its task.
	waitFor(t, 10*time.Second, discard.fired.Load)

	// The projection shows the discarded attempt's step until the task's
	// retry completes: wait for that (a completed task after the failed one).
	ctx := context.Background()
	failed := 0
	waitFor(t, 20*time.Second, func() bool {
		failed = 0
		retried := false
		iter := p.app.Client.GetWorkflowHistory(ctx, workflows.WorkflowID(sub.ID), "", false, 0)
		for iter.HasNext() {
			e, err := iter.Next()
			require.NoError(t, err)
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
				failed++
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				retried = failed > 0
			}
		}
		return retried
	})
	assert.Equal(t, 1, failed, "the history shows the discarded task")
	active = p.get(customer, sub.ID)

	q, err := p.app.Client.QueryWorkflow(ctx, workflows.WorkflowID(sub.ID), "", workflows.QueryState)
	require.NoError(t, err)
	var state workflows.Subscription
	require.NoError(t, q.Get(&state))
	require.NotNil(t, state.ActivatedAt)
	require.NotNil(t, active.ActivatedAt)
	assert.True(t, state.ActivatedAt.Truncate(time.Microsecond).Equal(*active.ActivatedAt), "the projection's activation %s is the history's %s", active.ActivatedAt, state.ActivatedAt)

	row, err := p.app.Store.SubscriptionByID(ctx, sub.ID)
	require.NoError(t, err)
	charges, err := p.app.Store.Charges(ctx, sub.ID)
	require.NoError(t, err)
	require.Len(t, charges, 1, "one installment charged")
	assert.True(t, charges[0].PeriodStart.Equal(state.TermStart.Truncate(time.Microsecond)), "the charge's period starts with the history's term")
	assert.Equal(t, row.Fence, charges[0].Fence, "written by the retry")
	events, err := p.app.Store.Events(ctx, sub.ID)
	require.NoError(t, err)
	started := 0
	for _, e := range events {
		if e.Kind == lifecycle.KindBillingStarted {
			started++
			assert.Equal(t, row.Fence, e.Fence)
		}
	}
	assert.Equal(t, 1, started, "one billing_started line")
	notifications, err := p.app.Store.Notifications(ctx, sub.ID)
	require.NoError(t, err)
	activated := 0
	for _, n := range notifications {
		if n.Type == lifecycle.NotifyActivated {
			activated++
		}
	}
	assert.Equal(t, 1, activated, "one activation notification in the outbox")

	waitFor(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return delivered[lifecycle.NotifyActivated] >= 1
	})
	time.Sleep(2 * time.Second) // let a stray delivery of the discarded step arrive
	mu.Lock()
	assert.Equal(t, 1, delivered[lifecycle.NotifyActivated], "the partner is told of the activation once")
	mu.Unlock()
}
