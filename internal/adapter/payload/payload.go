// Package payload holds the shapes that cross Temporal: the subscription
// workflow's input, signals, Updates, query answer and what it hands over at
// continue-as-new, and the subscription as the commit activity's input
// carries it. Every history records them, so their JSON is frozen
// (workflows' TestEveryRecordedPayloadDecodes reads every recorded history
// into them, unknown fields refused); the rules' own types
// (internal/domain/lifecycle) change freely and meet these only in the
// conversions here.
package payload

import (
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
)

// Subscription is a subscription as payloads carry it (and as the state
// query answers it, CONTRACT.md).
type Subscription struct {
	ID                       string           `json:"id"`
	CustomerID               string           `json:"customerId"`
	PartnerID                string           `json:"partnerId"`
	OfferID                  string           `json:"offerId"`
	PlanID                   string           `json:"planId"`
	PublisherID              string           `json:"publisherId"`
	Nickname                 string           `json:"nickname"`
	Quantity                 int              `json:"quantity"`
	Status                   lifecycle.Status `json:"status"`
	ActionNeeded             bool             `json:"actionNeeded"`
	AutoRenew                bool             `json:"autoRenew"`
	BillingFrequency         string           `json:"billingFrequency"`
	NextBillingFrequency     string           `json:"nextBillingFrequency,omitempty"`
	TermDuration             string           `json:"termDuration"`
	ResellerPartnerID        string           `json:"resellerPartnerId,omitempty"`
	UnitPrice                int64            `json:"unitPrice"`
	Currency                 string           `json:"currency"`
	PurchasedAt              time.Time        `json:"purchasedAt"`
	ActivatedAt              *time.Time       `json:"activatedAt"`
	BillingStartedAt         *time.Time       `json:"billingStartedAt"`
	TermStart                *time.Time       `json:"termStart"`
	TermEnd                  *time.Time       `json:"termEnd"`
	CancellationWindowEndsAt *time.Time       `json:"cancellationWindowEndsAt"`
	PublisherLink            *PublisherLink   `json:"publisherLink,omitempty"`
	Version                  int64            `json:"version"`
}

// PublisherLink is the ISV's landing page; histories hold only its URL
// (the code in a purchase's answer is the API's to show).
type PublisherLink struct {
	URL               string     `json:"url"`
	AuthorizationCode string     `json:"authorizationCode,omitempty"`
	ExpiresAt         *time.Time `json:"expiresAt,omitempty"`
}

// Plan is the plan a subscription keeps for its term.
type Plan struct {
	ID                            string   `json:"id"`
	TermDuration                  string   `json:"termDuration"`
	BillingFrequencies            []string `json:"billingFrequencies"`
	UnitPrice                     int64    `json:"unitPrice"`
	Currency                      string   `json:"currency"`
	MinQuantity                   int      `json:"minQuantity"`
	MaxQuantity                   int      `json:"maxQuantity"`
	CancellationWindow            string   `json:"cancellationWindow"`
	CancellationRequiresPublisher bool     `json:"cancellationRequiresPublisher"`
	ChangesRequirePublisher       bool     `json:"changesRequirePublisher,omitempty"`
	ChangeApprovalWindow          string   `json:"changeApprovalWindow,omitempty"`
	// Dimensions are what a metered plan meters (issue 28).
	Dimensions []metering.Dimension `json:"dimensions,omitempty"`
}

// Settings are the lifecycle's delays, fixed at purchase.
type Settings struct {
	ActivationDeadline          time.Duration `json:"activationDeadline"`
	CancellationApprovalTimeout time.Duration `json:"cancellationApprovalTimeout"`
	RenewalNotice               time.Duration `json:"renewalNotice"`
}

// ISVEvent is one ISV event, the SignalISVEvent payload.
type ISVEvent struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	PublisherID string    `json:"publisherId"`
	ReceivedAt  time.Time `json:"receivedAt"`
	// PlanID, Quantity and Plan: what activations carried until the
	// webhook stopped passing them on (issue 25); recorded signals have them.
	PlanID   string `json:"planId,omitempty"`
	Quantity int    `json:"quantity,omitempty"`
	Plan     *Plan  `json:"plan,omitempty"`
	// OperationID is the operation the event answers or is (issue 27).
	OperationID string `json:"operationId,omitempty"`
}

