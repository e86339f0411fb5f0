package workflows

import (
	"context"
	"fmt"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// startedPending sets the search attributes the API starts a run with and
// records the SubscriptionStatus values the run then upserts.
func (s *LifecycleSuite) startedPending(in PurchaseInput) *[]string {
	sub := in.Subscription
	sub.Status = lifecycle.StatusPendingFulfillment
	s.Require().NoError(s.env.SetTypedSearchAttributesOnStart(payload.SearchAttributesOf(sub)))
	var got []string
	s.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(payload.StatusKey); ok {
			got = append(got, v)
		}
	}).Return(nil)
	return &got
}

// A step that leaves the status as operators see it upserts nothing: the
// start sets pending_fulfillment, the purchase keeps it, and a change of
// quantity keeps active (each upsert is a visibility write on the server).
func (s *LifecycleSuite) TestStatusIsUpsertedOnlyWhenAStepChangesIt() {
	in := purchaseInput("monthly", 2)
	upserts := s.startedPending(in)
	s.event(hour, "p1", lifecycle.EventProvisioned)
	s.activateAt(2 * hour)
	s.change(3*hour, ChangeRequest{Quantity: ptr(4)})
	s.change(4*hour, ChangeRequest{Cancel: true})
	s.run(in)
	s.Equal([]string{"provisioned", "active", "cancelled"}, *upserts)
}

// The ISV's events that reach the run together (its `provisioned` and
// `activated` in one workflow task, as under load) are each committed,
// and the status operators search by is upserted once, for the last: one
// visibility write instead of two: a run of SubscriptionWorkflowType, or
// of generation 3 by its marker. A run of generation 2 upserts after each
// step, as its history says.
func (s *LifecycleSuite) TestEventsOfOneTaskUpsertTheStatusOnce() {
	for _, tc := range []struct {
		name       string
		generation workflow.Version // by marker; 0: by the type
		want       []string
	}{
		{"by its type", 0, []string{"active"}},
		{"generation 3 by marker", generationStatusAfterEvents, []string{"active"}},
		{"generation 2 by marker", generationLocalCommit, []string{"provisioned", "active"}},
	} {
		s.Run(tc.name, func() {
			s.SetupTest()
			if tc.generation != 0 {
				s.byMarker(tc.generation)
			}
			in := purchaseInput("monthly", 2)
			upserts := s.startedPending(in)
			s.eventsTogether(hour, [2]string{"p1", lifecycle.EventProvisioned}, [2]string{"a1", lifecycle.EventActivated})
			s.change(2*hour, ChangeRequest{Cancel: true})
			s.run(in)
			s.ended(lifecycle.StatusCancelled)
			s.Equal(append(tc.want, "cancelled"), *upserts)
			s.Equal([]string{lifecycle.KindPurchased, lifecycle.KindISVEventApplied, lifecycle.KindISVEventApplied, lifecycle.KindInstallmentCharged, lifecycle.KindBillingStarted, lifecycle.KindCancelled}, s.eventKinds())
			s.AfterTest("", "") // the ledger check, on this subtest's store
		})
	}
	s.SetupTest() // the subtests' stores closed with them
}

// A run of SubscriptionWorkflowType takes its generation from its type: it
// asks GetVersion nothing, so it records no marker and upserts no
// TemporalChangeVersion (two events and a visibility task of every run
// before it). Its renewal continues under that type, and so does the
// renewal of a run started before the type, whose next term then records
// no marker either.
func (s *LifecycleSuite) TestTheWorkflowTypeSaysTheGenerationAndRenewalsTakeIt() {
	for _, tc := range []struct {
		name     string
		byMarker bool
	}{{"by its type", false}, {"started before the type", true}} {
		s.Run(tc.name, func() {
			s.SetupTest()
			asked := 0
			if tc.byMarker {
				s.byMarker(generationMarkerNewest)
			} else {
				for _, maxSupported := range []workflow.Version{generationMarkerNewest, 1} {
					s.env.OnGetVersion(mock.Anything, workflow.DefaultVersion, maxSupported).Maybe().
						Run(func(mock.Arguments) { asked++ }).Return(maxSupported)
				}
			}
			s.activateAt(hour)
			s.run(purchaseInput("monthly", 2))
			s.continued()
			var can *workflow.ContinueAsNewError
			s.Require().ErrorAs(s.env.GetWorkflowError(), &can)
			s.Equal(SubscriptionWorkflowType, can.WorkflowType.Name, "the renewal's type")
			s.Zero(asked, "GetVersion calls")
			s.AfterTest("", "") // the ledger check, on this subtest's store
		})
	}
	s.SetupTest() // the subtests' stores closed with them
}

