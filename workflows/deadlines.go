package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/domain/subscription"
)

// nextDeadline is the earliest moment the workflow must act on its own:
// the activation deadline, the end of a cancellation's wait for the ISV,
// the next installment, the renewal notice or the end of the term.
func (w *subscriptionRun) nextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	s := w.sub
	switch s.Status {
	case subscription.StatusPendingFulfillment, subscription.StatusProvisioned:
		consider(s.PurchasedAt.Add(w.settings.ActivationDeadline))
	case subscription.StatusPendingCancellation:
		// The term does not end under a pending cancellation: it resolves
		// first (approval, rejection or lapse), then any due term end runs.
		consider(w.pendingCancellation.Deadline)
	case subscription.StatusActive, subscription.StatusSuspended:
		if at, ok := w.nextInstallmentAt(); ok {
			consider(at)
		}
		if !w.renewalNoticeSent {
			consider(w.renewalNoticeAt())
		}
		consider(*s.TermEnd)
	}
	return next, !next.IsZero()
}

func (w *subscriptionRun) nextInstallmentAt() (time.Time, bool) {
	sched, err := w.schedule()
	if err != nil || w.nextInstallment >= sched.Installments {
		return time.Time{}, false
	}
	start, _ := sched.Period(*w.sub.TermStart, *w.sub.TermEnd, w.nextInstallment)
	return start, true
}

// renewalNoticeAt is RenewalNotice before the term ends, or half-way
// through a term shorter than twice the notice (the demo plan's minutes).
func (w *subscriptionRun) renewalNoticeAt() time.Time {
	start, end := *w.sub.TermStart, *w.sub.TermEnd
	if end.Sub(start) <= 2*w.settings.RenewalNotice {
		return start.Add(end.Sub(start) / 2)
	}
	return end.Add(-w.settings.RenewalNotice)
}

// onDeadlines runs every deadline that has come, one durable step each,
// earliest first.
func (w *subscriptionRun) onDeadlines(ctx workflow.Context) error {
	for !w.sub.Status.Terminal() && !w.renewed {
		at, ok := w.nextDeadline()
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
	now := workflow.Now(ctx).UTC()
	s := &w.sub
	t := w.transition()
	switch {
	case s.Status == subscription.StatusPendingFulfillment || s.Status == subscription.StatusProvisioned:
		s.Status = subscription.StatusCancelled
		s.ActionNeeded = false
		t.Events = append(t.Events, activities.AuditEvent{Kind: KindActivationDeadline, Actor: actorSystem, At: now, Detail: map[string]any{
			"purchasedAt": s.PurchasedAt, "deadline": at, "charged": 0,
		}})
		t.Notifications = append(t.Notifications, w.toPartner(NotifyActivationDeadline), w.toPublisher(NotifyCancelled))

	case s.Status == subscription.StatusPendingCancellation:
		pc := w.pendingCancellation
		s.Status = pc.PreviousStatus
		w.pendingCancellation = nil
		t.Events = append(t.Events, activities.AuditEvent{Kind: KindCancellationLapsed, Actor: actorSystem, At: now, Detail: map[string]any{
			"requestedAt": pc.RequestedAt, "deadline": pc.Deadline, "status": string(s.Status),
		}})
		t.Notifications = append(t.Notifications, w.toPartner(NotifyCancellationLapsed))

	case !now.Before(*s.TermEnd):
		if err := w.endTerm(&t, now); err != nil {
			return err
		}

	default:
		if inst, ok := w.nextInstallmentAt(); ok && !now.Before(inst) {
			sched, err := w.schedule()
			if err != nil {
				return err
			}
			if err := w.chargeInstallment(&t, sched, now); err != nil {
				return err
			}
			break
		}
		w.renewalNoticeSent = true
		kind := NotifyExpiring
		if s.AutoRenew {
			kind = NotifyRenewalUpcoming
		}
		t.Events = append(t.Events, activities.AuditEvent{Kind: KindRenewalNotice, Actor: actorSystem, At: now, Detail: map[string]any{
			"termEnd": s.TermEnd, "autoRenew": s.AutoRenew,
		}})
		t.Notifications = append(t.Notifications, w.toPartner(kind))
	}
	return w.commit(ctx, t)
}

// endTerm renews the subscription for another term (auto-renew on) or lets
// it expire. A renewal asks the main loop to continue as new, so the
// history stays bounded however many terms a subscription lives.
func (w *subscriptionRun) endTerm(t *activities.Transition, now time.Time) error {
	s := &w.sub
	ended := *s.TermEnd
	if !s.AutoRenew {
		s.Status = subscription.StatusExpired
		t.Events = append(t.Events, activities.AuditEvent{Kind: KindExpired, Actor: actorSystem, At: now, Detail: map[string]any{"termEnd": ended}})
		t.Notifications = append(t.Notifications, w.toPartner(NotifyExpired), w.toPublisher(NotifyExpired))
		return nil
	}
	if s.NextBillingFrequency != "" {
		s.BillingFrequency, s.NextBillingFrequency = s.NextBillingFrequency, ""
	}
	// The new term starts when the old one ended, not when the timer
	// fired: terms stay contiguous even after a worker outage.
	if err := w.startTerm(t, w.termNumber+1, ended); err != nil {
		return err
	}
	detail := map[string]any{
		"term": w.termNumber, "termStart": s.TermStart, "termEnd": s.TermEnd, "cancellationWindowEndsAt": s.CancellationWindowEndsAt,
	}
	w.noteExactLines(detail)
	t.Events = append(t.Events, activities.AuditEvent{Kind: KindRenewed, Actor: actorSystem, At: now, Detail: detail})
	t.Notifications = append(t.Notifications, w.toPartner(NotifyRenewed), w.toPublisher(NotifyRenewed))
	w.renewed = true
	return nil
}
