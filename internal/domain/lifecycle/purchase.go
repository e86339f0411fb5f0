package lifecycle

import (
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/period"
)

// CheckPurchase refuses a purchase that breaks a field rule or whose plan
// cannot bill it. The API checks each field as it reads the request; the
// workflow checks the whole purchase again, since a workflow start has no
// validator of its own.
func CheckPurchase(sub Subscription, plan Plan, idempotencyKey string) error {
	for _, id := range []struct{ field, value string }{
		{"id", sub.ID}, {"customerId", sub.CustomerID}, {"partnerId", sub.PartnerID}, {"offerId", sub.OfferID},
		{"planId", sub.PlanID}, {"publisherId", sub.PublisherID},
	} {
		if e := fields.Identifier(id.field, id.value); e != nil {
			return fieldRefusal(e)
		}
	}
	if nickname, e := fields.Nickname(sub.Nickname); e != nil {
		return fieldRefusal(e)
	} else if nickname != norm.NFC.String(sub.Nickname) {
		// Compared in NFC: purchases recorded before nicknames were
		// stored in NFC must replay as they ran.
		return refuseField("nickname", "must be trimmed")
	}
	if e := fields.ResellerPartnerID(sub.ResellerPartnerID); e != nil {
		return fieldRefusal(e)
	}
	if e := fields.Quantity(sub.Quantity, plan.MinQuantity, plan.MaxQuantity, plan.ID); e != nil {
		return fieldRefusal(e)
	}
	if !plan.OffersBillingFrequency(sub.BillingFrequency) {
		return refuseField("billingFrequency", "plan %s is not billed %q", plan.ID, sub.BillingFrequency)
	}
	// A plan whose periods do not parse would fail the run at its first
	// term: refused before anything is recorded.
	for _, p := range []struct{ field, value string }{{"plan.termDuration", plan.TermDuration}, {"plan.cancellationWindow", plan.CancellationWindow}} {
		if _, err := period.Parse(p.value); err != nil {
			return refuseField(p.field, "%q is not an ISO-8601 duration", p.value)
		}
	}
	if idempotencyKey != "" {
		if e := fields.Token("Idempotency-Key", idempotencyKey, fields.IdempotencyKeyMax); e != nil {
			return fieldRefusal(e)
		}
	}
	return nil
}

// fieldRefusal is a field rule's refusal.
func fieldRefusal(e *fields.Error) *Refusal { return refuseField(e.Field, "%s", e.Message) }

// Purchase records a purchase made by actor: it waits for its ISV (action
// needed), its cancellation window opens at its purchase, and the ISV and
// the partner are told.
func Purchase(s State, actor string, now time.Time, rules Rules) (Step, error) {
	sub := &s.Subscription
	sub.Status = StatusPendingFulfillment
	sub.ActionNeeded = true
	sub.TermDuration, sub.UnitPrice, sub.Currency = s.Plan.TermDuration, s.Plan.UnitPrice, s.Plan.Currency
	if sub.PurchasedAt.IsZero() {
		sub.PurchasedAt = now
	}
	windowEnd, err := s.windowEnd(sub.PurchasedAt)
	if err != nil {
		return Step{}, err
	}
	sub.CancellationWindowEndsAt = &windowEnd
	if rules.LotWindows {
		s.Lots = billing.StartTerm(sub.Quantity, windowEnd)
	}
	st := next(s)
	sub = &st.State.Subscription
	st.event(KindPurchased, actor, now, map[string]any{
		"offerId": sub.OfferID, "planId": sub.PlanID, "quantity": sub.Quantity, "billingFrequency": sub.BillingFrequency,
	})
	st.toPublisher(NotifyPurchased)
	st.toPartner(NotifyActionNeeded)
	return st, nil
}
