package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// CommitRetryMax is the longest wait between two attempts of a step's
// commit; CommitStallAfter is how long a commit may take before operators
// are shown that the subscription waits for the database.
const (
	CommitRetryMax   = 30 * time.Second
	CommitStallAfter = 10 * time.Second
)

// LocalCommitTimeout bounds a step's local commit, half the workflow
// task's default timeout (10 s).
const LocalCommitTimeout = 5 * time.Second

// commit takes a step the rules decided: the run's state becomes the
// step's, then the step is made durable and shown to operators.
//
// A step taken on an event already in the history (the start, an ISV
// signal, a timer) commits by a fenced local activity inside the task that
// takes it (from generationLocalCommit). An Update's step (update) commits
// by an activity scheduled in the history: an Update accepted in a task
// that is discarded may never come again, so its step is never written
// before the task is recorded (docs/generations.md, generation 2).
func (w *subscriptionRun) commit(ctx workflow.Context, step lifecycle.Step, update bool) error {
	w.state = step.State
	return w.commitStep(ctx, w.transition(ctx, step), w.generation.localCommit && !update)
}

// transition is the step as the commit activity's input, fenced by this
// task when it may commit inside it.
func (w *subscriptionRun) transition(ctx workflow.Context, step lifecycle.Step) activities.Transition {
	t := payload.TransitionOf(step, w.in)
	if w.generation.localCommit {
		t.Fence = activities.StepFence(w.runNumber, workflow.GetInfo(ctx).GetCurrentHistoryLength(), workflow.Now(ctx), w.afterReset(ctx))
	}
	return t
}

// commitStep makes a step durable, by a local activity inside this task
// when local (falling back to the activity if that attempt fails), then
// publishes the new state to operators (search attributes, details). It
// never gives up: a database outage delays a step (operators see it
// waiting, see waitForDatabase), it never fails the subscription.
func (w *subscriptionRun) commitStep(ctx workflow.Context, t activities.Transition, local bool) error {
	var a *activities.Activities
	committed := false
	if local {
		// One attempt, well inside the workflow task's timeout: a task
		// that times out is retried elsewhere only after this attempt
		// has ended, so a discarded task rarely writes late (and such a
		// write is refused by its fence).
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			ScheduleToCloseTimeout: LocalCommitTimeout,
			RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
		})
		if err := workflow.ExecuteLocalActivity(lctx, a.CommitTransition, t).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("local commit failed; the step is committed by an activity instead", "version", t.Subscription.Version, "error", err)
		} else {
			committed = true
		}
	}
	switch {
	case committed:
	case w.generation.durableCommit:
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			// No ScheduleToCloseTimeout and no attempt limit: retried
			// until the database answers, at most CommitRetryMax apart.
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: CommitRetryMax,
			},
		})
		if err := w.waitForDatabase(ctx, workflow.ExecuteActivity(actx, a.CommitTransition, t), nil); err != nil {
			return err
		}
	default:
		// Runs recorded before versionDurableCommit replay their local
		// activity markers.
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: 15 * time.Second,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			},
		})
		if err := workflow.ExecuteLocalActivity(lctx, a.CommitTransition, t).Get(ctx, nil); err != nil {
			return err
		}
	}
	// Only a step committed inside this task leaves its status to the
	// events behind it: one that waited for the commit activity (an
	// Update's, or a local commit's fallback during an outage) may have
	// taken minutes, and the events behind it may wait as long.
	if !committed || !w.statusWaitsForEvents() {
		if err := w.publishStatus(ctx); err != nil {
			return err
		}
	}
	workflow.SetCurrentDetails(ctx, lifecycle.Describe(w.state))
	return nil
}

// afterReset says whether an operator reset this run or one it continues
// from (see Carried.AfterReset). A reset run keeps the started event of
// the run it rewinds, whose original run id is not its own; every other
// run's is.
func (w *subscriptionRun) afterReset(ctx workflow.Context) bool {
	if c := w.in.Continued; c != nil && c.AfterReset {
		return true
	}
	info := workflow.GetInfo(ctx)
	return info.OriginalRunID != "" && info.OriginalRunID != info.WorkflowExecution.RunID
}

// publishStatus shows operators the subscription's status (the
// SubscriptionStatus search attribute), unless they see it already.
func (w *subscriptionRun) publishStatus(ctx workflow.Context) error {
	status := string(w.state.Subscription.Status)
	if w.generation.statusOnChange && status == w.publishedStatus {
		return nil
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, payload.StatusKey.ValueSet(status)); err != nil {
		return err
	}
	w.publishedStatus = status
	return nil
}

// statusWaitsForEvents says whether a step leaves its status to the ISV
// events waiting in this task (from generationStatusAfterEvents): the
// step of the last of them publishes what they leave, one visibility
// write for all of them. Whether events wait is part of the history (the
// task's signals), so a replay decides the same.
func (w *subscriptionRun) statusWaitsForEvents() bool {
	return w.generation.statusAfterEvents && w.events.Len() > 0
}

// waitForDatabase waits for an activity of the database (a step's commit,
// a claim of usage) and puts its result in result (nil: none wanted). One
// that takes longer than CommitStallAfter marks the workflow
// WaitingOn="database" (searchable in the Web UI, where the pending
// activity shows the last error and the next attempt) until it lands.
func (w *subscriptionRun) waitForDatabase(ctx workflow.Context, commit workflow.Future, result any) error {
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	stalled := false
	var err error
	done := false
	for !done {
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(commit, func(f workflow.Future) { err, done = f.Get(ctx, result), true })
		if !stalled {
			sel.AddFuture(workflow.NewTimer(tctx, CommitStallAfter), func(workflow.Future) {
				stalled = true
				_ = workflow.UpsertTypedSearchAttributes(ctx, payload.WaitingOnKey.ValueSet(payload.WaitingOnDatabase))
				workflow.SetCurrentDetails(ctx, fmt.Sprintf("**waiting for the database** since %s: step v%d is not recorded yet and is retried (see the pending activity's last failure).\n\n%s",
					workflow.Now(ctx).UTC().Add(-CommitStallAfter).Format(time.RFC3339), w.state.Subscription.Version, lifecycle.Describe(w.state)))
			})
		}
		sel.Select(ctx)
	}
	if err != nil {
		return err
	}
	if stalled {
		return workflow.UpsertTypedSearchAttributes(ctx, payload.WaitingOnKey.ValueUnset())
	}
	return nil
}
