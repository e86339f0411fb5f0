package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/domain/audit"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/period"
	"github.com/cspmarket/orchestrator/internal/domain/subscription"
)

// Audit event kinds the workflow writes (named in internal/audit, where
// the ledger check reads them too).
const (
	KindPurchased             = audit.Purchased
	KindISVEventApplied       = audit.ISVEventApplied
	KindISVEventRejected      = audit.ISVEventRejected
	KindBillingStarted        = audit.BillingStarted
	KindInstallmentCharged    = audit.InstallmentCharged
	KindInstallmentSkipped    = audit.InstallmentSkipped
	KindChanged               = audit.Changed
	KindCancellationRequested = audit.CancellationRequested
	KindCancellationLapsed    = audit.CancellationLapsed
	KindCancelled             = audit.Cancelled
	KindActivationDeadline    = audit.ActivationDeadline
	KindRenewalNotice         = audit.RenewalNotice
	KindRenewed               = audit.Renewed
	KindExpired               = audit.Expired
)

// Notification types of the outbox.
const (
	NotifyPurchased             = "subscription.purchased"     // to the ISV: a purchase to provision
	NotifyActionNeeded          = "subscription.action_needed" // to the partner: finish setup on the ISV's site
	NotifyActivated             = "subscription.activated"     // to the partner: fulfilled, billing started
	NotifySuspended             = "subscription.suspended"
	NotifyReinstated            = "subscription.reinstated"
	NotifyChanged               = "subscription.changed"                // to the ISV: licences or plan details changed
	NotifyCancellationRequested = "subscription.cancellation_requested" // to the ISV: approve or reject
	NotifyCancellationRejected  = "subscription.cancellation_rejected"
	NotifyCancellationLapsed    = "subscription.cancellation_lapsed"
	NotifyCancelled             = "subscription.cancelled"
	NotifyActivationDeadline    = "subscription.activation_deadline_passed"
	NotifyRenewalUpcoming       = "subscription.renewal_upcoming"
	NotifyExpiring              = "subscription.expiring"
	NotifyRenewed               = "subscription.renewed"
	NotifyExpired               = "subscription.expired"
)

const (
	actorSystem           = "system"
	rememberedEventIDsMax = 200
)

// SubscriptionWorkflow is one marketplace subscription, from purchase to
// cancellation or expiry: waiting for the ISV to provision and confirm
// fulfillment (which starts billing), then terms, installments and
// renewals, with the partner's changes as Updates and the ISV's events as
// signals. Each term is one run: renewal continues as new.
func SubscriptionWorkflow(ctx workflow.Context, in PurchaseInput) (subscription.Subscription, error) {
	// A Temporal cancel request (the Web UI's "Cancel") is not the
	// product's cancellation, which has a window, refunds and the ISV's
	// approval: it is noticed and logged, and the subscription goes on.
	// A cancelled context would make every timer and commit of the run
	// fail at once.
	cancelRequested := ctx.Done()
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	w := newSubscriptionRun(ctx, in)
	w.cancelRequested = cancelRequested
	if err := w.setup(ctx); err != nil {
		return w.sub, err
	}
	w.versions(ctx)
	if in.Continued == nil {
		if w.refused = invalidPurchase(in); w.refused != nil {
			// Only a caller that went around the API's checks gets here:
			// nothing is recorded, and the purchase Update says why.
			workflow.GetLogger(ctx).Warn("purchase input refused", "error", w.refused)
			w.sub.Status = subscription.StatusCancelled
			return w.sub, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		}
		if err := w.purchase(ctx); err != nil {
			return w.sub, err
		}
	} else {
		// The previous run committed this state; operators see it again.
		if err := w.publishStatus(ctx); err != nil {
			return w.sub, err
		}
		workflow.SetCurrentDetails(ctx, w.details())
	}
	return w.run(ctx)
}

