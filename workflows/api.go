// Package workflows holds SubscriptionWorkflow: one durable workflow per
// marketplace subscription, from purchase to cancellation or expiry. This
// file is its vocabulary: the names, IDs and payloads that the API, the
// worker and operators share.
package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/cspmarket/orchestrator/internal/subscription"
)

// TaskQueue is where subscription workflows and their activities run.
const TaskQueue = "subscriptions"

// WorkflowID is the ID of a subscription's workflow (CONTRACT.md).
func WorkflowID(subscriptionID string) string { return "subscription-" + subscriptionID }

// Names of the workflow's handlers.
const (
	// QueryState answers the subscription as JSON.
	QueryState = "state"
	// SignalISVEvent delivers one ISV webhook event (subscription.ISVEvent).
	SignalISVEvent = "isv-event"
	// UpdatePurchaseRecorded completes once the purchase is durably
	// recorded and answers PurchaseResult; the API sends it with the start
	// (update-with-start) so the purchase response is read-your-writes.
	UpdatePurchaseRecorded = "purchase-recorded"
)

// Search attributes operators filter on in the Web UI (CONTRACT.md).
var (
	CustomerIDKey  = temporal.NewSearchAttributeKeyKeyword("CustomerId")
	PartnerIDKey   = temporal.NewSearchAttributeKeyKeyword("PartnerId")
	OfferIDKey     = temporal.NewSearchAttributeKeyKeyword("OfferId")
	PublisherIDKey = temporal.NewSearchAttributeKeyKeyword("PublisherId")
	StatusKey      = temporal.NewSearchAttributeKeyKeyword("SubscriptionStatus")
)

// SearchAttributes is what the namespace must have registered.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	CustomerIDKey.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	PartnerIDKey.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	OfferIDKey.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	PublisherIDKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	StatusKey.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// SearchAttributesOf are the attributes of a subscription in this state.
func SearchAttributesOf(s subscription.Subscription) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		CustomerIDKey.ValueSet(s.CustomerID),
		PartnerIDKey.ValueSet(s.PartnerID),
		OfferIDKey.ValueSet(s.OfferID),
		PublisherIDKey.ValueSet(s.PublisherID),
		StatusKey.ValueSet(string(s.Status)),
	)
}

// PurchaseInput starts a subscription's workflow: everything the API
// validated at purchase, so the workflow never reads the catalog.
type PurchaseInput struct {
	// Subscription as bought: ids, quantity, nickname, auto-renew, billing
	// frequency, reseller, PurchasedAt. Status is set by the workflow.
	Subscription subscription.Subscription `json:"subscription"`
	Plan         subscription.Plan         `json:"plan"`
	LicenseBased bool                      `json:"licenseBased"`
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
}

// PurchaseResult answers UpdatePurchaseRecorded.
type PurchaseResult struct {
	Subscription          subscription.Subscription `json:"subscription"`
	RequestHash           string                    `json:"requestHash"`
	AuthorizationCodeHash string                    `json:"authorizationCodeHash"`
}
