package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/billing"
	"github.com/cspmarket/orchestrator/internal/period"
	"github.com/cspmarket/orchestrator/internal/subscription"
)

// Audit event kinds the workflow writes.
const (
	KindPurchased        = "purchased"
	KindISVEventApplied  = "isv_event.applied"
	KindISVEventRejected = "isv_event.rejected"
	KindBillingStarted   = "billing.started"
)

// Notification types of the outbox.
const (
	NotifyPurchased       = "subscription.purchased"     // to the ISV: a purchase to provision
	NotifyActionNeeded    = "subscription.action_needed" // to the partner: finish setup on the ISV's site
	NotifyActivated       = "subscription.activated"     // to the partner: fulfilled, billing started
	NotifySuspended       = "subscription.suspended"
	NotifyReinstated      = "subscription.reinstated"
	NotifyCancelled       = "subscription.cancelled"
	actorSystem           = "system"
	rememberedEventIDsMax = 200
)

// SubscriptionWorkflow is one marketplace subscription: purchase recorded,
// then waiting for the ISV to provision it and confirm fulfillment, which
// starts billing. ISV events arrive as signals and are applied once each;
// an event the current status cannot take is recorded and not applied.
func SubscriptionWorkflow(ctx workflow.Context, in PurchaseInput) (subscription.Subscription, error) {
	w := &subscriptionRun{in: in, sub: in.Subscription}
	if err := w.setup(ctx); err != nil {
		return w.sub, err
	}
	return w.run(ctx)
}

// subscriptionRun is the workflow's state; every field is derived from the
// input and the history, so replays rebuild it exactly.
type subscriptionRun struct {
	in       PurchaseInput
	sub      subscription.Subscription
	recorded bool // the purchase transition is durable
	// recentEventIDs are the ISV event ids already applied or rejected,
	// newest last, bounded: the webhook's durable dedup stops most
	// repeats, this stops the ones that slip past it.
	recentEventIDs []string
}

func (w *subscriptionRun) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (subscription.Subscription, error) {
		return w.sub, nil
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandler(ctx, UpdatePurchaseRecorded, func(ctx workflow.Context) (PurchaseResult, error) {
		if err := workflow.Await(ctx, func() bool { return w.recorded }); err != nil {
			return PurchaseResult{}, err
		}
		return PurchaseResult{Subscription: w.sub, RequestHash: w.in.RequestHash, AuthorizationCodeHash: w.in.AuthorizationCodeHash}, nil
	})
}

func (w *subscriptionRun) run(ctx workflow.Context) (subscription.Subscription, error) {
	if err := w.purchase(ctx); err != nil {
		return w.sub, err
	}
	events := workflow.GetSignalChannel(ctx, SignalISVEvent)
	for !w.sub.Status.Terminal() {
		var e subscription.ISVEvent
		events.Receive(ctx, &e)
		if err := w.onISVEvent(ctx, e); err != nil {
			return w.sub, err
		}
	}
	// Let an update that raced the end finish before the run closes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return w.sub, err
	}
	return w.sub, nil
}

func (w *subscriptionRun) purchase(ctx workflow.Context) error {
	now := workflow.Now(ctx).UTC()
	w.sub.Status = subscription.StatusPendingFulfillment
	w.sub.ActionNeeded = true
	w.sub.TermDuration = w.in.Plan.TermDuration
	w.sub.UnitPrice = w.in.Plan.UnitPrice
	w.sub.Currency = w.in.Plan.Currency
	if w.sub.PurchasedAt.IsZero() {
		w.sub.PurchasedAt = now
	}
	window, err := period.Parse(w.in.Plan.CancellationWindow)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("plan has a bad cancellation window", "bad_plan", err)
	}
	windowEnd := window.AddTo(w.sub.PurchasedAt)
	w.sub.CancellationWindowEndsAt = &windowEnd
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
	t.Notifications = []activities.Notification{
		{Type: NotifyPurchased, RecipientKind: activities.RecipientPublisher, RecipientID: w.sub.PublisherID, Payload: w.notificationPayload()},
		{Type: NotifyActionNeeded, RecipientKind: activities.RecipientPartner, RecipientID: w.sub.PartnerID, Payload: w.notificationPayload()},
	}
	if err := w.commit(ctx, t); err != nil {
		return err
	}
	w.recorded = true
	return nil
}

