package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// SubscriptionWorkflow is one marketplace subscription, from purchase to
// cancellation or expiry. It is a shell around the rules
// (internal/domain/lifecycle): it hands them the purchase, the ISV's events
// (signals), the partner's changes (Updates) and the deadlines (timers)
// with the workflow's time, commits each step they decide, arms the next
// deadline, shows operators the status, and continues as new at each
// renewal so that every term is one run.
func SubscriptionWorkflow(ctx workflow.Context, in PurchaseInput) (Subscription, error) {
	// A Temporal cancel request (the Web UI's "Cancel") is not the
	// product's cancellation, which has a window, refunds and the ISV's
	// approval: it is noticed and logged, and the subscription goes on.
	// A cancelled context would make every timer and commit of the run
	// fail at once.
	cancelRequested := ctx.Done()
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	w := &subscriptionRun{
		in: in, state: in.State(), steps: workflow.NewMutex(ctx), wake: workflow.NewBufferedChannel(ctx, 1),
		events: workflow.GetSignalChannel(ctx, SignalISVEvent), cancelRequested: cancelRequested,
	}
	if c := in.Continued; c != nil {
		w.runNumber = c.Run + 1
	}
	if err := w.setup(ctx); err != nil {
		return w.result(), err
	}
	w.versions(ctx)
	if in.Continued == nil {
		if w.refused = lifecycle.CheckPurchase(w.state.Subscription, w.state.Plan, in.IdempotencyKey); w.refused != nil {
			// Only a caller that went around the API's checks gets here:
			// nothing is recorded, and the purchase Update says why.
			w.refused = refusalError(w.refused)
			workflow.GetLogger(ctx).Warn("purchase input refused", "error", w.refused)
			w.state.Subscription.Status = lifecycle.StatusCancelled
			return w.result(), workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		}
		if err := w.purchase(ctx); err != nil {
			return w.result(), err
		}
	} else {
		// The previous run committed this state; operators see it again.
		if err := w.publishStatus(ctx); err != nil {
			return w.result(), err
		}
		workflow.SetCurrentDetails(ctx, lifecycle.Describe(w.state))
	}
	return w.run(ctx)
}

// subscriptionRun is one run's shell: the state the rules decide, and what
// the run needs to take steps. Everything is derived from the input and
// the history, so replays rebuild it exactly.
type subscriptionRun struct {
	in    PurchaseInput
	state lifecycle.State
	// generation is the run's set of behaviour changes (versions.go);
	// rules are the business rules it has.
	generation generation
	rules      lifecycle.Rules
	// runNumber, the continue-as-new count, orders the fences of the
	// runs' local commits.
	runNumber       int
	publishedStatus string                  // the status operators see (SubscriptionStatus)
	events          workflow.ReceiveChannel // the ISV's events (SignalISVEvent)
	refused         error                   // the purchase input broke a field rule: nothing is recorded

	// steps serialises steps: the main loop and update handlers each hold
	// it from the rules' decision to the commit.
	steps workflow.Mutex
	// wake tells the main loop that an update changed the deadlines.
	wake workflow.Channel
	// renewed asks the main loop to continue as new.
	renewed bool

	timerAt     time.Time
	timerFuture workflow.Future
	timerCancel workflow.CancelFunc

	// cancelRequested closes when Temporal is asked to cancel the run,
	// which is noticed once and ignored (see SubscriptionWorkflow).
	cancelRequested workflow.Channel
}

// result is the subscription as the run answers it.
func (w *subscriptionRun) result() Subscription { return payload.SubscriptionOf(w.state.Subscription) }

func (w *subscriptionRun) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (Subscription, error) { return w.result(), nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, UpdatePurchaseRecorded, func(ctx workflow.Context) (PurchaseResult, error) {
		ctx, _ = workflow.NewDisconnectedContext(ctx) // see SubscriptionWorkflow
		if err := workflow.Await(ctx, func() bool { return w.state.Recorded || w.refused != nil }); err != nil {
			return PurchaseResult{}, err
		}
		if w.refused != nil {
			return PurchaseResult{}, w.refused
		}
		return PurchaseResult{Subscription: w.result(), RequestHash: w.in.RequestHash, AuthorizationCodeHash: w.in.AuthorizationCodeHash, Lots: w.state.WindowedLots()}, nil
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateChange, w.change, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, req ChangeRequest) error {
			if err := lifecycle.CheckChange(w.state, req.Rules(), workflow.Now(ctx).UTC(), w.rules); err != nil {
				return refusalError(err)
			}
			// Validators never run on replay: refusing a change that
			// changes nothing here leaves every recorded history as it
			// replayed (runs of before accepted them and recorded a step).
			if lifecycle.ChangesNothing(w.state, req.Rules()) {
				return temporal.NewApplicationError("the subscription already has these values", lifecycle.RefusedNothingToChange, w.changeResult(false))
			}
			return nil
		},
	})
}

