// Package billing holds the pure arithmetic of charges: how a term price is
// split into billing periods so that the installments add up to the cent.
// It has no I/O, so the workflow can call it deterministically.
package billing

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/period"
)

// Billing frequencies a plan may offer.
const (
	Monthly = "monthly"
	Annual  = "annual"
)

// Subject is what a ledger line names: the subscription, its partner,
// offer and plan, its licences, and the step (version) that makes the
// line, whose key it takes.
type Subject struct {
	SubscriptionID, PartnerID, OfferID, PlanID string
	Quantity                                   int
	Version                                    int64
}

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
	case Monthly:
		return months
	case Annual:
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
	// Reason says why money moved (Reason* constants); lines recorded
	// before it existed get ReasonOf(Key).
	Reason string `json:"reason,omitempty"`
	// UnitPrice is one licence's undiscounted price for the line's period:
	// an installment is Quantity x UnitPrice exactly, an increase that
	// price prorated, a credit what the removed licences were charged.
	UnitPrice int64 `json:"unitPrice,omitempty"`
	// PostedAt is when the workflow step that made the line happened
	// (workflow time, UTC): the line belongs to that month's invoice, or
	// to the next one if that month was invoiced before it was recorded.
	PostedAt time.Time `json:"postedAt,omitzero"`
	// Dimension and Usage are a usage line's (ReasonUsage): the metered
	// dimension and the units charged beyond the included quantity, in
	// millionths (UsageScale); UnitPrice is then one unit's price.
	Dimension string `json:"dimension,omitempty"`
	Usage     int64  `json:"usage,omitempty"`
}

// Kinds of ledger lines.
const (
	ChargeKind = "charge"
	CreditKind = "credit"
)

// Reasons of ledger lines.
const (
	ReasonInstallment     = "installment"      // a term's installment (at activation, monthly, at renewal)
	ReasonLicencesAdded   = "licences_added"   // licences added during a period, prorated
	ReasonLicencesRemoved = "licences_removed" // licences removed inside their lot's window, credited
	ReasonRefund          = "refund"           // a cancellation inside the window credits the term
	ReasonPlanChanged     = "plan_changed"     // the rest of the installment, credited at the old plan's price and charged at the new one's
	ReasonUsage           = "usage"            // metered usage beyond a billing period's included quantity
)

// ReasonOf is the reason of a line from its key, for lines recorded before
// reasons were: the keys always said it.
func ReasonOf(key string) string {
	switch {
	case strings.HasPrefix(key, "credit/") && strings.Contains(key, "/quantity-"):
		return ReasonLicencesRemoved
	case strings.HasPrefix(key, "credit/"):
		return ReasonRefund
	case strings.Contains(key, "/quantity-"):
		return ReasonLicencesAdded
	default:
		return ReasonInstallment
	}
}

// Complete is the line with what lines recorded by older workflow code
// lack (their activity input is in the history as it was): the reason
// from its key, the unit price from its amount.
func (c Charge) Complete() Charge {
	if c.Reason == "" {
		c.Reason = ReasonOf(c.Key)
	}
	if c.UnitPrice == 0 && c.Quantity > 0 {
		c.UnitPrice = c.Amount / int64(c.Quantity)
	}
	return c
}

// LineID is the stable public id of the ledger line with this key: the
// same on every database the line is written to, and on a retry.
func LineID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "ln_" + hex.EncodeToString(sum[:10])
}

// Signed is the line's amount as it counts in a total: credits negative.
func (c Charge) Signed() int64 { return Signed(c.Kind, c.Amount) }

// Signed is an amount of a line of this kind as it counts in a total:
// amounts are positive for both kinds, credits count negative.
func Signed(kind string, amount int64) int64 {
	if kind == CreditKind {
		return -amount
	}
	return amount
}

// TermPrice is what quantity licences cost for a term at unitPrice per
// licence (a purchase's review shows it; the installments sum to it).
func TermPrice(quantity int, unitPrice int64) int64 { return times(int64(quantity), unitPrice) }