// PurchaseInput starts a subscription's workflow: everything the API
// validated at purchase, so the workflow never reads the catalog.
type PurchaseInput struct {
	// Subscription as bought: ids, quantity, nickname, auto-renew, billing
	// frequency, reseller, PurchasedAt. Status is set by the workflow.
	Subscription Subscription `json:"subscription"`
	Plan         Plan         `json:"plan"`
	LicenseBased bool         `json:"licenseBased"`
	// Actor is who bought ("agent:<id>"), for the audit trail.
	Actor string `json:"actor"`
	// IdempotencyKey and RequestHash let a repeated purchase be recognised
	// and one with another body be refused.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	RequestHash    string `json:"requestHash"`
	// AuthorizationCodeHash identifies the purchase to the ISV; only the
	// hash reaches the history.
	AuthorizationCodeHash      string    `json:"authorizationCodeHash"`
	AuthorizationCodeExpiresAt time.Time `json:"authorizationCodeExpiresAt"`
	Settings                   Settings  `json:"settings"`
	// Continued carries the state of the previous run when this run
	// continues it (continue-as-new at each renewal); nil at purchase.
	Continued *Carried `json:"continued,omitempty"`
	// Generation >= 1 marks the runs of the one release that chose their
	// behaviour changes by input (versions.go); never set now.
	Generation int `json:"generation,omitempty"`
}

// Carried is what one run hands to the next at continue-as-new: the
// state, whole, and the shell's own memory.
type Carried struct {
	Subscription        Subscription         `json:"subscription"`
	Plan                Plan                 `json:"plan"`
	TermNumber          int                  `json:"termNumber"`
	TermCharges         []billing.Charge     `json:"termCharges,omitempty"`
	NextInstallment     int                  `json:"nextInstallment"`
	RenewalNoticeSent   bool                 `json:"renewalNoticeSent"`
	PendingCancellation *PendingCancellation `json:"pendingCancellation,omitempty"`
	PendingChange       *PendingChange       `json:"pendingChange,omitempty"`
	RecentEventIDs      []string             `json:"recentEventIds,omitempty"`
	Lots                billing.Lots         `json:"lots,omitempty"`
	// Run is the number of the run that hands over (the purchase's is 0):
	// it orders the fences of the runs' local commits (activities.StepFence).
	Run int `json:"run,omitempty"`
	// AfterReset: an operator reset this run or one before it; its
	// successors keep fencing as reset runs do (activities.StepFence).
	AfterReset bool `json:"afterReset,omitempty"`
	// ExactLines: the term in progress has exact ledger lines; it keeps
	// them to its end whatever run continues it.
	ExactLines bool `json:"exactLines,omitempty"`
	// Meter is a metered subscription's usage periods (issue 28).
	Meter *Meter `json:"meter,omitempty"`
}

// Meter is a metered subscription's usage periods as payloads carry them.
type Meter struct {
	Periods []UsagePeriod  `json:"periods,omitempty"`
	Open    bool           `json:"open,omitempty"`
	DueAt   time.Time      `json:"dueAt,omitzero"`
	Gaps    []metering.Gap `json:"gaps,omitempty"`
}

// UsagePeriod is one usage period as payloads carry it.
type UsagePeriod struct {
	Start      time.Time            `json:"start"`
	End        time.Time            `json:"end"`
	PlanID     string               `json:"planId,omitempty"`
	Dimensions []metering.Dimension `json:"dimensions"`
}

// MeterOf is the meter as payloads carry it; nil for none.
func MeterOf(m *lifecycle.Meter) *Meter {
	if m == nil {
		return nil
	}
	p := &Meter{Open: m.Open, DueAt: m.DueAt, Gaps: m.Gaps}
	for _, u := range m.Periods {
		p.Periods = append(p.Periods, UsagePeriod(u))
	}
	return p
}

// Rules is the meter as the rules know it; nil for none.
func (p *Meter) Rules() *lifecycle.Meter {
	if p == nil {
		return nil
	}
	m := &lifecycle.Meter{Open: p.Open, DueAt: p.DueAt, Gaps: p.Gaps}
	for _, u := range p.Periods {
		m.Periods = append(m.Periods, lifecycle.UsagePeriod(u))
	}
	return m
}

// PendingCancellation is a cancellation waiting for the ISV's approval.
type PendingCancellation struct {
	RequestedAt    time.Time        `json:"requestedAt"`
	Deadline       time.Time        `json:"deadline"`
	PreviousStatus lifecycle.Status `json:"previousStatus"`
	Actor          string           `json:"actor"`
	OperationID    string           `json:"operationId,omitempty"`
}

