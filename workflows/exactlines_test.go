package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stretchr/testify/mock"

	"go.temporal.io/sdk/temporal"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// exactLines asserts every line is quantity x unitPrice = amount.
func (s *LifecycleSuite) exactLines(lines []store.Line) {
	for _, c := range lines {
		s.Equal(c.Amount, int64(c.Quantity)*c.UnitPrice, "%s: %d x %d", c.Key, c.Quantity, c.UnitPrice)
	}
}

// A batch added mid-period is charged per licence and, removed, credited
// over its own service period; cancelling credits each batch held, at what
// it was charged per licence.
func (s *LifecycleSuite) TestEveryLineOfATermIsExact() {
	s.activateAt(hour)
	s.change(day+7*time.Minute, ChangeRequest{Quantity: ptr(4)}) // a batch of 3, prorated per licence
	s.change(day+hour, ChangeRequest{Quantity: ptr(3)})
	s.change(day+2*hour, ChangeRequest{Quantity: ptr(5)})
	cancel := s.change(2*day, ChangeRequest{Cancel: true})
	s.run(purchaseInput("monthly", 1))
	s.applied(cancel)
	charges := s.charges()
	s.exactLines(charges)
	s.Zero(net(charges))
	var refunds []store.Line
	for _, c := range charges {
		if c.Reason == billing.ReasonRefund {
			refunds = append(refunds, c)
		}
	}
	s.Require().Len(refunds, 3, "a line per batch held: the bought one, what is left of the first added, the second added")
	s.Equal([]int{1, 2, 2}, []int{refunds[0].Quantity, refunds[1].Quantity, refunds[2].Quantity})
	s.True(s.start.Add(day+7*time.Minute).Equal(refunds[1].PeriodStart), "each over its batch's own period")
}

// Runs of generation 3 (the type SubscriptionGeneration3, started before
// exact lines) keep the lines of before for as long as they run: their
// histories replay as they ran, and the ledger check (AfterTest) replays
// their lines by the rules they were written with.
func (s *LifecycleSuite) TestRunsOfBeforeKeepTheirLines() {
	s.workflowType = subscriptionWorkflowGeneration3
	s.activateAt(hour)
	s.change(2*hour, ChangeRequest{Quantity: ptr(2)})
	s.change(3*hour, ChangeRequest{Cancel: true})
	s.run(purchaseInput("monthly", 5))
	charges := s.charges()
	s.Require().Len(charges, 3)
	s.Equal(5, charges[2].Quantity, "the refund of before copied the credited charge's quantity")
	s.Equal("credit/"+charges[0].Key, charges[2].Key)
}

// A term started under the rules of before keeps them when a run of the
// newest type continues it; the next term takes exact lines.
func (s *LifecycleSuite) TestATermKeepsItsRulesAcrossRuns() {
	s.workflowType = subscriptionWorkflowGeneration3
	s.activateAt(0)
	s.run(purchaseInput("monthly", 1))
	next := s.continued()
	s.False(next.Continued.ExactLines, "term 2 began in the run of generation 3")

	s.newEnv()
	s.env.SetStartTime(*next.Continued.Subscription.TermStart)
	s.env.ExecuteWorkflow(SubscriptionWorkflowType, next)
	third := s.continued()
	s.True(third.Continued.ExactLines, "term 3 began in a run of generation 4")
}

// A change whose every field already has its value records nothing: no
// new version (other clients' If-Match stay good), no audit line, nothing
// in the history; the API answers the subscription as it is (issue 25:
// five such PATCHes moved the ETag from "3" to "7").
func (s *LifecycleSuite) TestAChangeThatChangesNothingRecordsNothing() {
	s.activateAt(hour)
	set := s.change(2*hour, ChangeRequest{Nickname: ptr(" CRM\u0301 "), AutoRenew: ptr(false)})
	before := s.snapshot(3 * hour)
	var same []*changeOutcome
	for i, req := range []ChangeRequest{
		{Nickname: ptr("CRM\u0301")}, {Nickname: ptr("CR\u1e3e")}, {AutoRenew: ptr(false)}, {Quantity: ptr(2)},
		{BillingFrequency: ptr(lifecycle.BillingMonthly)}, {ResellerPartnerID: ptr("")}, {Nickname: ptr("CRM\u0301"), Quantity: ptr(2)},
	} {
		same = append(same, s.change(4*hour+hourOf(i), req))
	}
	after := s.snapshot(day)
	s.run(purchaseInput("monthly", 2))
	s.applied(set)
	for i, out := range same {
		s.Equal(lifecycle.RefusedNothingToChange, out.errType(), "change %d", i)
		var shown ChangeResult
		s.Require().NoError(detailsOf(out.rejected, &shown), "change %d", i)
		s.Equal(before.Version, shown.Subscription.Version, "the answer is the subscription as it is")
	}
	s.Equal(before.Version, after.Version, "no new version")
	s.Equal([]string{lifecycle.KindPurchased, lifecycle.KindISVEventApplied, lifecycle.KindInstallmentCharged, lifecycle.KindBillingStarted, lifecycle.KindChanged, lifecycle.KindRenewalNotice, lifecycle.KindExpired},
		s.eventKinds(), "one change recorded")
}

// Two identical changes validated while a third step holds the lock: the
// second finds, once it holds the lock, that the first has done it, and
// records nothing (its validator, run before, could not know).
func (s *LifecycleSuite) TestTwoIdenticalChangesWaitingTogetherRecordOne() {
	real := &activities.Activities{Store: s.store}
	var a *activities.Activities
	s.env.OnActivity(a.CommitTransition, mock.Anything, mock.Anything).After(10 * time.Minute).
		Return(func(ctx context.Context, t activities.Transition) (activities.CommitReceipt, error) {
			return real.CommitTransition(ctx, t)
		})
	s.activateAt(hour)
	up := s.change(2*hour, ChangeRequest{Quantity: ptr(3)}) // holds the lock for its 10-minute commit
	outs := [2]*changeOutcome{{}, {}}
	s.at(2*hour+time.Minute, func() {
		for i, out := range outs {
			s.sendChange(fmt.Sprintf("same-%d", i), ChangeRequest{Nickname: ptr("CRM seats")}, out)
		}
	})
	s.run(purchaseInput("monthly", 2))
	s.applied(up)
	s.applied(outs[0])
	s.applied(outs[1], "both passed their validators; the second's handler found nothing to do")
	s.Equal("CRM seats", outs[1].result.Subscription.Nickname)
	s.Equal(outs[0].result.Subscription.Version, outs[1].result.Subscription.Version, "the second records no step")
	changed := 0
	for _, k := range s.eventKinds() {
		if k == lifecycle.KindChanged {
			changed++
		}
	}
	s.Equal(2, changed, "the quantity, then the nickname once")
}

func hourOf(i int) time.Duration { return time.Duration(i) * time.Minute }

// detailsOf decodes an application error's details.
func detailsOf(err error, v any) error {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return fmt.Errorf("not an application error: %v", err)
	}
	return appErr.Details(v)
}