// LicenceInstallment is what one licence costs for installment i of a
// term: the per-licence term price split into n parts. Pricing every charge
// as quantity x this amount keeps the ledger exact per licence, so credits
// for removed licences and whole-term refunds reconcile to the cent.
func LicenceInstallment(unitPrice int64, n, i int) int64 {
	return InstallmentAmount(unitPrice, n, i)
}

// Prorate is amount scaled by the part of [start, end) that remains after
// at, rounded half up to the minor unit. It is 0 outside the period.
func Prorate(amount int64, start, end, at time.Time) int64 {
	if !at.Before(end) || !end.After(start) {
		return 0
	}
	if at.Before(start) {
		at = start
	}
	remaining := end.Sub(at).Milliseconds()
	total := end.Sub(start).Milliseconds()
	if total <= 0 {
		return 0
	}
	// amount * remaining / total, rounded half up, in exact integers.
	num := new(big.Int).Mul(big.NewInt(amount), big.NewInt(remaining))
	num.Mul(num, big.NewInt(2))
	num.Add(num, big.NewInt(total))
	num.Quo(num, new(big.Int).Mul(big.NewInt(total), big.NewInt(2)))
	if !num.IsInt64() {
		overflow("prorated over", amount, total)
	}
	return num.Int64()
}

// Schedule is how a term is billed: n installments of a per-licence price.
type Schedule struct {
	Term         period.Period
	Installments int
	UnitPrice    int64
	Currency     string
}

// ScheduleFor is the billing schedule of a plan (its term, its price per
// licence per term) at a billing frequency.
func ScheduleFor(termDuration string, unitPrice int64, currency, frequency string) (Schedule, error) {
	term, err := period.Parse(termDuration)
	if err != nil {
		return Schedule{}, err
	}
	return Schedule{Term: term, Installments: Installments(term, frequency), UnitPrice: unitPrice, Currency: currency}, nil
}

// Period is the time range of installment i of the term [termStart, termEnd).
func (s Schedule) Period(termStart, termEnd time.Time, i int) (time.Time, time.Time) {
	return InstallmentPeriod(termStart, termEnd, s.Term, s.Installments, i)
}

// PerLicence is one licence's price for installment i.
func (s Schedule) PerLicence(i int) int64 { return LicenceInstallment(s.UnitPrice, s.Installments, i) }

// InstallmentCharge is the charge of installment i of term number termNumber.
func (s Schedule) InstallmentCharge(sub Subject, termNumber int, termStart, termEnd time.Time, i int) Charge {
	start, end := s.Period(termStart, termEnd, i)
	return Charge{
		Key:            fmt.Sprintf("%s/term-%d/installment-%d", sub.SubscriptionID, termNumber, i),
		SubscriptionID: sub.SubscriptionID,
		PartnerID:      sub.PartnerID,
		Kind:           ChargeKind,
		Amount:         times(int64(sub.Quantity), s.PerLicence(i)),
		Currency:       s.Currency,
		Quantity:       sub.Quantity,
		PeriodStart:    start,
		PeriodEnd:      end,
		Description:    fmt.Sprintf("%s %s x%d, term %d, installment %d of %d", sub.OfferID, sub.PlanID, sub.Quantity, termNumber, i+1, s.Installments),
		Reason:         ReasonInstallment,
		UnitPrice:      s.PerLicence(i),
	}
}

// Credit returns the credit line that cancels a charge in full.
func Credit(c Charge, reason string) Charge {
	credit := c
	credit.Key = "credit/" + c.Key
	credit.Kind = CreditKind
	credit.Description = "credit: " + reason + " (" + c.Description + ")"
	credit.Reason = ReasonRefund
	return credit
}

