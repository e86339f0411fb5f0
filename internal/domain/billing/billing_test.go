package billing

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/domain/period"
)

func TestInstallmentsSumToTheCent(t *testing.T) {
	for _, total := range []int64{0, 1, 11, 12, 999, 100001, 1234567} {
		for _, n := range []int{1, 2, 3, 7, 12} {
			var sum int64
			for i := 0; i < n; i++ {
				sum += InstallmentAmount(total, n, i)
			}
			assert.Equal(t, total, sum, "total %d in %d installments", total, n)
		}
	}
}

func TestInstallmentsByTermAndFrequency(t *testing.T) {
	assert.Equal(t, 12, Installments(period.MustParse("P1Y"), Monthly))
	assert.Equal(t, 1, Installments(period.MustParse("P1Y"), Annual))
	assert.Equal(t, 1, Installments(period.MustParse("P1M"), Monthly))
	assert.Equal(t, 3, Installments(period.MustParse("P3Y"), Annual))
	assert.Equal(t, 1, Installments(period.MustParse("PT5M"), Monthly))
}

func TestInstallmentChargeIsPerLicence(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(1, 0, 0)
	sub := Subject{SubscriptionID: "sub_1", PartnerID: "p", OfferID: "o", PlanID: "annual", Quantity: 5}
	sched, err := ScheduleFor("P1Y", 1001, "EUR", Monthly)
	require.NoError(t, err)
	var total int64
	for i := 0; i < sched.Installments; i++ {
		c := sched.InstallmentCharge(sub, 1, start, end, i)
		total += c.Amount
		if i == 0 {
			// 10.01 a licence a year: 0.83 a month, the 0.05 remainder on the first.
			assert.Equal(t, int64(5*88), c.Amount)
			assert.Equal(t, start, c.PeriodStart)
			assert.Equal(t, start.AddDate(0, 1, 0), c.PeriodEnd)
			assert.Equal(t, "sub_1/term-1/installment-0", c.Key)
		}
		if i == 11 {
			assert.Equal(t, end, c.PeriodEnd)
		}
	}
	assert.Equal(t, int64(5*1001), total, "a term's installments sum to quantity x unit price exactly")
	credit := Credit(sched.InstallmentCharge(sub, 1, start, end, 0), "cancelled")
	assert.Equal(t, CreditKind, credit.Kind)
	assert.Equal(t, "credit/sub_1/term-1/installment-0", credit.Key)
}

func TestProrate(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(30 * 24 * time.Hour)
	assert.Equal(t, int64(1000), Prorate(1000, start, end, start))
	assert.Equal(t, int64(500), Prorate(1000, start, end, start.Add(15*24*time.Hour)))
	assert.Equal(t, int64(0), Prorate(1000, start, end, end))
	assert.Equal(t, int64(1000), Prorate(1000, start, end, start.Add(-time.Hour)), "before the period: all of it")
	// 1/3 of 1000 = 333.33 -> 333; 2/3 = 666.67 -> 667 (half up).
	third := end.Sub(start) / 3
	assert.Equal(t, int64(667), Prorate(1000, start, end, start.Add(third)))
	assert.Equal(t, int64(333), Prorate(1000, start, end, start.Add(2*third)))
}

// Exact halves round up, to the cent: a remainder of exactly half a minor
// unit goes to the charge (never lost, never split differently on replay).
func TestProrateRoundsExactHalvesUp(t *testing.T) {
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(2 * time.Hour)
	half := start.Add(time.Hour)
	assert.Equal(t, int64(1), Prorate(1, start, end, half), "0.5 -> 1")
	assert.Equal(t, int64(2), Prorate(3, start, end, half), "1.5 -> 2")
	assert.Equal(t, int64(3), Prorate(5, start, end, half), "2.5 -> 3, not to even")
	assert.Equal(t, int64(0), Prorate(1, start, end, start.Add(90*time.Minute)), "0.25 -> 0")
}

// Every installment of a yearly term billed monthly covers its own month:
// contiguous, none overlapping, the first starting at the term start and
// only the last ending at the term end.
func TestEveryInstallmentPeriodOfAYearlyTerm(t *testing.T) {
	term, err := period.Parse("P1Y")
	require.NoError(t, err)
	start := time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)
	end := term.AddTo(start)
	n := Installments(term, "monthly")
	require.Equal(t, 12, n)
	prevEnd := start
	for i := range n {
		s, e := InstallmentPeriod(start, end, term, n, i)
		assert.Equal(t, prevEnd, s, "installment %d starts where the previous ended", i)
		assert.True(t, e.After(s), "installment %d is not empty", i)
		if i < n-1 {
			assert.Equal(t, start.AddDate(0, i+1, 0), e, "installment %d ends a month after the term start's day", i)
			assert.True(t, e.Before(end), "installment %d ends before the term", i)
		} else {
			assert.Equal(t, end, e, "the last installment ends with the term")
		}
		prevEnd = e
	}
}

// Amounts are computed in int64 with every product and sum checked: a
// plan that escaped the catalog's bounds stops the computation (a failed
// task, retried and visible) instead of wrapping a charge into a credit
// (issue 25).
func TestArithmeticNeverWraps(t *testing.T) {
	require.NoError(t, PlanWithinBounds(MaxUnitPrice, MaxQuantity))
	assert.Error(t, PlanWithinBounds(MaxUnitPrice+1, 1))
	assert.Error(t, PlanWithinBounds(1, MaxQuantity+1))
	assert.Error(t, PlanWithinBounds(-1, 1))

	// At the bounds, the largest line and a year of them are exact.
	sched := Schedule{Term: period.Period{Months: 12}, Installments: 1, UnitPrice: MaxUnitPrice, Currency: "USD"}
	sub := Subject{SubscriptionID: "s", Quantity: MaxQuantity}
	c := sched.InstallmentCharge(sub, 1, time.Unix(0, 0), time.Unix(0, 0).AddDate(1, 0, 0), 0)
	assert.Equal(t, MaxUnitPrice*MaxQuantity, c.Amount)

	huge := Schedule{Term: period.Period{Months: 1}, Installments: 1, UnitPrice: math.MaxInt64 / 2, Currency: "USD"}
	assert.Panics(t, func() {
		huge.InstallmentCharge(Subject{Quantity: 3}, 1, time.Unix(0, 0), time.Unix(0, 0).AddDate(0, 1, 0), 0)
	})
	assert.Panics(t, func() { Add(math.MaxInt64, 1) })
	assert.Panics(t, func() { Add(math.MinInt64, -1) })
	assert.Panics(t, func() { Net([]Charge{{Kind: ChargeKind, Amount: math.MaxInt64}, {Kind: ChargeKind, Amount: 1}}) })
	assert.Equal(t, int64(-1), Add(math.MaxInt64, math.MinInt64))
	assert.Panics(t, func() { Lots{{Quantity: 3, Charged: math.MaxInt64}}.ChargeInstallment(1, time.Time{}) })
	// Part of a batch: exact even where charged x removed exceeds int64.
	lots, credit := Lots{{Quantity: 1000, Charged: math.MaxInt64 / 10 * 10}}.Remove(999)
	assert.Equal(t, int64(9_214_148_664_817_921_024), credit, "floor(9 223 372 036 854 775 800 x 999 / 1000)")
	assert.Equal(t, 1, lots.Quantity())
}
