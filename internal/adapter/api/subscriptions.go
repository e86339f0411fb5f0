package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/authcode"
	"github.com/cspmarket/orchestrator/internal/adapter/orchestrator"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// view is a subscription as the API answers it to the agent: its unit
// price only for who may see money (auth.PermBilling), its refundable
// licences now.
func (s *Server) view(a auth.Agent, sub lifecycle.Subscription, lots billing.Lots) wire.Subscription {
	v := wire.Subscription{
		ID: sub.ID, CustomerID: sub.CustomerID, PartnerID: sub.PartnerID, OfferID: sub.OfferID, PlanID: sub.PlanID, PublisherID: sub.PublisherID,
		Nickname: sub.Nickname, Quantity: sub.Quantity, Status: string(sub.Status), ActionNeeded: sub.ActionNeeded, AutoRenew: sub.AutoRenew,
		BillingFrequency: sub.BillingFrequency, NextBillingFrequency: sub.NextBillingFrequency, TermDuration: sub.TermDuration,
		ResellerPartnerID: sub.ResellerPartnerID, Currency: sub.Currency, PurchasedAt: sub.PurchasedAt.UTC(), ActivatedAt: sub.ActivatedAt,
		BillingStartedAt: sub.BillingStartedAt, TermStart: sub.TermStart, TermEnd: sub.TermEnd, CancellationWindowEndsAt: sub.CancellationWindowEndsAt,
		Version: sub.Version, ETag: etag(sub.Version),
		RefundableQuantity: wire.Refundable{Details: []wire.RefundableBatch{}},
	}
	if sub.PublisherURL != "" {
		v.PublisherLink = &wire.PublisherLink{URL: sub.PublisherURL}
	}
	if a.Role.Can(auth.PermBilling) {
		v.UnitPrice = &sub.UnitPrice
	}
	r := lifecycle.RefundableQuantity(sub, lots, s.Now().UTC())
	v.RefundableQuantity.Total = r.Total
	for _, d := range r.Details {
		v.RefundableQuantity.Details = append(v.RefundableQuantity.Details, wire.RefundableBatch{Quantity: d.Quantity, AllowedUntil: d.AllowedUntil})
	}
	return v
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func (s *Server) writeSubscription(w http.ResponseWriter, a auth.Agent, status int, sub lifecycle.Subscription, lots billing.Lots, pending *wire.PendingChange) {
	v := s.view(a, sub, lots)
	v.PendingChange = pending
	s.writeView(w, status, v)
}

func (s *Server) writeView(w http.ResponseWriter, status int, v wire.Subscription) {
	w.Header().Set("ETag", v.ETag)
	writeJSON(w, status, v)
}

type purchaseRequest struct {
	OfferID           string  `json:"offerId"`
	PlanID            string  `json:"planId"`
	Quantity          *int    `json:"quantity"`
	BillingFrequency  string  `json:"billingFrequency,omitempty"`
	Nickname          string  `json:"nickname,omitempty"`
	AutoRenew         *bool   `json:"autoRenew,omitempty"`
	ResellerPartnerID *string `json:"resellerPartnerId,omitempty"`
}

// validate checks the request against the offer and fills defaults.
func (p *purchaseRequest) validate(offer catalog.Offer) (catalog.Plan, error) {
	plan, ok := offer.Plan(p.PlanID)
	if !ok {
		return plan, invalid("planId", "offer %s has no plan %q", offer.ID, p.PlanID)
	}
	if p.Quantity == nil {
		return plan, invalid("quantity", "is required")
	}
	if refused := fields.Quantity(*p.Quantity, plan.MinQuantity, plan.MaxQuantity, plan.ID); refused != nil {
		return plan, refused
	}
	if p.BillingFrequency == "" {
		p.BillingFrequency = plan.BillingFrequencies[0]
	}
	if !plan.Snapshot().OffersBillingFrequency(p.BillingFrequency) {
		return plan, invalid("billingFrequency", "plan %s is billed %s", plan.ID, strings.Join(plan.BillingFrequencies, " or "))
	}
	nickname, refused := fields.Nickname(p.Nickname)
	if refused != nil {
		return plan, refused
	}
	p.Nickname = nickname
	if p.AutoRenew == nil {
		on := true
		p.AutoRenew = &on
	}
	if p.ResellerPartnerID != nil {
		if refused := fields.ResellerPartnerID(*p.ResellerPartnerID); refused != nil {
			return plan, refused
		}
	}
	return plan, nil
}

// hash identifies the purchase's content, defaults applied, so that a
// repeat with the same Idempotency-Key can be told from a different one.
func (p purchaseRequest) hash(customerID string) string { return requestHash(customerID, p) }

func (s *Server) purchase(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermPurchase) {
		return
	}
	customer, ok := s.customer(w, r, a)
	if !ok {
		return
	}
	idemKey, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var req purchaseRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if refused := fields.Identifier("offerId", req.OfferID); refused != nil {
		s.writeError(w, r, refused)
		return
	}
	offer, err := s.Store.Offer(r.Context(), req.OfferID)
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(w, r, invalid("offerId", "no such offer %q", req.OfferID))
		return
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	plan, err := req.validate(offer)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	publisher, err := s.Store.Publisher(r.Context(), offer.PublisherID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	requestHash := req.hash(customer.ID)

	// A repeat of a purchase already recorded answers from the database.
	id := orchestrator.SubscriptionID(a.PartnerID, idemKey)
	if idemKey != "" {
		if existing, err := s.Store.SubscriptionByID(r.Context(), id); err == nil {
			s.replayPurchase(w, r, a, existing.Subscription, existing.RequestHash, requestHash)
			return
		} else if !errors.Is(err, store.ErrNotFound) {
			s.writeError(w, r, err)
			return
		}
	}

	code, codeHash := authcode.New()
	// Kept before the workflow records the hash: the purchase's code is the
	// subscription's live one, shown again by the activation link and the
	// ISV's purchase notification rather than replaced.
	if err := s.Store.KeepAuthorizationCode(r.Context(), code, codeHash); err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.Now().UTC()
	reseller := ""
	if req.ResellerPartnerID != nil {
		reseller = *req.ResellerPartnerID
	}
	input := payload.PurchaseInput{
		Subscription: payload.Subscription{
			ID: id, CustomerID: customer.ID, PartnerID: a.PartnerID, OfferID: offer.ID, PlanID: plan.ID,
			PublisherID: offer.PublisherID, Nickname: req.Nickname, Quantity: *req.Quantity,
			Status: lifecycle.StatusPendingFulfillment, AutoRenew: *req.AutoRenew, BillingFrequency: req.BillingFrequency,
			ResellerPartnerID: reseller, PurchasedAt: now.Truncate(time.Microsecond),
			PublisherLink: &payload.PublisherLink{URL: publisher.LandingURL},
		},
		Plan: payload.Plan(plan.Snapshot()), LicenseBased: offer.LicenseBased, Actor: actorOf(a),
		IdempotencyKey: idemKey, RequestHash: requestHash, AuthorizationCodeHash: codeHash,
		AuthorizationCodeExpiresAt: now.Add(authcode.TTL),
		Settings:                   s.Settings,
	}
	ctx, cancel := withTimeout(r, s.PurchaseTimeout)
	defer cancel()
	result, err := s.workflows.Purchase(ctx, input, fmt.Sprintf("%s / %s × %d for %s (%s)", offer.ID, plan.ID, *req.Quantity, customer.Name, a.PartnerID))
	if err != nil {
		s.purchaseFailed(w, r, a, customer.ID, id, requestHash, err)
		return
	}
	if result.RequestHash != requestHash {
		writeProblem(w, r, http.StatusConflict, "idempotency_key_reused", "This Idempotency-Key was used for a different purchase.")
		return
	}
	if result.AuthorizationCodeHash != codeHash {
		// A concurrent duplicate started the workflow first: answer its
		// subscription, with a code of our own issuing.
		s.replayPurchase(w, r, a, result.Subscription.Rules(), result.RequestHash, requestHash)
		return
	}
	v := s.view(a, result.Subscription.Rules(), result.Lots)
	expires := input.AuthorizationCodeExpiresAt
	v.PublisherLink = &wire.PublisherLink{URL: publisher.LandingURL, AuthorizationCode: code, ExpiresAt: &expires}
	w.Header().Set("Location", "/v1/customers/"+customer.ID+"/subscriptions/"+id)
	s.writeView(w, http.StatusCreated, v)
}

// purchaseFailed answers a purchase whose workflow did not confirm in time.
func (s *Server) purchaseFailed(w http.ResponseWriter, r *http.Request, a auth.Agent, customerID, id, requestHash string, err error) {
	if errors.Is(err, orchestrator.ErrAlreadyStarted) {
		// The workflow exists and is closed: the database has the purchase.
		if existing, dbErr := s.Store.SubscriptionByID(r.Context(), id); dbErr == nil {
			s.replayPurchase(w, r, a, existing.Subscription, existing.RequestHash, requestHash)
			return
		}
	}
	var refused *lifecycle.Refusal
	if errors.As(err, &refused) && refused.Kind == lifecycle.RefusedInvalid {
		writeProblemField(w, r, http.StatusUnprocessableEntity, "validation_failed", refused.Field, refused.Message)
		return
	}
	if errors.Is(err, orchestrator.ErrUnavailable) {
		// The workflow may have started without a worker to record it: if
		// it did, the subscription exists and will be recorded, so the
		// client is told what it bought rather than invited to buy again.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer cancel()
		if _, _, _, derr := s.workflows.Started(ctx, id); derr == nil {
			writePurchasePending(w, r, customerID, id)
			return
		}
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, http.StatusServiceUnavailable, "temporarily_unavailable",
			"Nothing was bought: the purchase could not be started. Retry it, with an Idempotency-Key so that a retry never buys twice.")
		return
	}
	s.writeError(w, r, fmt.Errorf("purchase %s: %w", id, err))
}

