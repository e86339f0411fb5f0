package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Adding licences late in a period and removing them credits what they
// were charged, never the full price: adding and removing earns nothing.
func TestRemovingLicencesCreditsWhatTheirBatchWasCharged(t *testing.T) {
	lots := StartTerm(1, time.Time{}).ChargeInstallment(100, time.Time{})
	for range 3 {
		var credit int64
		lots = lots.Add(50, 4579, time.Time{}, time.Time{})
		lots, credit = lots.Remove(50)
		assert.Equal(t, int64(4579), credit)
	}
	assert.Equal(t, Lots{{Quantity: 1, Charged: 100}}, lots)

	// Newest first, across batches, part of a batch by its share rounded
	// down.
	lots = StartTerm(3, time.Time{}).ChargeInstallment(1200, time.Time{}).Add(2, 1999, time.Time{}, time.Time{})
	lots, credit := lots.Remove(3)
	assert.Equal(t, int64(1999+1200), credit)
	assert.Equal(t, Lots{{Quantity: 2, Charged: 2400}}, lots)
	lots = Lots{{Quantity: 3, Charged: 1000}}
	lots, credit = lots.Remove(1)
	assert.Equal(t, int64(333), credit)
	assert.Equal(t, Lots{{Quantity: 2, Charged: 667}}, lots, "the remainder stays with the licences kept")
	assert.Equal(t, 2, lots.Quantity())
}

// Only the newest batches whose windows are open can be removed: a closed
// batch hides the open ones behind it, since removal takes the newest first.
func TestRefundableIsTheNewestOpenBatches(t *testing.T) {
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	lots := StartTerm(3, t0.Add(72*time.Hour)).ChargeInstallment(100, time.Time{}).
		Add(2, 150, t0.Add(120*time.Hour), time.Time{}).Add(1, 40, t0.Add(200*time.Hour), time.Time{})
	assert.Equal(t, t0.Add(72*time.Hour), lots[0].AllowedUntil, "charging keeps the window")
	assert.Equal(t, 6, lots.RefundableAt(t0).Total)
	r := lots.RefundableAt(t0.Add(100 * time.Hour))
	assert.Equal(t, 3, r.Total)
	assert.Equal(t, []RefundableLot{{Quantity: 1, AllowedUntil: t0.Add(200 * time.Hour)}, {Quantity: 2, AllowedUntil: t0.Add(120 * time.Hour)}}, r.Details)
	assert.Equal(t, 0, lots.RefundableAt(t0.Add(200*time.Hour)).Total, "the window is half-open")
	assert.Equal(t, 0, Lots{{Quantity: 1, AllowedUntil: t0}, {Quantity: 1, AllowedUntil: t0.Add(-time.Hour)}}.RefundableAt(t0).Total)
	// Resize at activation: more licences are a new batch, fewer leave the newest.
	resized := StartTerm(3, t0).Add(2, 0, t0.Add(time.Hour), time.Time{}).Resize(4, t0.Add(9*time.Hour))
	assert.Equal(t, Lots{{Quantity: 3, AllowedUntil: t0}, {Quantity: 1, AllowedUntil: t0.Add(time.Hour)}}, resized)
	assert.Equal(t, 6, resized.Resize(6, t0.Add(9*time.Hour)).Quantity())
	assert.Equal(t, Lots{{Quantity: 2, AllowedUntil: t0}}, Lots{{Quantity: 2}}.WithWindow(t0))
}
