package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/authcode"
	"github.com/cspmarket/orchestrator/internal/adapter/orchestrator"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// isv authenticates an ISV request: the publisher header names the
// sender, and the signature over the raw body must verify with one of its
// active secrets within the tolerance. Every failure is the same 401.
func (s *Server) isv(next func(http.ResponseWriter, *http.Request, string, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			s.writeError(w, r, jsonProblem(err))
			return
		}
		publisherID := r.Header.Get(signature.PublisherHeader)
		var secrets [][]byte
		if catalog.ValidID(publisherID) {
			if secrets, err = s.Store.PublisherSecrets(r.Context(), publisherID); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if err := signature.Verify(r.Header.Get(signature.Header), secrets, body, s.Now(), signature.Tolerance); err != nil {
			s.Logger.Warn("ISV request refused", "requestId", requestID(r), "publisher", strconv.Quote(publisherID), "reason", err.Error())
			s.refuseFailedAuthentication(w, r, "invalid_signature",
				"The request must carry X-Marketplace-Publisher and a valid X-Marketplace-Signature made within 300 s.")
			return
		}
		next(w, r, publisherID, body)
	}
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request, publisherID string, body []byte) {
	var req struct {
		AuthorizationCode string `json:"authorizationCode"`
	}
	if err := decodeJSONBytes(body, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if refused := fields.Token("authorizationCode", req.AuthorizationCode, fields.AuthorizationCodeMax); refused != nil {
		s.writeError(w, r, refused)
		return
	}
	code, err := s.Store.AuthorizationCode(r.Context(), authcode.Hash(req.AuthorizationCode))
	if errors.Is(err, store.ErrNotFound) || (err == nil && code.PublisherID != publisherID) {
		writeProblem(w, r, http.StatusNotFound, "authorization_code_not_found", "No purchase of yours has this authorization code.")
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sub, err := s.Store.SubscriptionByID(r.Context(), code.SubscriptionID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if code.RevokedAt != nil {
		writeProblem(w, r, http.StatusGone, "authorization_code_expired", "This authorization code was replaced by a newer one; the partner's activation link shows it.")
		return
	}
	if s.Now().After(code.ExpiresAt) {
		writeProblem(w, r, http.StatusGone, "authorization_code_expired", "This authorization code has expired; the partner can issue a fresh one.")
		return
	}
	if !sub.Status.AwaitsPublisher() {
		writeProblem(w, r, http.StatusGone, "authorization_code_expired", "The subscription is "+string(sub.Status)+": its authorization code no longer resolves.")
		return
	}
	writeJSON(w, http.StatusOK, wire.Resolved{
		ID: sub.ID, OfferID: sub.OfferID, PlanID: sub.PlanID, Quantity: sub.Quantity,
		CustomerID: sub.CustomerID, PartnerID: sub.PartnerID, Status: string(sub.Status),
	})
}

// webhook takes one ISV event. It answers 202 only once the event is
// durable in the subscription's workflow (a signal is durable even while
// no worker runs), and 200 for an event id this publisher sent before.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request, publisherID string, body []byte) {
	var e wire.ISVEvent
	if err := refuseDuplicateKeys(body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := json.Unmarshal(body, &e); err != nil {
		s.writeError(w, r, jsonProblem(err))
		return
	}
	if refused := fields.Token("id", e.ID, fields.EventIDMax); refused != nil {
		s.writeError(w, r, refused)
		return
	}
	if !lifecycle.KnownEventType(e.Type) {
		s.writeError(w, r, invalid("type", "unknown event type %q", e.Type))
		return
	}
	if refused := fields.Identifier("subscriptionId", e.SubscriptionID); refused != nil {
		s.writeError(w, r, refused)
		return
	}
	if e.Data.PlanID != "" {
		if refused := fields.Identifier("data.planId", e.Data.PlanID); refused != nil {
			s.writeError(w, r, refused)
			return
		}
	}
	if e.Data.Quantity < 0 {
		s.writeError(w, r, invalid("data.quantity", "must be positive"))
		return
	}
	if e.Data.OperationID != "" && !fields.UUID(e.Data.OperationID) {
		s.writeError(w, r, invalid("data.operationId", "must be the operation's id (a UUID), as pendingChange or the notification names it"))
		return
	}
	sub, err := s.Store.SubscriptionByID(r.Context(), e.SubscriptionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sub.PublisherID != publisherID) {
		writeProblem(w, r, http.StatusNotFound, "subscription_not_found", "No subscription to your offers has this id.")
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if e.Type == lifecycle.EventActivated {
		// An activation confirms what the partner bought: the plan and
		// quantity the subscription has now. The ISV may name them (as
		// Microsoft's activate does) but cannot change them: that would
		// re-price the purchase without the partner's consent (issue 25).
		// The event reaches the workflow without them, so it activates
		// the subscription as the partner left it.
		if e.Data.PlanID != "" && e.Data.PlanID != sub.PlanID {
			writeProblemField(w, r, http.StatusConflict, "activation_mismatch", "data.planId",
				fmt.Sprintf("The partner bought plan %s; an activation confirms it and cannot change it (omit data.planId, or name %s).", sub.PlanID, sub.PlanID))
			return
		}
		if e.Data.Quantity != 0 && e.Data.Quantity != sub.Quantity {
			writeProblemField(w, r, http.StatusConflict, "activation_mismatch", "data.quantity",
				fmt.Sprintf("The subscription has %d licences; an activation confirms them and cannot change them (omit data.quantity, or resolve the subscription again to read it).", sub.Quantity))
			return
		}
	}
	event := payload.ISVEvent{ID: e.ID, Type: e.Type, PublisherID: publisherID, ReceivedAt: s.Now().UTC(), OperationID: e.Data.OperationID}
	accepted, err := s.deliver(r, sub, event)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "The event could not be recorded; retry it with the same id.")
		return
	}
	if !accepted {
		writeJSON(w, http.StatusOK, map[string]string{"status": "duplicate", "id": e.ID})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted", "id": e.ID})
}

// deliver hands one ISV event to its subscription's workflow and records
// its receipt: accepted is true when this delivery took it, false for an
// id the publisher sent before (a repeat). It answers only once the event
// is durable in the workflow (a signal is durable even while no worker
// runs); an error means it may not be: the sender retries with the same id.
func (s *Server) deliver(r *http.Request, sub store.Subscription, event payload.ISVEvent) (accepted bool, err error) {
	if seen, err := s.Store.ISVEventReceived(r.Context(), event.PublisherID, event.ID); err != nil || seen {
		return false, err
	}
	ctx, cancel := withTimeout(r, 10*time.Second)
	defer cancel()
	receipt := store.Receipt{PublisherID: event.PublisherID, EventID: event.ID, SubscriptionID: sub.ID, Type: event.Type, PlanID: event.PlanID,
		Quantity: event.Quantity, ReceivedAt: event.ReceivedAt}
	// Signal first, then record the receipt: a crash in between makes the
	// ISV retry, and the workflow ignores the id it already has. The other
	// order would answer that retry "duplicate" for an event never applied.
	err = s.workflows.DeliverEvent(ctx, sub.ID, event)
	switch {
	case errors.Is(err, orchestrator.ErrEnded):
		// The workflow has ended (cancelled or expired): the event is
		// recorded and reported in the audit trail, not applied.
		receipt.Reason = "the subscription is " + string(sub.Status) + " and takes no more events"
	case err != nil:
		s.Logger.Error("signal ISV event", "requestId", requestID(r), "subscription", sub.ID, "event", event.ID, "error", err)
		return false, err
	}
	// The workflow's step records the receipt too, and may do it first. A
	// receipt that holds this delivery's time is this delivery's own (the
	// workflow applied it): accepted. One with another time is another
	// delivery's, racing this one past the check above: a repeat, so one
	// delivery of an id is accepted and the others are repeats.
	if err := s.Store.RecordISVEventReceipt(r.Context(), receipt); errors.Is(err, store.ErrDuplicate) {
		if at, err := s.Store.ISVEventReceivedAt(r.Context(), event.PublisherID, event.ID); err != nil || !at.Equal(event.ReceivedAt.Truncate(time.Microsecond)) {
			return false, nil
		}
	} else if err != nil {
		// The signal is durable, and the workflow's step records the
		// receipt too: this one only answers repeats sooner.
		s.Logger.Error("record ISV event receipt", "requestId", requestID(r), "subscription", sub.ID, "event", event.ID, "error", err)
	}
	return true, nil
}
