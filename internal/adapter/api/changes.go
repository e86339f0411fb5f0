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

	"github.com/cspmarket/orchestrator/internal/adapter/orchestrator"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

type patchRequest struct {
	Nickname          *string `json:"nickname,omitempty"`
	Quantity          *int    `json:"quantity,omitempty"`
	AutoRenew         *bool   `json:"autoRenew,omitempty"`
	Status            *string `json:"status,omitempty"`
	ResellerPartnerID *string `json:"resellerPartnerId,omitempty"`
	BillingFrequency  *string `json:"billingFrequency,omitempty"`
	// PlanID asks for another plan of the offer: it waits for the
	// publisher's answer (202 with pendingChange).
	PlanID *string `json:"planId,omitempty"`
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
	req := payload.ChangeRequest{
		Actor: actorOf(a), Nickname: body.Nickname, Quantity: body.Quantity, AutoRenew: body.AutoRenew,
		ResellerPartnerID: body.ResellerPartnerID, BillingFrequency: body.BillingFrequency,
	}
	if body.Status != nil {
		if *body.Status != string(lifecycle.StatusCancelled) {
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
	if body.PlanID != nil {
		plan, ok, err := s.offerPlan(r.Context(), row.OfferID, *body.PlanID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !ok {
			s.writeError(w, r, invalid("planId", "offer %s has no plan %q", row.OfferID, *body.PlanID))
			return
		}
		req.PlanID, req.Plan = body.PlanID, plan
	}
	if req.Rules().Empty() {
		s.writeError(w, r, invalid("", "nothing to change: set nickname, quantity, autoRenew, status, resellerPartnerId, billingFrequency or planId"))
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
		updateID = orchestrator.ChangeUpdateID(a.PartnerID, idemKey, held.CreatedAt)
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
	result, err := s.workflows.Change(ctx, row.ID, updateID, req)
	if err != nil {
		s.changeFailed(w, r, a, string(row.Status), err)
		return
	}
	status := http.StatusOK
	if result.Pending {
		status = http.StatusAccepted
	}
	s.writeSubscription(w, a, status, result.Subscription.Rules(), result.Lots, pendingOf(result.PendingChange))
}

// changeFailed maps a refused or failed change to its problem.
func (s *Server) changeFailed(w http.ResponseWriter, r *http.Request, a auth.Agent, status string, err error) {
	var refused *orchestrator.Refused
	switch {
	case errors.As(err, &refused):
		switch refused.Kind {
		case lifecycle.RefusedNothingToChange:
			// Every field already had its value: nothing was recorded,
			// the answer is the subscription as it is (same ETag).
			current, ok := refused.Current()
			if !ok {
				s.writeError(w, r, fmt.Errorf("change: a refusal without the subscription: %w", err))
				return
			}
			s.writeSubscription(w, a, http.StatusOK, current.Subscription.Rules(), current.Lots, pendingOf(current.PendingChange))
		case lifecycle.RefusedInvalid:
			writeProblemField(w, r, http.StatusUnprocessableEntity, "validation_failed", refused.Field, refused.Message)
		case lifecycle.RefusedState:
			writeProblem(w, r, http.StatusConflict, "invalid_state", refused.Message)
		case lifecycle.RefusedWindowClosed:
			writeProblem(w, r, http.StatusConflict, "cancellation_window_closed", refused.Message)
		case lifecycle.RefusedStale:
			writeProblem(w, r, http.StatusPreconditionFailed, "precondition_failed", refused.Message)
		}
	case errors.Is(err, orchestrator.ErrEnded):
		writeProblem(w, r, http.StatusConflict, "invalid_state", "The subscription is "+status+" and takes no more changes.")
	case errors.Is(err, orchestrator.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, http.StatusServiceUnavailable, "change_pending",
			"The change was not confirmed in time (is a worker running?). Repeat it with the same Idempotency-Key to learn its outcome.")
	default:
		s.writeError(w, r, fmt.Errorf("change: %w", err))
	}
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
func replayStored(w http.ResponseWriter, stored store.HeldKey) {
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

// offerPlan is an offer's plan as a change of plan carries it (the
// workflow never reads the catalog); false when the offer has no such plan.
func (s *Server) offerPlan(ctx context.Context, offerID, planID string) (*payload.Plan, bool, error) {
	if !catalog.ValidID(planID) {
		return nil, false, nil
	}
	offer, err := s.Store.Offer(ctx, offerID)
	if err != nil {
		return nil, false, err
	}
	plan, ok := offer.Plan(planID)
	if !ok {
		return nil, false, nil
	}
	p := payload.Plan(plan.Snapshot())
	return &p, true, nil
}
