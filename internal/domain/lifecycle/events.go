package lifecycle

import (
	"fmt"
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/fields"
)

// MalformedEvent says which field of an event breaks the webhook's rules,
// or "" when none does. The webhook refuses such an event; one sent around
// it is dropped, since recording its bytes could stall every later step.
func MalformedEvent(e ISVEvent) string {
	if refused := fields.Token("id", e.ID, fields.EventIDMax); refused != nil {
		return refused.Error()
	}
	if !fields.ID(e.PublisherID) {
		return "publisherId is not an id"
	}
	if !KnownEventType(e.Type) {
		return "unknown type"
	}
	if e.PlanID != "" && !fields.ID(e.PlanID) {
		return "planId is not an id"
	}
	if e.Quantity < 0 {
		return "negative quantity"
	}
	if e.OperationID != "" && !fields.UUID(e.OperationID) {
		return "operationId is not a UUID"
	}
	return ""
}

// TakeEvent is what an ISV event does at now: applied when the status
// allows it, recorded as rejected (with why) otherwise. Either way it is a
// step, so the event is written exactly once. The caller drops repeats
// (Seen) and malformed events (MalformedEvent) first.
func TakeEvent(s State, e ISVEvent, now time.Time, rules Rules) (Step, error) {
	from := s.Subscription.Status
	st := next(s)
	st.ISVEvent = &e
	state := &st.State
	sub := &state.Subscription
	switch {
	case e.Type == EventProvisioned && from == StatusPendingFulfillment:
		sub.Status = StatusProvisioned
		sub.ActionNeeded = false

	// Activation confirms fulfillment, which includes the licences: it is
	// accepted before `provisioned` too, rather than leave a fulfilled
	// subscription stuck because one webhook was lost.
	case e.Type == EventActivated && from.AwaitsPublisher():
		if reason := activationProblem(*state, e); reason != "" {
			return rejected(st, e, reason, now), nil
		}
		if err := st.activate(e, now, rules); err != nil {
			return Step{}, err
		}

	case e.Type == EventSuspended && from == StatusActive:
		sub.Status = StatusSuspended
		st.recordOperation(ActionSuspend, SourcePublisher, e.OperationID, now)
		st.toPartner(NotifySuspended)

	case e.Type == EventReinstated && from == StatusSuspended:
		sub.Status = StatusActive
		st.recordOperation(ActionReinstate, SourcePublisher, e.OperationID, now)
		st.toPartner(NotifyReinstated)

	case e.Type == EventUnsubscribed && !from.Terminal():
		// The ISV ended the service: billing stops; the current term stays charged.
		sub.Status = StatusCancelled
		sub.ActionNeeded = false
		if pc := state.PendingCancellation; pc != nil && pc.OperationID != "" {
			st.Operations = append(st.Operations, Operation{ID: pc.OperationID, Action: ActionUnsubscribe, Status: OperationFailed,
				PlanID: sub.PlanID, Quantity: sub.Quantity, Source: SourceMarketplace, RequestedAt: pc.RequestedAt, Reason: "the publisher unsubscribed the subscription"})
		}
		state.PendingCancellation = nil
		st.recordOperation(ActionUnsubscribe, SourcePublisher, e.OperationID, now)
		st.toPartner(NotifyCancelled)

	case (e.Type == EventChangeApproved || e.Type == EventChangeRejected) && state.PendingChange != nil:
		if e.OperationID != "" && e.OperationID != state.PendingChange.Operation.ID {
			return rejected(st, e, fmt.Sprintf("operation %s does not wait for an answer (operation %s does)", e.OperationID, state.PendingChange.Operation.ID), now), nil
		}
		if err := st.answerChange(e, now, rules); err != nil {
			return Step{}, err
		}

	case (e.Type == EventCancellationApproved || e.Type == EventCancellationRejected) && from == StatusPendingCancellation &&
		e.OperationID != "" && e.OperationID != state.PendingCancellation.OperationID:
		return rejected(st, e, fmt.Sprintf("operation %s does not wait for an answer", e.OperationID), now), nil

	case e.Type == EventCancellationApproved && from == StatusPendingCancellation:
		credited, err := st.cancel(now, "cancellation approved by the publisher")
		if err != nil {
			return Step{}, err
		}
		st.event(KindCancelled, actorPublisherPrefix+e.PublisherID, now, map[string]any{"refunded": credited, "currency": sub.Currency})

	case e.Type == EventCancellationRejected && from == StatusPendingCancellation:
		st.failPendingCancellation("rejected by the publisher", now)
		st.toPartner(NotifyCancellationRejected)

	default:
		return rejected(st, e, fmt.Sprintf("a %s subscription cannot take %s", from, e.Type), now), nil
	}
	st.dropPendingChange(now)
	if err := st.meter(from, now, rules); err != nil {
		return Step{}, err
	}
	st.Events = append([]AuditEvent{{Kind: KindISVEventApplied, Actor: actorPublisherPrefix + e.PublisherID, At: now, Detail: map[string]any{
		"eventId": e.ID, "type": e.Type, "from": string(from), "to": string(sub.Status),
	}}}, st.Events...)
	return st, nil
}

