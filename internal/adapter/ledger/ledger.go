// Package ledger checks the money: it recomputes every subscription's
// ledger lines from its audit trail with the billing rules, and compares
// them with the lines recorded and with the invoices issued. It is what
// `starter ledger verify` runs, and what the tests run after a lifecycle.
//
// It replays the audit trail on its own (the order of events, the term
// bounds, the batches of licences) and shares only internal/billing's
// arithmetic with the workflow: a workflow that charged at the wrong
// moment, twice, or for the wrong quantity disagrees with its own trail.
package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// Report is what a check found.
type Report struct {
	Subscriptions int
	Lines         int
	Invoices      int
	Differences   []string
}

// Verify checks every subscription and every invoice of the store.
func Verify(ctx context.Context, s *store.Store) (Report, error) {
	var r Report
	after := ""
	for {
		subs, err := s.AllSubscriptions(ctx, after, 500)
		if err != nil {
			return r, err
		}
		for _, sub := range subs {
			diffs, lines, err := VerifySubscription(ctx, s, sub)
			if err != nil {
				return r, err
			}
			r.Subscriptions++
			r.Lines += lines
			r.Differences = append(r.Differences, diffs...)
		}
		if len(subs) < 500 {
			break
		}
		after = subs[len(subs)-1].ID
	}
	diffs, n, err := verifyInvoices(ctx, s)
	if err != nil {
		return r, err
	}
	r.Invoices = n
	r.Differences = append(r.Differences, diffs...)
	return r, nil
}

// line is what the audit trail says one ledger line must be.
type line struct {
	key      string
	kind     string
	amount   int64
	quantity int
	// unitPrice is checked when known: installments always, every line
	// of a term of exact lines (whose lines are quantity x unitPrice).
	unitPrice int64
	unitKnown bool
	exact     bool
}

// VerifySubscription compares one subscription's ledger with the lines its
// audit trail implies; it returns the differences and the number of lines.
func VerifySubscription(ctx context.Context, s *store.Store, sub store.Subscription) ([]string, int, error) {
	events, err := s.Events(ctx, sub.ID)
	if err != nil {
		return nil, 0, err
	}
	charges, err := s.Charges(ctx, sub.ID)
	if err != nil {
		return nil, 0, err
	}
	want, problems, claimed := expectedLines(sub, events)
	usageDiffs, err := verifyUsage(ctx, s, sub, claimed)
	if err != nil {
		return nil, 0, err
	}
	got := map[string]store.Line{}
	for _, c := range charges {
		got[c.Key] = c
	}
	var diffs []string
	for _, p := range problems {
		diffs = append(diffs, fmt.Sprintf("subscription %s: %s", sub.ID, p))
	}
	diffs = append(diffs, usageDiffs...)
	seen := map[string]bool{}
	for _, w := range want {
		seen[w.key] = true
		c, ok := got[w.key]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("subscription %s: line %s (%s %d x%d) is missing from the ledger", sub.ID, w.key, w.kind, w.amount, w.quantity))
		case c.Kind != w.kind || c.Amount != w.amount || c.Quantity != w.quantity:
			diffs = append(diffs, fmt.Sprintf("subscription %s: line %s is %s %d x%d, the audit trail says %s %d x%d",
				sub.ID, w.key, c.Kind, c.Amount, c.Quantity, w.kind, w.amount, w.quantity))
		case w.unitKnown && c.UnitPrice != w.unitPrice:
			diffs = append(diffs, fmt.Sprintf("subscription %s: line %s has unit price %d, the audit trail says %d", sub.ID, w.key, c.UnitPrice, w.unitPrice))
		case w.exact && int64(c.Quantity)*c.UnitPrice != c.Amount:
			diffs = append(diffs, fmt.Sprintf("subscription %s: line %s is %d x %d, not its amount %d", sub.ID, w.key, c.Quantity, c.UnitPrice, c.Amount))
		}
	}
	for _, c := range charges {
		if !seen[c.Key] {
			diffs = append(diffs, fmt.Sprintf("subscription %s: line %s (%s %d) has no cause in the audit trail", sub.ID, c.Key, c.Kind, c.Amount))
		}
		if c.Currency != sub.Currency {
			diffs = append(diffs, fmt.Sprintf("subscription %s: line %s is in %s, the subscription in %s", sub.ID, c.Key, c.Currency, sub.Currency))
		}
	}
	return diffs, len(charges), nil
}