func (w *subscriptionRun) run(ctx workflow.Context) (Subscription, error) {
	// A cancelled or expired subscription closes its usage before it ends.
	for !lifecycle.Ended(w.state) {
		if w.renewed || (w.generation.timers && workflow.GetInfo(ctx).GetContinueAsNewSuggested()) {
			return w.result(), w.continueAsNew(ctx)
		}
		if w.generation.statusAfterEvents && !w.statusWaitsForEvents() {
			// A step left its status to the events behind it, and the
			// last of them took no step (a repeat, a refusal): shown now.
			if err := w.publishStatus(ctx); err != nil {
				return w.result(), err
			}
		}
		var stepErr error
		timerFired := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(w.events, func(c workflow.ReceiveChannel, _ bool) {
			var e ISVEvent
			c.Receive(ctx, &e)
			stepErr = w.onEvent(ctx, e)
		})
		sel.AddReceive(w.wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		if w.cancelRequested != nil {
			sel.AddReceive(w.cancelRequested, func(workflow.ReceiveChannel, bool) {
				w.cancelRequested = nil
				workflow.GetLogger(ctx).Warn("a Temporal cancel request was ignored: a subscription is cancelled through the API, by its rules (window, refund, the ISV's approval)", "subscriptionId", w.state.Subscription.ID)
			})
		}
		if at, ok := lifecycle.NextDeadline(w.state); ok && w.generation.timers {
			sel.AddFuture(w.timerFor(ctx, at), func(workflow.Future) { timerFired = true })
		}
		sel.Select(ctx)
		if stepErr != nil {
			return w.result(), stepErr
		}
		if timerFired {
			w.timerFuture = nil
			if err := w.onDeadlines(ctx); err != nil {
				return w.result(), err
			}
		}
	}
	// Let an update that raced the end finish before the run closes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return w.result(), err
	}
	if w.generation.statusAfterEvents {
		// The last step may have left its status to events that came
		// behind it and that the ended subscription does not take.
		if err := w.publishStatus(ctx); err != nil {
			return w.result(), err
		}
	}
	return w.result(), nil
}

// timerFor returns a timer firing at at, reusing the current one when the
// deadline has not moved: no new timer events in the history for nothing.
func (w *subscriptionRun) timerFor(ctx workflow.Context, at time.Time) workflow.Future {
	if w.timerFuture != nil && w.timerAt.Equal(at) {
		return w.timerFuture
	}
	if w.timerCancel != nil {
		w.timerCancel()
	}
	tctx, cancel := workflow.WithCancel(ctx)
	d := max(at.Sub(workflow.Now(ctx)), 0)
	w.timerAt, w.timerFuture, w.timerCancel = at, workflow.NewTimer(tctx, d), cancel
	return w.timerFuture
}

// continueAsNew hands the state to a fresh run once pending signals are
// applied and running updates finished, so nothing sent to this run is lost.
func (w *subscriptionRun) continueAsNew(ctx workflow.Context) error {
	for {
		for {
			var e ISVEvent
			if !w.events.ReceiveAsync(&e) {
				break
			}
			if err := w.onEvent(ctx, e); err != nil {
				return err
			}
		}
		// From generation 3, an event that comes while an update
		// finishes is taken too: continuing as new would drop it. Runs of
		// before continued after the handlers, as their histories say.
		if err := workflow.Await(ctx, func() bool {
			return workflow.AllHandlersFinished(ctx) || (w.generation.statusAfterEvents && w.events.Len() > 0)
		}); err != nil {
			return err
		}
		if !w.generation.statusAfterEvents || (workflow.AllHandlersFinished(ctx) && w.events.Len() == 0) {
			break
		}
	}
	if w.generation.statusAfterEvents {
		// The next run starts with the search attributes of this one.
		if err := w.publishStatus(ctx); err != nil {
			return err
		}
	}
	if w.timerCancel != nil {
		w.timerCancel()
	}
	next := w.in
	next.Settings = Settings(w.state.Settings)
	// The new run takes the newest generation by its type (versions.go).
	next.Generation = 0
	next.AuthorizationCodeHash = ""
	next.Continued = payload.CarriedOf(w.state)
	next.Continued.Run, next.Continued.AfterReset = w.runNumber, w.afterReset(ctx)
	return workflow.NewContinueAsNewError(ctx, SubscriptionWorkflowType, next)
}

// purchase records the purchase, in the run's first task.
func (w *subscriptionRun) purchase(ctx workflow.Context) error {
	step, err := lifecycle.Purchase(w.state, w.in.Actor, workflow.Now(ctx).UTC(), w.rules)
	if err != nil {
		return stepError(err)
	}
	w.state = step.State
	t := w.transition(ctx, step)
	t.AuthorizationCodeHash, t.AuthorizationCodeExpiresAt = w.in.AuthorizationCodeHash, w.in.AuthorizationCodeExpiresAt
	if err := w.commitStep(ctx, t, w.generation.localCommit); err != nil {
		return err
	}
	w.state.Recorded = true
	return nil
}