// versions decides the run's behaviour changes (versions.go): all of them
// by the workflow type for a run started now, by one marker or one by one
// as recorded for a run started before. The order of the calls is part of
// the histories.
func (w *subscriptionRun) versions(ctx workflow.Context) {
	generation, byType := generationOfType(workflow.GetInfo(ctx).WorkflowType.Name)
	switch {
	case byType:
	case w.in.Generation >= generationInputFlags:
		generation = generationChanges
	default:
		generation = workflow.GetVersion(ctx, versionGeneration1, workflow.DefaultVersion, generationMarkerNewest)
	}
	if generation >= generationChanges {
		w.timers, w.durableCommit, w.lotWindows, w.statusOnChange = true, true, true, true
		w.localCommit = generation >= generationLocalCommit
		w.statusAfterEvents = generation >= generationStatusAfterEvents
		w.exactLinesFromNextTerm = generation >= generationExactLines
		w.noOpChangesRecordNothing = generation >= generationExactLines
	} else {
		w.timers = workflow.GetVersion(ctx, versionLifecycleTimers, workflow.DefaultVersion, 1) >= 1
		w.durableCommit = workflow.GetVersion(ctx, versionDurableCommit, workflow.DefaultVersion, 1) >= 1
		w.lotWindows = workflow.GetVersion(ctx, versionLotWindows, workflow.DefaultVersion, 1) >= 1
		w.statusOnChange = workflow.GetVersion(ctx, versionStatusOnChange, workflow.DefaultVersion, 1) >= 1
	}
	if w.statusOnChange {
		// What operators see now: set at start, carried over by continue-as-new.
		w.publishedStatus, _ = workflow.GetTypedSearchAttributes(ctx).GetKeyword(StatusKey)
	}
}

// subscriptionRun is the workflow's state; every field is derived from the
// input and the history, so replays rebuild it exactly.
type subscriptionRun struct {
	in       PurchaseInput
	settings Settings
	sub      subscription.Subscription
	plan     subscription.Plan
	timers   bool // lifecycle timers (see versionLifecycleTimers)
	// durableCommit: steps commit through an activity (see versionDurableCommit).
	durableCommit bool
	// localCommit: steps on events in the history commit by a fenced local
	// activity (see versionGeneration1); runNumber, the continue-as-new
	// count, orders the fences of successive runs.
	localCommit bool
	runNumber   int
	// lotWindows: each batch of licences has its own window (see versionLotWindows).
	lotWindows bool
	// statusOnChange: the status search attribute is upserted only when
	// it changes (see versionStatusOnChange); publishedStatus is its value.
	statusOnChange  bool
	publishedStatus string
	// statusAfterEvents: a step leaves the status to the ISV events
	// waiting behind it (see generationStatusAfterEvents).
	statusAfterEvents bool
	// exactLines: the current term's ledger lines are all exact (see
	// generationExactLines); decided when a term starts, by
	// exactLinesFromNextTerm, and carried with the term.
	exactLines, exactLinesFromNextTerm bool
	// noOpChangesRecordNothing: a change found to change nothing once it
	// holds the lock commits nothing (see generationExactLines).
	noOpChangesRecordNothing bool
	events                   workflow.ReceiveChannel // the ISV's events (SignalISVEvent)
	recorded                 bool                    // the purchase transition is durable
	refused                  error                   // the purchase input broke a field rule: nothing is recorded

	termNumber  int
	termCharges []billing.Charge // charges of the current term, for refunds
	// lots are the term's batches of licences and what each was charged,
	// so removed licences are credited what they cost (see billing.Lots).
	lots                billing.Lots
	nextInstallment     int // index of the next installment to charge in this term
	renewalNoticeSent   bool
	pendingCancellation *PendingCancellation
	// recentEventIDs are the ISV event ids already applied or rejected,
	// newest last, bounded: the webhook's durable dedup stops most
	// repeats, this stops the ones that slip past it.
	recentEventIDs []string

	// steps serialises state changes: the main loop and update handlers
	// each hold it from the first mutation to the commit.
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

func newSubscriptionRun(ctx workflow.Context, in PurchaseInput) *subscriptionRun {
	w := &subscriptionRun{
		in: in, settings: in.Settings.withDefaults(), sub: in.Subscription, plan: in.Plan,
		steps: workflow.NewMutex(ctx), wake: workflow.NewBufferedChannel(ctx, 1),
		events: workflow.GetSignalChannel(ctx, SignalISVEvent),
	}
	if c := in.Continued; c != nil {
		// Set before the handlers are registered: updates that waited for
		// this run are validated the moment their handler is set.
		w.recorded = true
		w.sub, w.plan = c.Subscription, c.Plan
		w.termNumber, w.termCharges, w.nextInstallment = c.TermNumber, c.TermCharges, c.NextInstallment
		w.renewalNoticeSent, w.pendingCancellation, w.recentEventIDs = c.RenewalNoticeSent, c.PendingCancellation, c.RecentEventIDs
		w.lots = c.Lots
		w.exactLines = c.ExactLines
		w.runNumber = c.Run + 1
	}
	return w
}

func (w *subscriptionRun) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (subscription.Subscription, error) {
		return w.sub, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, UpdatePurchaseRecorded, func(ctx workflow.Context) (PurchaseResult, error) {
		ctx, _ = workflow.NewDisconnectedContext(ctx) // see SubscriptionWorkflow
		if err := workflow.Await(ctx, func() bool { return w.recorded || w.refused != nil }); err != nil {
			return PurchaseResult{}, err
		}
		if w.refused != nil {
			return PurchaseResult{}, w.refused
		}
		return PurchaseResult{Subscription: w.sub, RequestHash: w.in.RequestHash, AuthorizationCodeHash: w.in.AuthorizationCodeHash, Lots: w.windowedLots()}, nil
	}); err != nil {
		return err
	}
	applyChange := func(ctx workflow.Context, req ChangeRequest) (ChangeResult, error) {
		// Handlers run on the run's root context, which a Temporal cancel
		// request cancels: a change is not abandoned half-committed.
		ctx, _ = workflow.NewDisconnectedContext(ctx)
		return w.applyChange(ctx, req)
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateChange, applyChange, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, req ChangeRequest) error {
			if err := w.validateChange(workflow.Now(ctx).UTC(), req); err != nil {
				return err
			}
			// Validators never run on replay: refusing a change that
			// changes nothing here leaves every recorded history as it
			// replayed (runs of before accepted them and recorded a step).
			if w.changesNothing(req) {
				return w.nothingToChange()
			}
			return nil
		},
	})
}

