package wire

import (
	"encoding/json"
	"time"
)

// PurchasePending answers a purchase that was started but is not recorded
// yet (no worker has run it): it exists and will be recorded.
type PurchasePending struct {
	ID         string `json:"id"`
	CustomerID string `json:"customerId"`
	Status     string `json:"status"`
	Detail     string `json:"detail"`
}

// Endpoint is where a partner or a publisher receives its notifications.
type Endpoint struct {
	URL string `json:"url"`
	// Secret signs the notifications sent to a partner's endpoint; it is
	// shown only when set (each PUT issues a new one).
	Secret string `json:"secret,omitempty"`
	// Dialect is a publisher's notification shape: "native" or "microsoft".
	Dialect   string    `json:"dialect,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Notification is one message of a recipient's outbox.
type Notification struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	SubscriptionID string          `json:"subscriptionId"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	LastError      string          `json:"lastError,omitempty"`
	CreatedAt      time.Time       `json:"createdAt"`
	DeliveredAt    *time.Time      `json:"deliveredAt,omitempty"`
	Data           json.RawMessage `json:"data"`
}

// OutgoingNotification is the body POSTed to a recipient's endpoint.
type OutgoingNotification struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	CreatedAt      time.Time       `json:"createdAt"`
	SubscriptionID string          `json:"subscriptionId"`
	Recipient      string          `json:"recipient"` // "partner:<id>" or "publisher:<id>"
	Data           json.RawMessage `json:"data"`
	// PublisherLink carries, in a purchase notification to the ISV, an
	// authorization code issued for this delivery (stored hashed).
	PublisherLink *PublisherLink `json:"publisherLink,omitempty"`
}

// ISVEvent is the body of an ISV's webhook call.
type ISVEvent struct {
	ID             string       `json:"id"`
	Type           string       `json:"type"`
	SubscriptionID string       `json:"subscriptionId"`
	Data           ISVEventData `json:"data,omitzero"`
}

// ISVEventData is what an activation confirms, or the operation an
// answer (change_*, cancellation_*) is about.
type ISVEventData struct {
	PlanID      string `json:"planId,omitempty"`
	Quantity    int    `json:"quantity,omitempty"`
	OperationID string `json:"operationId,omitempty"`
}

// Resolved is a purchase as the ISV resolves it from its authorization
// code.
type Resolved struct {
	ID         string `json:"id"`
	OfferID    string `json:"offerId"`
	PlanID     string `json:"planId"`
	Quantity   int    `json:"quantity"`
	CustomerID string `json:"customerId"`
	PartnerID  string `json:"partnerId"`
	Status     string `json:"status"`
}
