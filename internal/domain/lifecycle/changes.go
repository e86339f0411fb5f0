package lifecycle

import (
	"cmp"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/fields"
)

// CheckChange decides, without changing anything, whether the
// subscription can take the whole change at now: nil, or the Refusal.
func CheckChange(s State, c Change, now time.Time, rules Rules) error {
	sub := s.Subscription
	if c.Empty() {
		return refuseField("", "the request changes nothing")
	}
	if c.IfVersion != 0 && c.IfVersion != sub.Version {
		return refuse(RefusedStale, "the subscription is at version %d, not %d", sub.Version, c.IfVersion)
	}
	if !s.Recorded || sub.Status.Terminal() {
		return refuse(RefusedState, "a %s subscription cannot be changed", sub.Status)
	}
	if err := checkPlanOrQuantityOperation(s, c, rules); err != nil {
		return err
	}
	if n := c.Nickname; n != nil {
		if _, e := fields.Nickname(*n); e != nil {
			return fieldRefusal(e)
		}
	}
	if r := c.ResellerPartnerID; r != nil {
		if e := fields.ResellerPartnerID(*r); e != nil {
			return fieldRefusal(e)
		}
	}
	if f := c.BillingFrequency; f != nil {
		if !s.Plan.OffersBillingFrequency(*f) {
			return refuseField("billingFrequency", "plan %s is billed %s", s.Plan.ID, strings.Join(s.Plan.BillingFrequencies, " or "))
		}
		if sub.Status == StatusPendingCancellation {
			return refuse(RefusedState, "the billing frequency cannot change while a cancellation waits for the publisher")
		}
	}
	inWindow := s.inWindow(now)
	if q := c.Quantity; q != nil && *q != sub.Quantity {
		if e := fields.Quantity(*q, s.Plan.MinQuantity, s.Plan.MaxQuantity, s.Plan.ID); e != nil {
			return fieldRefusal(e)
		}
		if !sub.Status.QuantityCanChange() {
			return refuse(RefusedState, "the quantity of a %s subscription cannot change", sub.Status)
		}
		if *q < sub.Quantity {
			if err := removable(s, now, sub.Quantity-*q, inWindow, rules); err != nil {
				return err
			}
		}
	}
	if c.Cancel {
		switch sub.Status {
		case StatusPendingFulfillment, StatusProvisioned, StatusActive, StatusSuspended:
		case StatusPendingCancellation:
			return refuse(RefusedState, "a cancellation already waits for the publisher")
		default:
			return refuse(RefusedState, "a %s subscription cannot be cancelled", sub.Status)
		}
		if !inWindow {
			return refuse(RefusedWindowClosed, "the cancellation window closed at %s; turn auto-renew off to end the subscription at the end of its term", sub.CancellationWindowEndsAt.Format(time.RFC3339))
		}
	}
	return nil
}

// removable says whether the newest n licences can be removed now: each
// batch inside its own window (rules without LotWindows: inside the
// subscription's window).
func removable(s State, now time.Time, n int, inWindow bool, rules Rules) error {
	if !rules.LotWindows {
		if !inWindow {
			return refuse(RefusedWindowClosed, "licences can be removed only inside the cancellation window, which closed at %s; they can be added at any time", s.Subscription.CancellationWindowEndsAt.Format(time.RFC3339))
		}
		return nil
	}
	if r := s.WindowedLots().RefundableAt(now); n > r.Total {
		return refuse(RefusedWindowClosed, "only %d licences are still inside their cancellation window (each batch has its own, from when it was added; see refundableQuantity): %d cannot be removed; licences can be added at any time", r.Total, n)
	}
	return nil
}

// frequenciesAfter is the billing frequency and the next one a
// subscription has once asked to be billed at f: before billing starts
// the first term takes it; after, a term's installments are set at its
// start, and f applies from the next renewal (or cancels a pending change
// back to the current frequency).
func frequenciesAfter(sub Subscription, f string) (frequency, next string) {
	switch {
	case sub.Status.AwaitsPublisher():
		return f, sub.NextBillingFrequency
	case f == sub.BillingFrequency:
		return sub.BillingFrequency, ""
	}
	return sub.BillingFrequency, f
}

// ChangesNothing says whether the change leaves the subscription as it
// is: every field it sets already has that value (a nickname compared as
// stored, trimmed and in NFC). Such a change records nothing: no version,
// no audit line, no notification.
func ChangesNothing(s State, c Change) bool {
	sub := s.Subscription
	if c.Cancel {
		return false
	}
	if n := c.Nickname; n != nil {
		if nickname, _ := fields.Nickname(*n); nickname != sub.Nickname {
			return false
		}
	}
	if f := c.BillingFrequency; f != nil {
		if frequency, next := frequenciesAfter(sub, *f); frequency != sub.BillingFrequency || next != sub.NextBillingFrequency {
			return false
		}
	}
	return (c.Quantity == nil || *c.Quantity == sub.Quantity) && (c.PlanID == nil || *c.PlanID == sub.PlanID) &&
		(c.AutoRenew == nil || *c.AutoRenew == sub.AutoRenew) &&
		(c.ResellerPartnerID == nil || *c.ResellerPartnerID == sub.ResellerPartnerID)
}

