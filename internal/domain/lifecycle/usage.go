package lifecycle

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
)

// Metered usage (issue 28, docs/billing.md "Metered usage"). The store
// accepts usage events on its own (one per subscription, dimension and
// hour, durable when answered, while no worker runs too); the rules here
// decide when what was accepted is charged, and how much:
//
//   - Usage counts in usage periods: the billing periods (installment
//     periods) of the term, each with its plan's dimensions and included
//     quantities. A period that begins after its billing period did (a
//     reinstatement after a suspension that crossed a boundary, a change
//     of plan) has the included quantity prorated to what remains; one a
//     change of plan cuts keeps the share up to the change.
//   - A close charges what was accepted and not charged yet: at each
//     period's end (events of later hours wait for the next), and at once
//     when the subscription stops counting (suspended, cancellation
//     waiting, cancelled, expired). An event belongs to the period its
//     effective start time falls in, even when it came late (Microsoft
//     takes events up to 24 hours old): its period's usage is then priced
//     again whole, and the next close's line for that period charges the
//     difference (billing.UsageCharge).
//   - A close is its own step, after the step that made it due: the shell
//     claims the usage from the store first (UsageDue, ClaimUsage) and
//     hands the rules what it claimed (CloseUsage).

// Meter is what a metered subscription's rules remember of its usage.
type Meter struct {
	// Periods are the usage periods late usage may still arrive for,
	// oldest first; while Open, the last counts usage now.
	Periods []UsagePeriod
	Open    bool
	// DueAt is when the next close is due (zero: none). A close while the
	// period is open (at its end) takes usage effective before the end;
	// any other (the subscription stopped counting) takes all of it.
	DueAt time.Time
	// Gaps are the times the subscription stopped counting (suspended, a
	// cancellation waiting) within the late-usage horizon: usage
	// effective then is refused when it comes late.
	Gaps []metering.Gap
}

// UsagePeriod is one period usage counts and is priced in.
type UsagePeriod struct {
	Start, End time.Time
	// PlanID is the plan the subscription had in it: late usage names it.
	PlanID string
	// Dimensions are the plan's, with this period's included quantities.
	Dimensions []metering.Dimension
}

// keptPeriodsMax bounds Meter.Periods. Only plans with periods under half
// an hour (the demo's) ever reach it: acceptance then refuses usage older
// than the oldest period kept (Expired), since no close could price it in
// its own period.
const keptPeriodsMax = 48

// lateUsageHorizon is how long after its end a period can still receive
// late usage: Microsoft's 24 hours, and the hour an event is rounded to.
const lateUsageHorizon = metering.Window + time.Hour

func (m *Meter) last() *UsagePeriod { return &m.Periods[len(m.Periods)-1] }

// clone is a copy the step may change without touching the state before.
func (m *Meter) clone() *Meter {
	if m == nil {
		return nil
	}
	c := *m
	c.Periods = slices.Clone(m.Periods)
	c.Gaps = slices.Clone(m.Gaps)
	return &c
}

// UsageClaim is what a close takes from the store: every accepted event of
// the subscription not charged yet whose effective start is before Through
// (zero: every one), marked with Key, summed per period and dimension.
type UsageClaim struct {
	Key     string
	Through time.Time
	// Periods are the bounds usage is summed in: an event counts in the
	// last period that starts at or before its effective start, or the
	// first when none does.
	Periods []UsageBounds
}

// UsageBounds are one period's bounds.
type UsageBounds struct{ Start, End time.Time }

// ClaimedUsage is one period's and dimension's usage a claim found: what
// earlier claims took (Before) and what this one took (Claimed).
type ClaimedUsage struct {
	Period          int // index in UsageClaim.Periods
	Dimension       string
	Before, Claimed metering.Quantity
}

// ClaimedEvent is an accepted event as a claim sums it: ClaimKey is the
// claim that took it ("" for none yet).
type ClaimedEvent struct {
	Dimension string
	Effective time.Time
	Quantity  metering.Quantity
	ClaimKey  string
}

