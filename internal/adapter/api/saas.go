package api

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/cspmarket/orchestrator/internal/adapter/accesstoken"
	"github.com/cspmarket/orchestrator/internal/adapter/authcode"
	"github.com/cspmarket/orchestrator/internal/adapter/orchestrator"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/saaswire"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// Microsoft's SaaS Fulfillment API v2 (../shared/data/saasapi.v2.json) at
// /api/saas: an ISV's Microsoft integration runs against it unchanged, with
// its base URL and credentials changed. It serves the same subscriptions
// as /isv/v1, through the same rules and the same door to the workflows;
// what differs is the shape (saaswire) and the authentication (a bearer
// token of /oauth2/token instead of a signature).

// saasRoutes are the dialect's endpoints, on a mux of their own: their
// errors are Microsoft's, not this API's problems.
func (s *Server) saasRoutes() *http.ServeMux {
	const sub = "/api/saas/subscriptions/{subscriptionId}"
	mux := http.NewServeMux()
	for _, rt := range []struct {
		pattern string
		handler func(http.ResponseWriter, *http.Request, string)
	}{
		{"POST /api/saas/subscriptions/resolve", s.saasResolve},
		{"GET /api/saas/subscriptions/{$}", s.saasList},
		{"GET /api/saas/subscriptions", s.saasList},
		{"GET " + sub, s.saasGet},
		{"PATCH " + sub, s.saasChange},
		{"DELETE " + sub, s.saasDelete},
		{"GET " + sub + "/listAvailablePlans", s.saasPlans},
		{"POST " + sub + "/activate", s.saasActivate},
		{"GET " + sub + "/operations", s.saasOperations},
		{"GET " + sub + "/operations/{operationId}", s.saasOperation},
		{"PATCH " + sub + "/operations/{operationId}", s.saasAnswer},
		// Microsoft's metering API (metering.go).
		{"POST /api/usageEvent", s.usageEvent},
		{"POST /api/batchUsageEvent", s.batchUsageEvent},
		{"GET /api/usageEvents", s.usageEvents},
	} {
		mux.HandleFunc(rt.pattern, s.publisherToken(rt.handler))
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		saasError(w, http.StatusNotFound, "NotFound", "No such operation: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// saasError answers Microsoft's error shape.
func saasError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, saaswire.Error{Error: saaswire.ErrorDetail{Code: code, Message: message}})
}

// publisherToken authenticates a request of the dialect: a bearer token
// of /oauth2/token for /api (every failure the same 401), api-version
// 2018-08-31 (400 otherwise), and the request and correlation ids echoed
// or made.
func (s *Server) publisherToken(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"x-ms-requestid", "x-ms-correlationid"} {
			v := r.Header.Get(h)
			if _, err := uuid.Parse(v); err != nil || len(v) > 64 {
				v = uuid.NewString()
			}
			w.Header().Set(h, v)
		}
		if s.Tokens == nil {
			saasError(w, http.StatusNotFound, "NotFound", "This deployment does not serve Microsoft's dialect.")
			return
		}
		token, ok := bearerToken(r)
		var claims accesstoken.Claims
		err := fmt.Errorf("%w: no bearer token, or one too long", accesstoken.ErrInvalid)
		if ok && token != "" && len(token) <= 8192 {
			claims, err = s.Tokens.Verify(r.Context(), token, s.Tokens.APIAudience())
		}
		if err != nil {
			if !errors.Is(err, accesstoken.ErrInvalid) {
				s.writeError(w, r, err)
				return
			}
			s.Logger.Warn("publisher token refused", "requestId", requestID(r), "reason", err.Error())
			if wait, blocked := s.authFailures.failed(r); blocked {
				w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
				saasError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many failed authentications from this address; retry later with a valid token.")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			saasError(w, http.StatusUnauthorized, "Unauthorized", "Send Authorization: Bearer <a token of POST /oauth2/token>; this one is missing, expired or not for this API.")
			return
		}
		if v := r.URL.Query().Get("api-version"); v != saaswire.APIVersion {
			saasError(w, http.StatusBadRequest, "BadRequest", "api-version must be "+saaswire.APIVersion)
			return
		}
		next(w, r, claims.Subject)
	}
}