// onISVEvent applies one ISV event if the status allows it.
func (w *subscriptionRun) onISVEvent(ctx workflow.Context, e subscription.ISVEvent) error {
	if w.seen(e.ID) {
		return nil
	}
	w.remember(e.ID)
	now := workflow.Now(ctx).UTC()
	from := w.sub.Status
	actor := "publisher:" + e.PublisherID
	var notes []activities.Notification
	var charges []billing.Charge
	extra := []activities.AuditEvent{}

	switch {
	case e.Type == subscription.EventProvisioned && from == subscription.StatusPendingFulfillment:
		w.sub.Status = subscription.StatusProvisioned
		w.sub.ActionNeeded = false

	// Activation confirms fulfillment, which includes the licences: it is
	// accepted before `provisioned` too, rather than leave a fulfilled
	// subscription stuck because one webhook was lost.
	case e.Type == subscription.EventActivated && (from == subscription.StatusPendingFulfillment || from == subscription.StatusProvisioned):
		if reason := w.activationProblem(e); reason != "" {
			return w.reject(ctx, e, reason)
		}
		if e.Quantity != 0 {
			w.sub.Quantity = e.Quantity
		}
		if e.Plan != nil {
			w.in.Plan = *e.Plan
			w.sub.PlanID = e.Plan.ID
			w.sub.TermDuration = e.Plan.TermDuration
			w.sub.UnitPrice = e.Plan.UnitPrice
			w.sub.Currency = e.Plan.Currency
		}
		term, err := period.Parse(w.in.Plan.TermDuration)
		if err != nil {
			return temporal.NewNonRetryableApplicationError("plan has a bad term", "bad_plan", err)
		}
		termEnd := term.AddTo(now)
		w.sub.Status = subscription.StatusActive
		w.sub.ActionNeeded = false
		w.sub.ActivatedAt, w.sub.BillingStartedAt, w.sub.TermStart, w.sub.TermEnd = &now, &now, &now, &termEnd
		charge, err := billing.TermCharge(w.sub, w.in.Plan, 1, now, termEnd, 0)
		if err != nil {
			return temporal.NewNonRetryableApplicationError("cannot price the term", "bad_plan", err)
		}
		charges = append(charges, charge)
		extra = append(extra, activities.AuditEvent{Kind: KindBillingStarted, Actor: actorSystem, At: now, Detail: map[string]any{
			"chargeKey": charge.Key, "amount": charge.Amount, "currency": charge.Currency,
		}})
		notes = append(notes, activities.Notification{Type: NotifyActivated, RecipientKind: activities.RecipientPartner, RecipientID: w.sub.PartnerID, Payload: w.notificationPayload()})

	case e.Type == subscription.EventSuspended && from == subscription.StatusActive:
		w.sub.Status = subscription.StatusSuspended
		notes = append(notes, activities.Notification{Type: NotifySuspended, RecipientKind: activities.RecipientPartner, RecipientID: w.sub.PartnerID, Payload: w.notificationPayload()})

	case e.Type == subscription.EventReinstated && from == subscription.StatusSuspended:
		w.sub.Status = subscription.StatusActive
		notes = append(notes, activities.Notification{Type: NotifyReinstated, RecipientKind: activities.RecipientPartner, RecipientID: w.sub.PartnerID, Payload: w.notificationPayload()})

	case e.Type == subscription.EventUnsubscribed && !from.Terminal():
		w.sub.Status = subscription.StatusCancelled
		w.sub.ActionNeeded = false
		notes = append(notes, activities.Notification{Type: NotifyCancelled, RecipientKind: activities.RecipientPartner, RecipientID: w.sub.PartnerID, Payload: w.notificationPayload()})

	default:
		return w.reject(ctx, e, fmt.Sprintf("a %s subscription cannot take %s", from, e.Type))
	}

	t := w.transition()
	t.Events = append([]activities.AuditEvent{{Kind: KindISVEventApplied, Actor: actor, At: now, Detail: map[string]any{
		"eventId": e.ID, "type": e.Type, "from": string(from), "to": string(w.sub.Status),
	}}}, extra...)
	t.Charges = charges
	t.Notifications = notes
	return w.commit(ctx, t)
}