// LicencesAdded is the charge for delta licences added at at, during
// installment i of the term: their price for that installment, prorated to
// what remains of its period (Prorate). The key is the step's: one line per
// change, however often the step's commit is retried.
func (s Schedule) LicencesAdded(sub Subject, termNumber int, termStart, termEnd time.Time, i, delta int, at time.Time) Charge {
	start, end := s.Period(termStart, termEnd, i)
	return Charge{
		Key:            fmt.Sprintf("%s/term-%d/quantity-v%d", sub.SubscriptionID, termNumber, sub.Version),
		SubscriptionID: sub.SubscriptionID,
		PartnerID:      sub.PartnerID,
		Kind:           ChargeKind,
		Amount:         Prorate(times(int64(delta), s.PerLicence(i)), start, end, at),
		Currency:       s.Currency,
		Quantity:       delta,
		PeriodStart:    at,
		PeriodEnd:      end,
		Description:    fmt.Sprintf("%d licences added to %s %s, prorated to %s", delta, sub.OfferID, sub.PlanID, end.Format(time.RFC3339)),
		Reason:         ReasonLicencesAdded,
		UnitPrice:      s.PerLicence(i),
		PostedAt:       at,
	}
}

// LicencesRemoved is the credit for removed licences of the term: credit is
// what their batches were charged (Lots.Remove).
func (s Schedule) LicencesRemoved(sub Subject, termNumber int, termStart, termEnd time.Time, removed int, credit int64, at time.Time) Charge {
	return Charge{
		Key:            fmt.Sprintf("credit/%s/term-%d/quantity-v%d", sub.SubscriptionID, termNumber, sub.Version),
		SubscriptionID: sub.SubscriptionID,
		PartnerID:      sub.PartnerID,
		Kind:           CreditKind,
		Amount:         credit,
		Currency:       s.Currency,
		Quantity:       removed,
		PeriodStart:    termStart,
		PeriodEnd:      termEnd,
		Description:    fmt.Sprintf("%d licences removed from %s %s inside their cancellation window", removed, sub.OfferID, sub.PlanID),
		Reason:         ReasonLicencesRemoved,
		UnitPrice:      s.UnitPrice,
		PostedAt:       at,
	}
}

// LicencesAddedPerLicence is LicencesAdded with every line exact, as terms
// of exact lines charge it: each added licence is charged its installment
// price prorated to what remains of the period (Prorate, per licence), and
// the line is quantity x that unit price.
func (s Schedule) LicencesAddedPerLicence(sub Subject, termNumber int, termStart, termEnd time.Time, i, delta int, at time.Time) Charge {
	c := s.LicencesAdded(sub, termNumber, termStart, termEnd, i, delta, at)
	start, end := s.Period(termStart, termEnd, i)
	c.UnitPrice = Prorate(s.PerLicence(i), start, end, at)
	c.Amount = times(int64(delta), c.UnitPrice)
	return c
}

// RemovalCredits are the exact credit lines for licences removed, as
// terms of exact lines credit them: one line per batch taken (Lots.Take),
// its quantity at what the batch was charged per licence, over the
// batch's service period, from when it was charged until chargedUntil (the
// end of the installment now billed). A batch whose charge does not divide
// by its licences (none under exact lines) is two lines, one cent apart
// per licence, so that every line is exact.
func (s Schedule) RemovalCredits(sub Subject, termNumber int, termStart time.Time, taken Lots, chargedUntil, at time.Time) []Charge {
	base := fmt.Sprintf("credit/%s/term-%d/quantity-v%d", sub.SubscriptionID, termNumber, sub.Version)
	return s.batchCredits(sub, termStart, taken, chargedUntil, at, ReasonLicencesRemoved, func(j int) string {
		if j == 0 {
			return base
		}
		return fmt.Sprintf("%s.%d", base, j)
	}, func(n int) string {
		return fmt.Sprintf("%d licences removed from %s %s inside their cancellation window", n, sub.OfferID, sub.PlanID)
	})
}

// RefundCredits are the exact credit lines of a cancellation's refund, as
// terms of exact lines refund: every batch still held credited what it was
// charged this term (together what the term nets to), one line per batch
// as RemovalCredits.
func (s Schedule) RefundCredits(sub Subject, termNumber int, termStart time.Time, lots Lots, chargedUntil, at time.Time, reason string) []Charge {
	return s.batchCredits(sub, termStart, lots, chargedUntil, at, ReasonRefund, func(j int) string {
		return fmt.Sprintf("credit/%s/term-%d/refund-%d", sub.SubscriptionID, termNumber, j)
	}, func(n int) string {
		return fmt.Sprintf("credit: %s (%d licences of %s %s)", reason, n, sub.OfferID, sub.PlanID)
	})
}