// saasSubscription is the publisher's subscription the path names; it has
// answered 404 when there is none (another publisher's is none).
func (s *Server) saasSubscription(w http.ResponseWriter, r *http.Request, publisherID string) (store.Subscription, string, bool) {
	id := strings.ToLower(r.PathValue("subscriptionId"))
	subID, ok := saaswire.SubscriptionID(id)
	if !ok {
		saasError(w, http.StatusNotFound, "NotFound", "No subscription to your offers has this id.")
		return store.Subscription{}, "", false
	}
	sub, err := s.Store.SubscriptionByID(r.Context(), subID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sub.PublisherID != publisherID) {
		saasError(w, http.StatusNotFound, "NotFound", "No subscription to your offers has this id.")
		return store.Subscription{}, "", false
	}
	if err != nil {
		s.writeError(w, r, err)
		return store.Subscription{}, "", false
	}
	return sub, id, true
}

// saasView is a stored subscription in Microsoft's shape.
func saasView(sub store.Subscription) saaswire.Subscription {
	var pending *saaswire.PendingChange
	if pc := sub.PendingChange; pc != nil {
		pending = &saaswire.PendingChange{OperationID: pc.OperationID, Action: pc.Action, PlanID: pc.PlanID, Quantity: pc.Quantity}
	}
	v, _ := saaswire.SubscriptionOf(sub.Subscription, pending)
	return v
}

