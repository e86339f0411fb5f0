package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/adapter/ledger"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// LifecycleSuite runs the workflow in the time-skipping test environment
// with the real activities over a real SQLite store, so each test asserts
// what a partner would see: the projection, the ledger and the outbox. The
// environment runs a workflow until it ends (or continues as new); tests
// act and look at chosen moments with at().
type LifecycleSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env   *testsuite.TestWorkflowEnvironment
	store *store.Store
	start time.Time
	// workflowType is what run starts: SubscriptionWorkflowType unless a
	// test plays a run started before it (byMarker).
	workflowType string
}

func TestLifecycle(t *testing.T) { suite.Run(t, new(LifecycleSuite)) }

func (s *LifecycleSuite) SetupTest() {
	s.store = storetest.SQLite(s.T())
	ctx := context.Background()
	s.Require().NoError(s.store.UpsertPartner(ctx, "partner-demo", "Demo"))
	s.Require().NoError(s.store.SyncCatalog(ctx, catalog.Dev()))
	s.Require().NoError(s.store.EnsureCustomer(ctx, "cus_1", "partner-demo", "Fabrikam"))
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	s.workflowType = SubscriptionWorkflowType
	s.newEnv()
}

func (s *LifecycleSuite) newEnv() {
	s.env = s.NewTestWorkflowEnvironment()
	RegisterSubscriptionWorkflow(s.env)
	s.env.RegisterActivity(&activities.Activities{Store: s.store})
	s.start = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	s.env.SetStartTime(s.start)
}

// AfterTest also checks the money of every lifecycle test: the ledger the
// run wrote is the one its audit trail implies (the ledger check).
func (s *LifecycleSuite) AfterTest(_, _ string) {
	s.env.AssertExpectations(s.T())
	row, err := s.store.SubscriptionByID(context.Background(), "sub_1")
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	s.Require().NoError(err)
	diffs, _, err := ledger.VerifySubscription(context.Background(), s.store, row)
	s.Require().NoError(err)
	s.Empty(diffs, "the ledger check")
}

const hour = time.Hour
const day = 24 * time.Hour

func purchaseInput(planID string, quantity int) PurchaseInput {
	var offer catalog.Offer
	var plan catalog.Plan
	for _, o := range catalog.Dev().Offers {
		if p, ok := o.Plan(planID); ok {
			offer, plan = o, p
		}
	}
	return PurchaseInput{
		Subscription: Subscription{
			ID: "sub_1", CustomerID: "cus_1", PartnerID: "partner-demo", OfferID: offer.ID, PlanID: plan.ID,
			PublisherID: offer.PublisherID, Quantity: quantity, AutoRenew: true, BillingFrequency: plan.BillingFrequencies[0],
			PublisherLink: &payload.PublisherLink{URL: "https://isv-demo.example.com/activate"},
		},
		Plan: payload.Plan(plan.Snapshot()), LicenseBased: true, Actor: "agent:agt_1", RequestHash: "req-hash",
		AuthorizationCodeHash: "code-hash", AuthorizationCodeExpiresAt: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
		Settings: Settings(lifecycle.DefaultSettings()),
	}
}

// at runs fn when the workflow clock reaches start+d.
func (s *LifecycleSuite) at(d time.Duration, fn func()) { s.env.RegisterDelayedCallback(fn, d) }

func (s *LifecycleSuite) event(d time.Duration, id, typ string, mods ...func(*ISVEvent)) {
	s.at(d, func() {
		e := ISVEvent{ID: id, Type: typ, PublisherID: "isv-demo"}
		for _, m := range mods {
			m(&e)
		}
		s.env.SignalWorkflow(SignalISVEvent, e)
	})
}

// eventsTogether sends the ISV's events (id and type each) at start+d,
// at the same moment: the run takes them in one workflow task.
func (s *LifecycleSuite) eventsTogether(d time.Duration, idsAndTypes ...[2]string) {
	s.at(d, func() {
		for _, e := range idsAndTypes {
			s.env.SignalWorkflow(SignalISVEvent, ISVEvent{ID: e[0], Type: e[1], PublisherID: "isv-demo"})
		}
	})
}

// activateAt sends the ISV's activation at start+d.
func (s *LifecycleSuite) activateAt(d time.Duration) { s.event(d, "act", lifecycle.EventActivated) }

// changeOutcome is what a change Update came to.
type changeOutcome struct {
	done     bool
	rejected error // by the validator: nothing reached the history
	failed   error // by the handler
	result   ChangeResult
}

