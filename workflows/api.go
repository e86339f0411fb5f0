// Package workflows holds SubscriptionWorkflow: one durable workflow per
// marketplace subscription, from purchase to cancellation or expiry. This
// file is its vocabulary: the names, IDs and payloads that the API, the
// worker and operators share.
package workflows

import (
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
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
