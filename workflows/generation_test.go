package workflows

import (
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/internal/subscription"
)

// startedPending sets the search attributes the API starts a run with and
// records the SubscriptionStatus values the run then upserts.
func (s *LifecycleSuite) startedPending(in PurchaseInput) *[]string {
	sub := in.Subscription
	sub.Status = subscription.StatusPendingFulfillment
	s.Require().NoError(s.env.SetTypedSearchAttributesOnStart(SearchAttributesOf(sub)))
	var got []string
	s.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(StatusKey); ok {
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
	s.event(hour, "p1", subscription.EventProvisioned)
	s.activateAt(2 * hour)
	s.change(3*hour, ChangeRequest{Quantity: ptr(4)})
	s.change(4*hour, ChangeRequest{Cancel: true})
	s.run(in)
	s.Equal([]string{"provisioned", "active", "cancelled"}, *upserts)
}

// A run recorded before versionGeneration1 asks GetVersion for each
// change; one recorded before versionStatusOnChange keeps upserting the
// status after every step, as its history says.
func (s *LifecycleSuite) TestARunRecordedBeforeKeepsUpsertingAsItsHistorySays() {
	in := purchaseInput("monthly", 2)
	s.env.OnGetVersion(versionGeneration1, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	s.env.OnGetVersion(versionStatusOnChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	upserts := s.startedPending(in)
	s.event(hour, "p1", subscription.EventProvisioned)
	s.change(2*hour, ChangeRequest{Quantity: ptr(3)})
	s.change(3*hour, ChangeRequest{Cancel: true})
	s.run(in)
	s.Equal([]string{"pending_fulfillment", "provisioned", "provisioned", "cancelled"}, *upserts)
}