// PendingChange is a change of plan or quantity waiting for the
// publisher's answer.
type PendingChange struct {
	Operation Operation `json:"operation"`
	Plan      *Plan     `json:"plan,omitempty"`
	Deadline  time.Time `json:"deadline"`
	Actor     string    `json:"actor"`
}

// Operation is one operation of Microsoft's SaaS Fulfillment v2 as a step
// creates or settles it.
type Operation struct {
	ID          string    `json:"id"`
	Action      string    `json:"action"`
	Status      string    `json:"status"`
	PlanID      string    `json:"planId"`
	Quantity    int       `json:"quantity"`
	Source      string    `json:"source"`
	RequestedAt time.Time `json:"requestedAt"`
	Reason      string    `json:"reason,omitempty"`
}

// ChangeRequest is a partner's change, the UpdateChange argument: every
// set field is applied, or none.
type ChangeRequest struct {
	Actor             string  `json:"actor"`
	Nickname          *string `json:"nickname,omitempty"`
	Quantity          *int    `json:"quantity,omitempty"`
	AutoRenew         *bool   `json:"autoRenew,omitempty"`
	ResellerPartnerID *string `json:"resellerPartnerId,omitempty"`
	BillingFrequency  *string `json:"billingFrequency,omitempty"`
	Cancel            bool    `json:"cancel,omitempty"`
	// PlanID asks for another plan; Plan is it as the catalog has it.
	PlanID *string `json:"planId,omitempty"`
	Plan   *Plan   `json:"plan,omitempty"`
	// Source is lifecycle.SourcePublisher for the publisher's own change.
	Source string `json:"source,omitempty"`
	// OperationID names the operation the change creates ("" derives one).
	OperationID string `json:"operationId,omitempty"`
	// IfVersion, when not 0, is the version the partner last saw (If-Match).
	IfVersion int64 `json:"ifVersion,omitempty"`
}

// ChangeResult answers UpdateChange.
type ChangeResult struct {
	Subscription Subscription `json:"subscription"`
	// Pending: the change waits for the ISV (a cancellation of a plan that
	// requires the publisher's approval); the API answers 202.
	Pending bool `json:"pending"`
	// Lots are the batches of licences after the change (refundableQuantity).
	Lots billing.Lots `json:"lots,omitempty"`
	// PendingChange is the change that waits for the publisher, if any.
	PendingChange *PendingChange `json:"pendingChange,omitempty"`
}

// PurchaseResult answers UpdatePurchaseRecorded.
type PurchaseResult struct {
	Subscription          Subscription `json:"subscription"`
	RequestHash           string       `json:"requestHash"`
	AuthorizationCodeHash string       `json:"authorizationCodeHash"`
	Lots                  billing.Lots `json:"lots,omitempty"`
}

// SubscriptionOf is a subscription as payloads carry it.
func SubscriptionOf(s lifecycle.Subscription) Subscription {
	p := Subscription{
		ID: s.ID, CustomerID: s.CustomerID, PartnerID: s.PartnerID, OfferID: s.OfferID, PlanID: s.PlanID, PublisherID: s.PublisherID,
		Nickname: s.Nickname, Quantity: s.Quantity, Status: s.Status, ActionNeeded: s.ActionNeeded, AutoRenew: s.AutoRenew,
		BillingFrequency: s.BillingFrequency, NextBillingFrequency: s.NextBillingFrequency, TermDuration: s.TermDuration,
		ResellerPartnerID: s.ResellerPartnerID, UnitPrice: s.UnitPrice, Currency: s.Currency, PurchasedAt: s.PurchasedAt,
		ActivatedAt: s.ActivatedAt, BillingStartedAt: s.BillingStartedAt, TermStart: s.TermStart, TermEnd: s.TermEnd,
		CancellationWindowEndsAt: s.CancellationWindowEndsAt, Version: s.Version,
	}
	if s.PublisherURL != "" {
		p.PublisherLink = &PublisherLink{URL: s.PublisherURL}
	}
	return p
}

// Rules is the payload's subscription as the rules know it.
func (p Subscription) Rules() lifecycle.Subscription {
	s := lifecycle.Subscription{
		ID: p.ID, CustomerID: p.CustomerID, PartnerID: p.PartnerID, OfferID: p.OfferID, PlanID: p.PlanID, PublisherID: p.PublisherID,
		Nickname: p.Nickname, Quantity: p.Quantity, Status: p.Status, ActionNeeded: p.ActionNeeded, AutoRenew: p.AutoRenew,
		BillingFrequency: p.BillingFrequency, NextBillingFrequency: p.NextBillingFrequency, TermDuration: p.TermDuration,
		ResellerPartnerID: p.ResellerPartnerID, UnitPrice: p.UnitPrice, Currency: p.Currency, PurchasedAt: p.PurchasedAt,
		ActivatedAt: p.ActivatedAt, BillingStartedAt: p.BillingStartedAt, TermStart: p.TermStart, TermEnd: p.TermEnd,
		CancellationWindowEndsAt: p.CancellationWindowEndsAt, Version: p.Version,
	}
	if p.PublisherLink != nil {
		s.PublisherURL = p.PublisherLink.URL
	}
	return s
}

