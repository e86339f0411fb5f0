package workflows

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/catalog"
	"github.com/cspmarket/orchestrator/internal/store"
	"github.com/cspmarket/orchestrator/internal/store/storetest"
	"github.com/cspmarket/orchestrator/internal/subscription"
)

// SubscriptionSuite runs the workflow in the time-skipping test environment
// with the real activities over a real SQLite store, so each test asserts
// what a partner would see: the projection, the ledger and the outbox.
type SubscriptionSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env   *testsuite.TestWorkflowEnvironment
	store *store.Store
}

func TestSubscriptionWorkflow(t *testing.T) { suite.Run(t, new(SubscriptionSuite)) }

func (s *SubscriptionSuite) SetupTest() {
	s.store = storetest.SQLite(s.T())
	ctx := context.Background()
	s.Require().NoError(s.store.UpsertPartner(ctx, "partner-demo", "Demo"))
	s.Require().NoError(s.store.SyncCatalog(ctx, catalog.Dev()))
	s.Require().NoError(s.store.EnsureCustomer(ctx, "cus_1", "partner-demo", "Fabrikam"))
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(SubscriptionWorkflow)
	s.env.RegisterActivity(&activities.Activities{Store: s.store})
	s.env.SetStartTime(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
}

func (s *SubscriptionSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

func purchaseInput(planID string, quantity int) PurchaseInput {
	offer := catalog.Dev().Offers[0]
	plan, _ := offer.Plan(planID)
	return PurchaseInput{
		Subscription: subscription.Subscription{
			ID: "sub_1", CustomerID: "cus_1", PartnerID: "partner-demo", OfferID: offer.ID, PlanID: plan.ID,
			PublisherID: offer.PublisherID, Quantity: quantity, AutoRenew: true, BillingFrequency: plan.BillingFrequencies[0],
			PublisherLink: &subscription.PublisherLink{URL: "https://isv-demo.example.com/activate"},
		},
		Plan: plan.Snapshot(), LicenseBased: true, Actor: "agent:agt_1", RequestHash: "req-hash",
		AuthorizationCodeHash: "code-hash", AuthorizationCodeExpiresAt: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
	}
}

func (s *SubscriptionSuite) signalAt(after time.Duration, e subscription.ISVEvent) {
	s.env.RegisterDelayedCallback(func() {
		e.PublisherID = "isv-demo"
		s.env.SignalWorkflow(SignalISVEvent, e)
	}, after)
}

func (s *SubscriptionSuite) state() subscription.Subscription {
	v, err := s.env.QueryWorkflow(QueryState)
	s.Require().NoError(err)
	var sub subscription.Subscription
	s.Require().NoError(v.Get(&sub))
	return sub
}

func (s *SubscriptionSuite) stored() store.SubscriptionRow {
	row, err := s.store.SubscriptionByID(context.Background(), "sub_1")
	s.Require().NoError(err)
	return *row
}

func (s *SubscriptionSuite) eventKinds() []string {
	events, err := s.store.Events(context.Background(), "sub_1")
	s.Require().NoError(err)
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

func (s *SubscriptionSuite) notificationTypes() []string {
	notes, err := s.store.Notifications(context.Background(), "sub_1")
	s.Require().NoError(err)
	var types []string
	for _, n := range notes {
		types = append(types, n.RecipientKind+":"+n.Type)
	}
	return types
}

func (s *SubscriptionSuite) charges() []store.ChargeRow {
	charges, err := s.store.Charges(context.Background(), "sub_1")
	s.Require().NoError(err)
	return charges
}

func (s *SubscriptionSuite) TestPurchaseWaitsForTheISVWithActionNeeded() {
	s.env.ExecuteWorkflow(SubscriptionWorkflow, purchaseInput("monthly", 3))

	sub := s.state()
	s.Equal(subscription.StatusPendingFulfillment, sub.Status)
	s.True(sub.ActionNeeded)
	s.Equal(int64(1), sub.Version)
	s.Equal(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), sub.CancellationWindowEndsAt.UTC(), "72 h window opens at purchase")
	s.Nil(sub.BillingStartedAt)

	row := s.stored()
	s.Equal("pending_fulfillment", row.Status)
	s.Equal("https://isv-demo.example.com/activate", row.PublisherURL)
	s.Equal([]string{KindPurchased}, s.eventKinds())
	s.Equal([]string{"publisher:" + NotifyPurchased, "partner:" + NotifyActionNeeded}, s.notificationTypes())
	s.Empty(s.charges(), "nothing is charged before the ISV confirms fulfillment")
	code, err := s.store.AuthorizationCode(context.Background(), "code-hash")
	s.Require().NoError(err)
	s.Equal("sub_1", code.SubscriptionID)
}

func (s *SubscriptionSuite) TestProvisionedThenActivatedStartsBilling() {
	s.signalAt(time.Hour, subscription.ISVEvent{ID: "e1", Type: subscription.EventProvisioned})
	s.signalAt(2*time.Hour, subscription.ISVEvent{ID: "e2", Type: subscription.EventActivated})
	s.env.ExecuteWorkflow(SubscriptionWorkflow, purchaseInput("monthly", 3))

	sub := s.state()
	s.Equal(subscription.StatusActive, sub.Status)
	s.False(sub.ActionNeeded)
	activatedAt := time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)
	s.Equal(activatedAt, sub.ActivatedAt.UTC())
	s.Equal(activatedAt, sub.BillingStartedAt.UTC())
	s.Equal(activatedAt.AddDate(0, 1, 0), sub.TermEnd.UTC())
	s.Equal(int64(3), sub.Version)

	charges := s.charges()
	s.Require().Len(charges, 1)
	s.Equal(int64(3*1200), charges[0].Amount)
	s.Equal("USD", charges[0].Currency)
	s.True(activatedAt.Equal(charges[0].PeriodStart))
	s.Equal([]string{KindPurchased, KindISVEventApplied, KindISVEventApplied, KindBillingStarted}, s.eventKinds())
	s.Contains(s.notificationTypes(), "partner:"+NotifyActivated)
	s.Equal("active", s.stored().Status)
}

func (s *SubscriptionSuite) TestRepeatedEventIDIsAppliedOnce() {
	s.signalAt(time.Hour, subscription.ISVEvent{ID: "e1", Type: subscription.EventActivated})
	s.signalAt(2*time.Hour, subscription.ISVEvent{ID: "e1", Type: subscription.EventActivated})
	s.signalAt(3*time.Hour, subscription.ISVEvent{ID: "e1", Type: subscription.EventActivated})
	s.env.ExecuteWorkflow(SubscriptionWorkflow, purchaseInput("monthly", 2))

	s.Equal(subscription.StatusActive, s.state().Status)
	s.Len(s.charges(), 1, "one activation, one charge")
	s.Equal(int64(2), s.state().Version)
}

func (s *SubscriptionSuite) TestActivatedBeforeProvisionedIsAccepted() {
	s.signalAt(time.Hour, subscription.ISVEvent{ID: "e1", Type: subscription.EventActivated})
	s.signalAt(2*time.Hour, subscription.ISVEvent{ID: "e2", Type: subscription.EventProvisioned})
	s.env.ExecuteWorkflow(SubscriptionWorkflow, purchaseInput("monthly", 1))

	s.Equal(subscription.StatusActive, s.state().Status)
	s.Equal([]string{KindPurchased, KindISVEventApplied, KindBillingStarted, KindISVEventRejected}, s.eventKinds(),
		"the late provisioned event is recorded, not applied")
	s.Len(s.charges(), 1)
}

func (s *SubscriptionSuite) TestEventTheStateCannotTakeIsRecordedNotApplied() {
	s.signalAt(time.Hour, subscription.ISVEvent{ID: "e1", Type: subscription.EventReinstated})
	s.signalAt(2*time.Hour, subscription.ISVEvent{ID: "e2", Type: subscription.EventCancellationApproved})
	s.env.ExecuteWorkflow(SubscriptionWorkflow, purchaseInput("monthly", 1))

	sub := s.state()
	s.Equal(subscription.StatusPendingFulfillment, sub.Status)
	s.Equal([]string{KindPurchased, KindISVEventRejected, KindISVEventRejected}, s.eventKinds())
	s.Equal("pending_fulfillment", s.stored().Status)
	s.Empty(s.charges())
}

func (s *SubscriptionSuite) TestActivationWithQuantityOutsideThePlanIsRejected() {
	s.signalAt(time.Hour, subscription.ISVEvent{ID: "e1", Type: subscription.EventActivated, Quantity: 5000})
	s.env.ExecuteWorkflow(SubscriptionWorkflow, purchaseInput("monthly", 1))

	s.Equal(subscription.StatusPendingFulfillment, s.state().Status)
	s.Equal([]string{KindPurchased, KindISVEventRejected}, s.eventKinds())
	s.Empty(s.charges())
}

func (s *SubscriptionSuite) TestActivationCarriesFinalQuantityAndPlan() {
	offer := catalog.Dev().Offers[0]
	annual, _ := offer.Plan("annual")
	snap := annual.Snapshot()
	s.signalAt(time.Hour, subscription.ISVEvent{ID: "e1", Type: subscription.EventActivated, PlanID: "annual", Plan: &snap, Quantity: 4})
	s.env.ExecuteWorkflow(SubscriptionWorkflow, purchaseInput("monthly", 1))

	sub := s.state()
	s.Equal(subscription.StatusActive, sub.Status)
	s.Equal("annual", sub.PlanID)
	s.Equal(4, sub.Quantity)
	s.Equal("P1Y", sub.TermDuration)
	charges := s.charges()
	s.Require().Len(charges, 1)
	// Annual plan billed monthly: 4 x 120.00 a year, first of 12 installments.
	s.Equal(int64(4*12000/12), charges[0].Amount)
}

func (s *SubscriptionSuite) TestUnsubscribedEndsTheWorkflow() {
	s.signalAt(time.Hour, subscription.ISVEvent{ID: "e1", Type: subscription.EventActivated})
	s.signalAt(2*time.Hour, subscription.ISVEvent{ID: "e2", Type: subscription.EventSuspended})
	s.signalAt(3*time.Hour, subscription.ISVEvent{ID: "e3", Type: subscription.EventReinstated})
	s.signalAt(4*time.Hour, subscription.ISVEvent{ID: "e4", Type: subscription.EventUnsubscribed})
	s.env.ExecuteWorkflow(SubscriptionWorkflow, purchaseInput("monthly", 1))

	s.True(s.env.IsWorkflowCompleted())
	s.NoError(s.env.GetWorkflowError())
	var final subscription.Subscription
	s.NoError(s.env.GetWorkflowResult(&final))
	s.Equal(subscription.StatusCancelled, final.Status)
	s.Equal("cancelled", s.stored().Status)
	s.Equal([]string{"publisher:" + NotifyPurchased, "partner:" + NotifyActionNeeded, "partner:" + NotifyActivated,
		"partner:" + NotifySuspended, "partner:" + NotifyReinstated, "partner:" + NotifyCancelled}, s.notificationTypes())
}

func (s *SubscriptionSuite) TestPurchaseRecordedUpdateAnswersTheRecordedState() {
	var result PurchaseResult
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(UpdatePurchaseRecorded, "u1", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { s.Fail("rejected", err.Error()) },
			OnComplete: func(v any, err error) {
				s.Require().NoError(err)
				result = v.(PurchaseResult)
			},
		})
	}, time.Second)
	s.env.ExecuteWorkflow(SubscriptionWorkflow, purchaseInput("monthly", 1))

	s.Equal(subscription.StatusPendingFulfillment, result.Subscription.Status)
	s.Equal("req-hash", result.RequestHash)
	s.Equal("code-hash", result.AuthorizationCodeHash)
}

func (s *SubscriptionSuite) TestSearchAttributesFollowTheStatus() {
	var statuses []string
	s.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		status, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(StatusKey)
		s.True(ok, "every upsert carries the status")
		statuses = append(statuses, status)
	}).Return(nil)
	s.signalAt(time.Hour, subscription.ISVEvent{ID: "e1", Type: subscription.EventProvisioned})
	s.signalAt(2*time.Hour, subscription.ISVEvent{ID: "e2", Type: subscription.EventActivated})
	s.env.ExecuteWorkflow(SubscriptionWorkflow, purchaseInput("monthly", 1))
	s.Equal([]string{"pending_fulfillment", "provisioned", "active"}, statuses)
}

func TestWorkflowIDFollowsTheContract(t *testing.T) {
	assert.Equal(t, "subscription-sub_1", WorkflowID("sub_1"))
	require.Len(t, SearchAttributes, 5)
}
