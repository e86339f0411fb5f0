package workflows

import (
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// refundableAt reads the projection's refundableQuantity at start+d, as
// the API computes it.
func (s *LifecycleSuite) refundableAt(d time.Duration) *billing.Refundable {
	out := &billing.Refundable{}
	s.at(d, func() {
		*out = s.stored().Lots.RefundableAt(s.start.Add(d))
	})
	return out
}

// Each batch of licences has its own cancellation window from when it was
// added: after the purchase's window closed, the licences added later can
// still be removed (and are credited what they were charged), the bought
// ones cannot (Partner Center's refundableQuantity).
func (s *LifecycleSuite) TestL44EachBatchHasItsOwnWindow() {
	s.activateAt(hour) // 3 licences, window until 72 h
	add := s.change(2*day, ChangeRequest{Quantity: ptr(5)})
	refundable := s.refundableAt(4 * day)
	tooMany := s.change(4*day, ChangeRequest{Quantity: ptr(2)})
	removeBatch := s.change(4*day+hour, ChangeRequest{Quantity: ptr(3)})
	afterAll := s.change(4*day+2*hour, ChangeRequest{Quantity: ptr(2)})
	charges := s.chargesAt(4*day + 3*hour)
	s.run(purchaseInput("monthly", 3))

	s.applied(add)
	s.Equal(1, len(refundable.Details))
	s.Equal(2, refundable.Total, "only the added batch is inside its window at day 4")
	s.Equal(s.start.Add(2*day+72*hour), refundable.Details[0].AllowedUntil)
	s.Equal(lifecycle.RefusedWindowClosed, tooMany.errType(), "3 licences cannot be removed when 2 are refundable")
	s.applied(removeBatch)
	s.Equal(lifecycle.RefusedWindowClosed, afterAll.errType(), "the purchase's licences are outside their window")

	s.Require().Len(*charges, 3)
	added, credit := (*charges)[1], (*charges)[2]
	s.Equal(billing.ReasonLicencesAdded, added.Reason)
	s.Equal(billing.ReasonLicencesRemoved, credit.Reason)
	// 2 licences at 12.00 for the 673 h left of a 720 h period: 11.2167,
	// 11.22 each (prorated per licence: exact lines), 22.44.
	s.Equal(int64(1122), added.UnitPrice)
	s.Equal(int64(2244), added.Amount)
	s.Equal(added.Amount, credit.Amount, "the batch is credited what it was charged")
	s.Equal(added.UnitPrice, credit.UnitPrice)
	s.True(s.start.Add(2*day).Equal(credit.PeriodStart), "the batch's service period, from when it was added")
}

// Licences added before activation keep the window they got when added;
// activation starts billing without opening new windows for them.
func (s *LifecycleSuite) TestL45BatchesAddedBeforeActivationKeepTheirWindows() {
	add := s.change(2*day, ChangeRequest{Quantity: ptr(5)}) // pending fulfillment
	s.activateAt(4 * day)
	tooMany := s.change(4*day+hour, ChangeRequest{Quantity: ptr(2)})
	remove := s.change(4*day+2*hour, ChangeRequest{Quantity: ptr(3)})
	late := s.change(5*day, ChangeRequest{Quantity: ptr(4)})
	lateRemove := s.change(5*day+hour, ChangeRequest{Quantity: ptr(2)})
	charges := s.chargesAt(5*day + 2*hour)
	s.run(purchaseInput("monthly", 3))

	s.applied(add)
	s.Equal(lifecycle.RefusedWindowClosed, tooMany.errType())
	s.applied(remove)
	s.applied(late)
	s.Equal(lifecycle.RefusedWindowClosed, lateRemove.errType(),
		"the licence added at day 5 can go, the 3 bought behind it cannot: 2 cannot be removed")
	s.Require().Len(*charges, 3, "installment of 5, credit of 2, licence added: %+v", *charges)
	s.Equal(int64(5*1200), (*charges)[0].Amount)
	s.Equal(int64(2*1200), (*charges)[1].Amount, "the 2 added before activation are credited their installment")
}

// A decrease inside the batch's window at its very end is refused: the
// window is half-open, like the subscription's.
func (s *LifecycleSuite) TestL46BatchWindowClosesAtItsEnd() {
	s.activateAt(hour)
	s.change(2*day, ChangeRequest{Quantity: ptr(4)})
	atEnd := s.change(5*day, ChangeRequest{Quantity: ptr(3)})
	s.run(purchaseInput("monthly", 3))
	s.Equal(lifecycle.RefusedWindowClosed, atEnd.errType())

	s.SetupTest()
	s.activateAt(hour)
	s.change(2*day, ChangeRequest{Quantity: ptr(4)})
	before := s.change(5*day-time.Second, ChangeRequest{Quantity: ptr(3)})
	s.run(purchaseInput("monthly", 3))
	s.applied(before)
}