// SumClaimed sums claimed events per period and dimension as
// UsageClaim says: an event counts in the last period starting
// at or before its effective start (the first when none does); Before
// sums the events other claims took within the periods' span. Only sums
// this claim took something of are answered.
func SumClaimed(claim UsageClaim, events []ClaimedEvent) []ClaimedUsage {
	type key struct {
		period    int
		dimension string
	}
	sums := map[key]*ClaimedUsage{}
	var order []key
	for _, e := range events {
		mine := e.ClaimKey == claim.Key
		if e.ClaimKey == "" || (!mine && (len(claim.Periods) == 0 || e.Effective.Before(claim.Periods[0].Start))) {
			continue
		}
		p := 0
		for i, b := range claim.Periods {
			if !b.Start.After(e.Effective) {
				p = i
			}
		}
		k := key{p, e.Dimension}
		if sums[k] == nil {
			sums[k] = &ClaimedUsage{Period: p, Dimension: e.Dimension}
			order = append(order, k)
		}
		if mine {
			sums[k].Claimed += e.Quantity
		} else {
			sums[k].Before += e.Quantity
		}
	}
	out := []ClaimedUsage{}
	for _, k := range order {
		if sums[k].Claimed > 0 {
			out = append(out, *sums[k])
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Period != out[j].Period {
			return out[i].Period < out[j].Period
		}
		return out[i].Dimension < out[j].Dimension
	})
	return out
}

// UsageDue is the claim of the close due at now, if one is.
func UsageDue(s State, now time.Time) (UsageClaim, bool) {
	m := s.Meter
	if m == nil || m.DueAt.IsZero() || now.Before(m.DueAt) {
		return UsageClaim{}, false
	}
	c := UsageClaim{Key: fmt.Sprintf("%s/usage/v%d", s.Subscription.ID, s.Subscription.Version+1)}
	if m.Open {
		c.Through = m.last().End
	}
	for _, p := range m.Periods {
		c.Periods = append(c.Periods, UsageBounds{Start: p.Start, End: p.End})
	}
	return c, true
}

// Ended reports whether the subscription has nothing left to do: it is
// cancelled or expired, and no close of its usage is due.
func Ended(s State) bool {
	return s.Subscription.Status.Terminal() && (s.Meter == nil || s.Meter.DueAt.IsZero())
}

// CloseUsage is the close UsageDue asked for, with what the claim found: a
// ledger line per period and dimension whose usage beyond the included
// quantity grew (billing.UsageCharge), and an audit line of every sum, so
// the ledger check can price them again.
func CloseUsage(s State, claim UsageClaim, claimed []ClaimedUsage, now time.Time) Step {
	st := next(s)
	state := &st.State
	m := state.Meter.clone()
	state.Meter = m
	claimed = slices.Clone(claimed)
	sort.Slice(claimed, func(i, j int) bool {
		if claimed[i].Period != claimed[j].Period {
			return claimed[i].Period < claimed[j].Period
		}
		return claimed[i].Dimension < claimed[j].Dimension
	})
	var lines []map[string]any
	var total int64
	for _, c := range claimed {
		if c.Period < 0 || c.Period >= len(claim.Periods) || c.Claimed <= 0 {
			continue
		}
		bounds := claim.Periods[c.Period]
		dim := usageDimension(*state, bounds, c.Dimension)
		priced := billing.UsagePriced{
			PeriodStart: bounds.Start, PeriodEnd: bounds.End, Dimension: c.Dimension,
			Before: int64(c.Before), Claimed: int64(c.Claimed), Included: int64(dim.IncludedQuantity), UnitPrice: dim.UnitPrice,
		}
		line := map[string]any{
			"periodStart": bounds.Start, "periodEnd": bounds.End, "dimension": c.Dimension,
			"before": int64(c.Before), "claimed": int64(c.Claimed), "included": int64(dim.IncludedQuantity), "unitPrice": dim.UnitPrice,
		}
		if charge, ok := billing.UsageCharge(state.subject(), state.Plan.Currency, priced, now); ok {
			st.Charges = append(st.Charges, charge) // not a term's line: usage is never refunded
			line["chargeKey"], line["amount"] = charge.Key, charge.Amount
			total = billing.Add(total, charge.Amount)
		}
		lines = append(lines, line)
	}
	detail := map[string]any{"claimKey": claim.Key, "lines": lines, "amount": total, "currency": state.Plan.Currency}
	if !claim.Through.IsZero() {
		detail["through"] = claim.Through
	}
	st.event(KindUsageClosed, ActorSystem, now, detail)
	m.DueAt = time.Time{}
	if m.Open {
		if end := m.last().End; end.After(now) {
			m.DueAt = end
		} else {
			m.Open = false // the period ended: the next installment or the term's end opens the next
		}
	}
	m.prune(now)
	return st
}

