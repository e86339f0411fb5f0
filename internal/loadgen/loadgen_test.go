package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Nearest rank: the p99 of 90 samples is the largest, of 160 the 159th.
func TestPercentileIsTheNearestRank(t *testing.T) {
	for _, c := range []struct {
		n    int
		p    float64
		want int // 1-based rank
	}{{90, 99, 90}, {160, 99, 159}, {100, 99, 99}, {100, 50, 50}, {1, 99, 1}, {3, 50, 2}} {
		sorted := make([]time.Duration, c.n)
		for i := range sorted {
			sorted[i] = time.Duration(i + 1)
		}
		assert.Equal(t, time.Duration(c.want), Percentile(sorted, c.p), "n=%d p%.0f", c.n, c.p)
	}
	assert.Zero(t, Percentile(nil, 99))
}