// State is where a run starts: the purchase, or the state the run before
// handed over.
func (in PurchaseInput) State() lifecycle.State {
	s := lifecycle.State{Subscription: in.Subscription.Rules(), Plan: lifecycle.Plan(in.Plan), Settings: lifecycle.Settings(in.Settings).WithDefaults()}
	if c := in.Continued; c != nil {
		s.Subscription, s.Plan, s.Recorded = c.Subscription.Rules(), lifecycle.Plan(c.Plan), true
		s.TermNumber, s.TermCharges, s.NextInstallment = c.TermNumber, c.TermCharges, c.NextInstallment
		s.RenewalNoticeSent, s.RecentEventIDs, s.Lots, s.ExactLines = c.RenewalNoticeSent, c.RecentEventIDs, c.Lots, c.ExactLines
		if pc := c.PendingCancellation; pc != nil {
			p := lifecycle.PendingCancellation(*pc)
			s.PendingCancellation = &p
		}
		s.PendingChange = c.PendingChange.Rules()
		s.Meter = c.Meter.Rules()
	}
	return s
}

// CarriedOf is the state a run hands to the next (the shell adds its
// own memory: Run, AfterReset).
func CarriedOf(s lifecycle.State) *Carried {
	c := &Carried{
		Subscription: SubscriptionOf(s.Subscription), Plan: Plan(s.Plan), TermNumber: s.TermNumber, TermCharges: s.TermCharges,
		NextInstallment: s.NextInstallment, RenewalNoticeSent: s.RenewalNoticeSent, RecentEventIDs: s.RecentEventIDs, Lots: s.Lots,
		ExactLines: s.ExactLines,
	}
	if pc := s.PendingCancellation; pc != nil {
		p := PendingCancellation(*pc)
		c.PendingCancellation = &p
	}
	c.PendingChange = PendingChangeOf(s.PendingChange)
	c.Meter = MeterOf(s.Meter)
	return c
}

// PendingChangeOf is the change that waits as payloads carry it; nil for none.
func PendingChangeOf(pc *lifecycle.PendingChange) *PendingChange {
	if pc == nil {
		return nil
	}
	p := &PendingChange{Operation: Operation(pc.Operation), Deadline: pc.Deadline, Actor: pc.Actor}
	if pc.Plan != nil {
		plan := Plan(*pc.Plan)
		p.Plan = &plan
	}
	return p
}

// Rules is the change that waits as the rules know it; nil for none.
func (p *PendingChange) Rules() *lifecycle.PendingChange {
	if p == nil {
		return nil
	}
	pc := &lifecycle.PendingChange{Operation: lifecycle.Operation(p.Operation), Deadline: p.Deadline, Actor: p.Actor}
	if p.Plan != nil {
		plan := lifecycle.Plan(*p.Plan)
		pc.Plan = &plan
	}
	return pc
}

// Rules is the event as the rules know it.
func (e ISVEvent) Rules() lifecycle.ISVEvent {
	r := lifecycle.ISVEvent{ID: e.ID, Type: e.Type, PublisherID: e.PublisherID, ReceivedAt: e.ReceivedAt, PlanID: e.PlanID, Quantity: e.Quantity, OperationID: e.OperationID}
	if e.Plan != nil {
		p := lifecycle.Plan(*e.Plan)
		r.Plan = &p
	}
	return r
}

// Rules is the request as the rules know it.
func (r ChangeRequest) Rules() lifecycle.Change {
	c := lifecycle.Change{Actor: r.Actor, Nickname: r.Nickname, Quantity: r.Quantity, AutoRenew: r.AutoRenew,
		ResellerPartnerID: r.ResellerPartnerID, BillingFrequency: r.BillingFrequency, Cancel: r.Cancel, IfVersion: r.IfVersion,
		PlanID: r.PlanID, Source: r.Source, OperationID: r.OperationID}
	if r.Plan != nil {
		p := lifecycle.Plan(*r.Plan)
		c.Plan = &p
	}
	return c
}
