// Package orchestrator is the one door to the subscription workflows: the
// API (and the console through it) and the CLI reach Temporal only through
// its Client, which alone builds workflow IDs, start and Update options and
// the ids that make a repeat the same request, and which turns Temporal's
// answers into errors that say what happened to the request.
package orchestrator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/workflows"
)

// Client reaches the subscription workflows.
type Client struct {
	Temporal client.Client
	Logger   *slog.Logger
}

// What happened to a request, when not what was asked.
var (
	// ErrUnavailable: Temporal could not be reached in time; nothing says
	// whether the request took effect (a repeat with the same key learns).
	ErrUnavailable = errors.New("temporal is unavailable")
	// ErrEnded: the subscription's workflow has ended (cancelled or
	// expired): it takes no more events or changes.
	ErrEnded = errors.New("the subscription's workflow has ended")
	// ErrAlreadyStarted: a purchase's workflow exists and has ended.
	ErrAlreadyStarted = errors.New("the purchase's workflow exists already")
)

// SubscriptionID is the id of a partner's purchase: derived from its
// Idempotency-Key when there is one, so that duplicates, even concurrent
// ones, meet at the same workflow; random otherwise.
func SubscriptionID(partnerID, idempotencyKey string) string {
	if idempotencyKey == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		return "sub_" + hex.EncodeToString(b)
	}
	return "sub_" + keyDigest(partnerID, idempotencyKey)
}

// ChangeUpdateID is the Update id of a change sent with an
// Idempotency-Key: the key's reservation, not the key alone. Temporal keeps
// an Update's outcome for the life of its run (a month, a year): a key used
// again once its reservation has expired is a new request, and an id
// derived from the key alone made Temporal answer it with the first
// change's outcome and apply nothing (issue 25).
func ChangeUpdateID(partnerID, key string, reservedAt time.Time) string {
	return "patch-" + keyDigest(partnerID, key, reservedAt.UTC().Format(time.RFC3339Nano))
}

// keyDigest is the one derivation of ids from a partner's Idempotency-Key.
func keyDigest(partnerID, key string, more ...string) string {
	text := partnerID + "\n" + key
	for _, m := range more {
		text += "\n" + m
	}
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:12])
}

// Purchase starts a subscription's workflow with its purchase and waits
// until the purchase is recorded (update-with-start: the answer and a
// following read agree). A workflow of the same id already running is
// joined: its result says whose purchase it is. summary is what operators
// read of it in the Web UI's list. An input the workflow would refuse
// (lifecycle.CheckPurchase, which its first task calls too) starts
// nothing: the refusal is returned as it is.
func (c *Client) Purchase(ctx context.Context, in payload.PurchaseInput, summary string) (payload.PurchaseResult, error) {
	if err := lifecycle.CheckPurchase(in.Subscription.Rules(), lifecycle.Plan(in.Plan), in.IdempotencyKey); err != nil {
		return payload.PurchaseResult{}, err
	}
	sub := in.Subscription
	start := c.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       workflows.WorkflowID(sub.ID),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes:    payload.SearchAttributesOf(sub),
		StaticSummary:            summary,
	}, workflows.SubscriptionWorkflowType, in)
	handle, err := c.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID: workflows.UpdatePurchaseRecorded, UpdateName: workflows.UpdatePurchaseRecorded,
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var result payload.PurchaseResult
	if err == nil {
		err = handle.Get(ctx, &result)
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return result, ErrAlreadyStarted
	}
	return result, answer(err)
}

// Started says whether a subscription's workflow was started, and if it
// still runs, whose it is (its search attributes, set at start): a
// purchase not recorded yet (no worker ran it) exists all the same.
func (c *Client) Started(ctx context.Context, subscriptionID string) (running bool, partnerID, customerID string, err error) {
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(subscriptionID), "")
	if err != nil {
		return false, "", "", answer(err)
	}
	info := desc.GetWorkflowExecutionInfo()
	attrs := info.GetSearchAttributes().GetIndexedFields()
	if p, ok := attrs[payload.PartnerIDKey.GetName()]; ok {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &partnerID)
	}
	if cu, ok := attrs[payload.CustomerIDKey.GetName()]; ok {
		_ = converter.GetDefaultDataConverter().FromPayload(cu, &customerID)
	}
	return info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, partnerID, customerID, nil
}

