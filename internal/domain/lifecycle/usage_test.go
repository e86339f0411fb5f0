package lifecycle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
)

// The metered rows of docs/lifecycle.md (issue 28). A fake store takes
// usage the way internal/adapter/store does (claim what is not charged,
// sum per period and dimension): the rules are what is proven here, the
// store's SQL by its own tests against SQLite and Postgres.

func init() {
	// A flat fee of 50.00 a month; API calls counted in thousands, 100 000
	// included, 0.25 per thousand beyond; storage in GB, 10 included,
	// 1.00 a GB beyond.
	plans["metered"] = Plan{ID: "metered", TermDuration: "P1M", BillingFrequencies: []string{"monthly"}, UnitPrice: 5000, Currency: "USD",
		MinQuantity: 1, MaxQuantity: 1, CancellationWindow: "PT72H", Dimensions: []metering.Dimension{
			{ID: "api-calls", Name: "API calls", UnitOfMeasure: "1000 calls", UnitPrice: 25, IncludedQuantity: 100 * metering.QuantityScale},
			{ID: "storage", Name: "Storage", UnitOfMeasure: "GB", UnitPrice: 100, IncludedQuantity: 10 * metering.QuantityScale},
		}}
	// The same offer's bigger plan: twice the included quantities.
	plans["metered-pro"] = Plan{ID: "metered-pro", TermDuration: "P1M", BillingFrequencies: []string{"monthly"}, UnitPrice: 9000, Currency: "USD",
		MinQuantity: 1, MaxQuantity: 1, CancellationWindow: "PT72H", Dimensions: []metering.Dimension{
			{ID: "api-calls", Name: "API calls", UnitOfMeasure: "1000 calls", UnitPrice: 20, IncludedQuantity: 200 * metering.QuantityScale},
		}}
	plans["metered-annual"] = Plan{ID: "metered-annual", TermDuration: "P1Y", BillingFrequencies: []string{"monthly"}, UnitPrice: 60000, Currency: "USD",
		MinQuantity: 1, MaxQuantity: 1, CancellationWindow: "PT72H", Dimensions: []metering.Dimension{
			{ID: "api-calls", Name: "API calls", UnitOfMeasure: "1000 calls", UnitPrice: 25, IncludedQuantity: 100 * metering.QuantityScale},
		}}
	for id, c := range usageRows {
		table[id] = c
	}
}

// usageEvent is an accepted event in the fake store.
type usageEvent struct {
	dimension string
	effective time.Time
	quantity  metering.Quantity
	claimKey  string
}

// meter is the fake store of one subscription's accepted usage.
type meter struct{ events []*usageEvent }

func (m *meter) accept(dimension string, effective time.Time, units float64) {
	q, ok := metering.QuantityOf(units)
	if !ok {
		panic("bad quantity")
	}
	m.events = append(m.events, &usageEvent{dimension: dimension, effective: effective, quantity: q})
}

// claim marks what is not charged yet, and sums as the store does.
func (m *meter) claim(c UsageClaim) []ClaimedUsage {
	var events []ClaimedEvent
	for _, e := range m.events {
		if e.claimKey == "" && (c.Through.IsZero() || e.effective.Before(c.Through)) {
			e.claimKey = c.Key
		}
		events = append(events, ClaimedEvent{Dimension: e.dimension, Effective: e.effective, Quantity: e.quantity, ClaimKey: e.claimKey})
	}
	return SumClaimed(c, events)
}

// untilMetered takes every deadline due by t0+at as the shell does: a
// close of usage first (claimed from m), then the rest.
func (b *sub) untilMetered(m *meter, at time.Duration) []Step {
	b.t.Helper()
	var taken []Step
	for !Ended(b.s) {
		next, ok := NextDeadline(b.s)
		if !ok || t0.Add(at).Before(next) {
			break
		}
		if claim, due := UsageDue(b.s, next); due {
			taken = append(taken, b.take(CloseUsage(b.s, claim, m.claim(claim), next), nil))
			continue
		}
		st := b.take(PassDeadline(b.s, next, next, b.rules))
		taken = append(taken, st)
		if st.Renewed {
			break
		}
	}
	return taken
}

// usageLines are the usage lines of steps.
func usageLines(steps []Step) []billing.Charge {
	var out []billing.Charge
	for _, st := range steps {
		for _, c := range st.Charges {
			if c.Reason == billing.ReasonUsage {
				out = append(out, c)
			}
		}
	}
	return out
}

