package period

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAndString(t *testing.T) {
	cases := map[string]Period{
		"P1M":     {Months: 1},
		"P1Y":     {Years: 1},
		"P30D":    {Days: 30},
		"P2W":     {Days: 14},
		"PT72H":   {Clock: 72 * time.Hour},
		"PT60S":   {Clock: time.Minute},
		"PT5M":    {Clock: 5 * time.Minute},
		"P1DT12H": {Days: 1, Clock: 12 * time.Hour},
	}
	for in, want := range cases {
		got, err := Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		again, err := Parse(got.String())
		require.NoError(t, err)
		assert.Equal(t, got, again, "round trip of %s via %s", in, got.String())
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "P", "PT", "1M", "P1", "PM", "P1X", "PT1D", "P0D", "P1MT", "P-1M", "P1.5M", "P99999999Y", "PT1HT1M"} {
		_, err := Parse(in)
		assert.Error(t, err, in)
	}
}

func TestAddToUsesCalendar(t *testing.T) {
	start := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	assert.Equal(t, time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC), MustParse("P1M").AddTo(start))
	assert.Equal(t, time.Date(2027, 1, 15, 10, 0, 0, 0, time.UTC), MustParse("P1Y").AddTo(start))
	assert.Equal(t, start.Add(72*time.Hour), MustParse("PT72H").AddTo(start))
}

func TestTotalMonths(t *testing.T) {
	assert.Equal(t, 12, MustParse("P1Y").TotalMonths())
	assert.Equal(t, 1, MustParse("P1M").TotalMonths())
	assert.Equal(t, 0, MustParse("PT5M").TotalMonths())
}