func (w *subscriptionRun) run(ctx workflow.Context) (subscription.Subscription, error) {
	for !w.sub.Status.Terminal() {
		if w.renewed || (w.timers && workflow.GetInfo(ctx).GetContinueAsNewSuggested()) {
			return w.sub, w.continueAsNew(ctx)
		}
		if w.statusAfterEvents && !w.statusWaitsForEvents() {
			// A step left its status to the events behind it, and the
			// last of them took no step (a repeat, a refusal): shown now.
			if err := w.publishStatus(ctx); err != nil {
				return w.sub, err
			}
		}
		var stepErr error
		timerFired := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(w.events, func(c workflow.ReceiveChannel, _ bool) {
			var e subscription.ISVEvent
			c.Receive(ctx, &e)
			stepErr = w.onISVEvent(ctx, e)
		})
		sel.AddReceive(w.wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		if w.cancelRequested != nil {
			sel.AddReceive(w.cancelRequested, func(workflow.ReceiveChannel, bool) {
				w.cancelRequested = nil
				workflow.GetLogger(ctx).Warn("a Temporal cancel request was ignored: a subscription is cancelled through the API, by its rules (window, refund, the ISV's approval)", "subscriptionId", w.sub.ID)
			})
		}
		if at, ok := w.nextDeadline(); ok && w.timers {
			sel.AddFuture(w.timerFor(ctx, at), func(workflow.Future) { timerFired = true })
		}
		sel.Select(ctx)
		if stepErr != nil {
			return w.sub, stepErr
		}
		if timerFired {
			w.timerFuture = nil
			if err := w.onDeadlines(ctx); err != nil {
				return w.sub, err
			}
		}
	}
	// Let an update that raced the end finish before the run closes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return w.sub, err
	}
	if w.statusAfterEvents {
		// The last step may have left its status to events that came
		// behind it and that the ended subscription does not take.
		if err := w.publishStatus(ctx); err != nil {
			return w.sub, err
		}
	}
	return w.sub, nil
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
			var e subscription.ISVEvent
			if !w.events.ReceiveAsync(&e) {
				break
			}
			if err := w.onISVEvent(ctx, e); err != nil {
				return err
			}
		}
		// From generation 3, an event that comes while an update
		// finishes is taken too: continuing as new would drop it. Runs of
		// before continued after the handlers, as their histories say.
		if err := workflow.Await(ctx, func() bool {
			return workflow.AllHandlersFinished(ctx) || (w.statusAfterEvents && w.events.Len() > 0)
		}); err != nil {
			return err
		}
		if !w.statusAfterEvents || (workflow.AllHandlersFinished(ctx) && w.events.Len() == 0) {
			break
		}
	}
	if w.statusAfterEvents {
		// The next run starts with the search attributes of this one.
		if err := w.publishStatus(ctx); err != nil {
			return err
		}
	}
	if w.timerCancel != nil {
		w.timerCancel()
	}
	next := w.in
	next.Settings = w.settings
	// The new run takes the newest generation by its type (versions.go).
	next.Generation = 0
	next.AuthorizationCodeHash = ""
	next.Continued = &Carried{
		Subscription: w.sub, Plan: w.plan, TermNumber: w.termNumber, TermCharges: w.termCharges,
		NextInstallment: w.nextInstallment, RenewalNoticeSent: w.renewalNoticeSent,
		PendingCancellation: w.pendingCancellation, RecentEventIDs: w.recentEventIDs, Lots: w.lots, Run: w.runNumber,
		AfterReset: w.afterReset(ctx), ExactLines: w.exactLines,
	}
	return workflow.NewContinueAsNewError(ctx, SubscriptionWorkflowType, next)
}

