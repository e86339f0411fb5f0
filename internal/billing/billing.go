// Package billing holds the pure arithmetic of charges: how a term price is
// split into billing periods so that the installments add up to the cent.
// It has no I/O, so the workflow can call it deterministically.
package billing

import (
	"fmt"
	"time"

	"github.com/cspmarket/orchestrator/internal/period"
	"github.com/cspmarket/orchestrator/internal/subscription"
)

// Installments is how many charges one term is split into at frequency f:
// twelve for a yearly term billed monthly, one when the billing period is as
// long as the term or longer, or when the term is not whole months (demo
// plans with minute-long terms).
func Installments(term period.Period, frequency string) int {
	months := term.TotalMonths()
	if months == 0 {
		return 1
	}
	switch frequency {
	case subscription.BillingMonthly:
		return months
	case subscription.BillingAnnual:
		if months > 12 {
			return months / 12
		}
	}
	return 1
}

// InstallmentAmount is the amount of installment i (0-based) of n for a term
// total: the remainder of the division goes on the first installment, so the
// n amounts always sum to total exactly.
func InstallmentAmount(total int64, n, i int) int64 {
	if n <= 1 {
		return total
	}
	share := total / int64(n)
	if i == 0 {
		return share + total%int64(n)
	}
	return share
}

// InstallmentPeriod is the time range installment i of n covers within a term.
func InstallmentPeriod(termStart, termEnd time.Time, term period.Period, n, i int) (start, end time.Time) {
	if n <= 1 {
		return termStart, termEnd
	}
	step := term.TotalMonths() / n
	start = termStart.AddDate(0, step*i, 0)
	end = termStart.AddDate(0, step*(i+1), 0)
	if i == n-1 {
		end = termEnd
	}
	return start, end
}

// Charge is one line of the charge ledger. Key makes recording it
// idempotent: a retried activity writes the same key and changes nothing.
type Charge struct {
	Key            string    `json:"key"`
	SubscriptionID string    `json:"subscriptionId"`
	PartnerID      string    `json:"partnerId"`
	Kind           string    `json:"kind"` // ChargeKind or CreditKind
	Amount         int64     `json:"amount"`
	Currency       string    `json:"currency"`
	Quantity       int       `json:"quantity"`
	PeriodStart    time.Time `json:"periodStart"`
	PeriodEnd      time.Time `json:"periodEnd"`
	Description    string    `json:"description"`
}

// Kinds of ledger lines.
const (
	ChargeKind = "charge"
	CreditKind = "credit"
)

// TermCharge is installment i of the term that starts at termStart, for
// quantity licences at unitPrice each per term.
func TermCharge(sub subscription.Subscription, plan subscription.Plan, termNumber int, termStart, termEnd time.Time, i int) (Charge, error) {
	term, err := period.Parse(plan.TermDuration)
	if err != nil {
		return Charge{}, err
	}
	n := Installments(term, sub.BillingFrequency)
	total := plan.UnitPrice * int64(sub.Quantity)
	start, end := InstallmentPeriod(termStart, termEnd, term, n, i)
	return Charge{
		Key:            fmt.Sprintf("%s/term-%d/installment-%d", sub.ID, termNumber, i),
		SubscriptionID: sub.ID,
		PartnerID:      sub.PartnerID,
		Kind:           ChargeKind,
		Amount:         InstallmentAmount(total, n, i),
		Currency:       plan.Currency,
		Quantity:       sub.Quantity,
		PeriodStart:    start,
		PeriodEnd:      end,
		Description:    fmt.Sprintf("%s %s x%d, term %d, installment %d of %d", sub.OfferID, sub.PlanID, sub.Quantity, termNumber, i+1, n),
	}, nil
}
