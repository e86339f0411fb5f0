// Package saaswire is Microsoft's SaaS Fulfillment API v2 on the wire
// (../shared/data/saasapi.v2.json, unchanged): the JSON its operations
// answer and take, the webhook Microsoft sends publishers, and the one
// mapping between this product's subscriptions and Microsoft's: ids
// (UUIDs), statuses, terms and operations. The handlers (internal/adapter/api)
// and the webhook sender (internal/adapter/egress) read only these.
package saaswire

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// APIVersion is the one api-version of the dialect.
const APIVersion = "2018-08-31"

var subscriptionIDPattern = regexp.MustCompile(`^sub_([0-9a-f]{24})$`)

// SubscriptionUUID is the UUID Microsoft's dialect names a subscription
// by: its id's 96 bits in a version-8 UUID whose middle is fixed
// ("-8000-8000-"), so the mapping needs no table and reverses exactly
// (SubscriptionID). false for an id of another shape (none the product
// makes).
func SubscriptionUUID(id string) (string, bool) {
	m := subscriptionIDPattern.FindStringSubmatch(id)
	if m == nil {
		return "", false
	}
	h := m[1]
	return h[0:8] + "-" + h[8:12] + "-8000-8000-" + h[12:24], true
}

var uuidPattern = regexp.MustCompile(`^([0-9a-f]{8})-([0-9a-f]{4})-8000-8000-([0-9a-f]{12})$`)

// SubscriptionID is the product's id of a subscription UUID; false for a
// UUID that names none.
func SubscriptionID(uuid string) (string, bool) {
	m := uuidPattern.FindStringSubmatch(strings.ToLower(uuid))
	if m == nil {
		return "", false
	}
	return "sub_" + m[1] + m[2] + m[3], true
}

// IdentityUUID is the stable UUID that stands for one of the product's
// customers or partners where Microsoft has an Entra ID tenant or object
// (a name-based UUID of kind and id, SHA-256, version 8).
func IdentityUUID(kind, id string) string {
	return uuid.NewHash(sha256.New(), uuid.NameSpaceURL, []byte(kind+"\n"+id), 8).String()
}

// Subscription is Microsoft's Subscription.
type Subscription struct {
	ID                        string         `json:"id"`
	PublisherID               string         `json:"publisherId"`
	OfferID                   string         `json:"offerId"`
	Name                      string         `json:"name"`
	SaaSSubscriptionStatus    string         `json:"saasSubscriptionStatus"`
	Beneficiary               AadIdentifier  `json:"beneficiary"`
	Purchaser                 AadIdentifier  `json:"purchaser"`
	PlanID                    string         `json:"planId"`
	Quantity                  int            `json:"quantity"`
	Term                      Term           `json:"term"`
	AutoRenew                 bool           `json:"autoRenew"`
	IsTest                    bool           `json:"isTest"`
	IsFreeTrial               bool           `json:"isFreeTrial"`
	AllowedCustomerOperations []string       `json:"allowedCustomerOperations"`
	SandboxType               string         `json:"sandboxType"`
	Created                   time.Time      `json:"created"`
	SessionMode               string         `json:"sessionMode"`
	PendingChange             *PendingChange `json:"pendingChange,omitempty"`
}

// PendingChange is not Microsoft's: a publisher that reads it sees the
// change that waits for its answer (its operations list says the same).
type PendingChange struct {
	OperationID string `json:"operationId"`
	Action      string `json:"action"`
	PlanID      string `json:"planId"`
	Quantity    int    `json:"quantity"`
}

// AadIdentifier is who a subscription is for (beneficiary) and who bought
// it (purchaser): here the partner's customer and the partner, each a
// stable UUID (IdentityUUID).
type AadIdentifier struct {
	ObjectID string `json:"objectId"`
	TenantID string `json:"tenantId"`
	PUID     string `json:"puid"`
}

// Term is a subscription's current term.
type Term struct {
	TermUnit  string     `json:"termUnit,omitempty"`
	StartDate *time.Time `json:"startDate,omitempty"`
	EndDate   *time.Time `json:"endDate,omitempty"`
}

// Resolved answers resolve.
type Resolved struct {
	ID               string       `json:"id"`
	SubscriptionName string       `json:"subscriptionName"`
	OfferID          string       `json:"offerId"`
	PlanID           string       `json:"planId"`
	Quantity         int          `json:"quantity"`
	Subscription     Subscription `json:"subscription"`
}

// SubscriptionsResponse is one page of a publisher's subscriptions.
type SubscriptionsResponse struct {
	Subscriptions []Subscription `json:"subscriptions"`
	NextLink      string         `json:"@nextLink,omitempty"`
}

// SubscriptionPlans answers listAvailablePlans.
type SubscriptionPlans struct {
	Plans []Plan `json:"plans"`
}

// Plan is one plan of the subscription's offer.
type Plan struct {
	PlanID         string         `json:"planId"`
	DisplayName    string         `json:"displayName"`
	IsPrivate      bool           `json:"isPrivate"`
	Description    string         `json:"description"`
	MinQuantity    int            `json:"minQuantity"`
	MaxQuantity    int            `json:"maxQuantity"`
	HasFreeTrials  bool           `json:"hasFreeTrials"`
	IsPricePerSeat bool           `json:"isPricePerSeat"`
	IsStopSell     bool           `json:"isStopSell"`
	Market         string         `json:"market"`
	PlanComponents PlanComponents `json:"planComponents"`
}

// PlanComponents are a plan's prices.
type PlanComponents struct {
	RecurrentBillingTerms []RecurrentBillingTerm `json:"recurrentBillingTerms"`
	MeteringDimensions    []any                  `json:"meteringDimensions"`
}

