// Package wire is the product's JSON on the wire (openapi.yaml): what the
// partner and ISV APIs answer and take, and the notifications they send,
// as the API writes them and its clients in this repository (the console,
// the ISV simulator) read them. They are the wire's alone: the rules'
// types (internal/domain) and the workflow's payloads
// (internal/adapter/payload) change without changing them.
package wire

import (
	"time"
)

// Subscription is a subscription as the API answers it.
type Subscription struct {
	ID                   string `json:"id"`
	CustomerID           string `json:"customerId"`
	PartnerID            string `json:"partnerId"`
	OfferID              string `json:"offerId"`
	PlanID               string `json:"planId"`
	PublisherID          string `json:"publisherId"`
	Nickname             string `json:"nickname"`
	Quantity             int    `json:"quantity"`
	Status               string `json:"status"`
	ActionNeeded         bool   `json:"actionNeeded"`
	AutoRenew            bool   `json:"autoRenew"`
	BillingFrequency     string `json:"billingFrequency"`
	NextBillingFrequency string `json:"nextBillingFrequency,omitempty"`
	TermDuration         string `json:"termDuration"`
	ResellerPartnerID    string `json:"resellerPartnerId,omitempty"`
	// UnitPrice only for agents who may see money.
	UnitPrice                *int64         `json:"unitPrice,omitempty"`
	Currency                 string         `json:"currency"`
	PurchasedAt              time.Time      `json:"purchasedAt"`
	ActivatedAt              *time.Time     `json:"activatedAt"`
	BillingStartedAt         *time.Time     `json:"billingStartedAt"`
	TermStart                *time.Time     `json:"termStart"`
	TermEnd                  *time.Time     `json:"termEnd"`
	CancellationWindowEndsAt *time.Time     `json:"cancellationWindowEndsAt"`
	PublisherLink            *PublisherLink `json:"publisherLink,omitempty"`
	Version                  int64          `json:"version"`
	ETag                     string         `json:"etag"`
	// RefundableQuantity: how many licences can still be removed (and are
	// credited), batch by batch.
	RefundableQuantity Refundable `json:"refundableQuantity"`
	// PendingChange is the change of plan or quantity that waits for the
	// publisher's answer; absent when none waits.
	PendingChange *PendingChange `json:"pendingChange,omitempty"`
}

// PendingChange is a change that waits for the publisher: the operation
// the publisher answers, what it asks for, and until when it waits.
type PendingChange struct {
	OperationID string    `json:"operationId"`
	Action      string    `json:"action"` // ChangePlan or ChangeQuantity
	PlanID      string    `json:"planId"`
	Quantity    int       `json:"quantity"`
	RequestedAt time.Time `json:"requestedAt"`
	Deadline    time.Time `json:"deadline"`
}

// PublisherLink is where the partner finishes setup on the ISV's site; the
// code only in a purchase's answer and the activation link.
type PublisherLink struct {
	URL               string     `json:"url"`
	AuthorizationCode string     `json:"authorizationCode,omitempty"`
	ExpiresAt         *time.Time `json:"expiresAt,omitempty"`
}

// Refundable is Partner Center's refundableQuantity.
type Refundable struct {
	Total   int               `json:"total"`
	Details []RefundableBatch `json:"details"`
}

// RefundableBatch is a batch of licences still inside its window.
type RefundableBatch struct {
	Quantity     int       `json:"quantity"`
	AllowedUntil time.Time `json:"allowedUntil"`
}

// UsageBatch is POST /isv/v1/usage: 1 to 25 usage events of the
// publisher's subscriptions (issue 28).
type UsageBatch struct {
	Events []UsageEvent `json:"events"`
}

// UsageEvent is one usage event of the native dialect.
type UsageEvent struct {
	SubscriptionID     string   `json:"subscriptionId"`
	Dimension          string   `json:"dimension"`
	Quantity           *float64 `json:"quantity"`
	EffectiveStartTime string   `json:"effectiveStartTime"`
}

// UsageBatchResult answers a batch: a result per event, in order.
type UsageBatchResult struct {
	Results []UsageResult `json:"results"`
}

// UsageResult is what happened to one event: Accepted (EventID the event
// made), Duplicate (EventID the event accepted first), or refused with
// metering's status and why. ID is the submission's, as the submission
// log lists it.
type UsageResult struct {
	ID      string `json:"id,omitempty"`
	Status  string `json:"status"`
	EventID string `json:"eventId,omitempty"`
	Message string `json:"message,omitempty"`
}