// usageDimension is the dimension usage of a period is priced by: the
// period's own, or for usage of a dimension the period did not have (a
// late event of a plan changed since), the plan's with nothing included;
// an unknown one is priced at nothing, and the audit line still shows it.
func usageDimension(s State, bounds UsageBounds, id string) metering.Dimension {
	for _, p := range s.Meter.Periods {
		if p.Start.Equal(bounds.Start) && p.End.Equal(bounds.End) {
			if d, ok := metering.Lookup(p.Dimensions, id); ok {
				return d
			}
		}
	}
	d, _ := metering.Lookup(s.Plan.Dimensions, id)
	d.IncludedQuantity = 0
	return d
}

// prune forgets periods no late usage can arrive for any more (the last
// is always kept: it is open, or the one a late event most likely names).
func (m *Meter) prune(now time.Time) {
	keep := 0
	for keep < len(m.Periods)-1 && (!m.Periods[keep].End.After(now.Add(-lateUsageHorizon)) || len(m.Periods)-keep > keptPeriodsMax) {
		keep++
	}
	m.Periods = slices.Clone(m.Periods[keep:])
	var gaps []metering.Gap
	for _, g := range m.Gaps {
		if g.End.IsZero() || g.End.After(now.Add(-lateUsageHorizon)) {
			gaps = append(gaps, g)
		}
	}
	m.Gaps = gaps
}

// meter brings the usage periods in line with the step's end, the
// subscription having been `was` before it:
//   - it stopped counting (no longer active): what was accepted is closed
//     now, every event of it (some may be effective after the period's
//     end: accepted while the row still said active, they count in the
//     last period), and the time it does not count is a gap;
//   - it counts in the billing period now runs in: opened when it is not
//     (activation, installment, renewal, reinstatement, a change of
//     plan). A period opened while it went on counting begins with its
//     billing period, however late the step (a worker's outage does not
//     shrink an included quantity); one it resumes counting in begins
//     now, its included quantity prorated.
func (st *Step) meter(was Status, now time.Time, rules Rules) error {
	s := &st.State
	if !rules.Metering || (s.Meter == nil && len(s.Plan.Dimensions) == 0) {
		return nil
	}
	m := s.Meter.clone()
	if m == nil {
		m = &Meter{}
	}
	s.Meter = m
	sub := s.Subscription
	counting := sub.Status == StatusActive && sub.TermStart != nil && len(s.Plan.Dimensions) > 0
	if !counting {
		if m.Open || was == StatusActive {
			m.Open = false
			m.DueAt = now
			m.Gaps = append(slices.Clone(m.Gaps), metering.Gap{Start: now})
		}
		return nil
	}
	if n := len(m.Gaps); n > 0 && m.Gaps[n-1].End.IsZero() {
		m.Gaps = slices.Clone(m.Gaps)
		m.Gaps[n-1].End = now
	}
	sched, err := s.schedule()
	if err != nil {
		return err
	}
	start, end := sched.Period(*sub.TermStart, *sub.TermEnd, max(s.NextInstallment-1, 0))
	if len(m.Periods) > 0 && m.last().End.Equal(end) {
		if !m.Open && end.After(now) && was != StatusActive {
			m.Open = true // resumed inside the period it stopped in
			m.DueAt = end
		}
		// Otherwise it counts in it already, or the period ended: the next
		// installment, or the term's end, opens the next one.
		return nil
	}
	from := start
	if was != StatusActive && now.After(from) {
		from = now
	}
	if len(m.Periods) > 0 && m.last().End.After(from) {
		from = m.last().End // never two periods over the same time
	}
	dims := slices.Clone(s.Plan.Dimensions)
	for i := range dims {
		dims[i].IncludedQuantity = metering.Quantity(billing.IncludedFor(int64(dims[i].IncludedQuantity), start, end, from))
	}
	m.Periods = append(slices.Clone(m.Periods), UsagePeriod{Start: from, End: end, PlanID: s.Plan.ID, Dimensions: dims})
	m.Open = true
	// Due at the period's end, or at once when the step came after it.
	m.DueAt = end
	return nil
}

// cutUsagePeriod ends the open period at now before the plan changes: it
// keeps its share of the included quantity up to now, and the new plan's
// period (meter) begins there.
func (st *Step) cutUsagePeriod(now time.Time) {
	m := st.State.Meter.clone()
	if m == nil || !m.Open {
		return
	}
	st.State.Meter = m
	p := m.last()
	dims := slices.Clone(p.Dimensions)
	for i := range dims {
		dims[i].IncludedQuantity = metering.Quantity(billing.IncludedUntil(int64(dims[i].IncludedQuantity), p.Start, p.End, now))
	}
	p.Dimensions, p.End = dims, now
	// Closed now when the new plan meters nothing; a plan that meters
	// opens its period at once (meter) and the close comes at its end.
	m.Open = false
	m.DueAt = now
}
