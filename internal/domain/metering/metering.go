// Package metering is the rules of metered usage (issue 28, CONTRACT.md
// "Metered usage"), as pure functions: which usage event a subscription
// takes and why one is refused, in Microsoft's words (the metering API's
// statuses), and the hour an event counts in. It does no I/O and reads no
// clock; what usage costs is internal/domain/billing's (Overage).
package metering

import (
	"fmt"
	"math"
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
)

// Dimension is something a plan meters: a unit, its price beyond what
// each billing period includes.
type Dimension struct {
	ID, Name, UnitOfMeasure string
	// UnitPrice is the price of one unit beyond the included quantity, in
	// minor units of the plan's currency.
	UnitPrice int64
	// IncludedQuantity is included in each billing period.
	IncludedQuantity Quantity
}

// Quantity is an amount of usage in millionths of a unit: Microsoft's
// quantities are JSON doubles; six decimals are kept exactly, so that sums
// over a period never drift as floating point does.
type Quantity int64

// QuantityScale is one unit.
const QuantityScale Quantity = billing.UsageScale

// MaxQuantity bounds one event (a billion units): larger is a mistake,
// and sums of a period's events stay far from overflow.
const MaxQuantity = 1_000_000_000 * QuantityScale

// QuantityOf is a posted quantity as a Quantity, rounded half up to the
// millionth; false for one that is not positive, not finite or too large.
func QuantityOf(v float64) (Quantity, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v > float64(MaxQuantity/QuantityScale) {
		return 0, false
	}
	q := Quantity(math.Floor(v*float64(QuantityScale) + 0.5))
	return q, q > 0
}

// IncludedQuantityOf is a plan's included quantity as a Quantity: zero or
// more, at most MaxQuantity, and exact to the millionth (a catalog that
// says more decimals is refused rather than rounded).
func IncludedQuantityOf(v float64) (Quantity, bool) {
	if v == 0 {
		return 0, true
	}
	q, ok := QuantityOf(v)
	return q, ok && math.Abs(q.Float()-v) < 1e-9*math.Max(1, v)
}

// Float is the quantity as Microsoft's APIs write it.
func (q Quantity) Float() float64 { return float64(q) / float64(QuantityScale) }

func (q Quantity) String() string {
	return fmt.Sprintf("%d.%06d", q/QuantityScale, q%QuantityScale)
}

// Statuses of a usage event, as Microsoft's metering API names them.
const (
	Accepted          = "Accepted"
	Expired           = "Expired"           // older than the window, or in the future
	Duplicate         = "Duplicate"         // its subscription, dimension and hour have an event
	ResourceNotActive = "ResourceNotActive" // the subscription is not active
	ResourceNotFound  = "ResourceNotFound"  // no subscription of the publisher has this id
	InvalidDimension  = "InvalidDimension"  // the plan meters no such dimension
	InvalidQuantity   = "InvalidQuantity"   // not positive, not finite, or too large
	BadArgument       = "BadArgument"
)

// Window is how old an event may be when posted: Microsoft's 24 hours.
const Window = 24 * time.Hour

// Hour is the hour an event counts in: one event per subscription,
// dimension and hour of its effective start time (UTC).
func Hour(effectiveStart time.Time) time.Time { return effectiveStart.UTC().Truncate(time.Hour) }

// Event is a usage event as posted.
type Event struct {
	Dimension      string
	Quantity       float64
	EffectiveStart time.Time
}

// Subscription is what acceptance needs of the subscription an event is
// for: whether it is active now, since when it counts usage (its billing
// started), and what its plan meters.
type Subscription struct {
	Active     bool
	Since      time.Time
	Dimensions []Dimension
	// Gaps are when it did not count usage since (suspended, a
	// cancellation waiting): usage effective then is refused.
	Gaps []Gap
}

// Gap is a time the subscription did not count usage, from Start to End
// (zero: it still does not).
type Gap struct{ Start, End time.Time }

// covers reports whether t is in the gap.
func (g Gap) covers(t time.Time) bool {
	return !t.Before(g.Start) && (g.End.IsZero() || t.Before(g.End))
}

// Check says whether an event can be accepted at now for sub, and if not,
// why (a status other than Accepted). Duplicates are the store's to find
// (one row per subscription, dimension and hour); the rest is here. An
// event effective before the subscription counted usage, or while it did
// not (a gap), is refused as ResourceNotActive: it was not active then.
func Check(e Event, sub Subscription, now time.Time) (Quantity, string) {
	if !sub.Active {
		return 0, ResourceNotActive
	}
	if _, ok := Lookup(sub.Dimensions, e.Dimension); !ok {
		return 0, InvalidDimension
	}
	q, ok := QuantityOf(e.Quantity)
	if !ok {
		return 0, InvalidQuantity
	}
	if e.EffectiveStart.After(now) || now.Sub(e.EffectiveStart) > Window {
		return 0, Expired
	}
	if e.EffectiveStart.Before(sub.Since) {
		return 0, ResourceNotActive
	}
	for _, g := range sub.Gaps {
		if g.covers(e.EffectiveStart) {
			return 0, ResourceNotActive
		}
	}
	return q, Accepted
}

// Lookup is the plan's dimension of that id.
func Lookup(dims []Dimension, id string) (Dimension, bool) {
	for _, d := range dims {
		if d.ID == id {
			return d, true
		}
	}
	return Dimension{}, false
}