// detail is the union of the audit details the replay reads.
type detail struct {
	Quantity             *int       `json:"quantity"`
	BillingFrequency     *string    `json:"billingFrequency"`
	NextBillingFrequency *string    `json:"nextBillingFrequency"`
	Term                 *int       `json:"term"`
	Installment          *int       `json:"installment"`
	TermStart            *time.Time `json:"termStart"`
	TermEnd              *time.Time `json:"termEnd"`
	UnitPrice            *int64     `json:"unitPrice"`
	FromPlanID           string     `json:"fromPlanId"`
	Refunded             *int64     `json:"refunded"`
	ExactLines           bool       `json:"exactLines"`
	To                   string     `json:"to"`
	Status               string     `json:"status"`
	// A usage close's (lifecycle.KindUsageClosed).
	ClaimKey string      `json:"claimKey"`
	Lines    []usageLine `json:"lines"`
}

// usageLine is one period's and dimension's usage a close priced.
type usageLine struct {
	PeriodStart time.Time `json:"periodStart"`
	PeriodEnd   time.Time `json:"periodEnd"`
	Dimension   string    `json:"dimension"`
	Before      int64     `json:"before"`
	Claimed     int64     `json:"claimed"`
	Included    int64     `json:"included"`
	UnitPrice   int64     `json:"unitPrice"`
	ChargeKey   string    `json:"chargeKey"`
	Amount      int64     `json:"amount"`
}

// replay is the money state of a subscription as its audit trail tells it.
type replay struct {
	sub                store.Subscription
	status             lifecycle.Status
	quantity           int
	frequency, next    string
	unitPrice          int64
	term               int
	termStart, termEnd time.Time
	nextInstallment    int
	// exact: the term's lines are exact (lifecycle.ExactLinesDetail).
	exact bool
	// first is what happened to the installment 0 of a term starting:
	// its audit line comes just before the term's own in the same step.
	first     string
	lots      billing.Lots
	termLines []line
	lines     []line
	problems  []string
	// usage is what the closes claimed, per claim key and dimension, and
	// per period and dimension (the next close's Before).
	claimed     map[string]map[string]int64
	periodUsage map[string]int64
}

func expectedLines(sub store.Subscription, rows []store.AuditLine) ([]line, []string, map[string]map[string]int64) {
	events := workflowEvents(rows)
	r := &replay{sub: sub, status: lifecycle.StatusPendingFulfillment, quantity: sub.Quantity, frequency: sub.BillingFrequency, unitPrice: sub.UnitPrice}
	for _, e := range events {
		var d detail
		if err := json.Unmarshal([]byte(e.row.Detail), &d); err != nil {
			r.problems = append(r.problems, fmt.Sprintf("audit line %s has an unreadable detail", e.row.Key))
			continue
		}
		r.apply(e, d)
	}
	if !r.status.Terminal() && r.quantity != sub.Quantity {
		r.problems = append(r.problems, fmt.Sprintf("the audit trail ends at %d licences, the subscription has %d", r.quantity, sub.Quantity))
	}
	return r.lines, r.problems, r.claimed
}

func (r *replay) schedule() (billing.Schedule, bool) {
	sched, err := billing.ScheduleFor(r.sub.TermDuration, r.unitPrice, r.sub.Currency, r.frequency)
	if err != nil {
		r.problems = append(r.problems, "the subscription's term does not parse: "+err.Error())
		return sched, false
	}
	return sched, true
}

func (r *replay) add(l line) {
	r.lines = append(r.lines, l)
	r.termLines = append(r.termLines, l)
}

