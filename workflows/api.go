// Package workflows holds SubscriptionWorkflow: one durable workflow per
// marketplace subscription, from purchase to cancellation or expiry. This
// file is its vocabulary: the names, IDs and payloads that the API, the
// worker and operators share.
package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/subscription"
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
	// Settings are the lifecycle's configurable delays, fixed at purchase.
	Settings Settings `json:"settings"`
	// Continued carries the state of the previous run when this run
	// continues it (continue-as-new at each renewal); nil at purchase.
	Continued *Carried `json:"continued,omitempty"`
	// Generation >= 1 marks the runs that took the behaviour changes of
	// versions.go by their input (one release did); never set now.
	Generation int `json:"generation,omitempty"`
}

// Settings are the lifecycle delays an operator can configure.
type Settings struct {
	// ActivationDeadline: a purchase the ISV has not activated by then is
	// cancelled with no charge.
	ActivationDeadline time.Duration `json:"activationDeadline"`
	// CancellationApprovalTimeout: a cancellation waiting for the ISV
	// lapses after it.
	CancellationApprovalTimeout time.Duration `json:"cancellationApprovalTimeout"`
	// RenewalNotice: how long before the term ends the partner is told.
	RenewalNotice time.Duration `json:"renewalNotice"`
}

// DefaultSettings are the delays of the issue: 30 days, 7 days, 7 days.
func DefaultSettings() Settings {
	return Settings{ActivationDeadline: 30 * 24 * time.Hour, CancellationApprovalTimeout: 7 * 24 * time.Hour, RenewalNotice: 7 * 24 * time.Hour}
}

// withDefaults fills zero settings (inputs recorded before they existed).
func (s Settings) withDefaults() Settings {
	d := DefaultSettings()
	if s.ActivationDeadline <= 0 {
		s.ActivationDeadline = d.ActivationDeadline
	}
	if s.CancellationApprovalTimeout <= 0 {
		s.CancellationApprovalTimeout = d.CancellationApprovalTimeout
	}
	if s.RenewalNotice <= 0 {
		s.RenewalNotice = d.RenewalNotice
	}
	return s
}

// Carried is what one run hands to the next at continue-as-new.
type Carried struct {
	Subscription        subscription.Subscription `json:"subscription"`
	Plan                subscription.Plan         `json:"plan"`
	TermNumber          int                       `json:"termNumber"`
	TermCharges         []billing.Charge          `json:"termCharges,omitempty"`
	NextInstallment     int                       `json:"nextInstallment"`
	RenewalNoticeSent   bool                      `json:"renewalNoticeSent"`
	PendingCancellation *PendingCancellation      `json:"pendingCancellation,omitempty"`
	RecentEventIDs      []string                  `json:"recentEventIds,omitempty"`
	Lots                billing.Lots              `json:"lots,omitempty"`
	// Run is the number of the run that hands over (the purchase's is 0):
	// it orders the fences of the runs' local commits (activities.StepFence).
	Run int `json:"run,omitempty"`
	// AfterReset: an operator reset this run or one before it. Its
	// successors keep fencing as reset runs do (activities.StepFence):
	// a reset of an earlier run must win over the later runs' fences,
	// so the chain orders by time from then on.
	AfterReset bool `json:"afterReset,omitempty"`
	// ExactLines: the term in progress has exact ledger lines
	// (generationExactLines); it keeps them to its end whatever run
	// continues it.
	ExactLines bool `json:"exactLines,omitempty"`
}

// PendingCancellation is a cancellation waiting for the ISV's approval.
type PendingCancellation struct {
	RequestedAt    time.Time           `json:"requestedAt"`
	Deadline       time.Time           `json:"deadline"`
	PreviousStatus subscription.Status `json:"previousStatus"`
	Actor          string              `json:"actor"`
}

// ChangeRequest is a partner's change to a subscription: every set field
// is applied, or none.
type ChangeRequest struct {
	Actor             string  `json:"actor"`
	Nickname          *string `json:"nickname,omitempty"`
	Quantity          *int    `json:"quantity,omitempty"`
	AutoRenew         *bool   `json:"autoRenew,omitempty"`
	ResellerPartnerID *string `json:"resellerPartnerId,omitempty"`
	BillingFrequency  *string `json:"billingFrequency,omitempty"`
	Cancel            bool    `json:"cancel,omitempty"`
	// IfVersion, when not 0, is the version the partner last saw (If-Match).
	IfVersion int64 `json:"ifVersion,omitempty"`
}

// Empty reports whether the request changes nothing.
func (r ChangeRequest) Empty() bool {
	return r.Nickname == nil && r.Quantity == nil && r.AutoRenew == nil && r.ResellerPartnerID == nil && r.BillingFrequency == nil && !r.Cancel
}

// ChangeResult answers UpdateChange.
type ChangeResult struct {
	Subscription subscription.Subscription `json:"subscription"`
	// Pending is true when the change waits for the ISV (a cancellation of
	// a plan that requires the publisher's approval): the API answers 202.
	Pending bool `json:"pending"`
	// Lots are the batches of licences after the change (refundableQuantity).
	Lots billing.Lots `json:"lots,omitempty"`
}

// Error types of rejected changes (temporal.ApplicationError types); the
// API maps each to its HTTP status. A validation error's first detail is
// the offending field.
const (
	ErrValidation      = "validation_failed"          // 422
	ErrInvalidState    = "invalid_state"              // 409
	ErrWindowClosed    = "cancellation_window_closed" // 409
	ErrVersionMismatch = "precondition_failed"        // 412
	// ErrNothingToChange: every field of the change already has its
	// value. Its detail is the ChangeResult of the subscription as it is,
	// which the API answers (200, the same version): nothing is recorded.
	ErrNothingToChange = "nothing_to_change"
)

// PurchaseResult answers UpdatePurchaseRecorded.
type PurchaseResult struct {
	Subscription          subscription.Subscription `json:"subscription"`
	RequestHash           string                    `json:"requestHash"`
	AuthorizationCodeHash string                    `json:"authorizationCodeHash"`
	Lots                  billing.Lots              `json:"lots,omitempty"`
}
