package billing

// Lot is a batch of licences of the current term (the term's starting
// quantity, then each increase) and what the term has charged for it so far.
type Lot struct {
	Quantity int   `json:"quantity"`
	Charged  int64 `json:"charged"`
}

// Lots are a term's batches of licences, oldest first. Removing licences
// credits what was charged for them, newest batch first: licences added
// late in a period were charged a prorated price, and crediting them the
// full price would pay the partner for adding and removing them.
type Lots []Lot

// StartTerm is the lots of a term that starts with quantity licences,
// nothing charged yet.
func StartTerm(quantity int) Lots { return Lots{{Quantity: quantity}} }

// ChargeInstallment records an installment of perLicence on every licence.
func (l Lots) ChargeInstallment(perLicence int64) Lots {
	out := make(Lots, len(l))
	for i, lot := range l {
		out[i] = Lot{Quantity: lot.Quantity, Charged: lot.Charged + int64(lot.Quantity)*perLicence}
	}
	return out
}

// Add records a batch of quantity licences charged amount.
func (l Lots) Add(quantity int, amount int64) Lots {
	return append(append(Lots{}, l...), Lot{Quantity: quantity, Charged: amount})
}

// Remove takes quantity licences away, newest first, and returns the
// credit: a whole batch is credited what it was charged; part of one its
// share, rounded down, so the remainder stays with the licences kept and
// no credit ever exceeds a charge.
func (l Lots) Remove(quantity int) (Lots, int64) {
	out := append(Lots{}, l...)
	var credit int64
	for i := len(out) - 1; i >= 0 && quantity > 0; i-- {
		lot := &out[i]
		n := min(quantity, lot.Quantity)
		share := lot.Charged
		if n < lot.Quantity {
			share = lot.Charged * int64(n) / int64(lot.Quantity)
		}
		lot.Quantity -= n
		lot.Charged -= share
		credit += share
		quantity -= n
	}
	kept := out[:0]
	for _, lot := range out {
		if lot.Quantity > 0 {
			kept = append(kept, lot)
		}
	}
	return kept, credit
}

// Quantity is the number of licences in the lots.
func (l Lots) Quantity() int {
	n := 0
	for _, lot := range l {
		n += lot.Quantity
	}
	return n
}