// rejected is the step of an event that was not applied: the subscription
// keeps its state, but the version moves so the audit line is written
// exactly once.
func rejected(st Step, e ISVEvent, reason string, now time.Time) Step {
	st.Events = []AuditEvent{{Kind: KindISVEventRejected, Actor: actorPublisherPrefix + e.PublisherID, At: now, Detail: map[string]any{
		"eventId": e.ID, "type": e.Type, "status": string(st.State.Subscription.Status), "reason": reason,
	}}}
	st.Charges, st.Notifications = nil, nil
	return st
}

// activate starts the first term: billing starts now.
func (st *Step) activate(e ISVEvent, now time.Time, rules Rules) error {
	s := &st.State
	sub := &s.Subscription
	if e.Quantity != 0 {
		sub.Quantity = e.Quantity
	}
	if e.Plan != nil {
		s.Plan = *e.Plan
		sub.PlanID, sub.TermDuration, sub.UnitPrice, sub.Currency = e.Plan.ID, e.Plan.TermDuration, e.Plan.UnitPrice, e.Plan.Currency
	}
	sub.Status = StatusActive
	sub.ActionNeeded = false
	sub.ActivatedAt, sub.BillingStartedAt = &now, &now
	if err := st.startTerm(1, now, rules); err != nil {
		return err
	}
	detail := map[string]any{
		"termEnd": sub.TermEnd, "cancellationWindowEndsAt": sub.CancellationWindowEndsAt,
		"quantity": sub.Quantity, "planId": sub.PlanID, "unitPrice": sub.UnitPrice, "billingFrequency": sub.BillingFrequency,
	}
	st.noteExactLines(detail)
	st.event(KindBillingStarted, ActorSystem, now, detail)
	st.toPartner(NotifyActivated)
	return nil
}

// noteExactLines marks the audit line of a term's start when the term's
// ledger lines are exact, so that the ledger check replays them by those
// rules (ExactLinesDetail).
func (st *Step) noteExactLines(detail map[string]any) {
	if st.State.ExactLines {
		detail[ExactLinesDetail] = true
	}
}

// activationProblem says why an activation's final plan or quantity cannot
// be taken, or "" when it can.
func activationProblem(s State, e ISVEvent) string {
	plan := s.Plan
	if e.Plan != nil {
		plan = *e.Plan
	}
	if e.PlanID != "" && e.Plan == nil && e.PlanID != s.Subscription.PlanID {
		return fmt.Sprintf("plan %q is not a plan of offer %s", e.PlanID, s.Subscription.OfferID)
	}
	if e.Quantity != 0 {
		if refused := fields.Quantity(e.Quantity, plan.MinQuantity, plan.MaxQuantity, plan.ID); refused != nil {
			return fmt.Sprintf("quantity %d: %s", e.Quantity, refused.Message)
		}
	}
	if !plan.OffersBillingFrequency(s.Subscription.BillingFrequency) {
		return fmt.Sprintf("plan %s cannot be billed %s", plan.ID, s.Subscription.BillingFrequency)
	}
	return ""
}
