package workflows

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// One test per row of docs/lifecycle.md, named in its last column.

func (s *LifecycleSuite) TestL01ProvisionedAssignsLicences() {
	s.event(hour, "p1", lifecycle.EventProvisioned)
	snap := s.snapshot(2 * hour)
	charges := s.chargesAt(2 * hour)
	s.run(purchaseInput("monthly", 3))
	s.Equal(lifecycle.StatusProvisioned, snap.Status)
	s.False(snap.ActionNeeded)
	s.Empty(*charges, "nothing is charged before the ISV confirms fulfillment")
}

func (s *LifecycleSuite) TestL02ActivatedBeforeProvisionedStartsBilling() {
	s.activateAt(2 * hour)
	snap := s.snapshot(3 * hour)
	charges := s.chargesAt(3 * hour)
	s.run(purchaseInput("monthly", 3))
	activated := s.start.Add(2 * hour)
	s.Equal(lifecycle.StatusActive, snap.Status)
	s.Equal(activated, snap.BillingStartedAt.UTC())
	s.Equal(activated, snap.TermStart.UTC())
	s.Equal(activated.AddDate(0, 1, 0), snap.TermEnd.UTC())
	s.Equal(s.start.Add(72*hour), snap.CancellationWindowEndsAt.UTC(), "the first term keeps the window opened at purchase")
	s.Require().Len(*charges, 1)
	s.Equal(int64(3*1200), (*charges)[0].Amount)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyActivated)
}

func (s *LifecycleSuite) TestL03ActivatedAfterProvisionedStartsBilling() {
	s.event(hour, "p1", lifecycle.EventProvisioned)
	s.activateAt(2 * hour)
	snap := s.snapshot(3 * hour)
	charges := s.chargesAt(3 * hour)
	s.run(purchaseInput("monthly", 2))
	s.Equal(lifecycle.StatusActive, snap.Status)
	s.Equal(int64(3), snap.Version)
	s.Require().Len(*charges, 1)
	s.Equal(int64(2*1200), (*charges)[0].Amount)
	s.Equal([]string{lifecycle.KindPurchased, lifecycle.KindISVEventApplied, lifecycle.KindISVEventApplied, lifecycle.KindInstallmentCharged, lifecycle.KindBillingStarted}, s.eventKinds()[:5])
}

func (s *LifecycleSuite) TestL04EventsTheStatusCannotTakeAreRecordedNotApplied() {
	s.event(hour, "e1", lifecycle.EventReinstated)
	s.event(hour, "e2", lifecycle.EventSuspended)
	s.event(hour, "e3", lifecycle.EventCancellationApproved)
	s.event(2*hour, "e4", lifecycle.EventProvisioned)
	s.event(3*hour, "e5", lifecycle.EventProvisioned)
	s.event(3*hour, "e6", lifecycle.EventCancellationRejected)
	snap := s.snapshot(4 * hour)
	s.run(purchaseInput("monthly", 1))
	s.Equal(lifecycle.StatusProvisioned, snap.Status)
	s.Equal([]string{lifecycle.KindPurchased, lifecycle.KindISVEventRejected, lifecycle.KindISVEventRejected, lifecycle.KindISVEventRejected, lifecycle.KindISVEventApplied,
		lifecycle.KindISVEventRejected, lifecycle.KindISVEventRejected}, s.eventKinds()[:7])
	s.Equal([]string{"isv-demo/e1", "isv-demo/e2", "isv-demo/e3", "isv-demo/e4", "isv-demo/e5", "isv-demo/e6"}, s.receipts(),
		"every event taken, applied or not, has its receipt, so a repeat is answered as one")
}

func (s *LifecycleSuite) TestL05ActivationOutsideThePlanIsRejected() {
	s.event(hour, "a1", lifecycle.EventActivated, func(e *ISVEvent) { e.Quantity = 5000 })
	snap := s.snapshot(2 * hour)
	charges := s.chargesAt(2 * hour)
	s.run(purchaseInput("monthly", 1))
	s.Equal(lifecycle.StatusPendingFulfillment, snap.Status)
	s.Empty(*charges)
	s.Equal([]string{lifecycle.KindPurchased, lifecycle.KindISVEventRejected}, s.eventKinds()[:2])
}

