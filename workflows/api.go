// Package workflows holds SubscriptionWorkflow: one durable workflow per
// marketplace subscription, from purchase to cancellation or expiry. This
// file is its vocabulary: the names, IDs and payloads that the API, the
// worker and operators share.
package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
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
	// UpdateChange applies a ChangeRequest (the partner's PATCH) all or
	// nothing and answers ChangeResult. Its validator rejects a change the
	// subscription cannot take before anything reaches the history.
	UpdateChange = "change"
)

// Search attributes operators filter on in the Web UI (CONTRACT.md).
var (
	CustomerIDKey  = temporal.NewSearchAttributeKeyKeyword("CustomerId")
	PartnerIDKey   = temporal.NewSearchAttributeKeyKeyword("PartnerId")
	OfferIDKey     = temporal.NewSearchAttributeKeyKeyword("OfferId")
	PublisherIDKey = temporal.NewSearchAttributeKeyKeyword("PublisherId")
	StatusKey      = temporal.NewSearchAttributeKeyKeyword("SubscriptionStatus")
	// WaitingOnKey is set while a step waits for something outside
	// Temporal (WaitingOnDatabase), unset otherwise: operators list the
	// subscriptions held up by an outage with WaitingOn="database".
	WaitingOnKey = temporal.NewSearchAttributeKeyKeyword("WaitingOn")
)

// WaitingOnDatabase is the WaitingOn value of a step whose commit is
// being retried.
const WaitingOnDatabase = "database"

// SearchAttributes is what the namespace must have registered.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	CustomerIDKey.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	PartnerIDKey.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	OfferIDKey.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	PublisherIDKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	StatusKey.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	WaitingOnKey.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// SearchAttributesOf are the attributes of a subscription in this state.
func SearchAttributesOf(s Subscription) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		CustomerIDKey.ValueSet(s.CustomerID),
		PartnerIDKey.ValueSet(s.PartnerID),
		OfferIDKey.ValueSet(s.OfferID),
		PublisherIDKey.ValueSet(s.PublisherID),
		StatusKey.ValueSet(string(s.Status)),
	)
}

// The payloads the workflow speaks (internal/adapter/payload: frozen, as
// every history records them).
type (
	PurchaseInput  = payload.PurchaseInput
	Carried        = payload.Carried
	ChangeRequest  = payload.ChangeRequest
	ChangeResult   = payload.ChangeResult
	PurchaseResult = payload.PurchaseResult
	Subscription   = payload.Subscription
	ISVEvent       = payload.ISVEvent
	Settings       = payload.Settings
)

// DefaultSettings are the delays of the issue: 30 days, 7 days, 7 days.
func DefaultSettings() Settings { return Settings(lifecycle.DefaultSettings()) }

// Error types of rejected changes (temporal.ApplicationError types); the
// API maps each to its HTTP status. A validation error's first detail is
// the offending field.
const (
	ErrValidation      = lifecycle.RefusedInvalid      // 422
	ErrInvalidState    = lifecycle.RefusedState        // 409
	ErrWindowClosed    = lifecycle.RefusedWindowClosed // 409
	ErrVersionMismatch = lifecycle.RefusedStale        // 412
	// ErrNothingToChange: every field of the change already has its
	// value. Its detail is the ChangeResult of the subscription as it is,
	// which the API answers (200, the same version): nothing is recorded.
	ErrNothingToChange = lifecycle.RefusedNothingToChange
)