// onEvent takes one ISV event: a repeated or malformed one is dropped, any
// other is a step (applied, or recorded as rejected).
func (w *subscriptionRun) onEvent(ctx workflow.Context, signal ISVEvent) error {
	e := signal.Rules()
	if problem := lifecycle.MalformedEvent(e); problem != "" {
		// Signals have no validator: an event the webhook would have
		// refused (sent around it) is dropped, since recording its bytes
		// could stall every later step.
		workflow.GetLogger(ctx).Warn("malformed ISV event ignored", "problem", problem)
		return nil
	}
	if w.state.Seen(e.ID) {
		return nil
	}
	w.state.Remember(e.ID)
	if err := w.steps.Lock(ctx); err != nil {
		return err
	}
	defer w.steps.Unlock()
	step, err := lifecycle.TakeEvent(w.state, e, workflow.Now(ctx).UTC(), w.rules)
	if err != nil {
		return stepError(err)
	}
	return w.commit(ctx, step, false)
}

// change is the UpdateChange handler: the partner's change as one durable
// step, answered with the subscription after it.
func (w *subscriptionRun) change(ctx workflow.Context, req ChangeRequest) (ChangeResult, error) {
	// Handlers run on the run's root context, which a Temporal cancel
	// request cancels: a change is not abandoned half-committed.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	if err := w.steps.Lock(ctx); err != nil {
		return ChangeResult{}, err
	}
	defer w.steps.Unlock()
	step, err := lifecycle.ApplyChange(w.state, req.Rules(), workflow.Now(ctx).UTC(), w.rules)
	if err != nil {
		return ChangeResult{}, stepError(err)
	}
	if step.Nothing {
		return w.changeResult(false), nil
	}
	if err := w.commit(ctx, step, true); err != nil {
		return ChangeResult{}, err
	}
	w.wake.SendAsync(true)
	return w.changeResult(step.Pending), nil
}

func (w *subscriptionRun) changeResult(pending bool) ChangeResult {
	return ChangeResult{Subscription: w.result(), Pending: pending, Lots: w.state.WindowedLots(), PendingChange: payload.PendingChangeOf(w.state.PendingChange)}
}

// onDeadlines takes every deadline that has come, one durable step each,
// earliest first.
func (w *subscriptionRun) onDeadlines(ctx workflow.Context) error {
	for !lifecycle.Ended(w.state) && !w.renewed {
		at, ok := lifecycle.NextDeadline(w.state)
		if !ok || workflow.Now(ctx).Before(at) {
			return nil
		}
		if err := w.onDeadline(ctx, at); err != nil {
			return err
		}
	}
	return nil
}

func (w *subscriptionRun) onDeadline(ctx workflow.Context, at time.Time) error {
	if err := w.steps.Lock(ctx); err != nil {
		return err
	}
	defer w.steps.Unlock()
	if claim, due := lifecycle.UsageDue(w.state, workflow.Now(ctx).UTC()); due {
		return w.closeUsage(ctx, claim)
	}
	step, err := lifecycle.PassDeadline(w.state, at, workflow.Now(ctx).UTC(), w.rules)
	if err != nil {
		return stepError(err)
	}
	w.renewed = step.Renewed
	return w.commit(ctx, step, false)
}

// closeUsage takes the usage a close is due for from the store (an
// activity in the history, retried until the database answers), then
// commits the close the rules make of it.
func (w *subscriptionRun) closeUsage(ctx workflow.Context, claim lifecycle.UsageClaim) error {
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: CommitRetryMax,
		},
	})
	var claimed []activities.ClaimedUsage
	f := workflow.ExecuteActivity(actx, a.ClaimUsage, payload.UsageClaimOf(w.state.Subscription.ID, claim))
	if err := w.waitForDatabase(ctx, f, &claimed); err != nil {
		return err
	}
	step := lifecycle.CloseUsage(w.state, claim, activities.ClaimedRules(claimed), workflow.Now(ctx).UTC())
	return w.commit(ctx, step, false)
}

// refusalError is the rules' refusal as Temporal carries it to the API:
// an application error whose type is the refusal's kind, and whose detail
// is the field a validation refusal names.
func refusalError(err error) error {
	var r *lifecycle.Refusal
	if !errors.As(err, &r) {
		return err
	}
	if r.Kind == lifecycle.RefusedInvalid {
		return temporal.NewApplicationError(r.Message, r.Kind, r.Field)
	}
	return temporal.NewApplicationError(r.Message, r.Kind)
}

// stepError is an error the rules met taking a step: a refusal as the
// API's, a plan that cannot bill (which no retry mends) as a failure for
// good.
func stepError(err error) error {
	var bad *lifecycle.PlanError
	if errors.As(err, &bad) {
		return temporal.NewNonRetryableApplicationError(bad.Message, "bad_plan", bad.Err)
	}
	return refusalError(err)
}