func (w *subscriptionRun) purchase(ctx workflow.Context) error {
	now := workflow.Now(ctx).UTC()
	w.sub.Status = subscription.StatusPendingFulfillment
	w.sub.ActionNeeded = true
	w.sub.TermDuration = w.plan.TermDuration
	w.sub.UnitPrice = w.plan.UnitPrice
	w.sub.Currency = w.plan.Currency
	if w.sub.PurchasedAt.IsZero() {
		w.sub.PurchasedAt = now
	}
	windowEnd, err := w.windowEnd(w.sub.PurchasedAt)
	if err != nil {
		return err
	}
	w.sub.CancellationWindowEndsAt = &windowEnd
	if w.lotWindows {
		w.lots = billing.StartTerm(w.sub.Quantity, windowEnd)
	}
	// The link keeps only the landing URL: the code is shown once, by the
	// API, and the history holds only its hash.
	if w.sub.PublisherLink != nil {
		w.sub.PublisherLink = &subscription.PublisherLink{URL: w.sub.PublisherLink.URL}
	}

	t := w.transition()
	t.AuthorizationCodeHash = w.in.AuthorizationCodeHash
	t.AuthorizationCodeExpiresAt = w.in.AuthorizationCodeExpiresAt
	t.Events = []activities.AuditEvent{{Kind: KindPurchased, Actor: w.in.Actor, At: now, Detail: map[string]any{
		"offerId": w.sub.OfferID, "planId": w.sub.PlanID, "quantity": w.sub.Quantity, "billingFrequency": w.sub.BillingFrequency,
	}}}
	t.Notifications = []activities.Notification{w.toPublisher(NotifyPurchased), w.toPartner(NotifyActionNeeded)}
	if err := w.commit(ctx, t); err != nil {
		return err
	}
	w.recorded = true
	return nil
}

// windowEnd is when a cancellation window opened at from closes.
func (w *subscriptionRun) windowEnd(from time.Time) (time.Time, error) {
	window, err := period.Parse(w.plan.CancellationWindow)
	if err != nil {
		return time.Time{}, temporal.NewNonRetryableApplicationError("plan has a bad cancellation window", "bad_plan", err)
	}
	return window.AddTo(from), nil
}

func (w *subscriptionRun) schedule() (billing.Schedule, error) {
	s, err := billing.ScheduleFor(w.plan, w.sub.BillingFrequency)
	if err != nil {
		return s, temporal.NewNonRetryableApplicationError("plan has a bad term", "bad_plan", err)
	}
	return s, nil
}

