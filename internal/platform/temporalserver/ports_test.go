package temporalserver

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The ports chosen for the embedded server lie below the kernel's
// ephemeral range, where no outgoing connection can take one before the
// server binds it, and one process never chooses a port twice. Drawn by
// listening on port 0, they came from the ephemeral range, and one was
// taken in between in CI (the server then exits: "bind: address already
// in use").
func TestPortsAreChosenOutsideTheEphemeralRangeAndOnce(t *testing.T) {
	lo, hi, ok := portRange()
	if !ok {
		t.Skipf("the ephemeral range starts at %d: no room below it", hi)
	}
	seen := map[int]bool{}
	for range 100 {
		p, err := freePort("127.0.0.1")
		require.NoError(t, err)
		require.GreaterOrEqual(t, p, lo)
		require.Less(t, p, hi, "below the ephemeral range")
		require.False(t, seen[p], "port %d chosen twice", p)
		seen[p] = true
	}
	p, err := freePortPair("127.0.0.1")
	require.NoError(t, err)
	require.Less(t, p+10, hi)
	require.False(t, seen[p] || seen[p+10])

}
