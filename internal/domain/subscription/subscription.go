// Package subscription is the vocabulary shared by the workflow, the
// activities and the HTTP API: a marketplace subscription as partners see it,
// its statuses, and the ISV events that move it.
package subscription

import (
	"time"
)

// Status is where a subscription stands in its lifecycle.
type Status string

// The statuses of CONTRACT.md. Billing runs only while Active.
const (
	StatusPendingFulfillment  Status = "pending_fulfillment" // "Action needed": waiting for the ISV
	StatusProvisioned         Status = "provisioned"         // the ISV assigned licences
	StatusActive              Status = "active"              // fulfillment confirmed, billing started
	StatusSuspended           Status = "suspended"
	StatusPendingCancellation Status = "pending_cancellation"
	StatusCancelled           Status = "cancelled"
	StatusExpired             Status = "expired"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPendingFulfillment, StatusProvisioned, StatusActive, StatusSuspended,
		StatusPendingCancellation, StatusCancelled, StatusExpired:
		return true
	}
	return false
}

// Terminal reports whether no event or change can move the subscription on.
func (s Status) Terminal() bool { return s == StatusCancelled || s == StatusExpired }

// Billing frequencies a plan may offer.
const (
	BillingMonthly = "monthly"
	BillingAnnual  = "annual"
)

// Subscription is the partner-facing view of one subscription: the JSON of
// the API, of the workflow's `state` query, and of the database projection.
type Subscription struct {
	ID               string `json:"id"`
	CustomerID       string `json:"customerId"`
	PartnerID        string `json:"partnerId"`
	OfferID          string `json:"offerId"`
	PlanID           string `json:"planId"`
	PublisherID      string `json:"publisherId"`
	Nickname         string `json:"nickname"`
	Quantity         int    `json:"quantity"`
	Status           Status `json:"status"`
	ActionNeeded     bool   `json:"actionNeeded"`
	AutoRenew        bool   `json:"autoRenew"`
	BillingFrequency string `json:"billingFrequency"`
	// NextBillingFrequency is a change of billing frequency made during a
	// term; it takes effect at the next renewal.
	NextBillingFrequency     string         `json:"nextBillingFrequency,omitempty"`
	TermDuration             string         `json:"termDuration"`
	ResellerPartnerID        string         `json:"resellerPartnerId,omitempty"`
	UnitPrice                int64          `json:"unitPrice"`
	Currency                 string         `json:"currency"`
	PurchasedAt              time.Time      `json:"purchasedAt"`
	ActivatedAt              *time.Time     `json:"activatedAt"`
	BillingStartedAt         *time.Time     `json:"billingStartedAt"`
	TermStart                *time.Time     `json:"termStart"`
	TermEnd                  *time.Time     `json:"termEnd"`
	CancellationWindowEndsAt *time.Time     `json:"cancellationWindowEndsAt"`
	PublisherLink            *PublisherLink `json:"publisherLink,omitempty"`
	// Version counts the workflow's applied transitions; the projection keeps
	// the highest one, and the API derives the ETag from it.
	Version int64 `json:"version"`
}

// PublisherLink is where the partner finishes setup on the ISV's site. The
// authorization code is shown only when it is issued (purchase response and
// the activation-link endpoint): it is stored hashed.
type PublisherLink struct {
	URL               string     `json:"url"`
	AuthorizationCode string     `json:"authorizationCode,omitempty"`
	ExpiresAt         *time.Time `json:"expiresAt,omitempty"`
}

// ISV event types accepted on the webhook.
const (
	EventProvisioned          = "subscription.provisioned"
	EventActivated            = "subscription.activated"
	EventSuspended            = "subscription.suspended"
	EventReinstated           = "subscription.reinstated"
	EventUnsubscribed         = "subscription.unsubscribed"
	EventCancellationApproved = "subscription.cancellation_approved"
	EventCancellationRejected = "subscription.cancellation_rejected"
)

// KnownEventType reports whether t is an ISV event type of the contract.
func KnownEventType(t string) bool {
	switch t {
	case EventProvisioned, EventActivated, EventSuspended, EventReinstated,
		EventUnsubscribed, EventCancellationApproved, EventCancellationRejected:
		return true
	}
	return false
}

// ISVEvent is one webhook event as the workflow receives it.
type ISVEvent struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	PublisherID string    `json:"publisherId"`
	ReceivedAt  time.Time `json:"receivedAt"`
	// PlanID and Quantity are the final plan and quantity an activation may carry.
	PlanID   string `json:"planId,omitempty"`
	Quantity int    `json:"quantity,omitempty"`
	// Plan is the catalog plan PlanID names, resolved by the API when the
	// activation moves the subscription to another plan of its offer.
	Plan *Plan `json:"plan,omitempty"`
}

// Plan is the part of a catalog plan a subscription keeps for its term: the
// workflow uses this copy so that a catalog edit never changes a running term.
type Plan struct {
	ID                            string   `json:"id"`
	TermDuration                  string   `json:"termDuration"`
	BillingFrequencies            []string `json:"billingFrequencies"`
	UnitPrice                     int64    `json:"unitPrice"` // minor units, per licence per term
	Currency                      string   `json:"currency"`
	MinQuantity                   int      `json:"minQuantity"`
	MaxQuantity                   int      `json:"maxQuantity"`
	CancellationWindow            string   `json:"cancellationWindow"`
	CancellationRequiresPublisher bool     `json:"cancellationRequiresPublisher"`
}

// OffersBillingFrequency reports whether the plan can be billed at f.
func (p Plan) OffersBillingFrequency(f string) bool {
	for _, offered := range p.BillingFrequencies {
		if offered == f {
			return true
		}
	}
	return false
}