// An event that takes no step (a repeat) after one that did: the status
// the first left is published all the same.
func (s *LifecycleSuite) TestAStatusLeftToARepeatedEventIsPublished() {
	in := purchaseInput("monthly", 2)
	upserts := s.startedPending(in)
	s.eventsTogether(hour, [2]string{"p1", lifecycle.EventProvisioned}, [2]string{"p1", lifecycle.EventProvisioned})
	s.change(3*hour, ChangeRequest{Cancel: true})
	s.run(in)
	s.Equal([]string{"provisioned", "cancelled"}, *upserts)
}

// A run recorded before versionGeneration1 asks GetVersion for each
// change; one recorded before versionStatusOnChange keeps upserting the
// status after every step, as its history says.
func (s *LifecycleSuite) TestARunRecordedBeforeKeepsUpsertingAsItsHistorySays() {
	in := purchaseInput("monthly", 2)
	s.byMarker(workflow.DefaultVersion)
	s.env.OnGetVersion(versionStatusOnChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	upserts := s.startedPending(in)
	s.event(hour, "p1", lifecycle.EventProvisioned)
	s.change(2*hour, ChangeRequest{Quantity: ptr(3)})
	s.change(3*hour, ChangeRequest{Cancel: true})
	s.run(in)
	s.Equal([]string{"pending_fulfillment", "provisioned", "provisioned", "cancelled"}, *upserts)
}

// A run of generationLocalCommit commits a step taken on an event of the
// history (the purchase, an ISV signal, a timer) by a local activity in
// the task that takes it, fenced; an Update's step by an activity
// scheduled in the history, also fenced; a run of generation 1 by
// activities only, unfenced (its recorded histories replay as they are).
func (s *LifecycleSuite) TestStepsOnHistoryEventsCommitLocallyAndUpdatesByActivity() {
	for _, tc := range []struct {
		generation    workflow.Version
		local, remote []int64
		fenced        bool
	}{
		{generationLocalCommit, []int64{1, 2, 4, 5}, []int64{3}, true},
		{generationChanges, nil, []int64{1, 2, 3, 4, 5}, false},
	} {
		s.Run(fmt.Sprintf("generation %d", tc.generation), func() {
			s.SetupTest()
			s.byMarker(tc.generation)
			var local, remote []int64
			fences := map[string]bool{}
			s.env.SetOnLocalActivityStartedListener(func(_ *activity.Info, _ context.Context, args []any) {
				for _, arg := range args {
					if t, ok := arg.(activities.Transition); ok {
						local = append(local, t.Subscription.Version)
						fences[t.Fence] = true
					}
				}
			})
			s.env.SetOnActivityStartedListener(func(_ *activity.Info, _ context.Context, args converter.EncodedValues) {
				var t activities.Transition
				s.Require().NoError(args.Get(&t))
				remote = append(remote, t.Subscription.Version)
				fences[t.Fence] = true
			})
			s.activateAt(hour)
			s.change(2*hour, ChangeRequest{Quantity: ptr(4)})
			s.event(3*hour, "s1", lifecycle.EventSuspended)
			s.event(4*hour, "u1", lifecycle.EventUnsubscribed)
			s.run(purchaseInput("monthly", 2))
			s.Equal(tc.local, local, "committed by local activities")
			s.Equal(tc.remote, remote, "committed by activities")
			s.Equal(tc.fenced, !fences[""], "fenced")
			s.AfterTest("", "") // the ledger check, on this subtest's store
		})
	}
	s.SetupTest() // the subtests' stores closed with them
}

// A run continued from one an operator reset keeps fencing as the reset
// run did, by time first ("R…"), and hands that on at its own renewal: a
// reset of an earlier run must win over the fences of every run after it
// (activities.StepFence). Fences of a chain never reset stay by run first.
func (s *LifecycleSuite) TestRunsAfterAResetKeepFencingByTime() {
	s.activateAt(hour)
	s.run(purchaseInput("monthly", 2))
	next := s.continued()
	s.False(next.Continued.AfterReset, "no reset: the next run fences by run")
	s.Regexp(`^000000\.`, s.stored().Fence)

	next.Continued.AfterReset = true // as if an operator had reset the run that handed over
	termStart := *next.Continued.Subscription.TermStart
	s.newEnv()
	s.env.SetStartTime(termStart.Add(time.Minute))
	s.run(next)
	again := s.continued()
	s.True(again.Continued.AfterReset, "the chain keeps fencing by time after a reset")
	s.Regexp(`^R\d{20}\.000001\.`, s.stored().Fence)
}