// Change applies a partner's change through the subscription's current
// run and answers the subscription after it, or the rules' refusal
// (*lifecycle.Refusal; RefusedNothingToChange carries the subscription as
// it is in the result). updateID "" draws one.
//
// Every send of one change carries the same Update id: Temporal keeps one
// outcome per id, so a change sent again is applied once. It is sent
// again:
//   - when Temporal answers Unavailable ("workflow update was aborted"):
//     it clears a workflow's pending updates when it reloads the workflow
//     (under load, when its cache evicts it) and says to retry; a change
//     never accepted is then simply not there;
//   - when the run it reached was handing over at a renewal (continue as
//     new): the update is refused as "completed" although the subscription
//     lives on in the next run.
//
// Until ctx's deadline: past it, ErrUnavailable.
func (c *Client) Change(ctx context.Context, subscriptionID, updateID string, req payload.ChangeRequest) (payload.ChangeResult, error) {
	var result payload.ChangeResult
	if updateID == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		updateID = "patch-" + hex.EncodeToString(b)
	}
	opts := client.UpdateWorkflowOptions{
		WorkflowID: workflows.WorkflowID(subscriptionID), UpdateName: workflows.UpdateChange, UpdateID: updateID,
		Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted,
	}
	for attempt := 0; ; attempt++ {
		handle, err := c.Temporal.UpdateWorkflow(ctx, opts)
		if err == nil {
			err = handle.Get(ctx, &result)
		}
		var notFound *serviceerror.NotFound
		switch {
		case err == nil:
			return result, nil
		case errors.As(err, &notFound) && attempt < 4:
			desc, derr := c.Temporal.DescribeWorkflowExecution(ctx, opts.WorkflowID, "")
			if derr != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				return result, ErrEnded
			}
		case unavailable(err) && ctx.Err() == nil:
			c.Logger.Warn("change sent again: Temporal asked to retry", "workflow", opts.WorkflowID, "update", opts.UpdateID, "attempt", attempt+1, "error", err)
		default:
			if errors.As(err, &notFound) {
				return result, ErrEnded
			}
			return result, answer(err)
		}
		select {
		case <-time.After(time.Duration(50*min(attempt+1, 10)) * time.Millisecond):
		case <-ctx.Done():
			return result, answer(ctx.Err())
		}
	}
}

// DeliverEvent hands one ISV event to its subscription's workflow: durable
// when this returns, even while no worker runs (a signal). ErrEnded when
// the workflow has ended.
func (c *Client) DeliverEvent(ctx context.Context, subscriptionID string, e payload.ISVEvent) error {
	err := c.Temporal.SignalWorkflow(ctx, workflows.WorkflowID(subscriptionID), "", workflows.SignalISVEvent, e)
	var gone *serviceerror.NotFound
	if errors.As(err, &gone) {
		return ErrEnded
	}
	return answer(err)
}

// Healthy says whether Temporal answers.
func (c *Client) Healthy(ctx context.Context) error {
	_, err := c.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// answer is a Temporal error as what it says of the request: the rules'
// refusal, ErrUnavailable when Temporal did not answer in time, or the
// error itself (a failure nothing expected).
func answer(err error) error {
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch kind := appErr.Type(); kind {
		case lifecycle.RefusedInvalid, lifecycle.RefusedState, lifecycle.RefusedWindowClosed, lifecycle.RefusedStale, lifecycle.RefusedNothingToChange:
			r := &lifecycle.Refusal{Kind: kind, Message: appErr.Message()}
			if kind == lifecycle.RefusedInvalid && appErr.HasDetails() {
				_ = appErr.Details(&r.Field)
			}
			return &Refused{Refusal: r, appErr: appErr}
		}
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// Refused is a request the rules refused.
type Refused struct {
	*lifecycle.Refusal
	appErr *temporal.ApplicationError
}

// Unwrap makes errors.As find the refusal.
func (r *Refused) Unwrap() error { return r.Refusal }

// Current is the subscription as it is, which a RefusedNothingToChange
// carries.
func (r *Refused) Current() (payload.ChangeResult, bool) {
	var current payload.ChangeResult
	if r.Kind != lifecycle.RefusedNothingToChange || !r.appErr.HasDetails() || r.appErr.Details(&current) != nil {
		return current, false
	}
	return current, true
}

// unavailable reports an error that says Temporal could not be reached in
// time, as opposed to an answer: the client should retry.
func unavailable(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	for _, e := range []error{err, errors.Unwrap(err)} {
		if s, ok := status.FromError(e); ok && (s.Code() == codes.Unavailable || s.Code() == codes.DeadlineExceeded) {
			return true
		}
	}
	return false
}
