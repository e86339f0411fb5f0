package billing

import (
	"time"
)

// Lot is a batch of licences of the current term (the term's starting
// quantity, then each increase) and what the term has charged for it so far.
type Lot struct {
	Quantity int   `json:"quantity"`
	Charged  int64 `json:"charged"`
	// AllowedUntil closes the batch's own cancellation window (Partner
	// Center's refundableQuantity): its licences can be removed, and are
	// credited, only before it. Zero in runs recorded before batches had
	// windows: they take the subscription's window (WithWindow).
	AllowedUntil time.Time `json:"allowedUntil,omitzero"`
	// ChargedFrom is when the service the batch was charged for began:
	// the term's start for the licences it started with, the moment they
	// were added for licences added while billed. Zero until the batch is
	// first charged (and in runs recorded before it was kept). A credit
	// for the batch covers its period from then.
	ChargedFrom time.Time `json:"chargedFrom,omitzero"`
}

// Lots are a term's batches of licences, oldest first. Removing licences
// credits what was charged for them, newest batch first: licences added
// late in a period were charged a prorated price, and crediting them the
// full price would pay the partner for adding and removing them.
type Lots []Lot

// StartTerm is the lots of a term that starts with quantity licences,
// nothing charged yet, removable until allowedUntil.
func StartTerm(quantity int, allowedUntil time.Time) Lots {
	return Lots{{Quantity: quantity, AllowedUntil: allowedUntil}}
}

// ChargeInstallment records an installment of perLicence on every
// licence, for the installment period that starts at periodStart.
func (l Lots) ChargeInstallment(perLicence int64, periodStart time.Time) Lots {
	out := make(Lots, len(l))
	for i, lot := range l {
		out[i] = lot
		out[i].Charged = Add(out[i].Charged, times(int64(lot.Quantity), perLicence))
		if out[i].ChargedFrom.IsZero() {
			out[i].ChargedFrom = periodStart
		}
	}
	return out
}

// Add records a batch of quantity licences charged amount (from
// chargedFrom; zero when nothing is charged yet), removable until
// allowedUntil.
func (l Lots) Add(quantity int, amount int64, allowedUntil, chargedFrom time.Time) Lots {
	if amount == 0 {
		chargedFrom = time.Time{}
	}
	return append(append(Lots{}, l...), Lot{Quantity: quantity, Charged: amount, AllowedUntil: allowedUntil, ChargedFrom: chargedFrom})
}

// Resize is the lots with nothing charged, made quantity licences: a
// batch for the licences added (removable until allowedUntil), or the
// newest licences taken away. Activation uses it: the ISV may confirm
// another quantity, and billing starts from nothing.
func (l Lots) Resize(quantity int, allowedUntil time.Time) Lots {
	out := make(Lots, len(l))
	for i, lot := range l {
		out[i] = Lot{Quantity: lot.Quantity, AllowedUntil: lot.AllowedUntil}
	}
	switch have := out.Quantity(); {
	case quantity > have:
		out = out.Add(quantity-have, 0, allowedUntil, time.Time{})
	case quantity < have:
		out, _ = out.Remove(have - quantity)
	}
	return out
}

// WithWindow gives the batches that have no window of their own (recorded
// before batches had one) the subscription's window.
func (l Lots) WithWindow(allowedUntil time.Time) Lots {
	out := append(Lots{}, l...)
	for i := range out {
		if out[i].AllowedUntil.IsZero() {
			out[i].AllowedUntil = allowedUntil
		}
	}
	return out
}

// RefundableLot is a batch whose licences can still be removed.
type RefundableLot struct {
	Quantity     int       `json:"quantity"`
	AllowedUntil time.Time `json:"allowedUntil"`
}

// Refundable is how many licences can be removed, and credited, at a
// moment (Partner Center's refundableQuantity).
type Refundable struct {
	Total   int             `json:"total"`
	Details []RefundableLot `json:"details"`
}

// RefundableAt says which licences can be removed at at. Removal takes the
// newest first, so it is the newest batches whose windows are still open,
// up to the first closed one: licences behind a closed batch cannot be
// reached without removing it.
func (l Lots) RefundableAt(at time.Time) Refundable {
	r := Refundable{Details: []RefundableLot{}}
	for i := len(l) - 1; i >= 0; i-- {
		lot := l[i]
		if !at.Before(lot.AllowedUntil) {
			break
		}
		if lot.Quantity > 0 {
			r.Total += lot.Quantity
			r.Details = append(r.Details, RefundableLot{Quantity: lot.Quantity, AllowedUntil: lot.AllowedUntil.UTC()})
		}
	}
	return r
}

// Remove takes quantity licences away, newest first, and returns the
// credit: a whole batch is credited what it was charged; part of one its
// share, rounded down, so the remainder stays with the licences kept and
// no credit ever exceeds a charge.
func (l Lots) Remove(quantity int) (Lots, int64) {
	kept, taken := l.Take(quantity)
	var credit int64
	for _, t := range taken {
		credit = Add(credit, t.Charged)
	}
	return kept, credit
}

// Take takes quantity licences away, newest first, and returns the lots
// kept and what was taken of each batch touched (newest first), with its
// share of the batch's charge (Remove's rounding).
func (l Lots) Take(quantity int) (Lots, Lots) {
	out := append(Lots{}, l...)
	var taken Lots
	for i := len(out) - 1; i >= 0 && quantity > 0; i-- {
		lot := &out[i]
		n := min(quantity, lot.Quantity)
		part := lot.Charged
		if n < lot.Quantity {
			part = share(lot.Charged, n, lot.Quantity)
		}
		if n > 0 {
			taken = append(taken, Lot{Quantity: n, Charged: part, AllowedUntil: lot.AllowedUntil, ChargedFrom: lot.ChargedFrom})
		}
		lot.Quantity -= n
		lot.Charged -= part
		quantity -= n
	}
	kept := out[:0]
	for _, lot := range out {
		if lot.Quantity > 0 {
			kept = append(kept, lot)
		}
	}
	return kept, taken
}

// Quantity is the number of licences in the lots.
func (l Lots) Quantity() int {
	n := 0
	for _, lot := range l {
		n += lot.Quantity
	}
	return n
}

// Refundable is the lots' refundable licences at at, the batches without a
// window of their own (recorded before batches had one) taking window,
// and a quantity the lots do not hold (recorded before batches were kept)
// one batch of it in window.
func (l Lots) Refundable(quantity int, window, at time.Time) Refundable {
	if l.Quantity() != quantity {
		l = StartTerm(quantity, window)
	}
	return l.WithWindow(window).RefundableAt(at)
}

// Repriced is the lots after every licence's charge moved by perLicence
// (a change of plan: the new plan's price for the rest of the installment
// less the old one's), so that a later credit of a batch is what it paid.
func (l Lots) Repriced(perLicence int64) Lots {
	out := make(Lots, len(l))
	for i, lot := range l {
		out[i] = lot
		out[i].Charged = Add(lot.Charged, times(int64(lot.Quantity), perLicence))
	}
	return out
}