// startTerm begins term number n at start: term dates, installment 0
// charged unless billing is paused, and at a renewal a new cancellation
// window (the first term keeps the one opened at purchase).
func (w *subscriptionRun) startTerm(t *activities.Transition, n int, start time.Time) error {
	sched, err := w.schedule()
	if err != nil {
		return err
	}
	end := sched.Term.AddTo(start)
	if n > 1 {
		windowEnd, err := w.windowEnd(start)
		if err != nil {
			return err
		}
		w.sub.CancellationWindowEndsAt = &windowEnd
	}
	w.termNumber, w.termCharges, w.nextInstallment, w.renewalNoticeSent = n, nil, 0, false
	w.exactLines = w.exactLinesFromNextTerm
	switch {
	case n == 1 && w.lotWindows:
		// The batches bought before activation keep their windows; the
		// ISV may have confirmed more licences (a batch added now) or fewer.
		addedUntil, err := w.windowEnd(start)
		if err != nil {
			return err
		}
		w.lots = w.windowedLots().Resize(w.sub.Quantity, addedUntil)
	case w.lotWindows:
		w.lots = billing.StartTerm(w.sub.Quantity, *w.sub.CancellationWindowEndsAt)
	default:
		w.lots = billing.StartTerm(w.sub.Quantity, time.Time{})
	}
	w.sub.TermStart, w.sub.TermEnd = &start, &end
	return w.chargeInstallment(t, sched, start)
}

// chargeInstallment charges the next installment of the term, or records
// that it was skipped while billing is paused (suspended).
func (w *subscriptionRun) chargeInstallment(t *activities.Transition, sched billing.Schedule, at time.Time) error {
	i := w.nextInstallment
	w.nextInstallment++
	if w.sub.Status != subscription.StatusActive {
		t.Events = append(t.Events, activities.AuditEvent{Kind: KindInstallmentSkipped, Actor: actorSystem, At: at, Detail: map[string]any{
			"term": w.termNumber, "installment": i, "reason": "billing is paused while " + string(w.sub.Status),
		}})
		return nil
	}
	c := sched.InstallmentCharge(w.sub, w.termNumber, *w.sub.TermStart, *w.sub.TermEnd, i)
	c.PostedAt = at
	w.lots = w.currentLots().ChargeInstallment(sched.PerLicence(i), c.PeriodStart)
	w.addCharge(t, c)
	t.Events = append(t.Events, activities.AuditEvent{Kind: KindInstallmentCharged, Actor: actorSystem, At: at, Detail: map[string]any{
		"chargeKey": c.Key, "amount": c.Amount, "currency": c.Currency, "term": w.termNumber, "installment": i,
		"quantity": c.Quantity, "unitPrice": c.UnitPrice,
	}})
	return nil
}

// currentLots are the term's lots. A run that continued from one started
// before lots were kept has none: its licences are then one batch charged
// what the term's ledger nets to.
func (w *subscriptionRun) currentLots() billing.Lots {
	if w.lots != nil || w.nextInstallment == 0 {
		return w.lots
	}
	return billing.Lots{{Quantity: w.sub.Quantity, Charged: w.termNet()}}
}

// windowedLots are the current lots with a window on each batch: batches
// recorded before they had their own take the subscription's window, and
// a run with no lots yet (recorded before they were kept from purchase) is
// one batch of every licence.
func (w *subscriptionRun) windowedLots() billing.Lots {
	var window time.Time
	if w.sub.CancellationWindowEndsAt != nil {
		window = *w.sub.CancellationWindowEndsAt
	}
	lots := w.currentLots()
	if lots == nil {
		lots = billing.StartTerm(w.sub.Quantity, window)
	}
	return lots.WithWindow(window)
}

// termNet is what the current term's charges net to, credits deducted.
func (w *subscriptionRun) termNet() int64 { return billing.Net(w.termCharges) }

func (w *subscriptionRun) addCharge(t *activities.Transition, c billing.Charge) {
	t.Charges = append(t.Charges, c)
	w.termCharges = append(w.termCharges, c)
}