// activationProblem says why an activation's final plan or quantity cannot
// be taken, or "" when it can.
func (w *subscriptionRun) activationProblem(e subscription.ISVEvent) string {
	plan := w.in.Plan
	if e.Plan != nil {
		plan = *e.Plan
	}
	if e.PlanID != "" && e.Plan == nil && e.PlanID != w.sub.PlanID {
		return fmt.Sprintf("plan %q is not a plan of offer %s", e.PlanID, w.sub.OfferID)
	}
	if e.Quantity != 0 && (e.Quantity < plan.MinQuantity || e.Quantity > plan.MaxQuantity) {
		return fmt.Sprintf("quantity %d is outside the plan's %d..%d", e.Quantity, plan.MinQuantity, plan.MaxQuantity)
	}
	if !plan.OffersBillingFrequency(w.sub.BillingFrequency) {
		return fmt.Sprintf("plan %s cannot be billed %s", plan.ID, w.sub.BillingFrequency)
	}
	return ""
}

// reject records an event that was not applied; the subscription keeps its
// state, but the version moves so the audit line is written exactly once.
func (w *subscriptionRun) reject(ctx workflow.Context, e subscription.ISVEvent, reason string) error {
	t := w.transition()
	t.Events = []activities.AuditEvent{{Kind: KindISVEventRejected, Actor: "publisher:" + e.PublisherID, At: workflow.Now(ctx).UTC(), Detail: map[string]any{
		"eventId": e.ID, "type": e.Type, "status": string(w.sub.Status), "reason": reason,
	}}}
	return w.commit(ctx, t)
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
		Subscription:   w.sub,
		LicenseBased:   w.in.LicenseBased,
		PublisherURL:   w.publisherURL(),
		IdempotencyKey: w.in.IdempotencyKey,
		RequestHash:    w.in.RequestHash,
	}
}

func (w *subscriptionRun) publisherURL() string {
	if w.in.Subscription.PublisherLink != nil {
		return w.in.Subscription.PublisherLink.URL
	}
	return ""
}

// commit makes a step durable through the CommitTransition local activity,
// then publishes the new state to operators (search attributes, details).
// It retries without limit: a database outage delays a step, never loses it.
func (w *subscriptionRun) commit(ctx workflow.Context, t activities.Transition) error {
	t.Subscription = w.sub
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
	var a *activities.Activities
	if err := workflow.ExecuteLocalActivity(lctx, a.CommitTransition, t).Get(ctx, nil); err != nil {
		return err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(string(w.sub.Status))); err != nil {
		return err
	}
	workflow.SetCurrentDetails(ctx, w.details())
	return nil
}

func (w *subscriptionRun) notificationPayload() map[string]any {
	return map[string]any{
		"subscriptionId": w.sub.ID, "customerId": w.sub.CustomerID, "partnerId": w.sub.PartnerID,
		"offerId": w.sub.OfferID, "planId": w.sub.PlanID, "quantity": w.sub.Quantity, "status": string(w.sub.Status),
	}
}

// details is the human summary operators read in the Web UI.
func (w *subscriptionRun) details() string {
	s := w.sub
	text := fmt.Sprintf("**%s** — %s / %s × %d for customer %s of partner %s (v%d)", s.Status, s.OfferID, s.PlanID, s.Quantity, s.CustomerID, s.PartnerID, s.Version)
	switch s.Status {
	case subscription.StatusPendingFulfillment:
		text += "\n\nWaiting for ISV " + s.PublisherID + " to provision (action needed by the partner)."
	case subscription.StatusProvisioned:
		text += "\n\nLicences assigned; waiting for ISV " + s.PublisherID + " to confirm fulfillment. Billing has not started."
	case subscription.StatusActive:
		if s.TermEnd != nil {
			text += "\n\nBilling since " + s.BillingStartedAt.Format(time.RFC3339) + "; term ends " + s.TermEnd.Format(time.RFC3339) + "."
		}
	}
	return text
}