func (s *LifecycleSuite) TestL06ActivationCarriesFinalPlanAndQuantity() {
	in := purchaseInput("monthly", 1)
	annual := purchaseInput("annual", 1).Plan
	s.event(hour, "a1", lifecycle.EventActivated, func(e *ISVEvent) { e.PlanID, e.Plan, e.Quantity = "annual", &annual, 4 })
	snap := s.snapshot(2 * hour)
	charges := s.chargesAt(2 * hour)
	s.run(in)
	s.Equal("annual", snap.PlanID)
	s.Equal(4, snap.Quantity)
	s.Equal("P1Y", snap.TermDuration)
	s.Require().Len(*charges, 1)
	s.Equal(int64(4*12000/12), (*charges)[0].Amount, "annual plan billed monthly: the first of twelve installments")
}

func (s *LifecycleSuite) TestL07RepeatedEventIDIsIgnored() {
	for _, d := range []time.Duration{hour, 2 * hour, 3 * hour} {
		s.event(d, "same", lifecycle.EventActivated)
	}
	snap := s.snapshot(4 * hour)
	charges := s.chargesAt(4 * hour)
	s.run(purchaseInput("monthly", 2))
	s.Equal(int64(2), snap.Version, "purchase and one activation")
	s.Len(*charges, 1)
}

func (s *LifecycleSuite) TestL08ActivationDeadlineCancelsWithoutCharge() {
	s.event(hour, "p1", lifecycle.EventProvisioned)
	before := s.snapshot(30*day - hour)
	s.run(purchaseInput("monthly", 1))
	s.Equal(lifecycle.StatusProvisioned, before.Status)
	events, err := s.store.Events(context.Background(), "sub_1")
	s.Require().NoError(err)
	last := events[len(events)-1]
	s.Equal(lifecycle.KindActivationDeadline, last.Kind)
	s.Equal(s.start.Add(30*day), last.At, "the deadline is 30 days after the purchase, not later")
	s.ended(lifecycle.StatusCancelled)
	s.Empty(s.charges())
	s.Contains(s.eventKinds(), lifecycle.KindActivationDeadline)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyActivationDeadline)
	s.Contains(s.notifications(), "publisher:"+lifecycle.NotifyCancelled)
}

func (s *LifecycleSuite) TestL09ChangesBeforeActivation() {
	out := s.change(hour, ChangeRequest{Nickname: ptr("  CRM for sales "), AutoRenew: ptr(false), ResellerPartnerID: ptr("RESELLER-42")})
	s.run(purchaseInput("annual", 1))
	s.Require().True(out.done)
	s.applied(out)
	s.Nil(out.rejected)
	got := out.result.Subscription
	s.Equal("CRM for sales", got.Nickname)
	s.False(got.AutoRenew)
	s.Equal("RESELLER-42", got.ResellerPartnerID)
	s.Equal(int64(2), got.Version)
	s.Contains(s.eventKinds(), lifecycle.KindChanged)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyChanged, "every applied change is notified")
	s.NotContains(s.notifications(), "publisher:"+lifecycle.NotifyChanged, "a nickname is none of the ISV's business")

	s.newEnv()
	s.SetupTest()
	freq := s.change(hour, ChangeRequest{BillingFrequency: ptr("annual")})
	s.run(purchaseInput("annual", 1))
	s.Equal("annual", freq.result.Subscription.BillingFrequency, "nothing billed yet: the first term is billed the new way")
}

func (s *LifecycleSuite) TestL10QuantityBeforeActivation() {
	up := s.change(hour, ChangeRequest{Quantity: ptr(10)})
	down := s.change(2*hour, ChangeRequest{Quantity: ptr(4)})
	charges := s.chargesAt(3 * hour)
	s.run(purchaseInput("monthly", 5))
	s.Equal(10, up.result.Subscription.Quantity)
	s.Equal(4, down.result.Subscription.Quantity)
	s.Empty(*charges)
}

