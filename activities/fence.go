package activities

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
)

// StepFence names the workflow task attempt that commits a step, so that
// the database can order two attempts at the same step.
//
// A step committed by a local activity runs inside a workflow task; when
// that task is discarded (the worker died, the task timed out, a
// speculative task of an Update was dropped), nothing of it reaches the
// history, and the retry of the task commits the step again, maybe with
// other content (another workflow time, an Update delivered in another
// order). Every attempt of a later task has a larger fence than every
// attempt of an earlier one: the run (continue-as-new count), then the
// history length when the task started (a completed task makes it grow),
// then the task's start time (attempts of the same task, the same length).
// The encoding compares as text, which is how the store compares it.
//
// A run an operator reset (Web UI → Reset) takes again steps that the
// run it rewinds committed, at history lengths that may be shorter than
// the ones that run reached, and a reset of an earlier run (one that has
// continued as new since) has a smaller run number than the fences
// stored: its steps must win over all of those, or every one is refused
// and the subscription is stuck. From a reset on, the chain's fences
// ("R…") order by task start time first: every task of the reset run
// starts after the reset, so after every task it rewinds, and a later
// reset comes after an earlier one; the run and the history length break
// ties. 'R' sorts after the digits, so they sort above every fence of
// before the reset.
func StepFence(run, historyLength int, taskStartedAt time.Time, afterReset bool) string {
	if afterReset {
		return fmt.Sprintf("R%020d.%06d.%012d", taskStartedAt.UTC().UnixNano(), run, historyLength)
	}
	return fmt.Sprintf("%06d.%012d.%020d", run, historyLength, taskStartedAt.UTC().UnixNano())
}

// fenceAfterReset re-fences a commit activity that an operator's reset
// carried over. The reset run takes again the activities pending at the
// reset point, with the inputs they were scheduled with: a fence from
// before the reset, which the rewound run's later steps have passed, so
// the store refuses it (ErrStaleAttempt) on every attempt and the run
// waits behind it for good. Such a commit is recorded in a live run's
// history, so it is no discarded task's: when its run is open and is a
// reset run, it is fenced as a reset run's step, at this attempt's start
// (the server's clock, after the reset and before every later task of the
// run; no other step commits meanwhile, the run's steps being serialised).
// A local commit, or one of a run that is closed (the rewound one) or
// never reset, stays refused.
func (a *Activities) fenceAfterReset(ctx context.Context, fence string) (string, bool) {
	if a.Temporal == nil || !activity.IsActivity(ctx) {
		return "", false
	}
	info := activity.GetInfo(ctx)
	run, ok := fenceRun(fence)
	if info.IsLocalActivity || !ok {
		return "", false
	}
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, info.WorkflowExecution.ID, info.WorkflowExecution.RunID)
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "", false
	}
	history := a.Temporal.GetWorkflowHistory(ctx, info.WorkflowExecution.ID, info.WorkflowExecution.RunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !history.HasNext() {
		return "", false
	}
	first, err := history.Next()
	if err != nil {
		return "", false
	}
	original := first.GetWorkflowExecutionStartedEventAttributes().GetOriginalExecutionRunId()
	if original == "" || original == info.WorkflowExecution.RunID {
		return "", false
	}
	a.log().Warn("a commit carried over by a reset is fenced as the reset run's step", "workflowId", info.WorkflowExecution.ID, "runId", info.WorkflowExecution.RunID, "fence", fence)
	return StepFence(run, 0, info.StartedTime, true), true
}

// fenceRun reads the run number of a fence made by StepFence.
func fenceRun(fence string) (int, bool) {
	parts := strings.Split(fence, ".")
	if len(parts) != 3 {
		return 0, false
	}
	field := parts[0]
	if strings.HasPrefix(fence, "R") {
		field = parts[1]
	}
	run, err := strconv.Atoi(field)
	return run, err == nil
}