// statusPurchasePending is what a started, unrecorded purchase shows.
const statusPurchasePending = "purchase_pending"

func writePurchasePending(w http.ResponseWriter, r *http.Request, customerID, id string) {
	w.Header().Set("Location", "/v1/customers/"+customerID+"/subscriptions/"+id)
	w.Header().Set("Retry-After", "5")
	writeJSON(w, http.StatusAccepted, wire.PurchasePending{
		ID: id, CustomerID: customerID, Status: statusPurchasePending,
		Detail: "The purchase is accepted and will be recorded as soon as a worker runs; poll Location. Do not buy again.",
	})
}

// replayPurchase answers a repeated purchase: the same subscription, a
// freshly issued authorization code while it can still be resolved, or 409
// when the key was used for another purchase.
func (s *Server) replayPurchase(w http.ResponseWriter, r *http.Request, a auth.Agent, sub lifecycle.Subscription, storedHash, requestHash string) {
	if storedHash != requestHash {
		writeProblem(w, r, http.StatusConflict, "idempotency_key_reused", "This Idempotency-Key was used for a different purchase.")
		return
	}
	row, err := s.Store.SubscriptionByID(r.Context(), sub.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v := s.view(a, sub, row.Lots)
	if link, err := authcode.Live(r.Context(), s.Store, row, s.Now()); err == nil {
		v.PublisherLink = linkView(link)
	} else if !errors.Is(err, authcode.ErrNotResolvable) {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.Header().Set("Location", "/v1/customers/"+sub.CustomerID+"/subscriptions/"+sub.ID)
	s.writeView(w, http.StatusCreated, v)
}

// linkView is a live publisher link as the API shows it.
func linkView(l *authcode.Link) *wire.PublisherLink {
	expires := l.ExpiresAt
	return &wire.PublisherLink{URL: l.URL, AuthorizationCode: l.AuthorizationCode, ExpiresAt: &expires}
}

func (s *Server) subscription(w http.ResponseWriter, r *http.Request, a auth.Agent) (store.Subscription, bool) {
	return s.subscriptionOr(w, r, a, nil)
}

// subscriptionOr is subscription, with missing answering instead of the
// 404 when it can.
func (s *Server) subscriptionOr(w http.ResponseWriter, r *http.Request, a auth.Agent,
	missing func(http.ResponseWriter, *http.Request, auth.Agent) bool) (store.Subscription, bool) {
	if !fields.ID(r.PathValue("customerId")) || !fields.ID(r.PathValue("subscriptionId")) {
		writeProblem(w, r, http.StatusNotFound, "subscription_not_found", "No such subscription.")
		return store.Subscription{}, false
	}
	row, err := s.Store.Subscription(r.Context(), a.PartnerID, r.PathValue("customerId"), r.PathValue("subscriptionId"))
	if errors.Is(err, store.ErrNotFound) && missing != nil && missing(w, r, a) {
		return store.Subscription{}, false
	}
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, "subscription_not_found", "No such subscription.")
		return store.Subscription{}, false
	}
	if err != nil {
		s.writeError(w, r, err)
		return store.Subscription{}, false
	}
	return row, true
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermRead) {
		return
	}
	row, ok := s.subscriptionOr(w, r, a, s.pendingPurchase)
	if !ok {
		return
	}
	s.writeSubscription(w, a, http.StatusOK, row.Subscription, row.Lots, pendingView(row.PendingChange))
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermRead) {
		return
	}
	if _, ok := s.customer(w, r, a); !ok {
		return
	}
	size, after, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	filter := store.SubscriptionFilter{Status: q.Get("status"), OfferID: q.Get("offerId"), AllKinds: q.Get("licenseBased") == "any"}
	if filter.OfferID != "" {
		if refused := fields.Identifier("offerId", filter.OfferID); refused != nil {
			s.writeError(w, r, refused)
			return
		}
	}
	if filter.Status != "" && !lifecycle.Status(filter.Status).Valid() {
		s.writeError(w, r, invalid("status", "unknown status %q", filter.Status))
		return
	}
	if lb := q.Get("licenseBased"); lb != "" && lb != "any" && lb != "true" {
		s.writeError(w, r, invalid("licenseBased", "must be true (default) or any"))
		return
	}
	rows, err := s.Store.Subscriptions(r.Context(), a.PartnerID, r.PathValue("customerId"), filter, after, size+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := make([]wire.Subscription, 0, len(rows))
	for i, row := range rows {
		if i == size {
			break
		}
		v := s.view(a, row.Subscription, row.Lots)
		v.PendingChange = pendingView(row.PendingChange)
		items = append(items, v)
	}
	resp := wire.Page[wire.Subscription]{Items: items}
	if len(rows) > size {
		last := rows[size-1]
		resp.NextPageToken = encodeCursor(store.Cursor{At: last.PurchasedAt, ID: last.ID})
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) activationLink(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermRead) {
		return
	}
	row, ok := s.subscription(w, r, a)
	if !ok {
		return
	}
	link, err := authcode.Live(r.Context(), s.Store, row, s.Now())
	if errors.Is(err, authcode.ErrNotResolvable) {
		writeProblem(w, r, http.StatusConflict, "invalid_state", "The subscription is "+string(row.Status)+": the ISV has already confirmed it, no activation link is needed.")
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, linkView(link))
}