func (r *replay) apply(e event, d detail) {
	switch e.row.Kind {
	case lifecycle.KindUsageClosed:
		r.closeUsage(d)
	case lifecycle.KindPurchased:
		if d.Quantity != nil {
			r.quantity = *d.Quantity
		}
		if d.BillingFrequency != nil {
			r.frequency = *d.BillingFrequency
		}
	case lifecycle.KindISVEventApplied:
		if d.To != "" {
			r.status = lifecycle.Status(d.To)
		}
	case lifecycle.KindBillingStarted, lifecycle.KindRenewed:
		if e.row.Kind == lifecycle.KindBillingStarted {
			r.status = lifecycle.StatusActive
		}
		if d.Quantity != nil {
			r.quantity = *d.Quantity
		}
		if d.UnitPrice != nil {
			r.unitPrice = *d.UnitPrice
		}
		if d.BillingFrequency != nil {
			r.frequency = *d.BillingFrequency
		} else if e.row.Kind == lifecycle.KindRenewed && r.next != "" {
			r.frequency, r.next = r.next, ""
		}
		r.term++
		if d.Term != nil {
			r.term = *d.Term
		}
		r.exact = d.ExactLines
		r.termStart = e.row.At.UTC()
		if d.TermStart != nil {
			r.termStart = d.TermStart.UTC()
		}
		if d.TermEnd != nil {
			r.termEnd = d.TermEnd.UTC()
		}
		// The term's first installment is the event before this one, in
		// the same step: recompute it now that the term is known.
		r.startTerm()
	case lifecycle.KindInstallmentCharged:
		if d.Installment != nil && *d.Installment > 0 {
			r.charge(*d.Installment)
		} else {
			r.first = lifecycle.KindInstallmentCharged
		}
	case lifecycle.KindInstallmentSkipped:
		if d.Installment != nil && *d.Installment > 0 {
			r.nextInstallment = *d.Installment + 1
		} else {
			r.first = lifecycle.KindInstallmentSkipped
		}
	case lifecycle.KindChanged:
		if d.BillingFrequency != nil && r.term == 0 {
			r.frequency = *d.BillingFrequency
		}
		if d.NextBillingFrequency != nil {
			r.next = *d.NextBillingFrequency
		}
		if d.Quantity != nil {
			r.changeQuantity(e, *d.Quantity)
		}
		if d.FromPlanID != "" && d.UnitPrice != nil {
			r.changePlan(e, *d.UnitPrice)
		}
	case lifecycle.KindCancellationRequested:
		r.status = lifecycle.StatusPendingCancellation
	case lifecycle.KindCancellationLapsed:
		if d.Status != "" {
			r.status = lifecycle.Status(d.Status)
		}
	case lifecycle.KindCancelled:
		refunded := r.refund()
		if d.Refunded != nil && *d.Refunded != refunded {
			r.problems = append(r.problems, fmt.Sprintf("the cancellation says %d refunded, the term's lines net to a refund of %d", *d.Refunded, refunded))
		}
		r.status = lifecycle.StatusCancelled
	case lifecycle.KindActivationDeadline:
		r.status = lifecycle.StatusCancelled
	case lifecycle.KindExpired:
		r.status = lifecycle.StatusExpired
	}
}

// startTerm recomputes installment 0 of a new term (the workflow writes
// its audit line just before the term's billing.started or renewed line).
func (r *replay) startTerm() {
	r.termLines, r.nextInstallment = nil, 0
	r.lots = billing.StartTerm(r.quantity, time.Time{})
	first := r.first
	r.first = ""
	switch first {
	case lifecycle.KindInstallmentCharged:
		r.charge(0)
	case lifecycle.KindInstallmentSkipped:
		r.nextInstallment = 1 // billing paused: nothing charged
	}
}

func (r *replay) charge(i int) {
	sched, ok := r.schedule()
	if !ok {
		return
	}
	per := sched.PerLicence(i)
	start, _ := sched.Period(r.termStart, r.termEnd, i)
	r.nextInstallment = i + 1
	r.lots = r.lots.ChargeInstallment(per, start)
	r.add(line{key: fmt.Sprintf("%s/term-%d/installment-%d", r.sub.ID, r.term, i), kind: billing.ChargeKind, amount: int64(r.quantity) * per, quantity: r.quantity,
		unitPrice: per, unitKnown: true, exact: true})
}

// addCharge adds a line billing computed for this subscription.
func (r *replay) addCharge(c billing.Charge) {
	r.add(line{key: c.Key, kind: c.Kind, amount: c.Amount, quantity: c.Quantity, unitPrice: c.UnitPrice, unitKnown: r.exact, exact: r.exact})
}

