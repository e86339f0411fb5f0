package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/subscription"
	"github.com/cspmarket/orchestrator/workflows"
)

type patchRequest struct {
	Nickname          *string `json:"nickname,omitempty"`
	Quantity          *int    `json:"quantity,omitempty"`
	AutoRenew         *bool   `json:"autoRenew,omitempty"`
	Status            *string `json:"status,omitempty"`
	ResellerPartnerID *string `json:"resellerPartnerId,omitempty"`
	BillingFrequency  *string `json:"billingFrequency,omitempty"`
}

// patchSubscription applies a partner's change through the workflow's
// change Update, all fields or none, and answers the subscription after it.
func (s *Server) patchSubscription(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermChange) {
		return
	}
	row, ok := s.subscription(w, r, a)
	if !ok {
		return
	}
	idemKey, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var body patchRequest
	if err := decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	req := workflows.ChangeRequest{
		Actor: "agent:" + a.ID, Nickname: body.Nickname, Quantity: body.Quantity, AutoRenew: body.AutoRenew,
		ResellerPartnerID: body.ResellerPartnerID, BillingFrequency: body.BillingFrequency,
	}
	if body.Status != nil {
		if *body.Status != string(subscription.StatusCancelled) {
			s.writeError(w, r, invalid("status", `only "cancelled" can be set; the other statuses follow the lifecycle`))
			return
		}
		req.Cancel = true
	}
	if body.Nickname != nil {
		if _, refused := fields.Nickname(*body.Nickname); refused != nil {
			s.writeError(w, r, refused)
			return
		}
	}
	if body.ResellerPartnerID != nil {
		if refused := fields.ResellerPartnerID(*body.ResellerPartnerID); refused != nil {
			s.writeError(w, r, refused)
			return
		}
	}
	if req.Empty() {
		s.writeError(w, r, invalid("", "nothing to change: set nickname, quantity, autoRenew, status, resellerPartnerId or billingFrequency"))
		return
	}
	if ifMatch := r.Header.Get("If-Match"); ifMatch != "" && strings.TrimSpace(ifMatch) != "*" {
		v, err := parseETag(ifMatch)
		if err != nil || v < 1 {
			writeProblem(w, r, http.StatusPreconditionFailed, "precondition_failed", "If-Match must be an ETag this API returned.")
			return
		}
		req.IfVersion = v
	}

	updateID := ""
	if idemKey != "" {
		scope := r.Method + " " + r.URL.Path
		hash := requestHash(scope, r.Header.Get("If-Match"), body)
		held, reserved, err := s.Store.ReserveIdempotencyKey(r.Context(), a.PartnerID, idemKey, scope, hash)
		switch {
		case err != nil:
			s.writeError(w, r, err)
			return
		case !reserved && (held.Scope != scope || held.RequestHash != hash):
			writeProblem(w, r, http.StatusConflict, "idempotency_key_reused", "This Idempotency-Key was used for a different request.")
			return
		case !reserved && held.StatusCode != 0:
			replayStored(w, held)
			return
		}
		// This request holds the key, or repeats one that holds it and is
		// still running, or got no answer worth keeping (a 5xx): the
		// Update's id is the reservation's, so Temporal gives every send
		// of it the same outcome and the change is applied once.
		updateID = changeUpdateID(a.PartnerID, idemKey, held.CreatedAt)
		rec := &capture{ResponseWriter: w}
		defer func() {
			if rec.status == 0 || rec.status >= 500 {
				// Kept reserved, without an answer: a repeat sends the
				// same Update again and learns its outcome.
				return
			}
			if err := s.Store.CompleteIdempotentKey(context.WithoutCancel(r.Context()), a.PartnerID, idemKey, rec.status, rec.body.Bytes()); err != nil {
				s.Logger.Error("store idempotent response", "requestId", requestID(r), "error", err)
			}
		}()
		w = rec
	}

	ctx, cancel := withTimeout(r, s.PurchaseTimeout)
	defer cancel()
	opts := client.UpdateWorkflowOptions{
		WorkflowID: workflows.WorkflowID(row.ID), UpdateName: workflows.UpdateChange, UpdateID: updateID,
		Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted,
	}
	result, err := s.updateCurrentRun(ctx, opts)
	if err != nil {
		s.changeFailed(w, r, a, row.Status, err)
		return
	}
	status := http.StatusOK
	if result.Pending {
		status = http.StatusAccepted
	}
	s.writeSubscription(w, a, status, result.Subscription, result.Lots)
}

