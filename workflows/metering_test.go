package workflows

import (
	"context"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
)

// Metered usage through the shell (issue 28): the store accepts usage at
// the workflow's moments, the run closes it as the rules say (claimed by
// an activity, committed as a step), and AfterTest's ledger check replays
// every close.

// usage has the store accept one event at start+at, effective at
// start+effective, and asserts it was.
func (s *LifecycleSuite) usage(at time.Duration, dimension string, effective time.Duration, quantity float64) {
	s.at(at, func() {
		res, err := s.store.AcceptUsage(context.Background(), []store.UsageSubmission{{
			PublisherID: "isv-demo", SubscriptionID: "sub_1", ResourceID: "sub_1", Dimension: dimension, Quantity: quantity,
			EffectiveStart: s.start.Add(effective), Source: "native",
		}}, s.start.Add(at))
		s.Require().NoError(err)
		s.Equal(metering.Accepted, res[0].Status, res[0].Message)
	})
}

func usageLinesOf(lines []store.Line) []store.Line {
	var out []store.Line
	for _, l := range lines {
		if l.Reason == billing.ReasonUsage {
			out = append(out, l)
		}
	}
	return out
}

// A month's usage closed at the period's end, before the renewal: 160
// thousand calls of 100 included, 60 beyond at 0.25 = 15.00.
func (s *LifecycleSuite) TestL59UsageClosedAtThePeriodsEndThroughTheShell() {
	s.activateAt(hour)
	s.usage(2*hour, "api-calls", hour+30*time.Minute, 150)
	s.usage(20*day, "api-calls", 20*day-time.Hour, 10)
	s.usage(20*day, "storage-gb", 19*day+2*hour, 3)
	var view *store.Metering
	s.at(21*day, func() { view = s.stored().Metering })
	s.run(purchaseInput("api-standard", 1))
	lines := usageLinesOf(s.charges())
	s.Require().Len(lines, 1, "one line: storage stayed within its included quantity")
	s.Equal("api-calls", lines[0].Dimension)
	s.Equal(int64(1500), lines[0].Amount)
	s.Equal(int64(60*metering.QuantityScale), lines[0].Usage)
	periodEnd := s.start.Add(hour).AddDate(0, 1, 0)
	s.Equal(periodEnd, lines[0].PeriodEnd)
	s.Equal(periodEnd, lines[0].PostedAt, "closed at the period's end")
	s.Require().NotNil(view)
	s.Require().NotNil(view.Period, "the store shows the period counting")
	s.Equal(periodEnd, view.Period.End)
	kinds := s.eventKinds()
	s.Contains(kinds, lifecycle.KindUsageClosed)
}

// A year billed monthly: usage that comes late for a closed month is
// charged at the next month's close, priced in its own month (90 of 100
// at the close, 30 more late: 20 beyond = 5.00), while the new month's
// usage stays within its own included quantity.
func (s *LifecycleSuite) TestL60LateUsageChargedAtTheNextCloseThroughTheShell() {
	in := purchaseInput("api-standard", 1)
	in.Plan.TermDuration = "P1Y"
	s.activateAt(hour)
	firstEnd := s.start.Add(hour).AddDate(0, 1, 0).Sub(s.start)
	s.usage(firstEnd-3*hour, "api-calls", firstEnd-3*hour, 90)
	s.usage(firstEnd+2*hour, "api-calls", firstEnd-time.Hour, 30)
	s.usage(firstEnd+3*hour, "api-calls", firstEnd+2*hour, 15)
	atFirstClose := s.chargesAt(firstEnd + time.Hour)
	secondEnd := s.start.Add(hour).AddDate(0, 2, 0).Sub(s.start)
	afterSecond := s.chargesAt(secondEnd + time.Hour)
	s.at(secondEnd+2*time.Hour, func() { s.env.CancelWorkflow() })
	s.run(in)
	s.Empty(usageLinesOf(*atFirstClose), "within the included quantity at the first close")
	lines := usageLinesOf(*afterSecond)
	s.Require().Len(lines, 1)
	s.Equal(int64(500), lines[0].Amount)
	s.Equal(s.start.Add(hour), lines[0].PeriodStart, "the line names the month the usage belongs to")
	s.Equal(s.start.Add(secondEnd), lines[0].PostedAt, "charged at the next close")
}

// Suspended: the usage so far is closed at once, not at the period's end.
func (s *LifecycleSuite) TestL61SuspensionClosesUsageAtOnceThroughTheShell() {
	s.activateAt(hour)
	s.usage(2*hour, "messages", 90*time.Minute, 75)
	s.event(3*day, "susp", lifecycle.EventSuspended)
	atSuspension := s.chargesAt(3*day + time.Minute)
	s.event(4*day, "unsub", lifecycle.EventUnsubscribed)
	s.run(purchaseInput("api-standard", 1))
	lines := usageLinesOf(*atSuspension)
	s.Require().Len(lines, 1)
	s.Equal(int64(125), lines[0].Amount, "25 hundred messages beyond at 0.05")
	s.ended(lifecycle.StatusCancelled)
}