// refundTerm credits what the current term's lines net to: every batch
// still held, what it was charged (billing's RefundCredits), in a term of
// exact lines; each charge, oldest first, in a term of before
// (billing.Refund).
func (w *subscriptionRun) refundTerm(t *activities.Transition, reason string, at time.Time) (int64, error) {
	credits := billing.Refund(w.termCharges, reason, at)
	if w.exactLines {
		credits = nil
		if w.nextInstallment > 0 {
			sched, err := w.schedule()
			if err != nil {
				return 0, err
			}
			credits = sched.RefundCredits(w.sub, w.termNumber, *w.sub.TermStart, w.currentLots(), w.chargedUntil(sched), at, reason)
		}
	}
	var credited int64
	for _, c := range credits {
		credited = billing.Add(credited, c.Amount)
		w.addCharge(t, c)
	}
	return credited, nil
}

// chargedUntil is the end of the installment last charged (or skipped):
// what the term has billed so far covers the time up to it.
func (w *subscriptionRun) chargedUntil(sched billing.Schedule) time.Time {
	_, end := sched.Period(*w.sub.TermStart, *w.sub.TermEnd, max(w.nextInstallment-1, 0))
	return end
}

func (w *subscriptionRun) seen(id string) bool {
	for _, s := range w.recentEventIDs {
		if s == id {
			return true
		}
	}
	return false
}

func (w *subscriptionRun) remember(id string) {
	w.recentEventIDs = append(w.recentEventIDs, id)
	if len(w.recentEventIDs) > rememberedEventIDsMax {
		w.recentEventIDs = w.recentEventIDs[len(w.recentEventIDs)-rememberedEventIDsMax:]
	}
}

// transition starts the next durable step: the version moves by one.
func (w *subscriptionRun) transition() activities.Transition {
	w.sub.Version++
	return activities.Transition{
		LicenseBased:   w.in.LicenseBased,
		PublisherURL:   w.publisherURL(),
		IdempotencyKey: w.in.IdempotencyKey,
		RequestHash:    w.in.RequestHash,
	}
}

func (w *subscriptionRun) publisherURL() string {
	if w.sub.PublisherLink != nil {
		return w.sub.PublisherLink.URL
	}
	return ""
}

// commit makes a step taken on an event already in the history durable
// (see commitStep).
func (w *subscriptionRun) commit(ctx workflow.Context, t activities.Transition) error {
	return w.commitStep(ctx, t, w.localCommit)
}

// commitUpdate makes an Update's step durable by an activity scheduled in
// the history: an Update accepted in a task that is discarded may never
// come again, so its step is never written before the task is recorded
// (see versionGeneration1).
func (w *subscriptionRun) commitUpdate(ctx workflow.Context, t activities.Transition) error {
	return w.commitStep(ctx, t, false)
}

