package load

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// CPU reads a process's processor time from /proc: this test's own grows
// while it computes, and a process that is not there is an error that
// CPUOf counts as nothing.
func TestCPUIsReadFromProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	before, err := CPU(os.Getpid())
	require.NoError(t, err)
	selfBefore := SelfCPU()
	// Spin until getrusage says 200 ms of CPU were spent (however busy
	// the machine), then /proc must say about as much.
	for giveUp := time.Now().Add(time.Minute); SelfCPU()-selfBefore < 200*time.Millisecond; {
		require.True(t, time.Now().Before(giveUp), "no CPU time counted in a minute")
		spins++
	}
	after, err := CPU(os.Getpid())
	require.NoError(t, err)
	require.GreaterOrEqual(t, after-before, 150*time.Millisecond, "200 ms of CPU by getrusage, in /proc's 10 ms ticks")
	_, err = CPU(1 << 30)
	require.Error(t, err)
	require.GreaterOrEqual(t, CPUOf([]int{os.Getpid(), 1 << 30}), after)
}

var spins int

// The host's stolen time is /proc/stat's eighth figure; the share is of
// every state's time between two readings.
func TestStolenShareIsReadFromProcStat(t *testing.T) {
	before, err := parseMachineTime("cpu  100 0 50 800 10 0 0 40 7 0")
	require.NoError(t, err)
	after, err := parseMachineTime("cpu  200 0 100 1500 20 0 0 130 9 0")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, before.Total)
	assert.Equal(t, 400*time.Millisecond, before.Stolen)
	assert.InDelta(t, 90.0/950, before.StolenShare(after), 1e-9) // 90 of 950 ticks
	assert.Zero(t, after.StolenShare(before))

	_, err = parseMachineTime("cpu0 1 2 3 4 5 6 7 8")
	assert.Error(t, err)
	_, err = parseMachineTime("cpu 1 2 3 4 5 6 7")
	assert.Error(t, err, "a kernel without the steal field")

	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc here")
	}
	now, err := ReadMachineTime()
	require.NoError(t, err)
	assert.Positive(t, now.Total)
}
