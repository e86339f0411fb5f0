package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/text/unicode/norm"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/period"
	"github.com/cspmarket/orchestrator/internal/domain/subscription"
)

func validationError(field, format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), ErrValidation, field)
}

// refusedField is a field rule's refusal as the Update's validation error.
func refusedField(e *fields.Error) error { return validationError(e.Field, "%s", e.Message) }

func stateError(kind, format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), kind)
}

// validateChange decides, without changing anything, whether the
// subscription can take the whole request now. A rejected update leaves no
// trace in the history.
func (w *subscriptionRun) validateChange(now time.Time, req ChangeRequest) error {
	s := w.sub
	if req.Empty() {
		return validationError("", "the request changes nothing")
	}
	if req.IfVersion != 0 && req.IfVersion != s.Version {
		return stateError(ErrVersionMismatch, "the subscription is at version %d, not %d", s.Version, req.IfVersion)
	}
	if !w.recorded || s.Status.Terminal() {
		return stateError(ErrInvalidState, "a %s subscription cannot be changed", s.Status)
	}
	if n := req.Nickname; n != nil {
		if _, e := fields.Nickname(*n); e != nil {
			return refusedField(e)
		}
	}
	if r := req.ResellerPartnerID; r != nil {
		if e := fields.ResellerPartnerID(*r); e != nil {
			return refusedField(e)
		}
	}

	if f := req.BillingFrequency; f != nil {
		if !w.plan.OffersBillingFrequency(*f) {
			return validationError("billingFrequency", "plan %s is billed %s", w.plan.ID, strings.Join(w.plan.BillingFrequencies, " or "))
		}
		if s.Status == subscription.StatusPendingCancellation {
			return stateError(ErrInvalidState, "the billing frequency cannot change while a cancellation waits for the publisher")
		}
	}
	inWindow := s.CancellationWindowEndsAt != nil && now.Before(*s.CancellationWindowEndsAt)
	if q := req.Quantity; q != nil && *q != s.Quantity {
		if e := fields.Quantity(*q, w.plan.MinQuantity, w.plan.MaxQuantity, w.plan.ID); e != nil {
			return refusedField(e)
		}
		switch s.Status {
		case subscription.StatusPendingFulfillment, subscription.StatusProvisioned, subscription.StatusActive:
		default:
			return stateError(ErrInvalidState, "the quantity of a %s subscription cannot change", s.Status)
		}
		if *q < s.Quantity {
			if err := w.removable(now, s.Quantity-*q, inWindow); err != nil {
				return err
			}
		}
	}
	if req.Cancel {
		switch s.Status {
		case subscription.StatusPendingFulfillment, subscription.StatusProvisioned, subscription.StatusActive, subscription.StatusSuspended:
		case subscription.StatusPendingCancellation:
			return stateError(ErrInvalidState, "a cancellation already waits for the publisher")
		default:
			return stateError(ErrInvalidState, "a %s subscription cannot be cancelled", s.Status)
		}
		if !inWindow {
			return stateError(ErrWindowClosed, "the cancellation window closed at %s; turn auto-renew off to end the subscription at the end of its term", s.CancellationWindowEndsAt.Format(time.RFC3339))
		}
	}
	return nil
}