// updateCurrentRun sends the change to the subscription's current run.
//
// Every send of one change carries the same update id (the
// Idempotency-Key's, or one drawn here): Temporal keeps one outcome per id,
// so a change sent again is applied once. It is sent again:
//   - when Temporal answers Unavailable ("workflow update was aborted"):
//     it clears a workflow's pending updates when it reloads the workflow
//     (under load, when its cache evicts it) and says to retry; a change
//     never accepted is then simply not there;
//   - when the run it reached was handing over at a renewal (continue as
//     new): the update is refused as "completed" although the subscription
//     lives on in the next run.
//
// Until the request's deadline: past it, the answer is 503 change_pending.
func (s *Server) updateCurrentRun(ctx context.Context, opts client.UpdateWorkflowOptions) (workflows.ChangeResult, error) {
	var result workflows.ChangeResult
	if opts.UpdateID == "" {
		opts.UpdateID = "patch-" + uuid.NewString()
	}
	for attempt := 0; ; attempt++ {
		handle, err := s.Temporal.UpdateWorkflow(ctx, opts)
		if err == nil {
			err = handle.Get(ctx, &result)
		}
		var notFound *serviceerror.NotFound
		switch {
		case err == nil:
			return result, nil
		case errors.As(err, &notFound) && attempt < 4:
			desc, derr := s.Temporal.DescribeWorkflowExecution(ctx, opts.WorkflowID, "")
			if derr != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				return result, err
			}
		case temporalUnavailable(err) && ctx.Err() == nil:
			s.Logger.Warn("change sent again: Temporal asked to retry", "workflow", opts.WorkflowID, "update", opts.UpdateID, "attempt", attempt+1, "error", err)
		default:
			return result, err
		}
		select {
		case <-time.After(time.Duration(50*min(attempt+1, 10)) * time.Millisecond):
		case <-ctx.Done():
			return result, ctx.Err()
		}
	}
}

// changeFailed maps a refused or failed change to its problem.
func (s *Server) changeFailed(w http.ResponseWriter, r *http.Request, a auth.Agent, status string, err error) {
	var appErr *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &appErr):
		switch appErr.Type() {
		case workflows.ErrNothingToChange:
			// Every field already had its value: nothing was recorded,
			// the answer is the subscription as it is (same ETag).
			var current workflows.ChangeResult
			if !appErr.HasDetails() || appErr.Details(&current) != nil {
				s.writeError(w, r, fmt.Errorf("change: a refusal without the subscription: %w", err))
				return
			}
			s.writeSubscription(w, a, http.StatusOK, current.Subscription, current.Lots)
		case workflows.ErrValidation:
			var field string
			if appErr.HasDetails() {
				_ = appErr.Details(&field)
			}
			writeProblemField(w, r, http.StatusUnprocessableEntity, "validation_failed", field, appErr.Message())
		case workflows.ErrInvalidState:
			writeProblem(w, r, http.StatusConflict, "invalid_state", appErr.Message())
		case workflows.ErrWindowClosed:
			writeProblem(w, r, http.StatusConflict, "cancellation_window_closed", appErr.Message())
		case workflows.ErrVersionMismatch:
			writeProblem(w, r, http.StatusPreconditionFailed, "precondition_failed", appErr.Message())
		default:
			s.writeError(w, r, err)
		}
	case errors.As(err, &notFound):
		writeProblem(w, r, http.StatusConflict, "invalid_state", "The subscription is "+status+" and takes no more changes.")
	case temporalUnavailable(err):
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, http.StatusServiceUnavailable, "change_pending",
			"The change was not confirmed in time (is a worker running?). Repeat it with the same Idempotency-Key to learn its outcome.")
	default:
		s.writeError(w, r, fmt.Errorf("change: %w", err))
	}
}

// changeUpdateID is the Update id of a change sent with an
// Idempotency-Key: the key's reservation, not the key alone. Temporal keeps
// an Update's outcome for the life of its run (a month, a year): a key used
// again once its reservation has expired (store.IdempotencyTTL) is a new
// request, and an id derived from the key alone made Temporal answer it
// with the first change's outcome and apply nothing (issue 25).
func changeUpdateID(partnerID, key string, reservedAt time.Time) string {
	sum := sha256.Sum256([]byte(partnerID + "\n" + key + "\n" + reservedAt.UTC().Format(time.RFC3339Nano)))
	return "patch-" + hex.EncodeToString(sum[:12])
}

// parseETag reads `"5"`, `W/"5"` or `5`.
func parseETag(v string) (int64, error) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
	return strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
}

// requestHash identifies a request's content for idempotency checks.
func requestHash(parts ...any) string {
	b, _ := json.Marshal(parts)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// replayStored answers with a stored first response.
func replayStored(w http.ResponseWriter, stored *store.IdempotencyRow) {
	contentType := "application/json"
	var probe struct {
		Code    string `json:"code"`
		Version int64  `json:"version"`
	}
	if json.Unmarshal(stored.Body, &probe) == nil {
		if probe.Code != "" && stored.StatusCode >= 400 {
			contentType = "application/problem+json"
		} else if probe.Version > 0 {
			w.Header().Set("ETag", etag(probe.Version))
		}
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(stored.StatusCode)
	_, _ = w.Write(stored.Body)
}

// capture keeps a copy of what a handler answers.
type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}
