package billing

import (
	"fmt"
	"math"
	"math/big"
)

// The bounds billing computes within. A plan's price and licence count are
// held to them when the catalog is loaded (PlanWithinBounds), so that no
// line (at most MaxQuantity x MaxUnitPrice = 10^16 minor units) and no sum
// of lines an invoice can hold comes near int64's 9.2 x 10^18: a catalog
// that used a huge maxQuantity as "unlimited" could otherwise wrap a
// charge into a credit (issue 25).
const (
	// MaxUnitPrice is the highest price per licence per term, in minor
	// units (100 million in a currency of two decimals).
	MaxUnitPrice int64 = 10_000_000_000
	// MaxUsageUnitPrice is the highest price of one metered unit: a
	// year of hourly events of the largest quantity (metering.MaxQuantity)
	// priced at it stays ten times below int64's range.
	MaxUsageUnitPrice int64 = 100_000
	// MaxQuantity is the most licences a plan may allow.
	MaxQuantity = 1_000_000
)

// PlanWithinBounds says why a plan's price or licence count is outside
// what billing computes with, or nil.
func PlanWithinBounds(unitPrice int64, maxQuantity int) error {
	if unitPrice < 0 || unitPrice > MaxUnitPrice {
		return fmt.Errorf("unitPrice %d: want 0 to %d minor units per licence per term", unitPrice, MaxUnitPrice)
	}
	if maxQuantity > MaxQuantity {
		return fmt.Errorf("maxQuantity %d: want at most %d licences (billing computes amounts up to %d x %d)", maxQuantity, MaxQuantity, MaxQuantity, MaxUnitPrice)
	}
	return nil
}

// overflow stops a computation whose result int64 cannot hold. The
// catalog's bounds keep every amount far below it; reaching it means a
// plan escaped them, and a wrong amount must never be recorded: a panic
// fails the workflow task (retried, visible to operators as a failing
// task) or the activity, instead of wrapping a charge into a credit.
func overflow(op string, a, b int64) {
	panic(fmt.Sprintf("billing: %d %s %d overflows int64; no amount is recorded", a, op, b))
}

// times is a x b, checked.
func times(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		overflow("x", a, b)
	}
	return p
}

// Add is a + b, checked: every sum of amounts (a term's net, an invoice's
// subtotal) goes through it.
func Add(a, b int64) int64 {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
		overflow("+", a, b)
	}
	return s
}

// share is amount x n / of, rounded down, exactly (no intermediate
// overflow): part of a batch's charge.
func share(amount int64, n, of int) int64 {
	q := new(big.Int).Mul(big.NewInt(amount), big.NewInt(int64(n)))
	q.Quo(q, big.NewInt(int64(of)))
	if !q.IsInt64() {
		overflow("share of", amount, int64(n))
	}
	return q.Int64()
}