func (s *LifecycleSuite) TestL11CancelBeforeActivation() {
	out := s.change(hour, ChangeRequest{Cancel: true})
	s.run(purchaseInput("monthly", 5))
	s.Equal(lifecycle.StatusCancelled, out.result.Subscription.Status)
	s.ended(lifecycle.StatusCancelled)
	s.Empty(s.charges())
}

func (s *LifecycleSuite) TestL12QuantityIncreaseIsProrated() {
	s.activateAt(0)
	// Monthly plan, 30-day period from Nov 24 09:00 to Dec 24 09:00; add 2
	// licences 15 days in: half of 2 x 12.00 = 12.00.
	out := s.change(15*day, ChangeRequest{Quantity: ptr(5)})
	charges := s.chargesAt(15*day + hour)
	s.run(purchaseInput("monthly", 3))
	s.Equal(5, out.result.Subscription.Quantity)
	s.Require().Len(*charges, 2)
	s.Equal(int64(3*1200), (*charges)[0].Amount)
	s.Equal(int64(1200), (*charges)[1].Amount)
	s.Contains(s.notifications(), "publisher:"+lifecycle.NotifyChanged)
}

func (s *LifecycleSuite) TestL13QuantityDecreaseInsideWindowIsCredited() {
	s.activateAt(hour)
	out := s.change(2*hour, ChangeRequest{Quantity: ptr(2)})
	charges := s.chargesAt(3 * hour)
	s.run(purchaseInput("monthly", 5))
	s.Equal(2, out.result.Subscription.Quantity)
	s.Require().Len(*charges, 2)
	s.Equal("credit", (*charges)[1].Kind)
	s.Equal(int64(3*1200), (*charges)[1].Amount)
	s.Equal(int64(2*1200), net(*charges))
}

func (s *LifecycleSuite) TestL14QuantityDecreaseAfterWindowIsRejected() {
	s.activateAt(hour)
	out := s.change(4*day, ChangeRequest{Quantity: ptr(2)})
	snap := s.snapshot(4*day + hour)
	s.run(purchaseInput("monthly", 5))
	s.Require().Error(out.rejected)
	s.Equal(lifecycle.RefusedWindowClosed, out.errType())
	s.Equal(5, snap.Quantity)
	s.Equal(int64(2), snap.Version, "a rejected change leaves no trace")
}

func (s *LifecycleSuite) TestL15QuantityOutsidePlanBoundsIsRejected() {
	s.activateAt(hour)
	tooMany := s.change(2*hour, ChangeRequest{Quantity: ptr(1001)})
	zero := s.change(3*hour, ChangeRequest{Quantity: ptr(0)})
	s.run(purchaseInput("monthly", 5))
	s.Equal(lifecycle.RefusedInvalid, tooMany.errType())
	s.Equal(lifecycle.RefusedInvalid, zero.errType())
	s.Require().Error(tooMany.rejected)
}

func (s *LifecycleSuite) TestL16CancelInsideWindowRefundsTheTerm() {
	s.activateAt(hour)
	up := s.change(2*hour, ChangeRequest{Quantity: ptr(6)})
	out := s.change(3*hour, ChangeRequest{Cancel: true})
	s.run(purchaseInput("monthly", 5))
	s.applied(up)
	s.Equal(lifecycle.StatusCancelled, out.result.Subscription.Status)
	s.ended(lifecycle.StatusCancelled)
	charges := s.charges()
	s.Equal(int64(0), net(charges), "every charge of the term credited: %+v", charges)
	s.Len(charges, 4, "first charge, prorated increase, and a credit for each")
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyCancelled)
	s.Contains(s.notifications(), "publisher:"+lifecycle.NotifyCancelled)
}

func (s *LifecycleSuite) TestL17CancelAfterWindowIsRejectedAutoRenewOffIsNot() {
	s.activateAt(hour)
	cancel := s.change(4*day, ChangeRequest{Cancel: true})
	autoRenewOff := s.change(4*day+hour, ChangeRequest{AutoRenew: ptr(false)})
	s.run(purchaseInput("monthly", 5))
	s.Equal(lifecycle.RefusedWindowClosed, cancel.errType())
	s.applied(autoRenewOff)
	s.False(autoRenewOff.result.Subscription.AutoRenew)
	s.ended(lifecycle.StatusExpired)
}

