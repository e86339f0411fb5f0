package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/period"
	"github.com/cspmarket/orchestrator/internal/subscription"
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
	assert.Equal(t, 12, Installments(period.MustParse("P1Y"), subscription.BillingMonthly))
	assert.Equal(t, 1, Installments(period.MustParse("P1Y"), subscription.BillingAnnual))
	assert.Equal(t, 1, Installments(period.MustParse("P1M"), subscription.BillingMonthly))
	assert.Equal(t, 3, Installments(period.MustParse("P3Y"), subscription.BillingAnnual))
	assert.Equal(t, 1, Installments(period.MustParse("PT5M"), subscription.BillingMonthly))
}

func TestTermChargeFirstMonthOfAnnualTerm(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(1, 0, 0)
	sub := subscription.Subscription{ID: "sub_1", PartnerID: "p", OfferID: "o", PlanID: "annual", Quantity: 5, BillingFrequency: subscription.BillingMonthly}
	plan := subscription.Plan{TermDuration: "P1Y", UnitPrice: 1001, Currency: "EUR"}
	c, err := TermCharge(sub, plan, 1, start, end, 0)
	require.NoError(t, err)
	// 5 x 10.01 = 50.05 a year; 50.05 / 12 = 4.17 remainder 0.01 on the first month.
	assert.Equal(t, int64(418), c.Amount)
	assert.Equal(t, "EUR", c.Currency)
	assert.Equal(t, start, c.PeriodStart)
	assert.Equal(t, start.AddDate(0, 1, 0), c.PeriodEnd)
	assert.Equal(t, "sub_1/term-1/installment-0", c.Key)
}
