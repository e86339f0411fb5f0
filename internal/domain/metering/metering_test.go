package metering

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var now = time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)

var dims = []Dimension{{ID: "api-calls", Name: "API calls", UnitOfMeasure: "1000 calls", UnitPrice: 5, IncludedQuantity: 100 * QuantityScale}}

func TestAnEventIsCheckedAsMicrosoftChecksIt(t *testing.T) {
	for name, c := range map[string]struct {
		e      Event
		active bool
		want   string
		since  time.Time
	}{
		"accepted":             {Event{"api-calls", 2.5, now.Add(-time.Hour)}, true, Accepted, time.Time{}},
		"not active":           {Event{"api-calls", 1, now.Add(-time.Hour)}, false, ResourceNotActive, time.Time{}},
		"unknown dimension":    {Event{"storage", 1, now.Add(-time.Hour)}, true, InvalidDimension, time.Time{}},
		"zero":                 {Event{"api-calls", 0, now.Add(-time.Hour)}, true, InvalidQuantity, time.Time{}},
		"negative":             {Event{"api-calls", -1, now.Add(-time.Hour)}, true, InvalidQuantity, time.Time{}},
		"not a number":         {Event{"api-calls", math.NaN(), now.Add(-time.Hour)}, true, InvalidQuantity, time.Time{}},
		"infinite":             {Event{"api-calls", math.Inf(1), now.Add(-time.Hour)}, true, InvalidQuantity, time.Time{}},
		"too large":            {Event{"api-calls", 2e9, now.Add(-time.Hour)}, true, InvalidQuantity, time.Time{}},
		"below a millionth":    {Event{"api-calls", 4e-7, now.Add(-time.Hour)}, true, InvalidQuantity, time.Time{}},
		"older than 24 h":      {Event{"api-calls", 1, now.Add(-Window - time.Second)}, true, Expired, time.Time{}},
		"exactly 24 h old":     {Event{"api-calls", 1, now.Add(-Window)}, true, Accepted, time.Time{}},
		"in the future":        {Event{"api-calls", 1, now.Add(time.Second)}, true, Expired, time.Time{}},
		"now":                  {Event{"api-calls", 1, now}, true, Accepted, time.Time{}},
		"inactive before else": {Event{"storage", -1, now.Add(time.Hour)}, false, ResourceNotActive, time.Time{}},
		"before it was active": {Event{"api-calls", 1, now.Add(-3*time.Hour - time.Second)}, true, ResourceNotActive, now.Add(-3 * time.Hour)},
		"as it became active":  {Event{"api-calls", 1, now.Add(-3 * time.Hour)}, true, Accepted, now.Add(-3 * time.Hour)},
	} {
		_, got := Check(c.e, Subscription{Active: c.active, Since: c.since, Dimensions: dims}, now)
		assert.Equal(t, c.want, got, name)
	}
}

func TestQuantitiesKeepSixDecimalsExactly(t *testing.T) {
	q, ok := QuantityOf(0.1)
	assert.True(t, ok)
	var sum Quantity
	for range 10 {
		sum += q
	}
	assert.Equal(t, QuantityScale, sum, "ten times 0.1 is exactly 1, as floating point is not")
	q, _ = QuantityOf(2.0000005)
	assert.Equal(t, "2.000001", q.String(), "half up to the millionth")
	assert.InDelta(t, 2.000001, q.Float(), 1e-12)
}

func TestAnEventCountsInTheHourItStarted(t *testing.T) {
	assert.Equal(t, time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC), Hour(time.Date(2026, 12, 7, 14, 59, 59, 0, time.UTC)))
	paris := time.FixedZone("CET", 3600)
	assert.Equal(t, time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC), Hour(time.Date(2026, 12, 7, 15, 30, 0, 0, paris)), "in UTC")
}