// applyChange is the UpdateChange handler: it applies every field of the
// request as one durable step and answers the subscription after it.
func (w *subscriptionRun) applyChange(ctx workflow.Context, req ChangeRequest) (ChangeResult, error) {
	if err := w.steps.Lock(ctx); err != nil {
		return ChangeResult{}, err
	}
	defer w.steps.Unlock()
	now := workflow.Now(ctx).UTC()
	// The state may have moved while this update waited for the lock.
	if err := w.validateChange(now, req); err != nil {
		return ChangeResult{}, err
	}
	if w.noOpChangesRecordNothing && w.changesNothing(req) {
		// A change just like it was applied while this one waited:
		// nothing to record, the subscription as it is.
		return ChangeResult{Subscription: w.sub, Lots: w.windowedLots()}, nil
	}
	s := &w.sub
	t := w.transition()
	changed := map[string]any{}
	notifyPublisher := false

	if n := req.Nickname; n != nil {
		if nickname, _ := fields.Nickname(*n); nickname != s.Nickname {
			s.Nickname = nickname
			changed["nickname"] = s.Nickname
		}
	}
	if r := req.ResellerPartnerID; r != nil && *r != s.ResellerPartnerID {
		s.ResellerPartnerID = *r
		changed["resellerPartnerId"] = *r
	}
	if a := req.AutoRenew; a != nil && *a != s.AutoRenew {
		s.AutoRenew = *a
		changed["autoRenew"] = *a
	}
	if f := req.BillingFrequency; f != nil {
		frequency, next := frequenciesAfter(*s, *f)
		if frequency != s.BillingFrequency {
			s.BillingFrequency = frequency
			changed["billingFrequency"] = frequency
		}
		if next != s.NextBillingFrequency {
			s.NextBillingFrequency = next
			changed["nextBillingFrequency"] = next
		}
	}
	if q := req.Quantity; q != nil && *q != s.Quantity {
		if err := w.changeQuantity(&t, *q, now); err != nil {
			return ChangeResult{}, err
		}
		changed["quantity"] = *q
		notifyPublisher = true
	}
	if len(changed) > 0 {
		t.Events = append(t.Events, activities.AuditEvent{Kind: KindChanged, Actor: req.Actor, At: now, Detail: changed})
	}
	pending := false
	if req.Cancel {
		if w.plan.CancellationRequiresPublisher {
			w.pendingCancellation = &PendingCancellation{
				RequestedAt: now, Deadline: now.Add(w.settings.CancellationApprovalTimeout), PreviousStatus: s.Status, Actor: req.Actor,
			}
			s.Status = subscription.StatusPendingCancellation
			pending = true
			t.Events = append(t.Events, activities.AuditEvent{Kind: KindCancellationRequested, Actor: req.Actor, At: now, Detail: map[string]any{
				"previousStatus": string(w.pendingCancellation.PreviousStatus), "deadline": w.pendingCancellation.Deadline,
			}})
			t.Notifications = append(t.Notifications, w.toPublisher(NotifyCancellationRequested))
		} else {
			credited, err := w.cancel(&t, now, "cancelled inside the cancellation window")
			if err != nil {
				return ChangeResult{}, err
			}
			t.Events = append(t.Events, activities.AuditEvent{Kind: KindCancelled, Actor: req.Actor, At: now, Detail: map[string]any{
				"refunded": credited, "currency": s.Currency,
			}})
		}
	}
	if len(changed) > 0 {
		t.Notifications = append(t.Notifications, w.toPartner(NotifyChanged))
		if notifyPublisher && !s.Status.Terminal() {
			t.Notifications = append(t.Notifications, w.toPublisher(NotifyChanged))
		}
	}
	if err := w.commitUpdate(ctx, t); err != nil {
		return ChangeResult{}, err
	}
	w.wake.SendAsync(true)
	return ChangeResult{Subscription: w.sub, Pending: pending, Lots: w.windowedLots()}, nil
}

// frequenciesAfter is the billing frequency and the next one a
// subscription has once asked to be billed at f: before billing starts
// the first term takes it; after, a term's installments are set at its
// start, and f applies from the next renewal (or cancels a pending change
// back to the current frequency).
func frequenciesAfter(s subscription.Subscription, f string) (frequency, next string) {
	switch {
	case s.Status == subscription.StatusPendingFulfillment || s.Status == subscription.StatusProvisioned:
		return f, s.NextBillingFrequency
	case f == s.BillingFrequency:
		return s.BillingFrequency, ""
	}
	return s.BillingFrequency, f
}

// changesNothing says whether the request leaves the subscription as it
// is: every field it sets already has that value (a nickname compared as
// stored, trimmed and in NFC). Such a change records nothing: no version,
// no audit line, no notification (issue 25: it moved the ETag, so other
// clients' If-Match went stale for nothing).
func (w *subscriptionRun) changesNothing(req ChangeRequest) bool {
	s := w.sub
	if req.Cancel {
		return false
	}
	if n := req.Nickname; n != nil {
		if nickname, _ := fields.Nickname(*n); nickname != s.Nickname {
			return false
		}
	}
	if f := req.BillingFrequency; f != nil {
		if frequency, next := frequenciesAfter(s, *f); frequency != s.BillingFrequency || next != s.NextBillingFrequency {
			return false
		}
	}
	return (req.Quantity == nil || *req.Quantity == s.Quantity) &&
		(req.AutoRenew == nil || *req.AutoRenew == s.AutoRenew) &&
		(req.ResellerPartnerID == nil || *req.ResellerPartnerID == s.ResellerPartnerID)
}

// nothingToChange is the validator's refusal of a change that changes
// nothing: the API answers it with the subscription as it is.
func (w *subscriptionRun) nothingToChange() error {
	return temporal.NewApplicationError("the subscription already has these values", ErrNothingToChange,
		ChangeResult{Subscription: w.sub, Lots: w.windowedLots()})
}

