package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/domain/audit"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/subscription"
)

// onISVEvent applies one ISV event if the status allows it, and records it
// as rejected otherwise. A repeated event id is ignored.
func (w *subscriptionRun) onISVEvent(ctx workflow.Context, e subscription.ISVEvent) error {
	if problem := malformedEvent(e); problem != "" {
		// Signals have no validator: an event the webhook would have
		// refused (sent around it) is dropped, since recording its bytes
		// could stall every later step.
		workflow.GetLogger(ctx).Warn("malformed ISV event ignored", "problem", problem)
		return nil
	}
	if w.seen(e.ID) {
		return nil
	}
	w.remember(e.ID)
	if err := w.steps.Lock(ctx); err != nil {
		return err
	}
	defer w.steps.Unlock()

	now := workflow.Now(ctx).UTC()
	from := w.sub.Status
	t := w.transition()
	t.ISVEvent = &e
	switch {
	case e.Type == subscription.EventProvisioned && from == subscription.StatusPendingFulfillment:
		w.sub.Status = subscription.StatusProvisioned
		w.sub.ActionNeeded = false

	// Activation confirms fulfillment, which includes the licences: it is
	// accepted before `provisioned` too, rather than leave a fulfilled
	// subscription stuck because one webhook was lost.
	case e.Type == subscription.EventActivated && (from == subscription.StatusPendingFulfillment || from == subscription.StatusProvisioned):
		if reason := w.activationProblem(e); reason != "" {
			return w.reject(ctx, t, e, reason)
		}
		if err := w.activate(&t, e, now); err != nil {
			return err
		}

	case e.Type == subscription.EventSuspended && from == subscription.StatusActive:
		w.sub.Status = subscription.StatusSuspended
		t.Notifications = append(t.Notifications, w.toPartner(NotifySuspended))

	case e.Type == subscription.EventReinstated && from == subscription.StatusSuspended:
		w.sub.Status = subscription.StatusActive
		t.Notifications = append(t.Notifications, w.toPartner(NotifyReinstated))

	case e.Type == subscription.EventUnsubscribed && !from.Terminal():
		// The ISV ended the service: billing stops; the current term stays charged.
		w.sub.Status = subscription.StatusCancelled
		w.sub.ActionNeeded = false
		w.pendingCancellation = nil
		t.Notifications = append(t.Notifications, w.toPartner(NotifyCancelled))

	case e.Type == subscription.EventCancellationApproved && from == subscription.StatusPendingCancellation:
		credited, err := w.cancel(&t, now, "cancellation approved by the publisher")
		if err != nil {
			return err
		}
		t.Events = append(t.Events, activities.AuditEvent{Kind: KindCancelled, Actor: "publisher:" + e.PublisherID, At: now, Detail: map[string]any{
			"refunded": credited, "currency": w.sub.Currency,
		}})

	case e.Type == subscription.EventCancellationRejected && from == subscription.StatusPendingCancellation:
		w.sub.Status = w.pendingCancellation.PreviousStatus
		w.pendingCancellation = nil
		t.Notifications = append(t.Notifications, w.toPartner(NotifyCancellationRejected))

	default:
		return w.reject(ctx, t, e, fmt.Sprintf("a %s subscription cannot take %s", from, e.Type))
	}
	t.Events = append([]activities.AuditEvent{{Kind: KindISVEventApplied, Actor: "publisher:" + e.PublisherID, At: now, Detail: map[string]any{
		"eventId": e.ID, "type": e.Type, "from": string(from), "to": string(w.sub.Status),
	}}}, t.Events...)
	return w.commit(ctx, t)
}

// malformedEvent says which field of an event breaks the webhook's rules,
// or "" when none does.
func malformedEvent(e subscription.ISVEvent) string {
	if refused := fields.Token("id", e.ID, fields.EventIDMax); refused != nil {
		return refused.Error()
	}
	if !fields.ID(e.PublisherID) {
		return "publisherId is not an id"
	}
	if !subscription.KnownEventType(e.Type) {
		return "unknown type"
	}
	if e.PlanID != "" && !fields.ID(e.PlanID) {
		return "planId is not an id"
	}
	if e.Quantity < 0 {
		return "negative quantity"
	}
	return ""
}

