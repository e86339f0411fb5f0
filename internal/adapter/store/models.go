package store

import (
	"cmp"
	"encoding/json"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// The tables of the application database, private to the store: each row
// type is here beside what the store hands out of it (and takes in), with
// both conversions. The migrations create the tables; the same definitions
// serve Postgres and SQLite. Times are stored in UTC.

// partnerRow is a CSP partner: the tenant every agent, customer and
// subscription belongs to.
type partnerRow struct {
	bun.BaseModel `bun:"table:partners"`

	ID        string    `bun:"id,pk"`
	Name      string    `bun:"name,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// agentRow is one bearer token of a partner's agent. Only the SHA-256 of the
// token is stored: a database leak does not leak usable tokens.
type agentRow struct {
	bun.BaseModel `bun:"table:agents"`

	ID        string     `bun:"id,pk"`
	PartnerID string     `bun:"partner_id,notnull"`
	Name      string     `bun:"name,notnull"`
	Role      string     `bun:"role,notnull"`
	TokenHash string     `bun:"token_hash,notnull,unique"`
	CreatedAt time.Time  `bun:"created_at,notnull"`
	RevokedAt *time.Time `bun:"revoked_at"`
}

// Agent is a partner's agent (never its token).
type Agent struct {
	ID, PartnerID, Name, Role string
	CreatedAt                 time.Time
	RevokedAt                 *time.Time
}

func (r agentRow) agent() Agent {
	return Agent{ID: r.ID, PartnerID: r.PartnerID, Name: r.Name, Role: r.Role, CreatedAt: r.CreatedAt.UTC(), RevokedAt: utcPtr(r.RevokedAt)}
}

// customerRow is a partner's customer.
type customerRow struct {
	bun.BaseModel `bun:"table:customers"`

	ID        string    `bun:"id,pk"`
	PartnerID string    `bun:"partner_id,notnull"`
	Name      string    `bun:"name,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// Customer is a partner's customer.
type Customer struct {
	ID, PartnerID, Name string
	CreatedAt           time.Time
}

func (r customerRow) customer() Customer {
	return Customer{ID: r.ID, PartnerID: r.PartnerID, Name: r.Name, CreatedAt: r.CreatedAt.UTC()}
}

// publisherRow is an ISV selling offers on the marketplace.
type publisherRow struct {
	bun.BaseModel `bun:"table:publishers"`

	ID         string    `bun:"id,pk"`
	Name       string    `bun:"name,notnull"`
	LandingURL string    `bun:"landing_url,notnull"`
	CreatedAt  time.Time `bun:"created_at,notnull"`
}

// Publisher is an ISV of the catalog.
type Publisher struct {
	ID, Name, LandingURL string
}

func (r publisherRow) publisher() Publisher {
	return Publisher{ID: r.ID, Name: r.Name, LandingURL: r.LandingURL}
}

// publisherSecretRow is one webhook signing secret of a publisher, sealed
// with the application's secrets key (HMAC verification needs the secret
// itself, so it cannot be hashed). A publisher may have two active secrets
// while it rotates.
type publisherSecretRow struct {
	bun.BaseModel `bun:"table:publisher_secrets"`

	ID           string    `bun:"id,pk"`
	PublisherID  string    `bun:"publisher_id,notnull"`
	SealedSecret []byte    `bun:"sealed_secret,notnull"`
	CreatedAt    time.Time `bun:"created_at,notnull"`
	// RevokedAt is when the secret stops verifying: now or past for a
	// revoked one, in the future for the previous secret of a rotation
	// (its overlap), nil while it is current.
	RevokedAt *time.Time `bun:"revoked_at"`
}

// offerRow is a marketplace offer; its plans are PlanRows.
type offerRow struct {
	bun.BaseModel `bun:"table:offers"`

	ID           string    `bun:"id,pk"`
	PublisherID  string    `bun:"publisher_id,notnull"`
	Name         string    `bun:"name,notnull"`
	LicenseBased bool      `bun:"license_based,notnull"`
	UpdatedAt    time.Time `bun:"updated_at,notnull"`
}

// planRow is one plan of an offer.
type planRow struct {
	bun.BaseModel `bun:"table:plans"`

	OfferID                       string `bun:"offer_id,pk"`
	ID                            string `bun:"id,pk"`
	Position                      int    `bun:"position,notnull"`
	Name                          string `bun:"name,notnull"`
	TermDuration                  string `bun:"term_duration,notnull"`
	BillingFrequencies            string `bun:"billing_frequencies,notnull"` // comma-separated
	UnitPrice                     int64  `bun:"unit_price,notnull"`
	Currency                      string `bun:"currency,notnull"`
	MinQuantity                   int    `bun:"min_quantity,notnull"`
	MaxQuantity                   int    `bun:"max_quantity,notnull"`
	CancellationWindow            string `bun:"cancellation_window,notnull"`
	CancellationRequiresPublisher bool   `bun:"cancellation_requires_publisher,notnull"`
	ChangesRequirePublisher       bool   `bun:"changes_require_publisher,notnull"`
	ChangeApprovalWindow          string `bun:"change_approval_window,notnull"`
	FlatRate                      bool   `bun:"flat_rate,notnull"`
	// Dimensions are a metered plan's (JSON of []catalog.Dimension), ""
	// for none.
	Dimensions string `bun:"dimensions,notnull"`
}

func (r offerRow) offer(plans []catalog.Plan) catalog.Offer {
	return catalog.Offer{ID: r.ID, PublisherID: r.PublisherID, Name: r.Name, LicenseBased: r.LicenseBased, Plans: plans}
}

func (r planRow) plan() catalog.Plan {
	p := catalog.Plan{
		ID: r.ID, Name: r.Name, TermDuration: r.TermDuration,
		BillingFrequencies: strings.Split(r.BillingFrequencies, ","), UnitPrice: r.UnitPrice,
		Currency: r.Currency, MinQuantity: r.MinQuantity, MaxQuantity: r.MaxQuantity,
		CancellationWindow: r.CancellationWindow, CancellationRequiresPublisher: r.CancellationRequiresPublisher,
		ChangesRequirePublisher: r.ChangesRequirePublisher, ChangeApprovalWindow: r.ChangeApprovalWindow, FlatRate: r.FlatRate,
	}
	if r.Dimensions != "" {
		_ = json.Unmarshal([]byte(r.Dimensions), &p.Dimensions)
	}
	return p
}

// planRowOf is the row of an offer's plan at its position in the offer.
func planRowOf(offerID string, position int, p catalog.Plan) planRow {
	return planRow{
		OfferID: offerID, ID: p.ID, Position: position, Name: p.Name, TermDuration: p.TermDuration,
		BillingFrequencies: strings.Join(p.BillingFrequencies, ","), UnitPrice: p.UnitPrice,
		Currency: p.Currency, MinQuantity: p.MinQuantity, MaxQuantity: p.MaxQuantity,
		CancellationWindow: p.CancellationWindow, CancellationRequiresPublisher: p.CancellationRequiresPublisher,
		ChangesRequirePublisher: p.ChangesRequirePublisher, ChangeApprovalWindow: p.ChangeApprovalWindow, FlatRate: p.FlatRate,
		Dimensions: dimensionsJSON(p.Dimensions),
	}
}

// dimensionsJSON is a plan's dimensions as the plans table keeps them.
func dimensionsJSON(dims []catalog.Dimension) string {
	if len(dims) == 0 {
		return ""
	}
	b, _ := json.Marshal(dims) // plain values: never fails
	return string(b)
}

// subscriptionRow is the queryable projection of one subscription workflow.
// Only the workflow's CommitTransition writes it (ApplyTransition): never an
// older state over a newer one, by Version for steps committed by an
// activity and by Fence for steps committed inside a workflow task.
type subscriptionRow struct {
	bun.BaseModel `bun:"table:subscriptions"`

	ID                       string     `bun:"id,pk"`
	PartnerID                string     `bun:"partner_id,notnull"`
	CustomerID               string     `bun:"customer_id,notnull"`
	OfferID                  string     `bun:"offer_id,notnull"`
	PlanID                   string     `bun:"plan_id,notnull"`
	PublisherID              string     `bun:"publisher_id,notnull"`
	LicenseBased             bool       `bun:"license_based,notnull"`
	Nickname                 string     `bun:"nickname,notnull"`
	Quantity                 int        `bun:"quantity,notnull"`
	Status                   string     `bun:"status,notnull"`
	ActionNeeded             bool       `bun:"action_needed,notnull"`
	AutoRenew                bool       `bun:"auto_renew,notnull"`
	BillingFrequency         string     `bun:"billing_frequency,notnull"`
	NextBillingFrequency     string     `bun:"next_billing_frequency,notnull"`
	TermDuration             string     `bun:"term_duration,notnull"`
	ResellerPartnerID        string     `bun:"reseller_partner_id,notnull"`
	UnitPrice                int64      `bun:"unit_price,notnull"`
	Currency                 string     `bun:"currency,notnull"`
	PublisherURL             string     `bun:"publisher_url,notnull"`
	PurchasedAt              time.Time  `bun:"purchased_at,notnull"`
	ActivatedAt              *time.Time `bun:"activated_at"`
	BillingStartedAt         *time.Time `bun:"billing_started_at"`
	TermStart                *time.Time `bun:"term_start"`
	TermEnd                  *time.Time `bun:"term_end"`
	CancellationWindowEndsAt *time.Time `bun:"cancellation_window_ends_at"`
	// IdempotencyKey is the purchase's Idempotency-Key (empty without one);
	// a unique index on (partner_id, idempotency_key) backs the workflow ID
	// in guaranteeing one purchase per key.
	IdempotencyKey *string   `bun:"idempotency_key"`
	RequestHash    string    `bun:"request_hash,notnull"`
	Version        int64     `bun:"version,notnull"`
	UpdatedAt      time.Time `bun:"updated_at,notnull"`
	// Lots are the batches of licences with their windows (JSON of
	// billing.Lots), for refundableQuantity; "" before they were kept.
	Lots string `bun:"lots,notnull"`
	// Fence is the workflow task attempt that wrote this version (see
	// Fence in fence.go); "" for a step committed by a scheduled activity.
	Fence string `bun:"fence,notnull"`
	// PendingChange is the change that waits for the publisher (JSON of
	// pendingChangeModel), "" for none.
	PendingChange string `bun:"pending_change,notnull"`
	// Metering is a metered subscription's dimensions and open usage
	// period (JSON of Metering), "" for a plan of licences only.
	Metering string `bun:"metering,notnull"`
}

// pendingChangeModel is the JSON of subscriptionRow.PendingChange.
type pendingChangeModel struct {
	OperationID string    `json:"operationId"`
	Action      string    `json:"action"`
	PlanID      string    `json:"planId"`
	Quantity    int       `json:"quantity"`
	RequestedAt time.Time `json:"requestedAt"`
	Deadline    time.Time `json:"deadline"`
	Actor       string    `json:"actor"`
}

// PendingChange is the change that waits for the publisher as the store
// shows it.
type PendingChange struct {
	OperationID, Action, PlanID, Actor string
	Quantity                           int
	RequestedAt, Deadline              time.Time
}

// operationRow is one state an operation took, written by the step that
// created or settled it.
type operationRow struct {
	bun.BaseModel `bun:"table:operations"`

	Key            string    `bun:"key,pk"` // <operation id>/v<step version>
	OperationID    string    `bun:"operation_id,notnull"`
	SubscriptionID string    `bun:"subscription_id,notnull"`
	PublisherID    string    `bun:"publisher_id,notnull"`
	OfferID        string    `bun:"offer_id,notnull"`
	Action         string    `bun:"action,notnull"`
	Status         string    `bun:"status,notnull"`
	PlanID         string    `bun:"plan_id,notnull"`
	Quantity       int       `bun:"quantity,notnull"`
	Source         string    `bun:"source,notnull"`
	Reason         string    `bun:"reason,notnull"`
	RequestedAt    time.Time `bun:"requested_at,notnull"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
	StepVersion    int64     `bun:"step_version,notnull"`
	Fence          string    `bun:"fence,notnull"`
}

// Operation is one operation of a subscription as it stands (its latest
// state), with the subscription it belongs to.
type Operation struct {
	lifecycle.Operation
	SubscriptionID, PublisherID, OfferID string
	// UpdatedAt is when the step that gave it this state was recorded.
	UpdatedAt time.Time
}

func (r operationRow) operation() Operation {
	return Operation{Operation: lifecycle.Operation{ID: r.OperationID, Action: r.Action, Status: r.Status, PlanID: r.PlanID, Quantity: r.Quantity,
		Source: r.Source, RequestedAt: r.RequestedAt.UTC(), Reason: r.Reason},
		SubscriptionID: r.SubscriptionID, PublisherID: r.PublisherID, OfferID: r.OfferID, UpdatedAt: r.CreatedAt.UTC()}
}

// Subscription is a subscription as the store keeps it: the facts its
// workflow's steps projected, its batches of licences (refundableQuantity),
// and what the API checks a repeated purchase against.
type Subscription struct {
	lifecycle.Subscription
	Lots         billing.Lots
	LicenseBased bool
	// IdempotencyKey and RequestHash are the purchase's.
	IdempotencyKey, RequestHash string
	// Fence is the workflow task attempt that wrote this version
	// (activities.StepFence); "" for a step committed by a scheduled
	// activity.
	Fence string
	// PendingChange is the change that waits for the publisher, if any.
	PendingChange *PendingChange
	// Metering is a metered subscription's dimensions and open usage
	// period; nil for a plan of licences only.
	Metering *Metering
}

func (r subscriptionRow) subscription() Subscription {
	s := Subscription{Subscription: lifecycle.Subscription{
		ID: r.ID, CustomerID: r.CustomerID, PartnerID: r.PartnerID, OfferID: r.OfferID, PlanID: r.PlanID,
		PublisherID: r.PublisherID, Nickname: r.Nickname, Quantity: r.Quantity, Status: lifecycle.Status(r.Status),
		ActionNeeded: r.ActionNeeded, AutoRenew: r.AutoRenew, BillingFrequency: r.BillingFrequency,
		NextBillingFrequency: r.NextBillingFrequency, TermDuration: r.TermDuration, ResellerPartnerID: r.ResellerPartnerID, UnitPrice: r.UnitPrice,
		Currency: r.Currency, PurchasedAt: r.PurchasedAt.UTC(), ActivatedAt: utcPtr(r.ActivatedAt),
		BillingStartedAt: utcPtr(r.BillingStartedAt), TermStart: utcPtr(r.TermStart), TermEnd: utcPtr(r.TermEnd),
		CancellationWindowEndsAt: utcPtr(r.CancellationWindowEndsAt), PublisherURL: r.PublisherURL, Version: r.Version,
	}, LicenseBased: r.LicenseBased, RequestHash: r.RequestHash, Fence: r.Fence}
	if r.IdempotencyKey != nil {
		s.IdempotencyKey = *r.IdempotencyKey
	}
	if r.Lots != "" {
		// Batches are kept from generation 1 on; none before.
		_ = json.Unmarshal([]byte(r.Lots), &s.Lots)
	}
	if r.PendingChange != "" {
		var m pendingChangeModel
		if json.Unmarshal([]byte(r.PendingChange), &m) == nil {
			s.PendingChange = &PendingChange{OperationID: m.OperationID, Action: m.Action, PlanID: m.PlanID, Quantity: m.Quantity,
				RequestedAt: m.RequestedAt.UTC(), Deadline: m.Deadline.UTC(), Actor: m.Actor}
		}
	}
	if r.Metering != "" {
		var m meteringModel
		if json.Unmarshal([]byte(r.Metering), &m) == nil {
			s.Metering = m.metering()
		}
	}
	return s
}

func subscriptionRowOf(s Subscription) (subscriptionRow, error) {
	sub := s.Subscription
	r := subscriptionRow{
		ID: sub.ID, PartnerID: sub.PartnerID, CustomerID: sub.CustomerID, OfferID: sub.OfferID, PlanID: sub.PlanID,
		PublisherID: sub.PublisherID, LicenseBased: s.LicenseBased, Nickname: sub.Nickname, Quantity: sub.Quantity,
		Status: string(sub.Status), ActionNeeded: sub.ActionNeeded, AutoRenew: sub.AutoRenew,
		BillingFrequency: sub.BillingFrequency, NextBillingFrequency: sub.NextBillingFrequency, TermDuration: sub.TermDuration, ResellerPartnerID: sub.ResellerPartnerID,
		UnitPrice: sub.UnitPrice, Currency: sub.Currency, PublisherURL: sub.PublisherURL, PurchasedAt: utc(sub.PurchasedAt),
		ActivatedAt: utcPtr(sub.ActivatedAt), BillingStartedAt: utcPtr(sub.BillingStartedAt), TermStart: utcPtr(sub.TermStart), TermEnd: utcPtr(sub.TermEnd),
		CancellationWindowEndsAt: utcPtr(sub.CancellationWindowEndsAt), RequestHash: s.RequestHash, Version: sub.Version, Fence: s.Fence,
	}
	if s.IdempotencyKey != "" {
		key := s.IdempotencyKey
		r.IdempotencyKey = &key
	}
	if len(s.Lots) > 0 {
		lots, err := json.Marshal(s.Lots)
		if err != nil {
			return r, err
		}
		r.Lots = string(lots)
	}
	if pc := s.PendingChange; pc != nil {
		b, err := json.Marshal(pendingChangeModel{OperationID: pc.OperationID, Action: pc.Action, PlanID: pc.PlanID, Quantity: pc.Quantity,
			RequestedAt: utc(pc.RequestedAt), Deadline: utc(pc.Deadline), Actor: pc.Actor})
		if err != nil {
			return r, err
		}
		r.PendingChange = string(b)
	}
	if m := s.Metering; m != nil {
		b, err := json.Marshal(meteringModelOf(*m))
		if err != nil {
			return r, err
		}
		r.Metering = string(b)
	}
	return r, nil
}

// mutableSubscriptionColumns are the columns a newer version may change:
// every one but the subscription's identity and its purchase's.
var mutableSubscriptionColumns = []string{
	"plan_id", "nickname", "quantity", "status", "action_needed", "auto_renew", "billing_frequency", "next_billing_frequency",
	"term_duration", "reseller_partner_id", "unit_price", "currency", "activated_at", "billing_started_at",
	"term_start", "term_end", "cancellation_window_ends_at", "version", "updated_at", "lots", "fence", "pending_change",
	"metering",
}

// authorizationCodeRow identifies a purchase to its ISV. Only the hash of
// the code is kept.
type authorizationCodeRow struct {
	bun.BaseModel `bun:"table:authorization_codes"`

	CodeHash       string    `bun:"code_hash,pk"`
	SubscriptionID string    `bun:"subscription_id,notnull"`
	PublisherID    string    `bun:"publisher_id,notnull"`
	ExpiresAt      time.Time `bun:"expires_at,notnull"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
	// RevokedAt is set when a newer code replaced this one.
	RevokedAt *time.Time `bun:"revoked_at"`
}

// AuthorizationCode is a purchase's code, by its hash.
type AuthorizationCode struct {
	CodeHash, SubscriptionID, PublisherID string
	ExpiresAt                             time.Time
	// RevokedAt is set when a newer code replaced this one.
	RevokedAt *time.Time
}

func (r authorizationCodeRow) code() AuthorizationCode {
	return AuthorizationCode{CodeHash: r.CodeHash, SubscriptionID: r.SubscriptionID, PublisherID: r.PublisherID,
		ExpiresAt: r.ExpiresAt.UTC(), RevokedAt: utcPtr(r.RevokedAt)}
}

func authorizationCodeRowOf(c AuthorizationCode) authorizationCodeRow {
	return authorizationCodeRow{CodeHash: c.CodeHash, SubscriptionID: c.SubscriptionID, PublisherID: c.PublisherID, ExpiresAt: utc(c.ExpiresAt)}
}

// sealedCodeRow keeps a code itself, sealed, so the live code
// can be shown again instead of minting another. It has no foreign key:
// the API writes it before the purchase's workflow records the code.
type sealedCodeRow struct {
	bun.BaseModel `bun:"table:sealed_authorization_codes"`

	CodeHash   string    `bun:"code_hash,pk"`
	SealedCode []byte    `bun:"sealed_code,notnull"`
	CreatedAt  time.Time `bun:"created_at,notnull"`
}

// eventRow is one line of a subscription's audit trail. Key makes writes
// idempotent. For ISV events received on the webhook, (publisher_id,
// isv_event_id) is unique: that is the durable deduplication of event ids.
type eventRow struct {
	bun.BaseModel `bun:"table:subscription_events"`

	ID             int64     `bun:"id,pk,autoincrement"`
	Key            string    `bun:"key,notnull,unique"`
	SubscriptionID string    `bun:"subscription_id,notnull"`
	Kind           string    `bun:"kind,notnull"`
	Actor          string    `bun:"actor,notnull"`
	Detail         string    `bun:"detail,notnull"` // JSON object
	PublisherID    *string   `bun:"publisher_id"`
	ISVEventID     *string   `bun:"isv_event_id"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
	// StepVersion and Fence say which step and task attempt wrote the
	// line (0 and "" for receipts the API writes and older lines).
	StepVersion int64  `bun:"step_version,notnull"`
	Fence       string `bun:"fence,notnull"`
}

// AuditLine is one line of a subscription's audit trail.
type AuditLine struct {
	ID             int64
	Key            string // <subscription>/v<step>/event-<position>/<kind>; isv/<publisher>/<event> for receipts
	SubscriptionID string
	Kind, Actor    string
	Detail         string // JSON object
	At             time.Time
	// PublisherID and ISVEventID name the ISV event of a receipt.
	PublisherID, ISVEventID *string
	// StepVersion and Fence say which step and task attempt wrote it.
	StepVersion int64
	Fence       string
}

func (r eventRow) line() AuditLine {
	return AuditLine{ID: r.ID, Key: r.Key, SubscriptionID: r.SubscriptionID, Kind: r.Kind, Actor: r.Actor, Detail: r.Detail,
		At: r.CreatedAt.UTC(), PublisherID: r.PublisherID, ISVEventID: r.ISVEventID,
		StepVersion: r.StepVersion, Fence: r.Fence}
}

// Receipt is the receipt of a publisher's event: the webhook records it
// when it answers, and the workflow's step that takes the event records it
// again (a no-op when it exists), so a duplicate is recognised even when
// the database was unavailable as the event arrived.
type Receipt struct {
	PublisherID, EventID, SubscriptionID string
	Type, PlanID                         string
	Quantity                             int
	ReceivedAt                           time.Time
	// Reason is set when the event was refused without reaching the
	// workflow.
	Reason string
}

// Kinds of receipt lines.
const (
	KindISVEventReceived = "isv_event.received"
	KindISVEventRejected = "isv_event.rejected"
)

func (r Receipt) row() eventRow {
	detail := map[string]any{"type": r.Type, "data": map[string]any{"planId": r.PlanID, "quantity": r.Quantity}}
	kind := KindISVEventReceived
	if r.Reason != "" {
		kind = KindISVEventRejected
		detail["reason"] = r.Reason
	}
	b, _ := json.Marshal(detail) // strings and an int: cannot fail
	publisherID, eventID := r.PublisherID, r.EventID
	return eventRow{
		Key: "isv/" + publisherID + "/" + eventID, SubscriptionID: r.SubscriptionID, Kind: kind,
		Actor: "publisher:" + publisherID, Detail: string(b), PublisherID: &publisherID, ISVEventID: &eventID, CreatedAt: utc(r.ReceivedAt),
	}
}

// chargeRow is one line of the charge ledger (charges and credits).
type chargeRow struct {
	bun.BaseModel `bun:"table:charges"`

	ID             int64     `bun:"id,pk,autoincrement"`
	Key            string    `bun:"key,notnull,unique"`
	SubscriptionID string    `bun:"subscription_id,notnull"`
	PartnerID      string    `bun:"partner_id,notnull"`
	Kind           string    `bun:"kind,notnull"`
	Amount         int64     `bun:"amount,notnull"`
	Currency       string    `bun:"currency,notnull"`
	Quantity       int       `bun:"quantity,notnull"`
	PeriodStart    time.Time `bun:"period_start,notnull"`
	PeriodEnd      time.Time `bun:"period_end,notnull"`
	Description    string    `bun:"description,notnull"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
	CustomerID     string    `bun:"customer_id,notnull"`
	Reason         string    `bun:"reason,notnull"`
	UnitPrice      int64     `bun:"unit_price,notnull"`
	// PostedAt is the workflow time of the step that made the line: it
	// decides the line's invoice month.
	PostedAt time.Time `bun:"posted_at,notnull"`
	// InvoiceID is set once, when the line is invoiced.
	InvoiceID *string `bun:"invoice_id"`
	// StepVersion and Fence say which step and task attempt wrote the line.
	StepVersion int64  `bun:"step_version,notnull"`
	Fence       string `bun:"fence,notnull"`
	// Dimension and Usage are a usage line's (billing.Charge).
	Dimension string `bun:"dimension,notnull"`
	Usage     int64  `bun:"usage_units,notnull"`
}

// Line is one line of the ledger: billing's charge or credit as recorded,
// with its invoice once invoiced.
type Line struct {
	billing.Charge
	CustomerID string
	InvoiceID  *string
	CreatedAt  time.Time
	// StepVersion and Fence say which step and task attempt wrote it.
	StepVersion int64
	Fence       string
}

func (r chargeRow) line() Line {
	return Line{Charge: billing.Charge{
		Key: r.Key, SubscriptionID: r.SubscriptionID, PartnerID: r.PartnerID, Kind: r.Kind, Amount: r.Amount, Currency: r.Currency,
		Quantity: r.Quantity, PeriodStart: r.PeriodStart.UTC(), PeriodEnd: r.PeriodEnd.UTC(), Description: r.Description,
		Reason: r.Reason, UnitPrice: r.UnitPrice, PostedAt: r.PostedAt.UTC(), Dimension: r.Dimension, Usage: r.Usage,
	}, CustomerID: r.CustomerID, InvoiceID: r.InvoiceID, CreatedAt: r.CreatedAt.UTC(), StepVersion: r.StepVersion, Fence: r.Fence}
}

// chargeRowOf is a step's ledger line as the table keeps it.
func chargeRowOf(c billing.Charge, customerID string, version int64, fence string) chargeRow {
	c = c.Complete()
	return chargeRow{Key: c.Key, SubscriptionID: c.SubscriptionID, PartnerID: c.PartnerID, CustomerID: customerID, Kind: c.Kind, Amount: c.Amount,
		Currency: c.Currency, Quantity: c.Quantity, PeriodStart: utc(c.PeriodStart), PeriodEnd: utc(c.PeriodEnd), Description: c.Description,
		Reason: c.Reason, UnitPrice: c.UnitPrice, PostedAt: utc(c.PostedAt), StepVersion: version, Fence: fence, Dimension: c.Dimension, Usage: c.Usage}
}

// invoiceRow is an issued invoice: one per partner, customer, currency and
// calendar month. It never changes once written.
type invoiceRow struct {
	bun.BaseModel `bun:"table:invoices"`

	ID          string    `bun:"id,pk"`
	PartnerID   string    `bun:"partner_id,notnull"`
	CustomerID  string    `bun:"customer_id,notnull"`
	Currency    string    `bun:"currency,notnull"`
	PeriodStart time.Time `bun:"period_start,notnull"`
	PeriodEnd   time.Time `bun:"period_end,notnull"`
	Number      int64     `bun:"number,notnull"`
	IssuedAt    time.Time `bun:"issued_at,notnull"`
	Subtotal    int64     `bun:"subtotal,notnull"`
	Total       int64     `bun:"total,notnull"`
	// RunID is the invoicing workflow that issued it.
	RunID string `bun:"run_id,notnull"`
}

// Invoice is an issued invoice; it never changes.
type Invoice struct {
	ID, PartnerID, CustomerID, Currency string
	PeriodStart, PeriodEnd              time.Time
	Number                              int64
	IssuedAt                            time.Time
	Subtotal, Total                     int64
}

func (r invoiceRow) invoice() Invoice {
	return Invoice{ID: r.ID, PartnerID: r.PartnerID, CustomerID: r.CustomerID, Currency: r.Currency, PeriodStart: r.PeriodStart.UTC(),
		PeriodEnd: r.PeriodEnd.UTC(), Number: r.Number, IssuedAt: r.IssuedAt.UTC(), Subtotal: r.Subtotal, Total: r.Total}
}

// invoiceLineRow is a ledger line as it was invoiced, with what a
// reconciliation needs of its subscription at that moment: a later change
// to the subscription does not change an issued invoice.
type invoiceLineRow struct {
	bun.BaseModel `bun:"table:invoice_lines"`

	InvoiceID         string    `bun:"invoice_id,pk"`
	Position          int       `bun:"position,pk"`
	ChargeKey         string    `bun:"charge_key,notnull,unique"`
	SubscriptionID    string    `bun:"subscription_id,notnull"`
	OfferID           string    `bun:"offer_id,notnull"`
	PlanID            string    `bun:"plan_id,notnull"`
	PublisherID       string    `bun:"publisher_id,notnull"`
	ResellerPartnerID string    `bun:"reseller_partner_id,notnull"`
	Kind              string    `bun:"kind,notnull"`
	Reason            string    `bun:"reason,notnull"`
	Quantity          int       `bun:"quantity,notnull"`
	UnitPrice         int64     `bun:"unit_price,notnull"`
	PeriodStart       time.Time `bun:"period_start,notnull"`
	PeriodEnd         time.Time `bun:"period_end,notnull"`
	Amount            int64     `bun:"amount,notnull"`
	Currency          string    `bun:"currency,notnull"`
	PostedAt          time.Time `bun:"posted_at,notnull"`
	// Dimension and Usage are a usage line's (billing.Charge).
	Dimension string `bun:"dimension,notnull"`
	Usage     int64  `bun:"usage_units,notnull"`
}

// InvoiceLine is a ledger line as it was invoiced (or, unbilled, as it
// will be), with what a reconciliation needs of its subscription.
type InvoiceLine struct {
	InvoiceID                                                                  string
	Position                                                                   int // 1, 2, … on its invoice; 0 unbilled
	ChargeKey, SubscriptionID, OfferID, PlanID, PublisherID, ResellerPartnerID string
	Kind, Reason                                                               string
	Quantity                                                                   int
	UnitPrice                                                                  int64
	PeriodStart, PeriodEnd                                                     time.Time
	Amount                                                                     int64
	Currency                                                                   string
	PostedAt                                                                   time.Time
	// Dimension and Usage are a usage line's: the dimension and the units
	// beyond the included quantity, in millionths.
	Dimension string
	Usage     int64
}

// Signed is the line's amount as it counts in a total: credits negative.
func (l InvoiceLine) Signed() int64 { return billing.Signed(l.Kind, l.Amount) }

func (r invoiceLineRow) line() InvoiceLine {
	return InvoiceLine{InvoiceID: r.InvoiceID, Position: r.Position, ChargeKey: r.ChargeKey, SubscriptionID: r.SubscriptionID, OfferID: r.OfferID, PlanID: r.PlanID,
		PublisherID: r.PublisherID, ResellerPartnerID: r.ResellerPartnerID, Kind: r.Kind, Reason: r.Reason, Quantity: r.Quantity,
		UnitPrice: r.UnitPrice, PeriodStart: r.PeriodStart.UTC(), PeriodEnd: r.PeriodEnd.UTC(), Amount: r.Amount, Currency: r.Currency, PostedAt: r.PostedAt.UTC(),
		Dimension: r.Dimension, Usage: r.Usage}
}

// notificationRow is one message of the outbox, to a partner or an ISV.
type notificationRow struct {
	bun.BaseModel `bun:"table:notifications"`

	ID             int64      `bun:"id,pk,autoincrement"`
	Key            string     `bun:"key,notnull,unique"`
	SubscriptionID string     `bun:"subscription_id,notnull"`
	RecipientKind  string     `bun:"recipient_kind,notnull"` // "partner" or "publisher"
	RecipientID    string     `bun:"recipient_id,notnull"`
	Type           string     `bun:"type,notnull"`
	Payload        string     `bun:"payload,notnull"` // JSON object
	Status         string     `bun:"status,notnull"`
	Attempts       int        `bun:"attempts,notnull"`
	LastError      string     `bun:"last_error,notnull"`
	CreatedAt      time.Time  `bun:"created_at,notnull"`
	DeliveredAt    *time.Time `bun:"delivered_at"`
	// StepVersion and Fence say which step and task attempt wrote the
	// notification; WorkflowID and RunID are the run whose history records
	// that step, where a delivery checks it before sending (a fenced step
	// is sent only once it is in the history).
	StepVersion int64  `bun:"step_version,notnull"`
	Fence       string `bun:"fence,notnull"`
	WorkflowID  string `bun:"workflow_id,notnull"`
	RunID       string `bun:"run_id,notnull"`
}

// Notification is one message of the outbox.
type Notification struct {
	ID                               int64
	Key, SubscriptionID              string
	RecipientKind, RecipientID, Type string
	Payload                          string // JSON object
	Status                           string
	Attempts                         int
	LastError                        string
	CreatedAt                        time.Time
	DeliveredAt                      *time.Time
	StepVersion                      int64
	Fence, WorkflowID, RunID         string
}

func (r notificationRow) notification() Notification {
	return Notification{ID: r.ID, Key: r.Key, SubscriptionID: r.SubscriptionID, RecipientKind: r.RecipientKind, RecipientID: r.RecipientID,
		Type: r.Type, Payload: r.Payload, Status: r.Status, Attempts: r.Attempts, LastError: r.LastError, CreatedAt: r.CreatedAt.UTC(),
		DeliveredAt: utcPtr(r.DeliveredAt), StepVersion: r.StepVersion, Fence: r.Fence, WorkflowID: r.WorkflowID, RunID: r.RunID}
}

// endpointRow is where a partner or a publisher receives its
// notifications. A partner's endpoint has its own signing secret (sealed);
// a publisher's notifications are signed with its webhook secret.
type endpointRow struct {
	bun.BaseModel `bun:"table:notification_endpoints"`

	OwnerKind    string    `bun:"owner_kind,pk"` // "partner" or "publisher"
	OwnerID      string    `bun:"owner_id,pk"`
	URL          string    `bun:"url,notnull"`
	SealedSecret []byte    `bun:"sealed_secret"`
	UpdatedAt    time.Time `bun:"updated_at,notnull"`
	Dialect      string    `bun:"dialect,notnull"`
}

// Endpoint is where a partner or a publisher receives its notifications.
type Endpoint struct {
	OwnerKind, OwnerID, URL string
	// Dialect is the shape of a publisher's notifications: DialectNative
	// or DialectMicrosoft.
	Dialect   string
	UpdatedAt time.Time
}

// Notification dialects of a publisher's endpoint.
const (
	DialectNative    = "native"    // the signed events of /isv/v1
	DialectMicrosoft = "microsoft" // Microsoft's SaaS webhook, with a bearer JWT
)

func (r endpointRow) endpoint() Endpoint {
	return Endpoint{OwnerKind: r.OwnerKind, OwnerID: r.OwnerID, URL: r.URL, Dialect: cmp.Or(r.Dialect, DialectNative), UpdatedAt: r.UpdatedAt.UTC()}
}

// attemptRow is one delivery attempt of a notification.
type attemptRow struct {
	bun.BaseModel `bun:"table:notification_attempts"`

	ID             int64     `bun:"id,pk,autoincrement"`
	NotificationID int64     `bun:"notification_id,notnull"`
	Attempt        int       `bun:"attempt,notnull"`
	URL            string    `bun:"url,notnull"`
	StatusCode     int       `bun:"status_code,notnull"`
	Error          string    `bun:"error,notnull"`
	DurationMs     int64     `bun:"duration_ms,notnull"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
}

// Attempt is one delivery attempt of a notification.
type Attempt struct {
	NotificationID int64
	Attempt        int
	URL            string
	StatusCode     int
	Error          string
	DurationMs     int64
	At             time.Time
}

func (r attemptRow) attempt() Attempt {
	return Attempt{NotificationID: r.NotificationID, Attempt: r.Attempt, URL: r.URL, StatusCode: r.StatusCode, Error: r.Error,
		DurationMs: r.DurationMs, At: r.CreatedAt.UTC()}
}

func attemptRowOf(a Attempt) attemptRow {
	return attemptRow{NotificationID: a.NotificationID, Attempt: a.Attempt, URL: a.URL, StatusCode: a.StatusCode, Error: a.Error,
		DurationMs: a.DurationMs, CreatedAt: utc(a.At)}
}

// idempotencyRow is the first response to a request made with an
// Idempotency-Key, replayed to repeats of that key for IdempotencyTTL.
type idempotencyRow struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	PartnerID   string    `bun:"partner_id,pk"`
	Key         string    `bun:"key,pk"`
	Scope       string    `bun:"scope,notnull"` // method and path the key was used on
	RequestHash string    `bun:"request_hash,notnull"`
	StatusCode  int       `bun:"status_code,notnull"`
	Body        []byte    `bun:"body,notnull"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
}

// HeldKey is what holds an Idempotency-Key: the request that reserved it
// and, once it answered, its response.
type HeldKey struct {
	Scope, RequestHash string
	// StatusCode is 0 while the request is still running.
	StatusCode int
	Body       []byte
	CreatedAt  time.Time
}

func (r idempotencyRow) held() HeldKey {
	return HeldKey{Scope: r.Scope, RequestHash: r.RequestHash, StatusCode: r.StatusCode, Body: r.Body, CreatedAt: r.CreatedAt.UTC()}
}

// consoleSessionRow is a partner console sign-in. Only the hash of the
// session id (the cookie) is stored, and the secret it holds (an agent's
// token, or a person's ID token for the provider's sign-out) is sealed: a
// database leak gives neither a usable cookie nor a token.
type consoleSessionRow struct {
	bun.BaseModel `bun:"table:console_sessions"`

	IDHash   string  `bun:"id_hash,pk"`
	AgentID  *string `bun:"agent_id"`
	PersonID *string `bun:"person_id"`
	// PartnerID and Role are what the directory said at a person's
	// sign-in (an agent's are read from its row at each request).
	PartnerID    string    `bun:"partner_id,notnull"`
	Role         string    `bun:"role,notnull"`
	SealedSecret []byte    `bun:"sealed_token,notnull"`
	CSRFToken    string    `bun:"csrf_token,notnull"`
	CreatedAt    time.Time `bun:"created_at,notnull"`
	LastSeenAt   time.Time `bun:"last_seen_at,notnull"`
}

// ConsoleSession is a live session with its secret opened: an agent's
// (AgentID, Secret its token) or a person's (PersonID, PartnerID and Role
// as at sign-in, Secret the ID token).
type ConsoleSession struct {
	IDHash, AgentID, PersonID string
	PartnerID, Role           string
	CSRFToken                 string
	CreatedAt, LastSeenAt     time.Time
	Secret                    string
}

func (r consoleSessionRow) session(secret string) ConsoleSession {
	s := ConsoleSession{IDHash: r.IDHash, PartnerID: r.PartnerID, Role: r.Role, CSRFToken: r.CSRFToken,
		CreatedAt: r.CreatedAt.UTC(), LastSeenAt: r.LastSeenAt.UTC(), Secret: secret}
	if r.AgentID != nil {
		s.AgentID = *r.AgentID
	}
	if r.PersonID != nil {
		s.PersonID = *r.PersonID
	}
	return s
}

// personRow is someone who signed in with the identity provider.
type personRow struct {
	bun.BaseModel `bun:"table:people,alias:people"`

	ID             string     `bun:"id,pk"`
	PartnerID      string     `bun:"partner_id,notnull"`
	Issuer         string     `bun:"issuer,notnull"`
	Subject        string     `bun:"subject,notnull"`
	Name           string     `bun:"name,notnull"`
	Email          string     `bun:"email,notnull"`
	Role           string     `bun:"role,notnull"`
	CreatedAt      time.Time  `bun:"created_at,notnull"`
	LastSignedInAt time.Time  `bun:"last_signed_in_at,notnull"`
	RevokedAt      *time.Time `bun:"revoked_at"`
}

// Person is someone who signed in with the identity provider, as last
// seen: the role is the directory's at their last sign-in.
type Person struct {
	ID, PartnerID, Issuer, Subject, Name, Email, Role string
	CreatedAt, LastSignedInAt                         time.Time
	RevokedAt                                         *time.Time
}

func (r personRow) person() Person {
	return Person{ID: r.ID, PartnerID: r.PartnerID, Issuer: r.Issuer, Subject: r.Subject, Name: r.Name, Email: r.Email, Role: r.Role,
		CreatedAt: r.CreatedAt.UTC(), LastSignedInAt: r.LastSignedInAt.UTC(), RevokedAt: utcPtr(r.RevokedAt)}
}