// removable says whether the newest n licences can be removed now: each
// batch inside its own window (runs recorded before batches had windows:
// inside the subscription's window).
func (w *subscriptionRun) removable(now time.Time, n int, inWindow bool) error {
	if !w.lotWindows {
		if !inWindow {
			return stateError(ErrWindowClosed, "licences can be removed only inside the cancellation window, which closed at %s; they can be added at any time", w.sub.CancellationWindowEndsAt.Format(time.RFC3339))
		}
		return nil
	}
	if r := w.windowedLots().RefundableAt(now); n > r.Total {
		return stateError(ErrWindowClosed, "only %d licences are still inside their cancellation window (each batch has its own, from when it was added; see refundableQuantity): %d cannot be removed; licences can be added at any time", r.Total, n)
	}
	return nil
}

// changeQuantity sets the quantity. While billing runs, added licences are
// charged for what remains of the current installment period, and removed
// ones (inside their windows only) are credited for what this term charged
// for them; the amounts are billing's.
func (w *subscriptionRun) changeQuantity(t *activities.Transition, q int, now time.Time) error {
	s := &w.sub
	delta := q - s.Quantity
	lots := w.currentLots()
	if w.lotWindows {
		lots = w.windowedLots()
	}
	s.Quantity = q
	billed := s.Status == subscription.StatusActive && w.nextInstallment > 0
	var addedUntil time.Time
	if w.lotWindows {
		var err error
		if addedUntil, err = w.windowEnd(now); err != nil {
			return err
		}
		if !billed {
			// Nothing charged yet: the batches still keep their windows.
			if delta > 0 {
				w.lots = lots.Add(delta, 0, addedUntil, time.Time{})
			} else {
				w.lots, _ = lots.Remove(-delta)
			}
			return nil
		}
	}
	if !billed {
		return nil
	}
	sched, err := w.schedule()
	if err != nil {
		return err
	}
	if delta > 0 {
		c := sched.LicencesAdded(*s, w.termNumber, *s.TermStart, *s.TermEnd, w.nextInstallment-1, delta, now)
		if w.exactLines {
			c = sched.LicencesAddedPerLicence(*s, w.termNumber, *s.TermStart, *s.TermEnd, w.nextInstallment-1, delta, now)
		}
		w.lots = lots.Add(delta, c.Amount, addedUntil, now)
		if c.Amount > 0 {
			w.addCharge(t, c)
		}
		return nil
	}
	if w.exactLines {
		// One credit per batch taken, at what it was charged per licence.
		var taken billing.Lots
		w.lots, taken = lots.Take(-delta)
		for _, c := range sched.RemovalCredits(*s, w.termNumber, *s.TermStart, taken, w.chargedUntil(sched), now) {
			w.addCharge(t, c)
		}
		return nil
	}
	var credit int64
	w.lots, credit = lots.Remove(-delta)
	if credit > 0 {
		w.addCharge(t, sched.LicencesRemoved(*s, w.termNumber, *s.TermStart, *s.TermEnd, -delta, credit, now))
	}
	return nil
}

// invalidPurchase checks a purchase's input with the API's field rules,
// since a workflow start has no validator of its own.
func invalidPurchase(in PurchaseInput) error {
	s, plan := in.Subscription, in.Plan
	for _, id := range []struct{ field, value string }{
		{"id", s.ID}, {"customerId", s.CustomerID}, {"partnerId", s.PartnerID}, {"offerId", s.OfferID},
		{"planId", s.PlanID}, {"publisherId", s.PublisherID},
	} {
		if e := fields.Identifier(id.field, id.value); e != nil {
			return refusedField(e)
		}
	}
	if nickname, e := fields.Nickname(s.Nickname); e != nil {
		return refusedField(e)
	} else if nickname != norm.NFC.String(s.Nickname) {
		// Compared in NFC: purchases recorded before nicknames were
		// stored in NFC must replay as they ran.
		return validationError("nickname", "must be trimmed")
	}
	if e := fields.ResellerPartnerID(s.ResellerPartnerID); e != nil {
		return refusedField(e)
	}
	if e := fields.Quantity(s.Quantity, plan.MinQuantity, plan.MaxQuantity, plan.ID); e != nil {
		return refusedField(e)
	}
	if !plan.OffersBillingFrequency(s.BillingFrequency) {
		return validationError("billingFrequency", "plan %s is not billed %q", plan.ID, s.BillingFrequency)
	}
	// A plan whose periods do not parse would fail the run at its first
	// term (bad_plan): refused before anything is recorded.
	for _, p := range []struct{ field, value string }{{"plan.termDuration", plan.TermDuration}, {"plan.cancellationWindow", plan.CancellationWindow}} {
		if _, err := period.Parse(p.value); err != nil {
			return validationError(p.field, "%q is not an ISO-8601 duration", p.value)
		}
	}
	if in.IdempotencyKey != "" {
		if e := fields.Token("Idempotency-Key", in.IdempotencyKey, fields.IdempotencyKeyMax); e != nil {
			return refusedField(e)
		}
	}
	return nil
}
