package lifecycle

import (
	"fmt"
	"slices"
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
)

// Step is what an input does to a subscription: its state after the step
// (its Version one more), and what the step writes with it in one
// transaction: audit lines, ledger lines, notifications, the receipt of
// the ISV event it took.
type Step struct {
	State         State
	Events        []AuditEvent
	Charges       []billing.Charge
	Notifications []Notification
	// ISVEvent is the event the step took (applied or recorded as
	// rejected), whose receipt it records.
	ISVEvent *ISVEvent
	// Renewed: the term renewed; the workflow continues as new, so its
	// history stays bounded however many terms a subscription lives.
	Renewed bool
	// Pending: the change waits for the ISV (a cancellation that needs
	// its approval).
	Pending bool
	// Nothing: the input changes nothing; no step is recorded and State
	// is the state as it was.
	Nothing bool
	// Operations are the operations the step creates or settles
	// (Microsoft's SaaS Fulfillment v2 reads them).
	Operations []Operation
}

// AuditEvent is one line a step adds to the audit trail.
type AuditEvent struct {
	Kind   string
	Actor  string
	At     time.Time
	Detail map[string]any
}

// Notification is one message a step puts in the outbox.
type Notification struct {
	Type          string
	RecipientKind string // RecipientPartner or RecipientPublisher
	RecipientID   string
	Payload       map[string]any
}

// ISVEvent is one event of a subscription's ISV.
type ISVEvent struct {
	ID, Type, PublisherID string
	ReceivedAt            time.Time
	// PlanID and Quantity: the final plan and quantity an activation
	// carried (signals recorded before the webhook stopped passing them
	// on, issue 25); Plan is the catalog plan PlanID names when it is
	// another of the offer's.
	PlanID   string
	Quantity int
	Plan     *Plan
	// OperationID names the operation the event answers
	// (change_approved, change_rejected, cancellation_*), or the one it
	// is (an unsubscription the publisher asked for through Microsoft's
	// DELETE); "" for none.
	OperationID string
}

// Change is a partner's change (or a publisher's change of plan or
// quantity): every field set is applied, or none.
type Change struct {
	Actor                       string
	Nickname, ResellerPartnerID *string
	Quantity                    *int
	AutoRenew                   *bool
	BillingFrequency            *string
	Cancel                      bool
	// PlanID asks for another plan of the offer; Plan is that plan as the
	// catalog has it (the caller reads the catalog, the rules never do).
	PlanID *string
	Plan   *Plan
	// Source is SourcePublisher for a change the publisher makes itself
	// (applied at once: it is its own answer); "" for the partner's.
	Source string
	// OperationID names the operation the change creates; "" derives one.
	OperationID string
	// IfVersion, when not 0, is the version the partner last saw.
	IfVersion int64
}

// Empty reports whether the request sets nothing.
func (c Change) Empty() bool {
	return c.Nickname == nil && c.Quantity == nil && c.AutoRenew == nil && c.ResellerPartnerID == nil && c.BillingFrequency == nil && !c.Cancel && c.PlanID == nil
}

// Why a change is refused (the API's problem codes).
const (
	RefusedInvalid         = "validation_failed"          // 422, Field says which
	RefusedState           = "invalid_state"              // 409
	RefusedWindowClosed    = "cancellation_window_closed" // 409
	RefusedStale           = "precondition_failed"        // 412
	RefusedNothingToChange = "nothing_to_change"          // 200: the subscription as it is
)

// Refusal is a change (or a purchase) the subscription cannot take:
// nothing is recorded.
type Refusal struct {
	Kind    string // Refused*
	Field   string // the field a RefusedInvalid is about, "" for none
	Message string
}

func (r *Refusal) Error() string { return r.Message }

func refuse(kind, format string, args ...any) *Refusal {
	return &Refusal{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func refuseField(field, format string, args ...any) *Refusal {
	return &Refusal{Kind: RefusedInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// PlanError is a plan whose periods do not parse: it would fail every
// term, so a step that meets it fails for good instead of being retried.
// The purchase's checks refuse such a plan before anything is recorded.
type PlanError struct {
	Message string
	Err     error
}

func (e *PlanError) Error() string { return e.Message + ": " + e.Err.Error() }
func (e *PlanError) Unwrap() error { return e.Err }

// next starts the next step from s: the version moves by one. The step
// works on its own copy of the term's lines.
func next(s State) Step {
	s.Subscription.Version++
	s.TermCharges = slices.Clip(s.TermCharges)
	return Step{State: s}
}

func (st *Step) event(kind, actor string, at time.Time, detail map[string]any) {
	st.Events = append(st.Events, AuditEvent{Kind: kind, Actor: actor, At: at, Detail: detail})
}

func (st *Step) toPartner(typ string) {
	st.notify(typ, RecipientPartner, st.State.Subscription.PartnerID)
}

func (st *Step) toPublisher(typ string) {
	st.notify(typ, RecipientPublisher, st.State.Subscription.PublisherID)
}

// notify puts a message in the outbox with the subscription as it is now.
func (st *Step) notify(typ, kind, id string) {
	sub := st.State.Subscription
	st.Notifications = append(st.Notifications, Notification{Type: typ, RecipientKind: kind, RecipientID: id, Payload: map[string]any{
		"subscriptionId": sub.ID, "customerId": sub.CustomerID, "partnerId": sub.PartnerID,
		"offerId": sub.OfferID, "planId": sub.PlanID, "quantity": sub.Quantity, "status": string(sub.Status),
		"autoRenew": sub.AutoRenew, "version": sub.Version,
	}})
}

// charge adds a ledger line to the step and to the term's lines.
func (st *Step) charge(c billing.Charge) {
	st.Charges = append(st.Charges, c)
	st.State.TermCharges = append(st.State.TermCharges, c)
}