func (s *LifecycleSuite) TestL18CancelNeedingThePublisherWaits() {
	s.activateAt(hour)
	out := s.change(2*hour, ChangeRequest{Cancel: true})
	snap := s.snapshot(3 * hour)
	s.run(purchaseInput("annual-managed", 5))
	s.True(out.result.Pending)
	s.Equal(lifecycle.StatusPendingCancellation, out.result.Subscription.Status)
	s.Equal(lifecycle.StatusPendingCancellation, snap.Status)
	s.Contains(s.notifications(), "publisher:"+lifecycle.NotifyCancellationRequested)
}

func (s *LifecycleSuite) TestL19ApprovalCancelsAndRefunds() {
	s.activateAt(hour)
	s.change(2*hour, ChangeRequest{Cancel: true})
	// Approved after the window closed: the request was made inside it.
	s.event(5*day, "ok", lifecycle.EventCancellationApproved)
	s.run(purchaseInput("annual-managed", 5))
	s.ended(lifecycle.StatusCancelled)
	s.Equal(int64(0), net(s.charges()))
}

func (s *LifecycleSuite) TestL20RejectionRestoresTheStatus() {
	s.activateAt(hour)
	s.change(2*hour, ChangeRequest{Cancel: true})
	s.event(3*hour, "no", lifecycle.EventCancellationRejected)
	snap := s.snapshot(4 * hour)
	s.run(purchaseInput("annual-managed", 5))
	s.Equal(lifecycle.StatusActive, snap.Status)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyCancellationRejected)
}

func (s *LifecycleSuite) TestL21UnansweredCancellationLapses() {
	s.activateAt(hour)
	s.change(2*hour, ChangeRequest{Cancel: true})
	waiting := s.snapshot(7 * day)
	lapsed := s.snapshot(7*day + 3*hour)
	s.run(purchaseInput("annual-managed", 5))
	s.Equal(lifecycle.StatusPendingCancellation, waiting.Status)
	s.Equal(lifecycle.StatusActive, lapsed.Status)
	s.Contains(s.eventKinds(), lifecycle.KindCancellationLapsed)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyCancellationLapsed)
}

func (s *LifecycleSuite) TestL22PendingCancellationRefusesChanges() {
	s.activateAt(hour)
	s.change(2*hour, ChangeRequest{Cancel: true})
	again := s.change(3*hour, ChangeRequest{Cancel: true})
	quantity := s.change(3*hour+time.Minute, ChangeRequest{Quantity: ptr(9)})
	freq := s.change(3*hour+2*time.Minute, ChangeRequest{BillingFrequency: ptr("annual")})
	s.run(purchaseInput("annual-managed", 5))
	s.Equal(lifecycle.RefusedState, again.errType())
	s.Equal(lifecycle.RefusedState, quantity.errType())
	s.Equal(lifecycle.RefusedState, freq.errType())
}

func (s *LifecycleSuite) TestL23SuspendedPausesBilling() {
	s.activateAt(hour)
	s.event(2*hour, "s1", lifecycle.EventSuspended)
	snap := s.snapshot(3 * hour)
	s.run(purchaseInput("monthly", 1))
	s.Equal(lifecycle.StatusSuspended, snap.Status)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifySuspended)
}

func (s *LifecycleSuite) TestL24ReinstatedResumes() {
	s.activateAt(hour)
	s.event(2*hour, "s1", lifecycle.EventSuspended)
	s.event(3*hour, "r1", lifecycle.EventReinstated)
	snap := s.snapshot(4 * hour)
	s.run(purchaseInput("monthly", 1))
	s.Equal(lifecycle.StatusActive, snap.Status)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyReinstated)
}