// commitStep makes a step durable, by a local activity inside this task
// when local (falling back to the activity if that attempt fails), then
// publishes the new state to operators (search attributes, details). It
// never gives up: a database outage delays a step (operators see it
// waiting, see waitForCommit), it never fails the subscription.
func (w *subscriptionRun) commitStep(ctx workflow.Context, t activities.Transition, local bool) error {
	t.Subscription = w.sub
	if !w.sub.Status.Terminal() {
		t.Lots = w.windowedLots()
	}
	if w.localCommit {
		t.Fence = activities.StepFence(w.runNumber, workflow.GetInfo(ctx).GetCurrentHistoryLength(), workflow.Now(ctx), w.afterReset(ctx))
	}
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
			workflow.GetLogger(ctx).Warn("local commit failed; the step is committed by an activity instead", "version", w.sub.Version, "error", err)
		} else {
			committed = true
		}
	}
	switch {
	case committed:
	case w.durableCommit:
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			// No ScheduleToCloseTimeout and no attempt limit: retried
			// until the database answers, at most CommitRetryMax apart.
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: CommitRetryMax,
			},
		})
		if err := w.waitForCommit(ctx, workflow.ExecuteActivity(actx, a.CommitTransition, t)); err != nil {
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
	workflow.SetCurrentDetails(ctx, w.details())
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
	status := string(w.sub.Status)
	if w.statusOnChange && status == w.publishedStatus {
		return nil
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(status)); err != nil {
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
	return w.statusAfterEvents && w.events.Len() > 0
}

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

// waitForCommit waits for a step's commit. One that takes longer than
// CommitStallAfter marks the workflow WaitingOn="database" (searchable in
// the Web UI, where the pending activity shows the last error and the next
// attempt) until it lands.
func (w *subscriptionRun) waitForCommit(ctx workflow.Context, commit workflow.Future) error {
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	stalled := false
	var err error
	done := false
	for !done {
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(commit, func(f workflow.Future) { err, done = f.Get(ctx, nil), true })
		if !stalled {
			sel.AddFuture(workflow.NewTimer(tctx, CommitStallAfter), func(workflow.Future) {
				stalled = true
				_ = workflow.UpsertTypedSearchAttributes(ctx, WaitingOnKey.ValueSet(WaitingOnDatabase))
				workflow.SetCurrentDetails(ctx, fmt.Sprintf("**waiting for the database** since %s: step v%d is not recorded yet and is retried (see the pending activity's last failure).\n\n%s",
					workflow.Now(ctx).UTC().Add(-CommitStallAfter).Format(time.RFC3339), w.sub.Version, w.details()))
			})
		}
		sel.Select(ctx)
	}
	if err != nil {
		return err
	}
	if stalled {
		return workflow.UpsertTypedSearchAttributes(ctx, WaitingOnKey.ValueUnset())
	}
	return nil
}

func (w *subscriptionRun) payload() map[string]any {
	return map[string]any{
		"subscriptionId": w.sub.ID, "customerId": w.sub.CustomerID, "partnerId": w.sub.PartnerID,
		"offerId": w.sub.OfferID, "planId": w.sub.PlanID, "quantity": w.sub.Quantity, "status": string(w.sub.Status),
		"autoRenew": w.sub.AutoRenew, "version": w.sub.Version,
	}
}

func (w *subscriptionRun) toPartner(typ string) activities.Notification {
	return activities.Notification{Type: typ, RecipientKind: activities.RecipientPartner, RecipientID: w.sub.PartnerID, Payload: w.payload()}
}

func (w *subscriptionRun) toPublisher(typ string) activities.Notification {
	return activities.Notification{Type: typ, RecipientKind: activities.RecipientPublisher, RecipientID: w.sub.PublisherID, Payload: w.payload()}
}

// details is the human summary operators read in the Web UI.
func (w *subscriptionRun) details() string {
	s := w.sub
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** — %s / %s × %d for customer %s of partner %s (v%d)", s.Status, s.OfferID, s.PlanID, s.Quantity, s.CustomerID, s.PartnerID, s.Version)
	switch s.Status {
	case subscription.StatusPendingFulfillment:
		fmt.Fprintf(&b, "\n\nWaiting for ISV %s to provision (action needed by the partner).", s.PublisherID)
	case subscription.StatusProvisioned:
		fmt.Fprintf(&b, "\n\nLicences assigned; waiting for ISV %s to confirm fulfillment. Billing has not started.", s.PublisherID)
	case subscription.StatusActive, subscription.StatusSuspended:
		if s.TermEnd != nil {
			renew := "expires"
			if s.AutoRenew {
				renew = "renews"
			}
			fmt.Fprintf(&b, "\n\nTerm %d ends %s and %s. Billed %s.", w.termNumber, s.TermEnd.Format(time.RFC3339), renew, s.BillingFrequency)
		}
		if s.Status == subscription.StatusSuspended {
			b.WriteString(" Billing is paused.")
		}
	case subscription.StatusPendingCancellation:
		if pc := w.pendingCancellation; pc != nil {
			fmt.Fprintf(&b, "\n\nCancellation requested %s; waiting for ISV %s until %s.", pc.RequestedAt.Format(time.RFC3339), s.PublisherID, pc.Deadline.Format(time.RFC3339))
		}
	}
	if s.CancellationWindowEndsAt != nil && !s.Status.Terminal() {
		fmt.Fprintf(&b, "\n\nCancellation window until %s.", s.CancellationWindowEndsAt.Format(time.RFC3339))
	}
	return b.String()
}