// chargedUntil is the end of the installment last charged or skipped.
func (r *replay) chargedUntil(sched billing.Schedule) time.Time {
	_, end := sched.Period(r.termStart, r.termEnd, max(r.nextInstallment-1, 0))
	return end
}

// asBilled is the subscription as billing names its lines at a step.
func (r *replay) asBilled(version int64) billing.Subject {
	return billing.Subject{SubscriptionID: r.sub.ID, PartnerID: r.sub.PartnerID, OfferID: r.sub.OfferID, PlanID: r.sub.PlanID, Quantity: r.quantity, Version: version}
}

func (r *replay) changeQuantity(e event, q int) {
	delta := q - r.quantity
	r.quantity = q
	if r.status != lifecycle.StatusActive || r.nextInstallment == 0 || delta == 0 {
		return
	}
	sched, ok := r.schedule()
	if !ok {
		return
	}
	key := fmt.Sprintf("%s/term-%d/quantity-v%d", r.sub.ID, r.term, e.version)
	at := e.row.At.UTC()
	if delta > 0 {
		current := r.nextInstallment - 1
		start, end := sched.Period(r.termStart, r.termEnd, current)
		amount := billing.Prorate(int64(delta)*sched.PerLicence(current), start, end, at)
		if r.exact {
			c := sched.LicencesAddedPerLicence(r.asBilled(e.version), r.term, r.termStart, r.termEnd, current, delta, at)
			r.lots = r.lots.Add(delta, c.Amount, time.Time{}, at)
			if c.Amount > 0 {
				r.addCharge(c)
			}
			return
		}
		r.lots = r.lots.Add(delta, amount, time.Time{}, at)
		if amount > 0 {
			r.add(line{key: key, kind: billing.ChargeKind, amount: amount, quantity: delta})
		}
		return
	}
	if r.exact {
		var taken billing.Lots
		r.lots, taken = r.lots.Take(-delta)
		for _, c := range sched.RemovalCredits(r.asBilled(e.version), r.term, r.termStart, taken, r.chargedUntil(sched), at) {
			r.addCharge(c)
		}
		return
	}
	var credit int64
	r.lots, credit = r.lots.Remove(-delta)
	if credit > 0 {
		r.add(line{key: "credit/" + key, kind: billing.CreditKind, amount: credit, quantity: -delta})
	}
}

// changePlan replays a change of plan: the rest of the installment
// credited at the old price and charged at the new (billing.PlanChanged).
func (r *replay) changePlan(e event, unitPrice int64) {
	from, ok := r.schedule()
	r.unitPrice = unitPrice
	to, ok2 := r.schedule()
	if !ok || !ok2 || r.status != lifecycle.StatusActive || r.nextInstallment == 0 {
		return
	}
	lines, perLicence := billing.PlanChanged(from, to, r.asBilled(e.version), r.term, r.termStart, r.termEnd, r.nextInstallment-1, e.row.At.UTC())
	r.lots = r.lots.Repriced(perLicence)
	for _, c := range lines {
		r.addCharge(c)
	}
}

// refund credits what the term's lines net to: each batch still held in a
// term of exact lines (billing's RefundCredits), each charge oldest first
// in a term of before (billing.Refund).
func (r *replay) refund() int64 {
	if r.exact {
		var credited int64
		if sched, ok := r.schedule(); ok && r.nextInstallment > 0 {
			for _, c := range sched.RefundCredits(r.asBilled(0), r.term, r.termStart, r.lots, r.chargedUntil(sched), time.Time{}, "") {
				credited = billing.Add(credited, c.Amount)
				r.addCharge(c)
			}
		}
		return credited
	}
	term := make([]billing.Charge, len(r.termLines))
	for i, l := range r.termLines {
		term[i] = billing.Charge{Key: l.key, Kind: l.kind, Amount: l.amount, Quantity: l.quantity}
	}
	var credited int64
	for _, c := range billing.Refund(term, "", time.Time{}) {
		credited += c.Amount
		r.add(line{key: c.Key, kind: c.Kind, amount: c.Amount, quantity: c.Quantity})
	}
	return credited
}

// event is an audit line the workflow wrote, with the step (version) and
// position in the step its key records.
type event struct {
	row      store.AuditLine
	version  int64
	position int
}