func (s *LifecycleSuite) TestL25InstallmentWhileSuspendedIsSkipped() {
	s.activateAt(0)
	s.event(10*day, "s1", lifecycle.EventSuspended)
	s.event(70*day, "r1", lifecycle.EventReinstated)
	charges := s.chargesAt(95 * day)
	s.run(purchaseInput("annual", 1))
	// Installments 2 (Dec 24) and 3 (Jan 24) fall while suspended.
	s.Require().Len(*charges, 2, "installment 1 before, installment 4 (Feb 24) after; none while suspended")
	s.Equal("sub_1/term-1/installment-3", (*charges)[1].Key)
	s.Contains(s.eventKinds(), lifecycle.KindInstallmentSkipped)
}

func (s *LifecycleSuite) TestL26SuspendedRefusesQuantity() {
	s.activateAt(hour)
	s.event(2*hour, "s1", lifecycle.EventSuspended)
	out := s.change(3*hour, ChangeRequest{Quantity: ptr(3)})
	nick := s.change(4*hour, ChangeRequest{Nickname: ptr("paused")})
	s.run(purchaseInput("monthly", 1))
	s.Equal(lifecycle.RefusedState, out.errType())
	s.applied(nick, "a nickname can still change")
	s.Equal("paused", nick.result.Subscription.Nickname)
}

func (s *LifecycleSuite) TestL27UnsubscribedStopsBilling() {
	s.activateAt(hour)
	s.event(5*day, "u1", lifecycle.EventUnsubscribed)
	s.run(purchaseInput("annual", 1))
	s.ended(lifecycle.StatusCancelled)
	charges := s.charges()
	s.Len(charges, 1, "the month started stays charged; no later installment")
	s.Equal("charge", charges[0].Kind)
}

func (s *LifecycleSuite) TestL28MonthlyInstallmentsOfAnAnnualTerm() {
	in := purchaseInput("annual", 7)
	in.Subscription.AutoRenew = false
	s.activateAt(0)
	s.run(in)
	s.ended(lifecycle.StatusExpired)
	charges := s.charges()
	s.Require().Len(charges, 12)
	s.Equal(int64(7*12000), net(charges), "twelve installments sum to the term price")
	for i, c := range charges {
		s.Equal(s.start.AddDate(0, i, 0), c.PeriodStart.UTC(), "installment %d", i)
	}
}

func (s *LifecycleSuite) TestL29RenewalNotice() {
	s.activateAt(0)
	noticeAt := s.start.AddDate(0, 1, 0).Add(-7 * day).Sub(s.start)
	notesBefore, notes := []string{}, []string{}
	s.at(noticeAt-hour, func() { notesBefore = s.notifications() })
	s.at(noticeAt+hour, func() { notes = s.notifications() })
	s.run(purchaseInput("monthly", 1))
	s.NotContains(notesBefore, "partner:"+lifecycle.NotifyRenewalUpcoming, "not before 7 days ahead")
	s.Contains(notes, "partner:"+lifecycle.NotifyRenewalUpcoming)

	s.SetupTest()
	in := purchaseInput("monthly", 1)
	in.Subscription.AutoRenew = false
	s.activateAt(0)
	s.run(in)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyExpiring)
}

func (s *LifecycleSuite) TestL30TermEndRenews() {
	s.activateAt(hour)
	s.run(purchaseInput("monthly", 2))
	next := s.continued()
	c := next.Continued
	s.Require().NotNil(c)
	termStart := s.start.Add(hour).AddDate(0, 1, 0)
	s.Equal(2, c.TermNumber)
	s.Equal(termStart, c.Subscription.TermStart.UTC(), "the new term starts when the old one ended")
	s.Equal(termStart.AddDate(0, 1, 0), c.Subscription.TermEnd.UTC())
	s.Equal(termStart.Add(72*hour), c.Subscription.CancellationWindowEndsAt.UTC(), "a new window opens at renewal")
	charges := s.charges()
	s.Require().Len(charges, 2)
	s.Equal("sub_1/term-2/installment-0", charges[1].Key)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyRenewed)
	s.Equal(lifecycle.StatusActive, s.stored().Status)

	// The next run picks up where this one stopped: a cancel inside the
	// new window refunds the new term only.
	s.newEnv()
	s.env.SetStartTime(termStart.Add(time.Minute))
	out := s.change(hour, ChangeRequest{Cancel: true})
	s.run(next)
	s.applied(out)
	s.ended(lifecycle.StatusCancelled)
	s.Equal(int64(2*1200), net(s.charges()), "term 1 stays paid, term 2 is refunded")
}