// ApplyChange applies every field of the change as one step at now, or
// refuses it whole (CheckChange: the state may have moved since the
// change was first checked). A cancellation inside the window refunds the
// term, or waits for the ISV when the plan says so (Step.Pending).
func ApplyChange(s State, c Change, now time.Time, rules Rules) (Step, error) {
	if err := CheckChange(s, c, now, rules); err != nil {
		return Step{}, err
	}
	if rules.NoOpChangesRecordNothing && ChangesNothing(s, c) {
		// A change just like it was applied while this one waited.
		return Step{State: s, Nothing: true}, nil
	}
	st := next(s)
	if waitsForPublisher(s, c) {
		if err := st.requestChange(c, now); err != nil {
			return Step{}, err
		}
		return st, nil
	}
	sub := &st.State.Subscription
	changed := map[string]any{}
	notifyPublisher := false
	var op Operation
	if n := c.Nickname; n != nil {
		if nickname, _ := fields.Nickname(*n); nickname != sub.Nickname {
			sub.Nickname = nickname
			changed["nickname"] = nickname
		}
	}
	if r := c.ResellerPartnerID; r != nil && *r != sub.ResellerPartnerID {
		sub.ResellerPartnerID = *r
		changed["resellerPartnerId"] = *r
	}
	if a := c.AutoRenew; a != nil && *a != sub.AutoRenew {
		sub.AutoRenew = *a
		changed["autoRenew"] = *a
	}
	if f := c.BillingFrequency; f != nil {
		frequency, next := frequenciesAfter(*sub, *f)
		if frequency != sub.BillingFrequency {
			sub.BillingFrequency = frequency
			changed["billingFrequency"] = frequency
		}
		if next != sub.NextBillingFrequency {
			sub.NextBillingFrequency = next
			changed["nextBillingFrequency"] = next
		}
	}
	if c.changesPlan(s) {
		// The publisher's own change (a partner's waits, above).
		if err := st.changePlan(*c.Plan, now, changed); err != nil {
			return Step{}, err
		}
		op = st.recordOperation(ActionChangePlan, c.Source, c.OperationID, now)
	}
	if q := c.Quantity; q != nil && *q != sub.Quantity {
		if err := st.changeQuantity(*q, now, rules); err != nil {
			return Step{}, err
		}
		changed["quantity"] = *q
		op = st.recordOperation(ActionChangeQuantity, cmp.Or(c.Source, SourceMarketplace), c.OperationID, now)
		notifyPublisher = c.Source != SourcePublisher
	}
	if len(changed) > 0 {
		st.event(KindChanged, c.Actor, now, changed)
	}
	if c.Cancel {
		if st.State.Plan.CancellationRequiresPublisher {
			pc := &PendingCancellation{
				RequestedAt: now, Deadline: now.Add(st.State.Settings.CancellationApprovalTimeout), PreviousStatus: sub.Status, Actor: c.Actor,
			}
			st.State.PendingCancellation = pc
			sub.Status = StatusPendingCancellation
			st.Pending = true
			unsubscribe := st.recordOperation(ActionUnsubscribe, SourceMarketplace, c.OperationID, now)
			unsubscribe.Status = OperationInProgress
			st.Operations[len(st.Operations)-1] = unsubscribe
			pc.OperationID = unsubscribe.ID
			st.event(KindCancellationRequested, c.Actor, now, map[string]any{"previousStatus": string(pc.PreviousStatus), "deadline": pc.Deadline})
			st.notifyOperation(NotifyCancellationRequested, RecipientPublisher, sub.PublisherID, unsubscribe)
			st.dropPendingChange(now)
		} else {
			credited, err := st.cancel(now, "cancelled inside the cancellation window")
			if err != nil {
				return Step{}, err
			}
			st.event(KindCancelled, c.Actor, now, map[string]any{"refunded": credited, "currency": sub.Currency})
		}
	}
	if len(changed) > 0 {
		st.toPartner(NotifyChanged)
		if notifyPublisher && !sub.Status.Terminal() {
			st.notifyOperation(NotifyChanged, RecipientPublisher, sub.PublisherID, op)
		}
	}
	if err := st.meter(s.Subscription.Status, now, rules); err != nil {
		return Step{}, err
	}
	return st, nil
}
