// Package lifecycle is every rule of a marketplace subscription, as pure
// functions over its State: what a purchase, an ISV event, a partner's
// change or a deadline does to it at a given moment, and why one is
// refused. It does no I/O, reads no clock and knows nothing of Temporal:
// the workflow (workflows/) hands it inputs with the time they happen at,
// commits the Step it decides and arms a timer for NextDeadline; the API
// and the workflow's validators ask it the same questions.
//
// docs/lifecycle.md is its state x event table; every row runs as a case
// of TestLifecycleTable in this package.
package lifecycle

import (
	"github.com/cspmarket/orchestrator/internal/domain/billing"
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

// AwaitsPublisher reports whether the subscription waits for its ISV to
// fulfil the purchase: nothing is billed, its authorization code resolves,
// the activation deadline runs.
func (s Status) AwaitsPublisher() bool {
	return s == StatusPendingFulfillment || s == StatusProvisioned
}

// WaitsOnPublisher reports whether the next move is the ISV's: the
// fulfilment of a purchase, or its answer to a cancellation (a page shows
// it live, polling until it comes).
func (s Status) WaitsOnPublisher() bool { return s.AwaitsPublisher() || s == StatusPendingCancellation }

// QuantityCanChange reports whether licences can be added or removed.
func (s Status) QuantityCanChange() bool { return s.AwaitsPublisher() || s == StatusActive }

// Billing frequencies a plan may offer.
const (
	BillingMonthly = billing.Monthly
	BillingAnnual  = billing.Annual
)

// ISV event types of the native webhook (CONTRACT.md, ISV API).
const (
	EventProvisioned          = "subscription.provisioned"
	EventActivated            = "subscription.activated"
	EventSuspended            = "subscription.suspended"
	EventReinstated           = "subscription.reinstated"
	EventUnsubscribed         = "subscription.unsubscribed"
	EventCancellationApproved = "subscription.cancellation_approved"
	EventCancellationRejected = "subscription.cancellation_rejected"
	EventChangeApproved       = "subscription.change_approved" // the change of plan or quantity that waits is accepted
	EventChangeRejected       = "subscription.change_rejected"
)

// KnownEventType reports whether t is an ISV event type of the contract.
func KnownEventType(t string) bool {
	switch t {
	case EventProvisioned, EventActivated, EventSuspended, EventReinstated,
		EventUnsubscribed, EventCancellationApproved, EventCancellationRejected,
		EventChangeApproved, EventChangeRejected:
		return true
	}
	return false
}

// Kinds of the audit-trail lines a step writes (the ledger check reads
// them back).
const (
	KindPurchased             = "purchased"
	KindISVEventApplied       = "isv_event.applied"
	KindISVEventRejected      = "isv_event.rejected"
	KindBillingStarted        = "billing.started"
	KindInstallmentCharged    = "billing.installment_charged"
	KindInstallmentSkipped    = "billing.installment_skipped"
	KindChanged               = "changed"
	KindCancellationRequested = "cancellation.requested"
	KindCancellationLapsed    = "cancellation.lapsed"
	KindCancelled             = "cancelled"
	KindActivationDeadline    = "activation_deadline.passed"
	KindRenewalNotice         = "renewal.notice_sent"
	KindRenewed               = "renewed"
	KindExpired               = "expired"
	KindChangeRequested       = "change.requested" // a change waits for the publisher
	KindChangeRejected        = "change.rejected"
	KindChangeLapsed          = "change.lapsed"
	KindChangeFailed          = "change.failed" // accepted, but the subscription could no longer take it
	KindUsageClosed           = "usage.closed"  // usage accepted so far charged beyond the included quantity (CloseUsage)
)

// ExactLinesDetail, true in the detail of a term's KindBillingStarted or
// KindRenewed line, says the term's ledger lines are all exact (quantity x
// unitPrice = amount: licences added prorated per licence, removals and
// refunds credited per batch); the ledger check replays such a term by
// those rules, and a term without it by the rules of before.
const ExactLinesDetail = "exactLines"

// moneyDetails are the keys of audit details that hold an amount of money
// (or its currency): an agent without the billing permission sees the
// audit trail without them. A detail that starts holding money gets its
// key added here.
var moneyDetails = []string{"amount", "unitPrice", "refunded", "charged", "currency"}

// WithoutMoney is an audit detail with every amount removed.
func WithoutMoney(detail map[string]any) map[string]any {
	out := make(map[string]any, len(detail))
	for k, v := range detail {
		out[k] = v
	}
	for _, k := range moneyDetails {
		delete(out, k)
	}
	// A usage close lists its lines, each with its price.
	switch lines := out["lines"].(type) {
	case []map[string]any:
		stripped := make([]map[string]any, len(lines))
		for i, l := range lines {
			stripped[i] = WithoutMoney(l)
		}
		out["lines"] = stripped
	case []any:
		stripped := make([]any, len(lines))
		for i, l := range lines {
			if m, ok := l.(map[string]any); ok {
				stripped[i] = WithoutMoney(m)
			} else {
				stripped[i] = l
			}
		}
		out["lines"] = stripped
	}
	return out
}

// Notification types of the outbox.
const (
	NotifyPurchased             = "subscription.purchased"     // to the ISV: a purchase to provision
	NotifyActionNeeded          = "subscription.action_needed" // to the partner: finish setup on the ISV's site
	NotifyActivated             = "subscription.activated"     // to the partner: fulfilled, billing started
	NotifySuspended             = "subscription.suspended"
	NotifyReinstated            = "subscription.reinstated"
	NotifyChanged               = "subscription.changed"                // to the ISV: licences or plan details changed
	NotifyCancellationRequested = "subscription.cancellation_requested" // to the ISV: approve or reject
	NotifyCancellationRejected  = "subscription.cancellation_rejected"
	NotifyCancellationLapsed    = "subscription.cancellation_lapsed"
	NotifyCancelled             = "subscription.cancelled"
	NotifyActivationDeadline    = "subscription.activation_deadline_passed"
	NotifyRenewalUpcoming       = "subscription.renewal_upcoming"
	NotifyExpiring              = "subscription.expiring"
	NotifyRenewed               = "subscription.renewed"
	NotifyExpired               = "subscription.expired"
	NotifyChangeRequested       = "subscription.change_requested" // to the ISV: approve or reject a change of plan or quantity
	NotifyChangeRejected        = "subscription.change_rejected"  // to the partner: rejected, lapsed or failed; nothing changed
)

// Recipient kinds of notifications.
const (
	RecipientPartner   = "partner"
	RecipientPublisher = "publisher"
)

// Actors of the audit trail other than the people who act.
const (
	ActorSystem          = "system"
	actorPublisherPrefix = "publisher:"
)

// AgentActor is how the audit trail names a partner's agent.
func AgentActor(agentID string) string { return "agent:" + agentID }

// PersonActor is how it names a person signed in with the identity
// provider.
func PersonActor(personID string) string { return "person:" + personID }