func (s *LifecycleSuite) TestL31TermEndExpires() {
	in := purchaseInput("monthly", 1)
	in.Subscription.AutoRenew = false
	s.activateAt(hour)
	s.run(in)
	s.ended(lifecycle.StatusExpired)
	s.Len(s.charges(), 1)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyExpired)
	s.Contains(s.notifications(), "publisher:"+lifecycle.NotifyExpired)
}

func (s *LifecycleSuite) TestL32BillingFrequencyChangeAppliesAtRenewal() {
	s.activateAt(0)
	out := s.change(10*day, ChangeRequest{BillingFrequency: ptr("annual")})
	s.run(purchaseInput("annual", 2))
	s.Equal("monthly", out.result.Subscription.BillingFrequency)
	s.Equal("annual", out.result.Subscription.NextBillingFrequency)
	next := s.continued()
	s.Equal("annual", next.Continued.Subscription.BillingFrequency)
	s.Empty(next.Continued.Subscription.NextBillingFrequency)
	charges := s.charges()
	s.Len(charges, 13, "twelve monthly installments, then the renewal billed yearly")
	s.Equal(int64(2*12000), charges[12].Amount)
}

func (s *LifecycleSuite) TestL33StaleVersionIsRejected() {
	stale := s.change(hour, ChangeRequest{Nickname: ptr("x"), IfVersion: 7})
	fresh := s.change(2*hour, ChangeRequest{Nickname: ptr("y"), IfVersion: 1})
	s.run(purchaseInput("monthly", 1))
	s.Equal(lifecycle.RefusedStale, stale.errType())
	s.applied(fresh)
	s.Equal("y", fresh.result.Subscription.Nickname)
}

func (s *LifecycleSuite) TestL34EmptyChangeIsRejected() {
	out := s.change(hour, ChangeRequest{})
	s.run(purchaseInput("monthly", 1))
	s.Equal(lifecycle.RefusedInvalid, out.errType())
}

func (s *LifecycleSuite) TestL37TenYearsOfMonthlyRenewalsStayBounded() {
	in := purchaseInput("monthly", 1)
	s.activateAt(0)
	maxSteps := 0
	for run := 1; ; run++ {
		steps := 0
		s.env.SetOnLocalActivityCompletedListener(func(*activity.Info, converter.EncodedValue, error) { steps++ })
		s.env.ExecuteWorkflow(SubscriptionWorkflowType, in)
		maxSteps = max(maxSteps, steps)
		if run == 120 {
			break
		}
		in = s.continued()
		start := *in.Continued.Subscription.TermStart
		s.newEnv()
		s.env.SetStartTime(start)
	}
	s.LessOrEqual(maxSteps, 4, "each run holds a handful of steps: the history does not grow with the years")
	s.Equal(120+1, len(s.charges()), "one charge per month for ten years, plus the renewal that ends the 120th run")
	s.Equal(121, s.continued().Continued.TermNumber)
}

// TestLifecycleTableHasATestPerRow keeps docs/lifecycle.md and the tests in
// step: every row names a test that exists (the core's TestLifecycleTable
// for a row its case proves alone).
func TestLifecycleTableHasATestPerRow(t *testing.T) {
	doc, err := os.Open(filepath.Join("..", "docs", "lifecycle.md"))
	require.NoError(t, err)
	defer doc.Close()
	sources := ""
	for _, dir := range []string{".", filepath.Join("..", "internal", "tests", "e2e"), filepath.Join("..", "internal", "adapter", "api"),
		filepath.Join("..", "internal", "domain", "lifecycle")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			sources += string(b)
		}
	}
	row := regexp.MustCompile(`^\| (L\d+) \|.*\| (Test\w+) \|$`)
	rows := 0
	sc := bufio.NewScanner(doc)
	for sc.Scan() {
		m := row.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		rows++
		require.True(t, strings.Contains(sources, ") "+m[2]+"()") || strings.Contains(sources, "func "+m[2]+"("),
			"row %s names %s, which no test defines", m[1], m[2])
	}
	require.GreaterOrEqual(t, rows, 30, "the table was not read")
}

