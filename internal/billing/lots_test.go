package billing

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Adding licences late in a period and removing them credits what they
// were charged, never the full price: adding and removing earns nothing.
func TestRemovingLicencesCreditsWhatTheirBatchWasCharged(t *testing.T) {
	lots := StartTerm(1).ChargeInstallment(100)
	for range 3 {
		var credit int64
		lots = lots.Add(50, 4579)
		lots, credit = lots.Remove(50)
		assert.Equal(t, int64(4579), credit)
	}
	assert.Equal(t, Lots{{Quantity: 1, Charged: 100}}, lots)

	// Newest first, across batches, part of a batch by its share rounded
	// down.
	lots = StartTerm(3).ChargeInstallment(1200).Add(2, 1999)
	lots, credit := lots.Remove(3)
	assert.Equal(t, int64(1999+1200), credit)
	assert.Equal(t, Lots{{Quantity: 2, Charged: 2400}}, lots)
	lots = Lots{{Quantity: 3, Charged: 1000}}
	lots, credit = lots.Remove(1)
	assert.Equal(t, int64(333), credit)
	assert.Equal(t, Lots{{Quantity: 2, Charged: 667}}, lots, "the remainder stays with the licences kept")
	assert.Equal(t, 2, lots.Quantity())
}