func (s Schedule) batchCredits(sub Subject, termStart time.Time, batches Lots, chargedUntil, at time.Time, reason string,
	key func(int) string, description func(int) string) []Charge {
	var lines []Charge
	for _, b := range mergeAlike(batches) {
		if b.Charged <= 0 || b.Quantity <= 0 {
			continue
		}
		from := b.ChargedFrom
		if from.IsZero() {
			from = termStart
		}
		for _, part := range ExactParts(b.Quantity, b.Charged) {
			lines = append(lines, Charge{
				Key: key(len(lines)), SubscriptionID: sub.SubscriptionID, PartnerID: sub.PartnerID, Kind: CreditKind,
				Amount: times(int64(part.Quantity), part.UnitPrice), Currency: s.Currency, Quantity: part.Quantity,
				PeriodStart: from, PeriodEnd: chargedUntil, Description: description(part.Quantity),
				Reason: reason, UnitPrice: part.UnitPrice, PostedAt: at,
			})
		}
	}
	return lines
}

// mergeAlike joins neighbouring batches charged the same per licence over
// the same period: licences bought together at purchase and in increases
// before billing started are batches of their own (each has its own
// window) but one line of credit, the same line whichever batches hold
// them.
func mergeAlike(batches Lots) Lots {
	var out Lots
	for _, b := range batches {
		if n := len(out); n > 0 && b.Quantity > 0 && out[n-1].Quantity > 0 && out[n-1].ChargedFrom.Equal(b.ChargedFrom) &&
			b.Charged%int64(b.Quantity) == 0 && out[n-1].Charged%int64(out[n-1].Quantity) == 0 &&
			b.Charged/int64(b.Quantity) == out[n-1].Charged/int64(out[n-1].Quantity) {
			out[n-1].Quantity += b.Quantity
			out[n-1].Charged = Add(out[n-1].Charged, b.Charged)
			continue
		}
		out = append(out, b)
	}
	return out
}

// Part is some licences at one price each.
type Part struct {
	Quantity  int
	UnitPrice int64
}

// ExactParts splits amount over quantity licences into at most two parts
// whose quantity x unit price are exact and sum to amount: the first part's
// licences one minor unit dearer than the second's.
func ExactParts(quantity int, amount int64) []Part {
	if quantity <= 0 {
		return nil
	}
	unit, rest := amount/int64(quantity), int(amount%int64(quantity))
	if rest == 0 {
		return []Part{{Quantity: quantity, UnitPrice: unit}}
	}
	return []Part{{Quantity: rest, UnitPrice: unit + 1}, {Quantity: quantity - rest, UnitPrice: unit}}
}

// MonthBounds is the calendar month YYYY-MM as the UTC instants
// [start, end).
func MonthBounds(month string) (start, end time.Time, err error) {
	start, err = time.Parse("2006-01", month)
	if err != nil || start.Format("2006-01") != month {
		return time.Time{}, time.Time{}, fmt.Errorf("month %q is not YYYY-MM", month)
	}
	return start, start.AddDate(0, 1, 0), nil
}

// PreviousMonth is the month (YYYY-MM, UTC) before the one at holds.
func PreviousMonth(at time.Time) string {
	at = at.UTC()
	return time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("2006-01")
}

// Net is what lines come to, credits deducted.
func Net(lines []Charge) int64 {
	var net int64
	for _, c := range lines {
		net = Add(net, c.Signed())
	}
	return net
}

// Refund is the credits that give back what a term's lines net to: each
// charge, oldest first, credited in full until the net is reached (the last
// one partly), so a term never nets below zero, whatever was credited
// before (licences removed).
func Refund(termLines []Charge, reason string, at time.Time) []Charge {
	net := Net(termLines)
	var credited int64
	var credits []Charge
	for _, c := range termLines {
		if c.Kind != ChargeKind || credited >= net {
			continue
		}
		credit := Credit(c, reason)
		credit.Amount = min(c.Amount, net-credited)
		credit.PostedAt = at
		credited = Add(credited, credit.Amount)
		credits = append(credits, credit)
	}
	return credits
}