// listEvents is the audit trail: changes, ISV events (applied, rejected,
// received), timers' steps and every notification, oldest first.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermRead) {
		return
	}
	row, ok := s.subscription(w, r, a)
	if !ok {
		return
	}
	events, err := s.Store.Events(r.Context(), row.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	notes, err := s.Store.Notifications(r.Context(), row.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	seesMoney := a.Role.Can(auth.PermBilling)
	items := make([]wire.Event, 0, len(events)+len(notes))
	for _, e := range events {
		items = append(items, eventView(e, seesMoney))
	}
	for _, n := range notes {
		items = append(items, notificationEvent(n))
	}
	if err := s.nameActors(r.Context(), a, items); err != nil {
		s.writeError(w, r, err)
		return
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].At.Before(items[j].At) })
	writeJSON(w, http.StatusOK, wire.Page[wire.Event]{Items: items})
}

// nameActors gives each event the name people know its actor by: the
// agent's or the person's (of the caller's partner only) or the
// publisher's.
func (s *Server) nameActors(ctx context.Context, a auth.Agent, items []wire.Event) error {
	var agents, people []string
	publishers := map[string]string{}
	for _, e := range items {
		if id, ok := strings.CutPrefix(e.Actor, "agent:"); ok {
			agents = append(agents, id)
		} else if id, ok := strings.CutPrefix(e.Actor, "person:"); ok {
			people = append(people, id)
		} else if id, ok := strings.CutPrefix(e.Actor, "publisher:"); ok {
			publishers[id] = ""
		}
	}
	agentNames, err := s.Store.AgentNames(ctx, a.PartnerID, agents)
	if err != nil {
		return err
	}
	personNames, err := s.Store.PersonNames(ctx, a.PartnerID, people)
	if err != nil {
		return err
	}
	for id := range publishers {
		if p, err := s.Store.Publisher(ctx, id); err == nil {
			publishers[id] = p.Name
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	for i, e := range items {
		if id, ok := strings.CutPrefix(e.Actor, "agent:"); ok {
			items[i].ActorName = agentNames[id]
		} else if id, ok := strings.CutPrefix(e.Actor, "person:"); ok {
			items[i].ActorName = personNames[id]
		} else if id, ok := strings.CutPrefix(e.Actor, "publisher:"); ok {
			items[i].ActorName = publishers[id]
		}
	}
	return nil
}

// withoutMoney is an audit detail without its amounts (lifecycle.WithoutMoney);
// a detail that is not an object is kept as it is.
func withoutMoney(detail json.RawMessage) json.RawMessage {
	var m map[string]any
	if json.Unmarshal(detail, &m) != nil || m == nil {
		return detail
	}
	b, err := json.Marshal(lifecycle.WithoutMoney(m))
	if err != nil {
		return detail
	}
	return b
}

// listCharges is the subscription's ledger: charges and credits in minor
// units, for agents who may see money.
func (s *Server) listCharges(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermBilling) {
		return
	}
	row, ok := s.subscription(w, r, a)
	if !ok {
		return
	}
	charges, err := s.Store.Charges(r.Context(), row.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := make([]wire.Charge, 0, len(charges))
	for _, c := range charges {
		items = append(items, chargeView(c))
	}
	writeJSON(w, http.StatusOK, wire.Page[wire.Charge]{Items: items})
}

// pendingPurchase answers 202 for a subscription of the caller that was
// started but is not recorded yet (the answer a purchase gave while no
// worker ran), so the Location it gave can be polled. The workflow's search
// attributes, set at start, say whose it is.
func (s *Server) pendingPurchase(w http.ResponseWriter, r *http.Request, a auth.Agent) bool {
	if s.Temporal == nil {
		return false
	}
	customerID, id := r.PathValue("customerId"), r.PathValue("subscriptionId")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	running, partner, customer, err := s.workflows.Started(ctx, id)
	if err != nil || !running || partner != a.PartnerID || customer != customerID {
		return false
	}
	writePurchasePending(w, r, customerID, id)
	return true
}
