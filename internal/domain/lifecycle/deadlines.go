package lifecycle

import (
	"time"
)

// NextDeadline is the earliest moment the subscription must act on its
// own: a close of its usage (UsageDue, before anything else due then), the
// activation deadline, the end of a cancellation's wait for the ISV, the
// next installment, the renewal notice or the end of the term.
func NextDeadline(s State) (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if m := s.Meter; m != nil && !m.DueAt.IsZero() {
		consider(m.DueAt) // UsageDue: the close comes first
	}
	sub := s.Subscription
	switch sub.Status {
	case StatusPendingFulfillment, StatusProvisioned:
		consider(sub.PurchasedAt.Add(s.Settings.ActivationDeadline))
	case StatusPendingCancellation:
		// The term does not end under a pending cancellation: it resolves
		// first (approval, rejection or lapse), then any due term end runs.
		consider(s.PendingCancellation.Deadline)
	case StatusActive, StatusSuspended:
		if at, ok := nextInstallmentAt(s); ok {
			consider(at)
		}
		if !s.RenewalNoticeSent {
			consider(renewalNoticeAt(s))
		}
		if pc := s.PendingChange; pc != nil {
			consider(pc.Deadline)
		}
		consider(*sub.TermEnd)
	}
	return next, !next.IsZero()
}

func nextInstallmentAt(s State) (time.Time, bool) {
	sched, err := s.schedule()
	if err != nil || s.NextInstallment >= sched.Installments {
		return time.Time{}, false
	}
	start, _ := sched.Period(*s.Subscription.TermStart, *s.Subscription.TermEnd, s.NextInstallment)
	return start, true
}

// renewalNoticeAt is RenewalNotice before the term ends, or half-way
// through a term shorter than twice the notice (the demo plan's minutes).
func renewalNoticeAt(s State) time.Time {
	start, end := *s.Subscription.TermStart, *s.Subscription.TermEnd
	if end.Sub(start) <= 2*s.Settings.RenewalNotice {
		return start.Add(end.Sub(start) / 2)
	}
	return end.Add(-s.Settings.RenewalNotice)
}

// PassDeadline is the step of the deadline due at at, taken at now: the
// activation deadline cancels free of charge, an unanswered cancellation
// lapses, the term ends (renews or expires), an installment is charged,
// or the partner is told the term ends. The caller takes the due
// deadlines one step each, earliest first (NextDeadline).
func PassDeadline(s State, at, now time.Time, rules Rules) (Step, error) {
	st := next(s)
	state := &st.State
	sub := &state.Subscription
	switch {
	case sub.Status.AwaitsPublisher():
		sub.Status = StatusCancelled
		sub.ActionNeeded = false
		st.event(KindActivationDeadline, ActorSystem, now, map[string]any{"purchasedAt": sub.PurchasedAt, "deadline": at, "charged": 0})
		st.toPartner(NotifyActivationDeadline)
		op := st.recordOperation(ActionUnsubscribe, SourceMarketplace, "", now)
		st.notifyOperation(NotifyCancelled, RecipientPublisher, sub.PublisherID, op)

	case sub.Status == StatusPendingCancellation:
		pc := *state.PendingCancellation
		st.failPendingCancellation("the publisher did not answer in time", now)
		st.event(KindCancellationLapsed, ActorSystem, now, map[string]any{"requestedAt": pc.RequestedAt, "deadline": pc.Deadline, "status": string(sub.Status)})
		st.toPartner(NotifyCancellationLapsed)

	// A change's answer due no later than the term's end lapses first; one
	// due after it waits into the next term (a renewal carries it).
	case state.PendingChange != nil && !now.Before(state.PendingChange.Deadline) && !state.PendingChange.Deadline.After(*sub.TermEnd):
		pc := state.PendingChange
		state.PendingChange = nil
		st.settle(pc.Operation, OperationFailed, "the publisher did not answer by "+pc.Deadline.Format(time.RFC3339), now, KindChangeLapsed, NotifyChangeRejected)

	case !now.Before(*sub.TermEnd):
		if err := st.endTerm(now, rules); err != nil {
			return Step{}, err
		}

	default:
		if inst, ok := nextInstallmentAt(*state); ok && !now.Before(inst) {
			sched, err := state.schedule()
			if err != nil {
				return Step{}, err
			}
			st.chargeInstallment(sched, now)
			break
		}
		state.RenewalNoticeSent = true
		kind := NotifyExpiring
		if sub.AutoRenew {
			kind = NotifyRenewalUpcoming
		}
		st.event(KindRenewalNotice, ActorSystem, now, map[string]any{"termEnd": sub.TermEnd, "autoRenew": sub.AutoRenew})
		st.toPartner(kind)
	}
	if err := st.meter(s.Subscription.Status, now, rules); err != nil {
		return Step{}, err
	}
	return st, nil
}

// endTerm renews the subscription for another term (auto-renew on) or lets
// it expire.
func (st *Step) endTerm(now time.Time, rules Rules) error {
	sub := &st.State.Subscription
	ended := *sub.TermEnd
	if !sub.AutoRenew {
		sub.Status = StatusExpired
		st.event(KindExpired, ActorSystem, now, map[string]any{"termEnd": ended})
		st.toPartner(NotifyExpired)
		st.dropPendingChange(now)
		op := st.recordOperation(ActionUnsubscribe, SourceMarketplace, "", now)
		st.notifyOperation(NotifyExpired, RecipientPublisher, sub.PublisherID, op)
		return nil
	}
	if sub.NextBillingFrequency != "" {
		sub.BillingFrequency, sub.NextBillingFrequency = sub.NextBillingFrequency, ""
	}
	// The new term starts when the old one ended, not when the timer
	// fired: terms stay contiguous even after a worker outage.
	if err := st.startTerm(st.State.TermNumber+1, ended, rules); err != nil {
		return err
	}
	detail := map[string]any{
		"term": st.State.TermNumber, "termStart": sub.TermStart, "termEnd": sub.TermEnd, "cancellationWindowEndsAt": sub.CancellationWindowEndsAt,
	}
	st.noteExactLines(detail)
	st.event(KindRenewed, ActorSystem, now, detail)
	st.toPartner(NotifyRenewed)
	op := st.recordOperation(ActionRenew, SourceMarketplace, "", now)
	st.notifyOperation(NotifyRenewed, RecipientPublisher, sub.PublisherID, op)
	st.Renewed = true
	return nil
}