// InvoiceTotal is an invoice's total from its subtotal: the same, since the
// marketplace invoices net amounts (no taxes).
func InvoiceTotal(subtotal int64) int64 { return subtotal }

// Why a month cannot be invoiced now.
var (
	// ErrMonthNotStarted: a month that has not begun holds no line of its
	// own; invoicing it would put this month's lines on a future invoice.
	ErrMonthNotStarted = errors.New("the month has not begun: only a month that has ended, or the current one closed early, can be invoiced")
	// ErrMonthNotEnded: the current month is invoiced only when closed early.
	ErrMonthNotEnded = errors.New("the month has not ended: it can be invoiced once it has, or now if closed early")
)

// InvoicingPeriod is the month YYYY-MM to invoice at now: its bounds, and
// the cutoff before which its lines are taken (its end, or now when the
// current month is closed early).
func InvoicingPeriod(month string, now time.Time, closeEarly bool) (start, end, cutoff time.Time, err error) {
	if start, end, err = MonthBounds(month); err != nil {
		return start, end, cutoff, err
	}
	switch {
	case now.Before(start):
		return start, end, cutoff, fmt.Errorf("%s: %w", month, ErrMonthNotStarted)
	case now.Before(end) && !closeEarly:
		return start, end, cutoff, fmt.Errorf("%s ends %s: %w", month, end.Format(time.RFC3339), ErrMonthNotEnded)
	case now.Before(end):
		return start, end, now, nil
	}
	return start, end, end, nil
}

// PlanChanged are the two lines of a change of plan at at, during
// installment i of the term, as terms of exact lines bill it: every
// licence credited the old plan's price for what remains of the
// installment, and charged the new plan's for the same time, both
// prorated per licence (Prorate) and each line quantity x unit price.
// A licence added during the installment was charged at least the
// credit (it was prorated from an earlier moment), so no batch is
// credited more than it paid. A line of zero (at the installment's end)
// is left out; a later installment is charged at the new plan's price by
// the schedule of the new plan. sub names the new plan; the keys are the
// step's, so a retried commit writes each line once.
func PlanChanged(from, to Schedule, sub Subject, termNumber int, termStart, termEnd time.Time, i int, at time.Time) (lines []Charge, perLicence int64) {
	start, end := from.Period(termStart, termEnd, i)
	credit := Prorate(from.PerLicence(i), start, end, at)
	charge := Prorate(to.PerLicence(i), start, end, at)
	key := fmt.Sprintf("%s/term-%d/plan-v%d", sub.SubscriptionID, termNumber, sub.Version)
	line := func(kind string, unit int64, description string) Charge {
		return Charge{
			Key: key, SubscriptionID: sub.SubscriptionID, PartnerID: sub.PartnerID, Kind: kind,
			Amount: times(int64(sub.Quantity), unit), Currency: to.Currency, Quantity: sub.Quantity,
			PeriodStart: at, PeriodEnd: end, Description: description, Reason: ReasonPlanChanged, UnitPrice: unit, PostedAt: at,
		}
	}
	if credit > 0 {
		c := line(CreditKind, credit, fmt.Sprintf("credit: %d licences of %s leave their plan, prorated to %s", sub.Quantity, sub.OfferID, end.Format(time.RFC3339)))
		c.Key = "credit/" + key
		lines = append(lines, c)
	}
	if charge > 0 {
		lines = append(lines, line(ChargeKind, charge, fmt.Sprintf("%d licences of %s %s from the change of plan, prorated to %s", sub.Quantity, sub.OfferID, sub.PlanID, end.Format(time.RFC3339))))
	}
	return lines, charge - credit
}

// Decimal is an amount in minor units written in major units with two
// decimals ("12.00", "-0.05"): how Microsoft's plan prices (a JSON number)
// and the console show money. Every currency of the catalog has cents.
func Decimal(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", sign, minor/100, minor%100)
}

// UsageScale is one unit of metered usage: quantities are counted in
// millionths of a unit (metering.Quantity), exactly.
const UsageScale = 1_000_000

