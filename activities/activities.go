// Package activities does the I/O of SubscriptionWorkflow. Every activity
// is idempotent: each row it writes carries a key derived from the
// workflow's deterministic state, so a retry or a replayed local activity
// writes nothing twice.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/cspmarket/orchestrator/internal/adapter/accesstoken"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/platform/metrics"
)

// Activities holds what the activities need; register one instance on the worker.
type Activities struct {
	Store  *store.Store
	Logger *slog.Logger
	// Temporal starts notification deliveries; nil leaves every
	// notification in the outbox (tests of the lifecycle alone).
	Temporal client.Client
	// TaskQueue of the delivery workflows.
	TaskQueue string
	// HTTP delivers notifications; nil uses a 10-second client of the
	// strict egress policy (public targets only).
	HTTP *http.Client
	// IssueCode gives ISV purchase notifications a fresh authorization code.
	IssueCode CodeIssuer
	// Metrics counts business steps and deliveries; nil counts nothing.
	Metrics *metrics.Registry
	// Tokens signs the bearer tokens of webhooks in Microsoft's shape;
	// nil sends none (a publisher that chose that dialect then waits).
	Tokens *accesstoken.Issuer
}

func (a *Activities) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// The activities' payloads (internal/adapter/payload: frozen, as every
// history records them).
type (
	Transition    = payload.Transition
	CommitReceipt = payload.CommitReceipt
)

// CommitTransition writes a transition in one database transaction. The
// workflow runs it as a local activity inside the task that takes the step
// (one workflow task per step), or as an activity scheduled in the history
// (an Update's step, or when the local attempt failed). A fenced write of
// a task attempt older than the stored one is refused (store.ErrStaleAttempt):
// only a discarded task's late write can be that.
func (a *Activities) CommitTransition(ctx context.Context, t Transition) (CommitReceipt, error) {
	receipt, err := a.commitTransition(ctx, t)
	if errors.Is(err, store.ErrStaleAttempt) {
		if fence, ok := a.fenceAfterReset(ctx, t.Fence); ok {
			t.Fence = fence
			receipt, err = a.commitTransition(ctx, t)
		}
	}
	return receipt, err
}

func (a *Activities) commitTransition(ctx context.Context, t Transition) (CommitReceipt, error) {
	sub := t.Subscription
	receipt := CommitReceipt{Version: sub.Version, Fence: t.Fence}
	step := stepOf(t)
	if activity.IsActivity(ctx) {
		run := activity.GetInfo(ctx).WorkflowExecution
		step.WorkflowID, step.RunID = run.ID, run.RunID
	}
	moved, err := a.Store.ApplyStep(ctx, step)
	if err != nil {
		return receipt, fmt.Errorf("commit subscription %s v%d: %w", sub.ID, sub.Version, err)
	}
	a.log().Debug("transition committed", "subscription", sub.ID, "version", sub.Version, "status", sub.Status, "moved", moved)
	if moved {
		a.count(t)
	}
	return receipt, a.startDeliveries(ctx, t, a.TaskQueue)
}

// count tells the business counters what a step did, once: only the
// attempt that moved the subscription counts (a retry moves nothing).
func (a *Activities) count(t Transition) {
	for _, e := range t.Events {
		switch e.Kind {
		case lifecycle.KindPurchased:
			a.Metrics.Purchased()
		case lifecycle.KindBillingStarted:
			a.Metrics.Activated()
		case lifecycle.KindCancelled:
			a.Metrics.Cancelled()
		}
	}
	for _, c := range t.Charges {
		a.Metrics.LedgerLine(c.Complete().Reason)
	}
}

// step is what the transition writes, as the store takes it.
func stepOf(t Transition) store.Step {
	state := t.Subscription.Rules()
	state.PublisherURL = t.PublisherURL
	step := store.Step{
		Subscription: store.Subscription{Subscription: state, Lots: t.Lots, LicenseBased: t.LicenseBased,
			IdempotencyKey: t.IdempotencyKey, RequestHash: t.RequestHash, Fence: t.Fence},
		Charges: t.Charges,
	}
	if t.AuthorizationCodeHash != "" {
		step.AuthorizationCode = &store.AuthorizationCode{CodeHash: t.AuthorizationCodeHash, SubscriptionID: state.ID,
			PublisherID: state.PublisherID, ExpiresAt: t.AuthorizationCodeExpiresAt}
	}
	for _, e := range t.Events {
		step.Events = append(step.Events, lifecycle.AuditEvent(e))
	}
	if e := t.ISVEvent; e != nil {
		step.Receipt = &store.Receipt{PublisherID: e.PublisherID, EventID: e.ID, SubscriptionID: state.ID, Type: e.Type,
			PlanID: e.PlanID, Quantity: e.Quantity, ReceivedAt: e.ReceivedAt}
	}
	for _, n := range t.Notifications {
		step.Notifications = append(step.Notifications, lifecycle.Notification(n))
	}
	for _, op := range t.Operations {
		step.Operations = append(step.Operations, lifecycle.Operation(op))
	}
	if pc := t.PendingChange; pc != nil {
		step.Subscription.PendingChange = &store.PendingChange{OperationID: pc.Operation.ID, Action: pc.Operation.Action, PlanID: pc.Operation.PlanID,
			Quantity: pc.Operation.Quantity, RequestedAt: pc.Operation.RequestedAt, Deadline: pc.Deadline, Actor: pc.Actor}
	}
	if m := t.Metering; m != nil {
		step.Subscription.Metering = &store.Metering{Dimensions: m.Dimensions, Gaps: m.Gaps}
		if p := m.Period; p != nil {
			step.Subscription.Metering.Period = &store.UsagePeriod{Start: p.Start, End: p.End, PlanID: p.PlanID, Dimensions: p.Dimensions}
		}
		for _, p := range m.Periods {
			step.Subscription.Metering.Periods = append(step.Subscription.Metering.Periods, store.UsagePeriod{Start: p.Start, End: p.End, PlanID: p.PlanID, Dimensions: p.Dimensions})
		}
	}
	return step
}
