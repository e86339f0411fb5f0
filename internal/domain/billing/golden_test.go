package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Golden amounts: each is worked out by hand in docs/billing.md's rules
// (proration by the millisecond over the installment's own period, half
// up; installments split with the remainder on the first).

func day(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

func monthly(t *testing.T, unitPrice int64, term string) Schedule {
	t.Helper()
	s, err := ScheduleFor(term, unitPrice, "USD", Monthly)
	require.NoError(t, err)
	return s
}

func TestGoldenProrationOverA31DayMonth(t *testing.T) {
	// Jan 10 → Feb 10 is 31 days; at Jan 25 12:00, 15.5 days remain.
	assert.Equal(t, int64(1200), Prorate(2*1200, day(2027, 1, 10, 0), day(2027, 2, 10, 0), day(2027, 1, 25, 12)))
}

func TestGoldenProrationInFebruary(t *testing.T) {
	// 2027: 28 days, 14 remain on the 15th → exactly half.
	assert.Equal(t, int64(600), Prorate(1200, day(2027, 2, 1, 0), day(2027, 3, 1, 0), day(2027, 2, 15, 0)))
	// 2028 is a leap year: 15 of 29 days remain → 620.69, half up 621.
	assert.Equal(t, int64(621), Prorate(1200, day(2028, 2, 1, 0), day(2028, 3, 1, 0), day(2028, 2, 15, 0)))
}

func TestGoldenProrationOverALeapYear(t *testing.T) {
	// 2028 has 366 days; from Jul 1, 184 remain: 12000 x 184/366 = 6032.79 → 6033.
	assert.Equal(t, int64(6033), Prorate(12000, day(2028, 1, 1, 0), day(2029, 1, 1, 0), day(2028, 7, 1, 0)))
}

func TestGoldenProrationRoundsHalfUp(t *testing.T) {
	// 1 minor unit over two equal halves: 0.5 → 1.
	assert.Equal(t, int64(1), Prorate(1, day(2027, 1, 1, 0), day(2027, 1, 1, 2), day(2027, 1, 1, 1)))
	assert.Equal(t, int64(0), Prorate(1200, day(2027, 1, 1, 0), day(2027, 2, 1, 0), day(2027, 2, 1, 0)), "nothing at the period's end")
}

// A quantity changed twice in one day, then reduced again: each increase
// is its own batch charged for what remained at its moment; the removal
// credits the newest batches what they were charged.
func TestGoldenQuantityChangedTwiceInADay(t *testing.T) {
	start, end := day(2026, 11, 1, 0), day(2026, 12, 1, 0) // 30 days
	sched := monthly(t, 1200, "P1M")
	sub := Subject{SubscriptionID: "sub_g", Quantity: 3}
	lots := StartTerm(3, end).ChargeInstallment(sched.PerLicence(0), start)
	first := sched.LicencesAdded(sub, 1, start, end, 0, 1, day(2026, 11, 16, 0))
	sub.Version++
	second := sched.LicencesAdded(sub, 1, start, end, 0, 1, day(2026, 11, 16, 12))
	assert.Equal(t, int64(600), first.Amount, "15 of 30 days")
	assert.Equal(t, int64(580), second.Amount, "14.5 of 30 days")
	assert.NotEqual(t, first.Key, second.Key, "two changes, two lines")
	lots = lots.Add(1, first.Amount, end, time.Time{}).Add(1, second.Amount, end, time.Time{})
	lots, credit := lots.Remove(2)
	assert.Equal(t, int64(1180), credit)
	assert.Equal(t, Lots{{Quantity: 3, Charged: 3600, AllowedUntil: end, ChargedFrom: start}}, lots)
}

// A yearly term billed monthly: 12 installments of 833 a licence, the
// 5-unit remainder on the first; licences added mid-March pay March's
// installment for the 15.5 of its 31 days left.
func TestGoldenYearlyTermBilledMonthly(t *testing.T) {
	start := day(2027, 1, 1, 0)
	end := start.AddDate(1, 0, 0)
	sched := monthly(t, 10001, "P1Y")
	require.Equal(t, 12, sched.Installments)
	sub := Subject{SubscriptionID: "sub_y", Quantity: 3}
	var total int64
	for i := range 12 {
		total += sched.InstallmentCharge(sub, 1, start, end, i).Amount
	}
	assert.Equal(t, int64(3*10001), total)
	assert.Equal(t, int64(3*838), sched.InstallmentCharge(sub, 1, start, end, 0).Amount)
	assert.Equal(t, int64(3*833), sched.InstallmentCharge(sub, 1, start, end, 1).Amount)
	ps, pe := sched.Period(start, end, 2)
	assert.Equal(t, day(2027, 3, 1, 0), ps)
	assert.Equal(t, day(2027, 4, 1, 0), pe)
	added := sched.LicencesAdded(sub, 1, start, end, 2, 1, day(2027, 3, 16, 12))
	assert.Equal(t, int64(417), added.Amount, "833 x 15.5/31 = 416.5, half up")
	assert.Equal(t, int64(833), added.UnitPrice)
}

// An increase, then a cancel inside the window: every line of the term is
// credited, and the term nets to zero.
func TestGoldenIncreaseThenCancelInsideTheWindow(t *testing.T) {
	start, end := day(2026, 11, 1, 0), day(2026, 12, 1, 0)
	sched := monthly(t, 1200, "P1M")
	sub := Subject{SubscriptionID: "sub_c", Quantity: 3, Version: 3}
	term := []Charge{
		sched.InstallmentCharge(sub, 1, start, end, 0),
		sched.LicencesAdded(sub, 1, start, end, 0, 2, day(2026, 11, 2, 0)),
	}
	assert.Equal(t, int64(3600), term[0].Amount)
	assert.Equal(t, int64(2320), term[1].Amount, "29 of 30 days")
	refund := Refund(term, "cancelled inside the window", day(2026, 11, 2, 1))
	require.Len(t, refund, 2)
	assert.Equal(t, int64(3600), refund[0].Amount)
	assert.Equal(t, int64(2320), refund[1].Amount)
	assert.Equal(t, ReasonRefund, refund[0].Reason)
	assert.Equal(t, int64(0), Net(append(term, refund...)))
	// After licences were removed and credited, the refund is only what remains.
	removed := sched.LicencesRemoved(sub, 1, start, end, 2, 2320, day(2026, 11, 2, 0))
	refund = Refund(append(term, removed), "cancelled", day(2026, 11, 2, 1))
	assert.Equal(t, int64(0), Net(append(append(term, removed), refund...)))
}

func TestMonthBounds(t *testing.T) {
	s, e, err := MonthBounds("2028-02")
	require.NoError(t, err)
	assert.Equal(t, day(2028, 2, 1, 0), s)
	assert.Equal(t, day(2028, 3, 1, 0), e)
	for _, bad := range []string{"2028-2", "2028-13", "28-02", "2028-02-01", ""} {
		_, _, err := MonthBounds(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "2026-12", PreviousMonth(day(2027, 1, 1, 0)))
	assert.Equal(t, "2027-01", PreviousMonth(day(2027, 2, 28, 23)))
}

func TestInvoicingPeriod(t *testing.T) {
	now := day(2026, 11, 25, 12)
	_, end, cutoff, err := InvoicingPeriod("2026-10", now, false)
	require.NoError(t, err)
	assert.Equal(t, day(2026, 11, 1, 0), end)
	assert.Equal(t, end, cutoff, "an ended month: its lines up to its end")
	_, _, _, err = InvoicingPeriod("2026-11", now, false)
	assert.ErrorIs(t, err, ErrMonthNotEnded)
	_, _, cutoff, err = InvoicingPeriod("2026-11", now, true)
	require.NoError(t, err)
	assert.Equal(t, now, cutoff, "closed early: up to now")
	for _, future := range []string{"2026-12", "9999-12"} {
		_, _, _, err = InvoicingPeriod(future, now, true)
		assert.ErrorIs(t, err, ErrMonthNotStarted, future)
	}
	_, _, _, err = InvoicingPeriod("2026-1", now, true)
	assert.Error(t, err)
}

// exact asserts every line is quantity x unitPrice = amount.
func exact(t *testing.T, lines ...Charge) {
	t.Helper()
	for _, c := range lines {
		assert.Equal(t, c.Amount, int64(c.Quantity)*c.UnitPrice, "%s: %d x %d", c.Key, c.Quantity, c.UnitPrice)
	}
}

// Exact lines (issue 25): buy 5 at 12.00, remove 3 inside the window, then
// cancel. The removal credits 3 x 12.00; the refund credits the 2
// licences left, 2 x 12.00: it used to say 5 x 12.00 = 24.00, and the
// export credited 8 licences on a 5-licence subscription.
func TestGoldenExactLinesRemoveThenCancel(t *testing.T) {
	start, end := day(2026, 11, 1, 0), day(2026, 12, 1, 0)
	sched := monthly(t, 1200, "P1M")
	sub := Subject{SubscriptionID: "sub_x", PartnerID: "p", OfferID: "o", PlanID: "monthly", Quantity: 5, Version: 3}
	installment := sched.InstallmentCharge(sub, 1, start, end, 0)
	lots := StartTerm(5, end).ChargeInstallment(installment.UnitPrice, installment.PeriodStart)
	kept, taken := lots.Take(3)
	removed := sched.RemovalCredits(sub, 1, start, taken, end, day(2026, 11, 2, 0))
	require.Len(t, removed, 1)
	assert.Equal(t, 3, removed[0].Quantity)
	assert.Equal(t, int64(3600), removed[0].Amount)
	assert.Equal(t, "credit/sub_x/term-1/quantity-v3", removed[0].Key)
	assert.Equal(t, ReasonLicencesRemoved, removed[0].Reason)
	assert.Equal(t, start, removed[0].PeriodStart, "the batch was charged from the term's start")
	assert.Equal(t, end, removed[0].PeriodEnd)

	refund := sched.RefundCredits(sub, 1, start, kept, end, day(2026, 11, 2, 1), "cancelled inside the cancellation window")
	require.Len(t, refund, 1)
	assert.Equal(t, 2, refund[0].Quantity, "the licences left")
	assert.Equal(t, int64(2400), refund[0].Amount)
	assert.Equal(t, ReasonRefund, refund[0].Reason)
	assert.Equal(t, "credit/sub_x/term-1/refund-0", refund[0].Key)
	exact(t, installment, removed[0], refund[0])
	assert.Zero(t, Net(append([]Charge{installment}, append(removed, refund...)...)), "the term nets to zero")
}

// Licences added mid-period are charged their installment price prorated
// per licence: 3 added a third of the way through pay 3 x 6.67 = 20.01
// (prorating the 30.00 total would give 20.00, and 20.00 over 3 licences
// is no price). Removing 2 of them credits 2 x 6.67 over their own
// service period, from when they were added.
func TestGoldenExactLinesForAProratedBatch(t *testing.T) {
	start, end := day(2027, 1, 1, 0), day(2027, 1, 31, 0) // a 30-day installment
	sched := Schedule{Term: monthly(t, 1000, "P1M").Term, Installments: 1, UnitPrice: 1000, Currency: "USD"}
	sub := Subject{SubscriptionID: "sub_y", Quantity: 1, Version: 4}
	at := day(2027, 1, 11, 0) // 20 of 30 days left
	added := sched.LicencesAddedPerLicence(sub, 1, start, end, 0, 3, at)
	assert.Equal(t, int64(667), added.UnitPrice)
	assert.Equal(t, int64(2001), added.Amount)
	assert.Equal(t, int64(2000), sched.LicencesAdded(sub, 1, start, end, 0, 3, at).Amount, "the rule of before")
	assert.Equal(t, at, added.PeriodStart)

	lots := StartTerm(1, end).ChargeInstallment(1000, start).Add(3, added.Amount, end, at)
	sub.Version++
	_, taken := lots.Take(2)
	removed := sched.RemovalCredits(sub, 1, start, taken, end, day(2027, 1, 12, 0))
	require.Len(t, removed, 1)
	assert.Equal(t, 2, removed[0].Quantity)
	assert.Equal(t, int64(667), removed[0].UnitPrice)
	assert.Equal(t, at, removed[0].PeriodStart, "the batch's period, not the term's")
	exact(t, added, removed[0])

	// Taking across batches makes a line per batch, newest first.
	_, taken = lots.Take(4)
	lines := sched.RemovalCredits(sub, 1, start, taken, end, day(2027, 1, 12, 0))
	require.Len(t, lines, 2)
	assert.Equal(t, []int{3, 1}, []int{lines[0].Quantity, lines[1].Quantity})
	assert.Equal(t, []int64{667, 1000}, []int64{lines[0].UnitPrice, lines[1].UnitPrice})
	assert.Equal(t, []string{"credit/sub_y/term-1/quantity-v5", "credit/sub_y/term-1/quantity-v5.1"}, []string{lines[0].Key, lines[1].Key})
	exact(t, lines...)
}

// A batch whose charge does not divide by its licences (possible only in
// terms recorded before exact lines) is credited in two exact lines.
func TestExactPartsSplitWhatDoesNotDivide(t *testing.T) {
	assert.Equal(t, []Part{{Quantity: 3, UnitPrice: 200}}, ExactParts(3, 600))
	assert.Equal(t, []Part{{Quantity: 1, UnitPrice: 311}, {Quantity: 1, UnitPrice: 310}}, ExactParts(2, 621))
	assert.Equal(t, []Part{{Quantity: 2, UnitPrice: 1}, {Quantity: 1, UnitPrice: 0}}, ExactParts(3, 2))
	assert.Nil(t, ExactParts(0, 5))
	for q := 1; q < 40; q++ {
		for _, amount := range []int64{0, 1, 7, 1000, 99991} {
			var sum int64
			for _, p := range ExactParts(q, amount) {
				sum += int64(p.Quantity) * p.UnitPrice
			}
			assert.Equal(t, amount, sum, "%d over %d", amount, q)
		}
	}
}

// Batches bought before billing started (each with its own window) are
// charged alike: their credit is one line, the same as for one batch.
func TestBatchesChargedAlikeAreCreditedInOneLine(t *testing.T) {
	start, end := day(2026, 11, 1, 0), day(2026, 12, 1, 0)
	sched := monthly(t, 1200, "P1M")
	sub := Subject{SubscriptionID: "sub_z", Quantity: 5, Version: 2}
	lots := StartTerm(3, end).Add(2, 0, end.Add(time.Hour), time.Time{}).ChargeInstallment(1200, start)
	_, taken := lots.Take(4)
	require.Len(t, taken, 2)
	lines := sched.RemovalCredits(sub, 1, start, taken, end, start)
	require.Len(t, lines, 1)
	assert.Equal(t, 4, lines[0].Quantity)
	assert.Equal(t, int64(4800), lines[0].Amount)
	refund := sched.RefundCredits(sub, 1, start, lots, end, start, "x")
	require.Len(t, refund, 1)
	assert.Equal(t, 5, refund[0].Quantity)
}

// A change of plan on the 10th of a 31-day month, on a yearly term billed
// monthly: the rest of the installment (21 of 31 days) credited at the old
// plan's monthly price and charged at the new one's, per licence; a batch
// added on the 20th paid more than the credit, so none pays the partner.
func TestGoldenChangeOfPlanMidInstallment(t *testing.T) {
	start, end := day(2027, 1, 1, 0), day(2028, 1, 1, 0)
	from := monthly(t, 12000, "P1Y") // 10.00 a month per licence
	to := monthly(t, 24000, "P1Y")   // 20.00
	sub := Subject{SubscriptionID: "sub_p", Quantity: 4, Version: 7, PlanID: "premium"}
	lines, perLicence := PlanChanged(from, to, sub, 1, start, end, 0, day(2027, 1, 11, 0))
	require.Len(t, lines, 2)
	credit, charge := lines[0], lines[1]
	assert.Equal(t, CreditKind, credit.Kind)
	assert.Equal(t, int64(677), credit.UnitPrice, "1000 x 21/31 = 677.42 → 677")
	assert.Equal(t, int64(4*677), credit.Amount)
	assert.Equal(t, ChargeKind, charge.Kind)
	assert.Equal(t, int64(1355), charge.UnitPrice, "2000 x 21/31 = 1354.84 → 1355")
	assert.Equal(t, int64(4*1355), charge.Amount)
	assert.Equal(t, int64(1355-677), perLicence)
	assert.Equal(t, "credit/sub_p/term-1/plan-v7", credit.Key)
	assert.Equal(t, "sub_p/term-1/plan-v7", charge.Key)
	for _, l := range lines {
		assert.Equal(t, ReasonPlanChanged, l.Reason)
		assert.Equal(t, day(2027, 1, 11, 0), l.PeriodStart)
		assert.Equal(t, day(2027, 2, 1, 0), l.PeriodEnd, "to the installment's end")
	}
	lots := StartTerm(3, end).ChargeInstallment(from.PerLicence(0), start).Add(1, Prorate(from.PerLicence(0), start, day(2027, 2, 1, 0), day(2027, 1, 5, 0)), end, day(2027, 1, 5, 0))
	repriced := lots.Repriced(perLicence)
	assert.Equal(t, int64(3*1000+3*678), repriced[0].Charged)
	assert.Equal(t, int64(871+678), repriced[1].Charged, "1000 x 27/31 = 870.97 → 871 paid, then the difference")
	// At the installment's very end nothing remains: no lines.
	lines, perLicence = PlanChanged(from, to, sub, 1, start, end, 0, day(2027, 2, 1, 0))
	assert.Empty(t, lines)
	assert.Zero(t, perLicence)
}

// Metered usage beyond the included quantity, priced once on the
// period's total, half up to the cent (issue 28's rule, stated in
// docs/billing.md when usage is charged).
func TestGoldenUsageBeyondTheIncludedQuantity(t *testing.T) {
	const unit = UsageScale
	// 1 234.5 units used, 1 000 included, 0.05 a unit: 234.5 x 5 = 1172.5 → 1173.
	beyond, amount := UsageOverage(1234*unit+unit/2, 1000*unit, 5)
	assert.Equal(t, int64(234*unit+unit/2), beyond)
	assert.Equal(t, int64(1173), amount)
	// Within the included quantity: nothing.
	beyond, amount = UsageOverage(999*unit, 1000*unit, 5)
	assert.Zero(t, beyond)
	assert.Zero(t, amount)
	// A millionth of a unit at 0.01: 0.000001 cent, rounds to nothing.
	_, amount = UsageOverage(1000*unit+1, 1000*unit, 1)
	assert.Zero(t, amount)
	// Billing began on the 11th of a 30-day period: 20/30 of 1 000 included.
	assert.Equal(t, int64(666_666_667), IncludedFor(1000*unit, day(2026, 11, 1, 0), day(2026, 12, 1, 0), day(2026, 11, 11, 0)))
	assert.Equal(t, int64(1000*unit), IncludedFor(1000*unit, day(2026, 11, 1, 0), day(2026, 12, 1, 0), day(2026, 11, 1, 0)))
}

// A period's usage lines add up to its whole usage priced once, however
// it arrives: 90 of 100 included at the close (no line), 30 late (the
// next close's line: 20 beyond at 0.25 = 5.00), 0.000001 later still
// (0.25 x 20.000001 = 5.00000025: nothing more, half up).
func TestGoldenUsageChargedLateAddsUpToTheWholePeriod(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	sub := Subject{SubscriptionID: "sub_1", PartnerID: "p", OfferID: "o", Version: 7}
	u := UsagePriced{PeriodStart: start, PeriodEnd: end, Dimension: "api-calls", Included: 100 * UsageScale, UnitPrice: 25}
	u.Claimed = 90 * UsageScale
	_, ok := UsageCharge(sub, "USD", u, end)
	assert.False(t, ok, "within the included quantity: no line")
	u.Before, u.Claimed = 90*UsageScale, 30*UsageScale
	c, ok := UsageCharge(sub, "USD", u, end.Add(time.Hour))
	require.True(t, ok)
	assert.Equal(t, int64(500), c.Amount)
	assert.Equal(t, int64(20*UsageScale), c.Usage)
	assert.Equal(t, ReasonUsage, c.Reason)
	assert.Equal(t, start, c.PeriodStart, "the line names the period the usage belongs to")
	u.Before, u.Claimed = 120*UsageScale, 1
	_, ok = UsageCharge(sub, "USD", u, end.Add(2*time.Hour))
	assert.False(t, ok, "a millionth more costs nothing more")
	_, whole := UsageOverage(120*UsageScale+1, 100*UsageScale, 25)
	assert.Equal(t, whole, c.Amount)

	// The included quantity split by a change of plan ten days into a
	// 30-day period: a third before, two thirds after, exactly.
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dec := nov.AddDate(0, 0, 30)
	cut := nov.AddDate(0, 0, 10)
	assert.Equal(t, int64(33_333_333), IncludedUntil(100*UsageScale, nov, dec, cut))
	assert.Equal(t, int64(66_666_667), IncludedFor(100*UsageScale, nov, dec, cut))
}
