package lifecycle

import (
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
)

// startTerm begins term number n at start: term dates, installment 0
// charged unless billing is paused, and at a renewal a new cancellation
// window (the first term keeps the one opened at purchase). The term's
// lines are exact when the rules say so now.
func (st *Step) startTerm(n int, start time.Time, rules Rules) error {
	s := &st.State
	sched, err := s.schedule()
	if err != nil {
		return err
	}
	end := sched.Term.AddTo(start)
	if n > 1 {
		windowEnd, err := s.windowEnd(start)
		if err != nil {
			return err
		}
		s.Subscription.CancellationWindowEndsAt = &windowEnd
	}
	s.TermNumber, s.TermCharges, s.NextInstallment, s.RenewalNoticeSent = n, nil, 0, false
	s.ExactLines = rules.ExactLines
	switch {
	case n == 1 && rules.LotWindows:
		// The batches bought before activation keep their windows; the
		// ISV may have confirmed more licences (a batch added now) or fewer.
		addedUntil, err := s.windowEnd(start)
		if err != nil {
			return err
		}
		s.Lots = s.WindowedLots().Resize(s.Subscription.Quantity, addedUntil)
	case rules.LotWindows:
		s.Lots = billing.StartTerm(s.Subscription.Quantity, *s.Subscription.CancellationWindowEndsAt)
	default:
		s.Lots = billing.StartTerm(s.Subscription.Quantity, time.Time{})
	}
	s.Subscription.TermStart, s.Subscription.TermEnd = &start, &end
	st.chargeInstallment(sched, start)
	return nil
}

// chargeInstallment charges the next installment of the term, or records
// that it was skipped while billing is paused (suspended).
func (st *Step) chargeInstallment(sched billing.Schedule, at time.Time) {
	s := &st.State
	i := s.NextInstallment
	s.NextInstallment++
	if s.Subscription.Status != StatusActive {
		st.event(KindInstallmentSkipped, ActorSystem, at, map[string]any{
			"term": s.TermNumber, "installment": i, "reason": "billing is paused while " + string(s.Subscription.Status),
		})
		return
	}
	c := sched.InstallmentCharge(s.subject(), s.TermNumber, *s.Subscription.TermStart, *s.Subscription.TermEnd, i)
	c.PostedAt = at
	s.Lots = s.currentLots().ChargeInstallment(sched.PerLicence(i), c.PeriodStart)
	st.charge(c)
	st.event(KindInstallmentCharged, ActorSystem, at, map[string]any{
		"chargeKey": c.Key, "amount": c.Amount, "currency": c.Currency, "term": s.TermNumber, "installment": i,
		"quantity": c.Quantity, "unitPrice": c.UnitPrice,
	})
}

// cancel ends the subscription with what the current term nets to
// credited back; it returns the amount credited.
func (st *Step) cancel(now time.Time, reason string) (int64, error) {
	credited, err := st.refundTerm(reason, now)
	if err != nil {
		return 0, err
	}
	s := &st.State
	s.Subscription.Status = StatusCancelled
	s.Subscription.ActionNeeded = false
	var id string
	if pc := s.PendingCancellation; pc != nil {
		id = pc.OperationID
	}
	s.PendingCancellation = nil
	st.toPartner(NotifyCancelled)
	st.dropPendingChange(now)
	op := st.recordOperation(ActionUnsubscribe, SourceMarketplace, id, now)
	st.notifyOperation(NotifyCancelled, RecipientPublisher, s.Subscription.PublisherID, op)
	return credited, nil
}

// refundTerm credits what the current term's lines net to: every batch
// still held, what it was charged, in a term of exact lines; each charge,
// oldest first, in a term of before (billing.Refund).
func (st *Step) refundTerm(reason string, at time.Time) (int64, error) {
	s := &st.State
	credits := billing.Refund(s.TermCharges, reason, at)
	if s.ExactLines {
		credits = nil
		if s.NextInstallment > 0 {
			sched, err := s.schedule()
			if err != nil {
				return 0, err
			}
			credits = sched.RefundCredits(s.subject(), s.TermNumber, *s.Subscription.TermStart, s.currentLots(), s.chargedUntil(sched), at, reason)
		}
	}
	var credited int64
	for _, c := range credits {
		credited = billing.Add(credited, c.Amount)
		st.charge(c)
	}
	return credited, nil
}

// changeQuantity sets the quantity. While billing runs, added licences are
// charged for what remains of the current installment period, and removed
// ones (inside their windows only) are credited what this term charged for
// them; the amounts are billing's.
func (st *Step) changeQuantity(q int, now time.Time, rules Rules) error {
	s := &st.State
	sub := &s.Subscription
	delta := q - sub.Quantity
	lots := s.currentLots()
	if rules.LotWindows {
		lots = s.WindowedLots()
	}
	sub.Quantity = q
	billed := sub.Status == StatusActive && s.NextInstallment > 0
	var addedUntil time.Time
	if rules.LotWindows {
		var err error
		if addedUntil, err = s.windowEnd(now); err != nil {
			return err
		}
		if !billed {
			// Nothing charged yet: the batches still keep their windows.
			if delta > 0 {
				s.Lots = lots.Add(delta, 0, addedUntil, time.Time{})
			} else {
				s.Lots, _ = lots.Remove(-delta)
			}
			return nil
		}
	}
	if !billed {
		return nil
	}
	sched, err := s.schedule()
	if err != nil {
		return err
	}
	if delta > 0 {
		c := sched.LicencesAdded(s.subject(), s.TermNumber, *sub.TermStart, *sub.TermEnd, s.NextInstallment-1, delta, now)
		if s.ExactLines {
			c = sched.LicencesAddedPerLicence(s.subject(), s.TermNumber, *sub.TermStart, *sub.TermEnd, s.NextInstallment-1, delta, now)
		}
		s.Lots = lots.Add(delta, c.Amount, addedUntil, now)
		if c.Amount > 0 {
			st.charge(c)
		}
		return nil
	}
	if s.ExactLines {
		// One credit per batch taken, at what it was charged per licence.
		var taken billing.Lots
		s.Lots, taken = lots.Take(-delta)
		for _, c := range sched.RemovalCredits(s.subject(), s.TermNumber, *sub.TermStart, taken, s.chargedUntil(sched), now) {
			st.charge(c)
		}
		return nil
	}
	var credit int64
	s.Lots, credit = lots.Remove(-delta)
	if credit > 0 {
		st.charge(sched.LicencesRemoved(s.subject(), s.TermNumber, *sub.TermStart, *sub.TermEnd, -delta, credit, now))
	}
	return nil
}