// activate starts the first term: billing starts now.
func (w *subscriptionRun) activate(t *activities.Transition, e subscription.ISVEvent, now time.Time) error {
	if e.Quantity != 0 {
		w.sub.Quantity = e.Quantity
	}
	if e.Plan != nil {
		w.plan = *e.Plan
		w.sub.PlanID = e.Plan.ID
		w.sub.TermDuration = e.Plan.TermDuration
		w.sub.UnitPrice = e.Plan.UnitPrice
		w.sub.Currency = e.Plan.Currency
	}
	w.sub.Status = subscription.StatusActive
	w.sub.ActionNeeded = false
	w.sub.ActivatedAt, w.sub.BillingStartedAt = &now, &now
	if err := w.startTerm(t, 1, now); err != nil {
		return err
	}
	detail := map[string]any{
		"termEnd": w.sub.TermEnd, "cancellationWindowEndsAt": w.sub.CancellationWindowEndsAt,
		"quantity": w.sub.Quantity, "planId": w.sub.PlanID, "unitPrice": w.sub.UnitPrice, "billingFrequency": w.sub.BillingFrequency,
	}
	w.noteExactLines(detail)
	t.Events = append(t.Events, activities.AuditEvent{Kind: KindBillingStarted, Actor: actorSystem, At: now, Detail: detail})
	t.Notifications = append(t.Notifications, w.toPartner(NotifyActivated))
	return nil
}

// activationProblem says why an activation's final plan or quantity cannot
// be taken, or "" when it can.
func (w *subscriptionRun) activationProblem(e subscription.ISVEvent) string {
	plan := w.plan
	if e.Plan != nil {
		plan = *e.Plan
	}
	if e.PlanID != "" && e.Plan == nil && e.PlanID != w.sub.PlanID {
		return fmt.Sprintf("plan %q is not a plan of offer %s", e.PlanID, w.sub.OfferID)
	}
	if e.Quantity != 0 {
		if refused := fields.Quantity(e.Quantity, plan.MinQuantity, plan.MaxQuantity, plan.ID); refused != nil {
			return fmt.Sprintf("quantity %d: %s", e.Quantity, refused.Message)
		}
	}
	if !plan.OffersBillingFrequency(w.sub.BillingFrequency) {
		return fmt.Sprintf("plan %s cannot be billed %s", plan.ID, w.sub.BillingFrequency)
	}
	return ""
}

// reject records an event that was not applied; the subscription keeps its
// state, but the version moves so the audit line is written exactly once.
func (w *subscriptionRun) reject(ctx workflow.Context, t activities.Transition, e subscription.ISVEvent, reason string) error {
	t.Events = []activities.AuditEvent{{Kind: KindISVEventRejected, Actor: "publisher:" + e.PublisherID, At: workflow.Now(ctx).UTC(), Detail: map[string]any{
		"eventId": e.ID, "type": e.Type, "status": string(w.sub.Status), "reason": reason,
	}}}
	t.Charges, t.Notifications = nil, nil
	return w.commit(ctx, t)
}

// cancel ends the subscription with every charge of the current term
// credited back; it returns the amount credited.
func (w *subscriptionRun) cancel(t *activities.Transition, now time.Time, reason string) (int64, error) {
	credited, err := w.refundTerm(t, reason, now)
	if err != nil {
		return 0, err
	}
	w.sub.Status = subscription.StatusCancelled
	w.sub.ActionNeeded = false
	w.pendingCancellation = nil
	t.Notifications = append(t.Notifications, w.toPartner(NotifyCancelled), w.toPublisher(NotifyCancelled))
	return credited, nil
}

// noteExactLines marks the audit line of a term's start when the term's
// ledger lines are exact, so that the ledger check replays them by those
// rules (audit.ExactLinesDetail).
func (w *subscriptionRun) noteExactLines(detail map[string]any) {
	if w.exactLines {
		detail[audit.ExactLinesDetail] = true
	}
}