// RecurrentBillingTerm is a plan's price for a term; Price is in major
// units (billing.Decimal).
type RecurrentBillingTerm struct {
	Currency        string      `json:"currency"`
	Price           json.Number `json:"price"`
	TermUnit        string      `json:"termUnit,omitempty"`
	TermDescription string      `json:"termDescription"`
}

// SubscriberPlan is a publisher's change of plan or quantity.
type SubscriberPlan struct {
	PlanID   *string `json:"planId"`
	Quantity *int    `json:"quantity"`
}

// ActivateRequest is what activate confirms.
type ActivateRequest struct {
	PlanID   string `json:"planId"`
	Quantity *int   `json:"quantity"`
}

// UpdateOperation is a publisher's answer to an operation.
type UpdateOperation struct {
	PlanID   string `json:"planId"`
	Quantity *int   `json:"quantity"`
	Status   string `json:"status"`
}

// Answers of UpdateOperation.
const (
	AnswerSuccess = "Success"
	AnswerFailure = "Failure"
)

// Operation is Microsoft's SaaSOperation.
type Operation struct {
	ID             string    `json:"id"`
	ActivityID     string    `json:"activityId"`
	SubscriptionID string    `json:"subscriptionId"`
	OfferID        string    `json:"offerId"`
	PublisherID    string    `json:"publisherId"`
	PlanID         string    `json:"planId"`
	Quantity       int       `json:"quantity"`
	Action         string    `json:"action"`
	TimeStamp      time.Time `json:"timeStamp"`
	Status         string    `json:"status"`
}

// OperationList lists operations.
type OperationList struct {
	Operations []Operation `json:"operations"`
}

// Error is Microsoft's error body.
type Error struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Webhook is the notification Microsoft sends a publisher's webhook.
type Webhook struct {
	ID                     string       `json:"id"`
	ActivityID             string       `json:"activityId"`
	OperationRequestSource string       `json:"operationRequestSource"`
	SubscriptionID         string       `json:"subscriptionId"`
	PublisherID            string       `json:"publisherId"`
	OfferID                string       `json:"offerId"`
	PlanID                 string       `json:"planId"`
	Quantity               int          `json:"quantity"`
	TimeStamp              time.Time    `json:"timeStamp"`
	Action                 string       `json:"action"`
	Status                 string       `json:"status"`
	Subscription           Subscription `json:"subscription"`
	PurchaseToken          *string      `json:"purchaseToken"`
}

// Status is Microsoft's saasSubscriptionStatus of a status: waiting for
// the publisher is PendingFulfillmentStart, active (or waiting for a
// cancellation's answer) Subscribed, ended Unsubscribed.
func Status(s lifecycle.Status) string {
	switch {
	case s.AwaitsPublisher():
		return "PendingFulfillmentStart"
	case s == lifecycle.StatusSuspended:
		return "Suspended"
	case s.Terminal():
		return "Unsubscribed"
	}
	return "Subscribed"
}

// TermUnit is Microsoft's termUnit of an ISO-8601 term ("" for a term
// Microsoft has no unit for, such as the demo plan's minutes).
func TermUnit(termDuration string) string {
	switch termDuration {
	case "P1M", "P1Y", "P2Y", "P3Y", "P4Y", "P5Y":
		return termDuration
	case "P12M":
		return "P1Y"
	}
	return ""
}

// SubscriptionOf is a subscription in Microsoft's shape; false for an
// id the dialect cannot name. The pending change is the store's.
func SubscriptionOf(sub lifecycle.Subscription, pending *PendingChange) (Subscription, bool) {
	id, ok := SubscriptionUUID(sub.ID)
	if !ok {
		return Subscription{}, false
	}
	customer := IdentityUUID("customer", sub.PartnerID+"/"+sub.CustomerID)
	partner := IdentityUUID("partner", sub.PartnerID)
	ops := []string{"Read", "Update", "Delete"}
	if sub.Status.Terminal() {
		ops = []string{"Read"}
	}
	name := sub.Nickname
	if name == "" {
		name = sub.OfferID + " " + sub.PlanID
	}
	return Subscription{
		ID: id, PublisherID: sub.PublisherID, OfferID: sub.OfferID, Name: name, SaaSSubscriptionStatus: Status(sub.Status),
		Beneficiary: AadIdentifier{ObjectID: customer, TenantID: customer, PUID: sub.CustomerID},
		Purchaser:   AadIdentifier{ObjectID: partner, TenantID: partner, PUID: sub.PartnerID},
		PlanID:      sub.PlanID, Quantity: sub.Quantity,
		Term:      Term{TermUnit: TermUnit(sub.TermDuration), StartDate: sub.TermStart, EndDate: sub.TermEnd},
		AutoRenew: sub.AutoRenew, AllowedCustomerOperations: ops, SandboxType: "None", Created: sub.PurchasedAt.UTC(), SessionMode: "None",
		PendingChange: pending,
	}, true
}

// OperationOf is an operation in Microsoft's shape.
func OperationOf(op lifecycle.Operation, subscriptionUUID, offerID, publisherID string) Operation {
	return Operation{
		ID: op.ID, ActivityID: op.ID, SubscriptionID: subscriptionUUID, OfferID: offerID, PublisherID: publisherID,
		PlanID: op.PlanID, Quantity: op.Quantity, Action: op.Action, TimeStamp: op.RequestedAt.UTC(), Status: op.Status,
	}
}

// OperationLocation is where a publisher polls an operation.
func OperationLocation(baseURL, subscriptionUUID, operationID string) string {
	return fmt.Sprintf("%s/api/saas/subscriptions/%s/operations/%s?api-version=%s", baseURL, subscriptionUUID, operationID, APIVersion)
}