func (o *changeOutcome) errType() string {
	err := o.rejected
	if err == nil {
		err = o.failed
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return fmt.Sprint(err)
}

// applied asserts a change ran and was neither refused by the validator
// nor failed by the handler (a refusal leaves a zero result that many
// assertions would wrongly accept).
func (s *LifecycleSuite) applied(out *changeOutcome, msgAndArgs ...any) {
	s.Require().True(out.done, msgAndArgs...)
	s.Require().NoError(out.rejected, msgAndArgs...)
	s.Require().NoError(out.failed, msgAndArgs...)
}

func (s *LifecycleSuite) change(d time.Duration, req ChangeRequest) *changeOutcome {
	out := &changeOutcome{}
	s.at(d, func() { s.sendChange(fmt.Sprintf("change-%d", d), req, out) })
	return out
}

// sendChange sends a change Update now, its outcome into out.
func (s *LifecycleSuite) sendChange(updateID string, req ChangeRequest, out *changeOutcome) {
	if req.Actor == "" {
		req.Actor = "agent:agt_1"
	}
	s.env.UpdateWorkflow(UpdateChange, updateID, &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { out.done, out.rejected = true, err },
		OnComplete: func(v any, err error) {
			out.done, out.failed = true, err
			if err == nil {
				out.result = v.(ChangeResult)
			}
		},
	}, req)
}

// snapshot captures the workflow's state query at start+d.
func (s *LifecycleSuite) snapshot(d time.Duration) *Subscription {
	sub := &Subscription{}
	s.at(d, func() {
		v, err := s.env.QueryWorkflow(QueryState)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(sub))
	})
	return sub
}

// chargesAt captures the ledger at start+d.
func (s *LifecycleSuite) chargesAt(d time.Duration) *[]store.Line {
	out := &[]store.Line{}
	s.at(d, func() { *out = s.charges() })
	return out
}

func (s *LifecycleSuite) run(in PurchaseInput) {
	s.env.ExecuteWorkflow(s.workflowType, in)
	s.Require().True(s.env.IsWorkflowCompleted())
}

// byMarker plays a run of the type started before SubscriptionWorkflowType,
// whose marker (versionGeneration1) says it has this generation.
func (s *LifecycleSuite) byMarker(generation workflow.Version) {
	s.workflowType = subscriptionWorkflowByMarker
	s.env.OnGetVersion(versionGeneration1, workflow.DefaultVersion, generationMarkerNewest).Return(generation)
}

// ended asserts the workflow finished (not continued) with this status.
func (s *LifecycleSuite) ended(want lifecycle.Status) {
	s.Require().NoError(s.env.GetWorkflowError())
	var final Subscription
	s.Require().NoError(s.env.GetWorkflowResult(&final))
	s.Equal(want, final.Status)
	s.Equal(want, s.stored().Status)
}

// continued asserts the run continued as new and returns the next input.
func (s *LifecycleSuite) continued() PurchaseInput {
	err := s.env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	s.Require().True(errors.As(err, &can), "want continue-as-new, got %v", err)
	var next PurchaseInput
	s.Require().NoError(converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	return next
}

func (s *LifecycleSuite) stored() store.Subscription {
	row, err := s.store.SubscriptionByID(context.Background(), "sub_1")
	s.Require().NoError(err)
	return row
}

// eventKinds is the audit trail the workflow wrote, without the receipts
// of ISV events (the webhook's rows, which the workflow only backs up: see
// receipts).
func (s *LifecycleSuite) eventKinds() []string {
	events, err := s.store.Events(context.Background(), "sub_1")
	s.Require().NoError(err)
	var kinds []string
	for _, e := range events {
		if e.Kind != store.KindISVEventReceived {
			kinds = append(kinds, e.Kind)
		}
	}
	return kinds
}

// receipts are the ISV event ids with a receipt row, oldest first.
func (s *LifecycleSuite) receipts() []string {
	events, err := s.store.Events(context.Background(), "sub_1")
	s.Require().NoError(err)
	var ids []string
	for _, e := range events {
		if e.Kind == store.KindISVEventReceived {
			ids = append(ids, *e.PublisherID+"/"+*e.ISVEventID)
		}
	}
	return ids
}

func (s *LifecycleSuite) notifications() []string {
	notes, err := s.store.Notifications(context.Background(), "sub_1")
	s.Require().NoError(err)
	var types []string
	for _, n := range notes {
		types = append(types, n.RecipientKind+":"+n.Type)
	}
	return types
}

func (s *LifecycleSuite) charges() []store.Line {
	charges, err := s.store.Charges(context.Background(), "sub_1")
	s.Require().NoError(err)
	return charges
}

// net is charges minus credits.
func net(rows []store.Line) int64 {
	var sum int64
	for _, c := range rows {
		if c.Kind == "credit" {
			sum -= c.Amount
		} else {
			sum += c.Amount
		}
	}
	return sum
}

func ptr[T any](v T) *T { return &v }