var usageRows = map[string]func(t *testing.T){
	"L59": func(t *testing.T) {
		b := bought(t, "metered", 1)
		m := &meter{}
		b.activate(hour)
		require.NotNil(t, b.s.Meter)
		assert.True(t, b.s.Meter.Open)
		start, end := t0.Add(hour), t0.Add(hour).AddDate(0, 1, 0)
		assert.Equal(t, end, b.s.Meter.DueAt, "the close is due at the period's end")
		// 100 000 calls are included: 60 + 39.5 stay within.
		m.accept("api-calls", start.Add(2*hour), 60)
		m.accept("api-calls", start.Add(3*hour), 39.5)
		m.accept("storage", start.Add(3*hour), 4)
		steps := b.untilMetered(m, 31*day)
		var order []string
		for _, st := range steps {
			order = append(order, kinds(st)[0])
		}
		assert.Equal(t, []string{KindRenewalNotice, KindUsageClosed, KindInstallmentCharged}, order, "the close comes before the renewal")
		assert.True(t, steps[2].Renewed)
		assert.Empty(t, usageLines(steps), "usage within the included quantity costs nothing")
		assert.Equal(t, StatusActive, b.status())

		// The second period: 250.5 thousand calls (150.5 beyond at 0.25 =
		// 37.625, half up 37.63) and 12.000001 GB (2.000001 beyond at 1.00
		// = 2.000001, half up 2.00): one line per dimension.
		second := end
		m.accept("api-calls", second.Add(hour), 200)
		m.accept("api-calls", second.Add(5*hour), 50.5)
		m.accept("storage", second.Add(6*hour), 12.000001)
		steps = b.untilMetered(m, 62*day)
		lines := usageLines(steps)
		require.Len(t, lines, 2, "one line per dimension")
		assert.Equal(t, "api-calls", lines[0].Dimension)
		assert.Equal(t, int64(3763), lines[0].Amount)
		assert.Equal(t, int64(150_500_000), lines[0].Usage, "150.5 thousand calls beyond")
		assert.Equal(t, int64(25), lines[0].UnitPrice)
		assert.Equal(t, second, lines[0].PeriodStart)
		assert.Equal(t, second.AddDate(0, 1, 0), lines[0].PeriodEnd)
		assert.Equal(t, "storage", lines[1].Dimension)
		assert.Equal(t, int64(200), lines[1].Amount)
		assert.Equal(t, billing.ChargeKind, lines[0].Kind)
		assert.Empty(t, b.s.TermCharges[len(b.s.TermCharges)-1].Dimension, "usage is no line of the term's: never refunded")
		_ = start
	},
	"L60": func(t *testing.T) {
		b := bought(t, "metered", 1)
		m := &meter{}
		b.activate(0)
		end := t0.AddDate(0, 1, 0)
		m.accept("api-calls", end.Add(-2*hour), 90)
		steps := b.untilMetered(m, 31*day)
		assert.Empty(t, usageLines(steps))
		// 30 more for the period's last hour come after it closed (within
		// Microsoft's 24 hours): the period's usage is 120, 20 beyond.
		m.accept("api-calls", end.Add(-time.Hour), 30)
		// And 15 of the new period's, which its own included covers.
		m.accept("api-calls", end.Add(2*hour), 15)
		steps = b.untilMetered(m, 62*day)
		lines := usageLines(steps)
		require.Len(t, lines, 1, "the late usage is on the next close's lines, priced in its own period")
		assert.Equal(t, t0, lines[0].PeriodStart, "the line names the period the usage belongs to")
		assert.Equal(t, int64(500), lines[0].Amount, "20 beyond at 0.25")
		// A period's lines add up to its whole usage priced once.
		_, whole := billing.UsageOverage(int64(120*metering.QuantityScale), int64(100*metering.QuantityScale), 25)
		assert.Equal(t, whole, lines[0].Amount)
	},
	"L61": func(t *testing.T) {
		b := bought(t, "metered", 1)
		m := &meter{}
		b.activate(0)
		m.accept("api-calls", t0.Add(hour), 130)
		suspended := b.event(5*day, "s1", EventSuspended)
		assert.Equal(t, t0.Add(5*day), b.s.Meter.DueAt, "a subscription that stops counting closes its usage at once")
		assert.Empty(t, suspended.Charges)
		steps := b.untilMetered(m, 5*day)
		lines := usageLines(steps)
		require.Len(t, lines, 1, "what was used so far is charged at the suspension")
		assert.Equal(t, int64(750), lines[0].Amount, "30 beyond at 0.25")
		// Reinstated inside the same period: it goes on with what is left.
		b.event(10*day, "r1", EventReinstated)
		assert.True(t, b.s.Meter.Open)
		m.accept("api-calls", t0.Add(11*day), 10)
		steps = b.untilMetered(m, 31*day)
		lines = usageLines(steps)
		require.Len(t, lines, 1)
		assert.Equal(t, int64(250), lines[0].Amount, "10 more beyond, nothing included twice")

		// Suspended across the next boundary and reinstated ten days into
		// the third period: that period counts from the reinstatement,
		// with its included quantity prorated to what remains.
		b.event(32*day, "s2", EventSuspended)
		b.untilMetered(m, 32*day)
		third, thirdEnd := t0.AddDate(0, 2, 0), t0.AddDate(0, 3, 0)
		b.untilMetered(m, third.Sub(t0)+time.Minute)
		reinstated := third.Add(10 * day)
		b.event(reinstated.Sub(t0), "r2", EventReinstated)
		p := b.s.Meter.Periods[len(b.s.Meter.Periods)-1]
		assert.Equal(t, reinstated, p.Start)
		assert.Equal(t, thirdEnd, p.End)
		included := billing.IncludedFor(int64(100*metering.QuantityScale), third, thirdEnd, reinstated)
		assert.Equal(t, included, int64(p.Dimensions[0].IncludedQuantity))
		assert.Less(t, included, int64(100*metering.QuantityScale))
	},
	"L62": func(t *testing.T) {
		// Cancelled inside its window: the usage so far is charged (it was
		// used), the flat fee refunded; the subscription ends after the close.
		b := bought(t, "metered", 1)
		m := &meter{}
		b.activate(0)
		m.accept("storage", t0.Add(hour), 15)
		cancelled := b.changed(2*day, Change{Cancel: true})
		assert.Equal(t, StatusCancelled, b.status())
		assert.False(t, Ended(b.s), "its usage is closed first")
		assert.Empty(t, usageLines([]Step{cancelled}))
		steps := b.untilMetered(m, 2*day)
		lines := usageLines(steps)
		require.Len(t, lines, 1)
		assert.Equal(t, int64(500), lines[0].Amount, "5 GB beyond at 1.00")
		assert.True(t, Ended(b.s))

		// Renewal: the term's last period is closed at the term's end,
		// before the new term's first period opens whole.
		r := bought(t, "metered", 1)
		rm := &meter{}
		r.activate(0)
		termEnd := t0.AddDate(0, 1, 0)
		rm.accept("api-calls", termEnd.Add(-hour), 104)
		steps = r.untilMetered(rm, 31*day)
		require.GreaterOrEqual(t, len(steps), 2)
		closeAt := -1
		for i, st := range steps {
			if len(st.Events) > 0 && st.Events[0].Kind == KindUsageClosed {
				closeAt = i
			}
		}
		require.GreaterOrEqual(t, closeAt, 0)
		assert.True(t, steps[len(steps)-1].Renewed, "the renewal comes after the close")
		assert.Equal(t, int64(100), usageLines(steps)[0].Amount, "4 beyond at 0.25")
		p := r.s.Meter.Periods[len(r.s.Meter.Periods)-1]
		assert.Equal(t, termEnd, p.Start)
		assert.Equal(t, 100*metering.QuantityScale, p.Dimensions[0].IncludedQuantity)

		// Expired (auto-renew off): closed at the term's end, then ended.
		e := bought(t, "metered", 1)
		em := &meter{}
		e.activate(0)
		e.changed(hour, Change{AutoRenew: ptr(false)})
		em.accept("api-calls", t0.Add(2*hour), 101)
		steps = e.untilMetered(em, 40*day)
		assert.Equal(t, StatusExpired, e.status())
		assert.True(t, Ended(e.s))
		require.Len(t, usageLines(steps), 1)
		assert.Equal(t, int64(25), usageLines(steps)[0].Amount)
	},
	"L63": func(t *testing.T) {
		// A change of plan ten days into a 30-day period (November 24 to
		// December 24 is 30 days): the old plan's part keeps a third of its
		// included quantity, the new plan's two thirds of its own.
		b := bought(t, "metered", 1)
		m := &meter{}
		b.activate(0)
		m.accept("api-calls", t0.Add(hour), 40)
		b.changed(10*day, Change{PlanID: ptr("metered-pro"), Plan: ptr(plans["metered-pro"]), Source: SourcePublisher})
		require.Len(t, b.s.Meter.Periods, 2)
		old, cur := b.s.Meter.Periods[0], b.s.Meter.Periods[1]
		assert.Equal(t, t0.Add(10*day), old.End)
		assert.Equal(t, t0.Add(10*day), cur.Start)
		third := 100 * metering.QuantityScale / 3
		assert.InDelta(t, int64(third), int64(old.Dimensions[0].IncludedQuantity), 1)
		assert.InDelta(t, int64(2*200*metering.QuantityScale/3), int64(cur.Dimensions[0].IncludedQuantity), 1)
		m.accept("api-calls", t0.Add(11*day), 150)
		steps := b.untilMetered(m, 31*day)
		lines := usageLines(steps)
		require.Len(t, lines, 2, "each part priced by its plan")
		assert.Equal(t, t0, lines[0].PeriodStart)
		// 40 used of 33.333333 included: 6.666667 beyond at 0.25 = 1.67.
		assert.Equal(t, int64(167), lines[0].Amount)
		// 150 used of 133.333333: 16.666667 beyond at 0.20 = 3.33.
		assert.Equal(t, int64(333), lines[1].Amount)
	},
	"L65": func(t *testing.T) {
		// Found by the hostile pass: usage accepted between the end of a
		// term that does not renew and the expiry's step (the subscription
		// was still active) was claimed by no close. The expiry now closes
		// what was accepted, in the term's last period.
		e := bought(t, "metered", 1)
		m := &meter{}
		e.activate(0)
		e.changed(hour, Change{AutoRenew: ptr(false)})
		end := t0.AddDate(0, 1, 0)
		closed := false
		for !closed {
			next, _ := NextDeadline(e.s)
			claim, due := UsageDue(e.s, next)
			require.True(t, due || next.Before(end), "the period's close comes first")
			if due {
				e.take(CloseUsage(e.s, claim, m.claim(claim), next), nil)
				closed = true
				continue
			}
			e.take(PassDeadline(e.s, next, next, e.rules))
		}
		m.accept("api-calls", end.Add(5*time.Millisecond), 115) // accepted while the row still said active
		steps := e.untilMetered(m, 40*day)
		assert.Equal(t, StatusExpired, e.status())
		lines := usageLines(steps)
		require.Len(t, lines, 1, "the expiry closes what was accepted")
		assert.Equal(t, int64(375), lines[0].Amount, "15 beyond at 0.25, in the term's last period")

		// Found by the hostile pass: a renewal (or an installment) taken
		// late, after a worker outage, opened the new period at the step,
		// so its included quantity shrank though its fee was whole. The
		// new period begins when the billing period does.
		r := bought(t, "metered", 1)
		r.activate(0)
		late := t0.AddDate(0, 1, 0).Add(2 * hour) // the worker came back two hours after the term's end
		for r.s.TermNumber < 2 {
			next, _ := NextDeadline(r.s)
			if claim, due := UsageDue(r.s, next); due {
				r.take(CloseUsage(r.s, claim, nil, late), nil)
				continue
			}
			r.take(PassDeadline(r.s, next, late, r.rules))
		}
		p := r.s.Meter.Periods[len(r.s.Meter.Periods)-1]
		assert.Equal(t, t0.AddDate(0, 1, 0), p.Start, "the new term's first period starts with the term")
		assert.Equal(t, 100*metering.QuantityScale, p.Dimensions[0].IncludedQuantity, "whole")
	},
	"L66": func(t *testing.T) {
		// Found by the hostile pass: usage effective while the
		// subscription was suspended was accepted once it was reinstated.
		// The meter remembers when it did not count (Gaps), so acceptance
		// refuses such usage, while usage of before the suspension still
		// counts.
		b := bought(t, "metered", 1)
		b.activate(0)
		b.event(5*day, "s1", EventSuspended)
		b.untilMetered(&meter{}, 5*day)
		b.event(5*day+2*hour, "r1", EventReinstated)
		gaps := b.s.Meter.Gaps
		require.Len(t, gaps, 1)
		assert.Equal(t, metering.Gap{Start: t0.Add(5 * day), End: t0.Add(5*day + 2*hour)}, gaps[0])
		now := t0.Add(5*day + 3*hour)
		check := func(effective time.Time) string {
			_, status := metering.Check(metering.Event{Dimension: "api-calls", Quantity: 1, EffectiveStart: effective},
				metering.Subscription{Active: true, Since: t0, Dimensions: b.s.Plan.Dimensions, Gaps: gaps}, now)
			return status
		}
		assert.Equal(t, metering.ResourceNotActive, check(t0.Add(5*day+hour)), "not counting while suspended")
		assert.Equal(t, metering.Accepted, check(t0.Add(5*day-time.Minute)), "counting before the suspension")
		assert.Equal(t, metering.Accepted, check(t0.Add(5*day+2*hour)), "counting again from the reinstatement")
	},
	"L64": func(t *testing.T) {
		// Runs of before metering (generation 5) ignore a plan's dimensions.
		b := bought(t, "metered", 1)
		b.rules.Metering = false
		b.activate(0)
		assert.Nil(t, b.s.Meter)
		_, due := NextDeadline(b.s)
		assert.True(t, due)
		_, usageDue := UsageDue(b.s, t0.AddDate(1, 0, 0))
		assert.False(t, usageDue)
	},
}