// workflowEvents are the workflow's audit lines in the order they were
// made: by step, then by position in the step (receipts of ISV webhooks,
// written by the API, are left out).
func workflowEvents(rows []store.AuditLine) []event {
	var out []event
	for _, row := range rows {
		// Key: <subscription>/v<version>/event-<position>/<kind>
		parts := strings.Split(row.Key, "/")
		if len(parts) < 4 || !strings.HasPrefix(parts[1], "v") || !strings.HasPrefix(parts[2], "event-") {
			continue
		}
		v, err1 := strconv.ParseInt(parts[1][1:], 10, 64)
		p, err2 := strconv.Atoi(parts[2][len("event-"):])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, event{row: row, version: v, position: p})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].version != out[j].version {
			return out[i].version < out[j].version
		}
		return out[i].position < out[j].position
	})
	return out
}

// closeUsage replays a usage close: each line's Before is what the closes
// before it claimed for its period and dimension, and its amount is the
// period's usage priced again, less what it cost before (billing's
// arithmetic, shared with the workflow); the claims are checked against
// the usage events the store marked (VerifySubscription).
func (r *replay) closeUsage(d detail) {
	if r.claimed == nil {
		r.claimed, r.periodUsage = map[string]map[string]int64{}, map[string]int64{}
	}
	byDimension := map[string]int64{}
	r.claimed[d.ClaimKey] = byDimension
	for _, u := range d.Lines {
		period := u.PeriodStart.UTC().Format(time.RFC3339Nano) + "/" + u.Dimension
		if u.Before != r.periodUsage[period] {
			r.problems = append(r.problems, fmt.Sprintf("usage close %s: %s of the period from %s had %d before, the earlier closes claimed %d",
				d.ClaimKey, u.Dimension, u.PeriodStart.Format(time.RFC3339), u.Before, r.periodUsage[period]))
		}
		r.periodUsage[period] += u.Claimed
		byDimension[u.Dimension] += u.Claimed
		_, before := billing.UsageOverage(u.Before, u.Included, u.UnitPrice)
		_, after := billing.UsageOverage(u.Before+u.Claimed, u.Included, u.UnitPrice)
		if after-before > 0 {
			if u.ChargeKey == "" {
				r.problems = append(r.problems, fmt.Sprintf("usage close %s: %s costs %d more and has no line", d.ClaimKey, u.Dimension, after-before))
				continue
			}
			r.lines = append(r.lines, line{key: u.ChargeKey, kind: billing.ChargeKind, amount: after - before, unitPrice: u.UnitPrice, unitKnown: true})
		}
	}
}

// verifyUsage compares what the closes claimed with the usage events the
// store marked, and finds accepted usage no close will ever take (a
// subscription that ended with events unclaimed).
func verifyUsage(ctx context.Context, s *store.Store, sub store.Subscription, claimed map[string]map[string]int64) ([]string, error) {
	events, keys, err := s.SubscriptionUsage(ctx, sub.ID)
	if err != nil {
		return nil, err
	}
	marked := map[string]map[string]int64{}
	var diffs []string
	for _, e := range events {
		key, ok := keys[e.ID]
		if !ok {
			if sub.Status.Terminal() {
				diffs = append(diffs, fmt.Sprintf("subscription %s: usage event %s (%s %s) was accepted and never charged", sub.ID, e.ID, e.Dimension, e.Quantity))
			}
			continue
		}
		if marked[key] == nil {
			marked[key] = map[string]int64{}
		}
		marked[key][e.Dimension] += int64(e.Quantity)
	}
	for key, dims := range marked {
		for dim, q := range dims {
			if claimed[key][dim] != q {
				diffs = append(diffs, fmt.Sprintf("subscription %s: close %s claimed %d of %s, its audit line says %d", sub.ID, key, q, dim, claimed[key][dim]))
			}
		}
	}
	for key, dims := range claimed {
		for dim, q := range dims {
			if marked[key][dim] != q {
				diffs = append(diffs, fmt.Sprintf("subscription %s: close %s's audit line says %d of %s, the usage events it marked add to %d", sub.ID, key, q, dim, marked[key][dim]))
			}
		}
	}
	return diffs, nil
}