// TestUpdateWaitingForTheNextRunIsAccepted: a change sent as a renewal
// hands over is validated by the next run the moment its handler is set,
// and must see the carried state (regression: it saw "not yet recorded").
func (s *LifecycleSuite) TestUpdateWaitingForTheNextRunIsAccepted() {
	s.activateAt(0)
	s.run(purchaseInput("monthly", 1))
	next := s.continued()
	s.newEnv()
	s.env.SetStartTime(*next.Continued.Subscription.TermStart)
	out := s.change(0, ChangeRequest{AutoRenew: ptr(false)})
	s.run(next)
	s.Require().True(out.done)
	s.Require().NoError(out.rejected)
	s.applied(out)
	s.False(out.result.Subscription.AutoRenew)
}

// TestSignalsPendingAtRenewalAreAppliedBeforeContinuingAsNew: an ISV event
// that arrives as the term ends is applied in this run and its effect is
// carried to the next one, not lost with the old run.
func (s *LifecycleSuite) TestSignalsPendingAtRenewalAreAppliedBeforeContinuingAsNew() {
	s.activateAt(0)
	termEnd := s.start.AddDate(0, 1, 0).Sub(s.start)
	s.event(termEnd, "late-suspend", lifecycle.EventSuspended)
	s.run(purchaseInput("monthly", 1))
	next := s.continued()
	s.Equal(lifecycle.StatusSuspended, next.Continued.Subscription.Status)
	s.Contains(next.Continued.RecentEventIDs, "late-suspend", "the next run still drops a repeat of it")
	s.Equal(2, next.Continued.TermNumber)
}

// premiumChange is the partner's change to the Premium plan, with the plan
// as the API reads it from the catalog.
func premiumChange() ChangeRequest {
	plan := purchaseInput("monthly-premium", 1).Plan
	return ChangeRequest{PlanID: ptr("monthly-premium"), Plan: &plan}
}

func (s *LifecycleSuite) TestL53PlanChangeApprovedThroughTheShell() {
	s.activateAt(hour)
	asked := s.change(day, premiumChange())
	waiting := s.snapshot(2 * day)
	var pending *store.PendingChange
	s.at(2*day, func() { pending = s.stored().PendingChange })
	var operation string
	s.at(2*day+time.Minute, func() {
		operation = pending.OperationID
		s.env.SignalWorkflow(SignalISVEvent, ISVEvent{ID: "yes", Type: lifecycle.EventChangeApproved, PublisherID: "isv-demo", OperationID: operation})
	})
	changed := s.snapshot(3 * day)
	s.run(purchaseInput("monthly", 3))
	s.applied(asked)
	s.True(asked.result.Pending, "the answer is 202: the change waits")
	s.Require().NotNil(asked.result.PendingChange)
	s.Equal("monthly", waiting.PlanID, "the plan waits for the publisher")
	s.Require().NotNil(pending, "the store shows what waits")
	s.Equal("monthly-premium", pending.PlanID)
	s.Equal("monthly-premium", changed.PlanID)
	s.Nil(s.stored().PendingChange)
	reasons := map[string]int{}
	for _, c := range s.charges() {
		reasons[c.Reason]++
	}
	s.Equal(2, reasons["plan_changed"], "credit at the old price, charge at the new")
}

func (s *LifecycleSuite) TestL54UnansweredPlanChangeLapses() {
	s.activateAt(hour)
	asked := s.change(day, premiumChange())
	lapsed := s.snapshot(8*day + time.Hour)
	charges := s.chargesAt(8*day + time.Hour)
	s.run(purchaseInput("monthly", 3))
	s.applied(asked)
	s.Equal("monthly", lapsed.PlanID)
	s.Len(*charges, 1, "only the first installment: a lapsed change charges nothing")
	s.Contains(s.eventKinds(), lifecycle.KindChangeLapsed)
	s.Contains(s.notifications(), "partner:"+lifecycle.NotifyChangeRejected)
}