// UsageOverage is what a billing period's metered usage costs beyond what
// the period includes: the units beyond (in millionths) and their amount at
// unitPrice minor units per unit, rounded half up to the minor unit once,
// on the period's total (not per event: a thousand small events cost what
// one event of their sum costs).
func UsageOverage(used, included, unitPrice int64) (beyond, amount int64) {
	beyond = max(used-included, 0)
	if beyond == 0 || unitPrice == 0 {
		return beyond, 0
	}
	num := new(big.Int).Mul(big.NewInt(beyond), big.NewInt(unitPrice))
	num.Mul(num, big.NewInt(2))
	num.Add(num, big.NewInt(UsageScale))
	num.Quo(num, big.NewInt(2*UsageScale))
	if !num.IsInt64() {
		overflow("usage priced", beyond, unitPrice)
	}
	return beyond, num.Int64()
}

// IncludedFor is a billing period's included quantity for a subscription
// billed from activeFrom: whole when billing covered the whole period,
// prorated (Prorate, half up to the millionth) over a first period that
// began before it.
func IncludedFor(included int64, periodStart, periodEnd, activeFrom time.Time) int64 {
	if !activeFrom.After(periodStart) {
		return included
	}
	return Prorate(included, periodStart, periodEnd, activeFrom)
}

// IncludedUntil is the share of a period's included quantity that belongs
// to its part before until (the rest, Prorate's, belongs to what follows):
// a period cut by a change of plan keeps what it had up to the change.
func IncludedUntil(included int64, periodStart, periodEnd, until time.Time) int64 {
	return included - Prorate(included, periodStart, periodEnd, until)
}

// UsagePriced is one dimension's usage of one period as a close finds it:
// what earlier closes charged for (Before), what this close takes
// (Claimed, late usage included), the period's included quantity, all in
// millionths of a unit, and one unit's price.
type UsagePriced struct {
	PeriodStart, PeriodEnd time.Time
	Dimension              string
	Before, Claimed        int64
	Included               int64
	UnitPrice              int64
}

// UsageCharge is the ledger line of one dimension's usage at a close: what
// the period's usage beyond its included quantity costs now that Claimed
// has come, less what it cost before (UsageOverage of each total), so the
// lines of a period always add up to its whole usage priced once, however
// late some of it came. No line (false) when that adds nothing. The key is
// the close's step: one line per period and dimension per close.
func UsageCharge(sub Subject, currency string, u UsagePriced, at time.Time) (Charge, bool) {
	beforeBeyond, beforeAmount := UsageOverage(u.Before, u.Included, u.UnitPrice)
	beyond, amount := UsageOverage(u.Before+u.Claimed, u.Included, u.UnitPrice)
	if amount-beforeAmount <= 0 {
		return Charge{}, false
	}
	units := beyond - beforeBeyond
	return Charge{
		Key:            fmt.Sprintf("%s/usage/%s/%s-v%d", sub.SubscriptionID, u.Dimension, u.PeriodStart.UTC().Format("20060102T150405Z"), sub.Version),
		SubscriptionID: sub.SubscriptionID,
		PartnerID:      sub.PartnerID,
		Kind:           ChargeKind,
		Amount:         amount - beforeAmount,
		Currency:       currency,
		PeriodStart:    u.PeriodStart,
		PeriodEnd:      u.PeriodEnd,
		Description: fmt.Sprintf("%s of %s %s beyond the period's included %s, %s to %s", unitsString(units), sub.OfferID, u.Dimension,
			unitsString(u.Included), u.PeriodStart.UTC().Format(time.RFC3339), u.PeriodEnd.UTC().Format(time.RFC3339)),
		Reason:    ReasonUsage,
		UnitPrice: u.UnitPrice,
		PostedAt:  at,
		Dimension: u.Dimension,
		Usage:     units,
	}, true
}

// unitsString writes millionths of a unit as a decimal, trailing zeros cut.
func unitsString(q int64) string {
	s := fmt.Sprintf("%d.%06d", q/UsageScale, q%UsageScale)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