// saasResolve is POST /api/saas/subscriptions/resolve: the purchase the
// landing page's token (the authorization code) names.
func (s *Server) saasResolve(w http.ResponseWriter, r *http.Request, publisherID string) {
	raw := r.Header.Get("x-ms-marketplace-token")
	code, err := url.QueryUnescape(raw)
	if err != nil || fields.Token("x-ms-marketplace-token", code, fields.AuthorizationCodeMax) != nil {
		saasError(w, http.StatusBadRequest, "BadRequest", "x-ms-marketplace-token must be the token of the landing page's URL.")
		return
	}
	stored, err := s.Store.AuthorizationCode(r.Context(), authcode.Hash(code))
	if errors.Is(err, store.ErrNotFound) || (err == nil && stored.PublisherID != publisherID) {
		saasError(w, http.StatusNotFound, "NotFound", "No purchase of yours has this token.")
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sub, err := s.Store.SubscriptionByID(r.Context(), stored.SubscriptionID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case stored.RevokedAt != nil:
		saasError(w, http.StatusBadRequest, "BadRequest", "This token was replaced by a newer one; the partner's activation link has it.")
		return
	case s.Now().After(stored.ExpiresAt):
		saasError(w, http.StatusBadRequest, "BadRequest", "This token has expired; the partner can issue a fresh one.")
		return
	case !sub.Status.AwaitsPublisher():
		saasError(w, http.StatusBadRequest, "BadRequest", "The subscription is "+string(sub.Status)+": its token no longer resolves.")
		return
	}
	v := saasView(sub)
	writeJSON(w, http.StatusOK, saaswire.Resolved{ID: v.ID, SubscriptionName: v.Name, OfferID: sub.OfferID, PlanID: sub.PlanID, Quantity: sub.Quantity, Subscription: v})
}

// saasPageSize is how many subscriptions a page lists.
const saasPageSize = 100

// saasList is GET /api/saas/subscriptions: the publisher's subscriptions,
// a page at a time (continuationToken is the last id of the page before).
func (s *Server) saasList(w http.ResponseWriter, r *http.Request, publisherID string) {
	after := ""
	if t := r.URL.Query().Get("continuationToken"); t != "" {
		id, ok := saaswire.SubscriptionID(t)
		if !ok {
			saasError(w, http.StatusBadRequest, "BadRequest", "continuationToken is not one this API gave.")
			return
		}
		after = id
	}
	subs, err := s.Store.PublisherSubscriptions(r.Context(), publisherID, after, saasPageSize+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := saaswire.SubscriptionsResponse{Subscriptions: []saaswire.Subscription{}}
	for i, sub := range subs {
		if i == saasPageSize {
			last, _ := saaswire.SubscriptionUUID(subs[i-1].ID)
			resp.NextLink = fmt.Sprintf("%s/api/saas/subscriptions/?continuationToken=%s&api-version=%s", s.Tokens.URL, last, saaswire.APIVersion)
			break
		}
		if v := saasView(sub); v.ID != "" {
			resp.Subscriptions = append(resp.Subscriptions, v)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) saasGet(w http.ResponseWriter, r *http.Request, publisherID string) {
	sub, _, ok := s.saasSubscription(w, r, publisherID)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, saasView(sub))
}

// saasPlans is GET …/listAvailablePlans: the plans of the subscription's
// offer (one, with planId).
func (s *Server) saasPlans(w http.ResponseWriter, r *http.Request, publisherID string) {
	sub, _, ok := s.saasSubscription(w, r, publisherID)
	if !ok {
		return
	}
	offer, err := s.Store.Offer(r.Context(), sub.OfferID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	only := r.URL.Query().Get("planId")
	resp := saaswire.SubscriptionPlans{Plans: []saaswire.Plan{}}
	for _, p := range offer.Plans {
		if only != "" && p.ID != only {
			continue
		}
		resp.Plans = append(resp.Plans, saasPlan(offer, p))
	}
	writeJSON(w, http.StatusOK, resp)
}

func saasPlan(offer catalog.Offer, p catalog.Plan) saaswire.Plan {
	return saaswire.Plan{
		PlanID: p.ID, DisplayName: p.Name, Description: p.Name, MinQuantity: p.MinQuantity, MaxQuantity: p.MaxQuantity,
		IsPricePerSeat: offer.LicenseBased, Market: "US",
		PlanComponents: saaswire.PlanComponents{
			RecurrentBillingTerms: []saaswire.RecurrentBillingTerm{{Currency: p.Currency, Price: json.Number(billing.Decimal(p.UnitPrice)),
				TermUnit: saaswire.TermUnit(p.TermDuration), TermDescription: p.TermDuration + " term, billed " + strings.Join(p.BillingFrequencies, " or ")}},
			MeteringDimensions: []any{},
		},
	}
}

// saasActivate is POST …/activate: the publisher confirms the purchase as
// bought. Another plan or quantity is refused (400): an activation cannot
// change what the partner is billed.
func (s *Server) saasActivate(w http.ResponseWriter, r *http.Request, publisherID string) {
	sub, _, ok := s.saasSubscription(w, r, publisherID)
	if !ok {
		return
	}
	var body saaswire.ActivateRequest
	if err := decodeJSON(r, &body); err != nil {
		saasError(w, http.StatusBadRequest, "BadRequest", "The body must be {\"planId\", \"quantity\"}: "+err.Error())
		return
	}
	if body.PlanID != "" && body.PlanID != sub.PlanID {
		saasError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The partner bought plan %s; activate confirms it and cannot change it.", sub.PlanID))
		return
	}
	if body.Quantity != nil && *body.Quantity != sub.Quantity {
		saasError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The subscription has %d licences; activate confirms them and cannot change them.", sub.Quantity))
		return
	}
	if sub.Status.Terminal() {
		saasError(w, http.StatusBadRequest, "BadRequest", "The subscription is "+string(sub.Status)+".")
		return
	}
	if !sub.Status.AwaitsPublisher() {
		w.WriteHeader(http.StatusOK) // activated before: the same answer
		return
	}
	// One activation per subscription: a repeat is the same event (event
	// ids are the publisher's, across its subscriptions).
	event := payload.ISVEvent{ID: "ms-activate-" + sub.ID, Type: lifecycle.EventActivated, PublisherID: publisherID, ReceivedAt: s.Now().UTC()}
	if _, err := s.deliver(r, sub, event); err != nil {
		s.saasUnavailable(w)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) saasUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	saasError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "Not recorded; send the request again.")
}

// operationIDFor is the id of the operation a publisher's change starts:
// derived from its x-ms-requestid and what it asks when it sent one, so a
// repeated request is the same operation (applied once), random otherwise.
// The same request id with another body is another operation: a change
// never stands in for a different one (the hostile pass of issue 27 saw a
// second body answered 202 and dropped).
func operationIDFor(r *http.Request, publisherID, subscriptionID string, asked any) string {
	if id := r.Header.Get("x-ms-requestid"); id != "" {
		if _, err := uuid.Parse(id); err == nil {
			body, _ := json.Marshal(asked)
			return uuid.NewHash(sha256.New(), uuid.NameSpaceURL,
				[]byte(publisherID+"\n"+subscriptionID+"\n"+r.Method+"\n"+strings.ToLower(id)+"\n"+string(body)), 8).String()
		}
	}
	return uuid.NewString()
}

// unsubscribeOperationID is the one unsubscription a subscription can
// have: every DELETE, concurrent or repeated, is that operation, so each
// answer's Operation-Location names one that exists.
func unsubscribeOperationID(publisherID, subscriptionID string) string {
	return uuid.NewHash(sha256.New(), uuid.NameSpaceURL, []byte(publisherID+"\n"+subscriptionID+"\nunsubscribe"), 8).String()
}

// saasChange is PATCH …/{id}: the publisher changes the plan or the
// quantity (one per call), applied at once: it is its own answer.
func (s *Server) saasChange(w http.ResponseWriter, r *http.Request, publisherID string) {
	sub, id, ok := s.saasSubscription(w, r, publisherID)
	if !ok {
		return
	}
	var body saaswire.SubscriberPlan
	if err := decodeJSON(r, &body); err != nil {
		saasError(w, http.StatusBadRequest, "BadRequest", "The body must be {\"planId\"} or {\"quantity\"}: "+err.Error())
		return
	}
	if (body.PlanID == nil) == (body.Quantity == nil) {
		saasError(w, http.StatusBadRequest, "BadRequest", "Change the plan or the quantity: one of them per call.")
		return
	}
	opID := operationIDFor(r, publisherID, sub.ID, body)
	req := payload.ChangeRequest{Actor: "publisher:" + publisherID, Quantity: body.Quantity, Source: lifecycle.SourcePublisher, OperationID: opID}
	if body.PlanID != nil {
		plan, found, err := s.offerPlan(r.Context(), sub.OfferID, *body.PlanID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !found {
			saasError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Offer %s has no plan %q.", sub.OfferID, *body.PlanID))
			return
		}
		req.PlanID, req.Plan = body.PlanID, plan
	}
	ctx, cancel := withTimeout(r, s.PurchaseTimeout)
	defer cancel()
	_, err := s.workflows.Change(ctx, sub.ID, "ms-op-"+opID, req)
	var refused *orchestrator.Refused
	switch {
	case errors.As(err, &refused) && refused.Kind == lifecycle.RefusedNothingToChange:
		saasError(w, http.StatusBadRequest, "BadRequest", "The subscription already has this plan and quantity.")
		return
	case errors.As(err, &refused):
		saasError(w, http.StatusBadRequest, "BadRequest", refused.Message)
		return
	case errors.Is(err, orchestrator.ErrEnded):
		saasError(w, http.StatusBadRequest, "BadRequest", "The subscription is "+string(sub.Status)+" and takes no more changes.")
		return
	case err != nil:
		s.saasUnavailable(w)
		return
	}
	w.Header().Set("Operation-Location", saaswire.OperationLocation(s.Tokens.URL, id, opID))
	w.WriteHeader(http.StatusAccepted)
}

// saasDelete is DELETE …/{id}: the publisher unsubscribes (billing stops;
// the current term stays charged, as the native `unsubscribed`).
func (s *Server) saasDelete(w http.ResponseWriter, r *http.Request, publisherID string) {
	sub, id, ok := s.saasSubscription(w, r, publisherID)
	if !ok {
		return
	}
	if sub.Status.Terminal() {
		saasError(w, http.StatusBadRequest, "BadRequest", "The subscription is "+string(sub.Status)+".")
		return
	}
	opID := unsubscribeOperationID(publisherID, sub.ID)
	event := payload.ISVEvent{ID: "ms-delete-" + opID, Type: lifecycle.EventUnsubscribed, PublisherID: publisherID, ReceivedAt: s.Now().UTC(), OperationID: opID}
	if _, err := s.deliver(r, sub, event); err != nil {
		s.saasUnavailable(w)
		return
	}
	w.Header().Set("Operation-Location", saaswire.OperationLocation(s.Tokens.URL, id, opID))
	w.WriteHeader(http.StatusAccepted)
}

// saasOperations is GET …/operations: the operations waiting for the
// publisher's answer.
func (s *Server) saasOperations(w http.ResponseWriter, r *http.Request, publisherID string) {
	sub, id, ok := s.saasSubscription(w, r, publisherID)
	if !ok {
		return
	}
	ops, err := s.Store.OperationsInProgress(r.Context(), sub.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list := saaswire.OperationList{Operations: []saaswire.Operation{}}
	for _, op := range ops {
		list.Operations = append(list.Operations, saaswire.OperationOf(op.Operation, id, op.OfferID, op.PublisherID))
	}
	writeJSON(w, http.StatusOK, list)
}

// saasOperationOf is the operation the path names, of the publisher's
// subscription; it has answered 404 when there is none.
func (s *Server) saasOperationOf(w http.ResponseWriter, r *http.Request, publisherID string) (store.Subscription, string, store.Operation, bool) {
	sub, id, ok := s.saasSubscription(w, r, publisherID)
	if !ok {
		return sub, id, store.Operation{}, false
	}
	opID := strings.ToLower(r.PathValue("operationId"))
	if !fields.UUID(opID) {
		saasError(w, http.StatusNotFound, "NotFound", "No operation of this subscription has this id.")
		return sub, id, store.Operation{}, false
	}
	op, err := s.Store.Operation(r.Context(), publisherID, sub.ID, opID)
	if errors.Is(err, store.ErrNotFound) {
		saasError(w, http.StatusNotFound, "NotFound", "No operation of this subscription has this id.")
		return sub, id, op, false
	}
	if err != nil {
		s.writeError(w, r, err)
		return sub, id, op, false
	}
	return sub, id, op, true
}

func (s *Server) saasOperation(w http.ResponseWriter, r *http.Request, publisherID string) {
	_, id, op, ok := s.saasOperationOf(w, r, publisherID)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, saaswire.OperationOf(op.Operation, id, op.OfferID, op.PublisherID))
}

// saasAnswer is PATCH …/operations/{operationId}: the publisher's
// Success or Failure for an operation that waits (a change of plan or
// quantity, a cancellation). One already settled answers 409.
func (s *Server) saasAnswer(w http.ResponseWriter, r *http.Request, publisherID string) {
	sub, _, op, ok := s.saasOperationOf(w, r, publisherID)
	if !ok {
		return
	}
	var body saaswire.UpdateOperation
	if err := decodeJSON(r, &body); err != nil {
		saasError(w, http.StatusBadRequest, "BadRequest", "The body must be {\"status\": \"Success\" or \"Failure\"}: "+err.Error())
		return
	}
	if body.Status != saaswire.AnswerSuccess && body.Status != saaswire.AnswerFailure {
		saasError(w, http.StatusBadRequest, "BadRequest", `status must be "Success" or "Failure".`)
		return
	}
	if (body.PlanID != "" && body.PlanID != op.PlanID) || (body.Quantity != nil && *body.Quantity != op.Quantity) {
		saasError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Operation %s is about plan %s with %d licences; the answer names others.", op.ID, op.PlanID, op.Quantity))
		return
	}
	if op.Status != lifecycle.OperationInProgress {
		saasError(w, http.StatusConflict, "Conflict", "Operation "+op.ID+" is "+op.Status+" already: it takes no answer.")
		return
	}
	var typ string
	switch {
	case op.Action == lifecycle.ActionUnsubscribe && body.Status == saaswire.AnswerSuccess:
		typ = lifecycle.EventCancellationApproved
	case op.Action == lifecycle.ActionUnsubscribe:
		typ = lifecycle.EventCancellationRejected
	case body.Status == saaswire.AnswerSuccess:
		typ = lifecycle.EventChangeApproved
	default:
		typ = lifecycle.EventChangeRejected
	}
	event := payload.ISVEvent{ID: "ms-answer-" + op.ID, Type: typ, PublisherID: publisherID, ReceivedAt: s.Now().UTC(), OperationID: op.ID}
	accepted, err := s.deliver(r, sub, event)
	if err != nil {
		s.saasUnavailable(w)
		return
	}
	if !accepted {
		// This operation was answered before (perhaps the other way) and
		// the answer has not reached the store yet.
		if receipt, err := s.Store.ISVEventType(r.Context(), publisherID, event.ID); err == nil && receipt != typ {
			saasError(w, http.StatusConflict, "Conflict", "Operation "+op.ID+" was answered already.")
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}
