package payload

import (
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
)

// Transition is one step of the workflow to make durable, the input of
// the CommitTransition activity: the subscription after the step (its
// Version says which step) and what the step produced.
type Transition struct {
	Subscription Subscription `json:"subscription"`
	LicenseBased bool         `json:"licenseBased"`
	// PublisherURL is the ISV's landing page of the publisher link.
	PublisherURL   string `json:"publisherUrl"`
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	RequestHash    string `json:"requestHash"`
	// AuthorizationCodeHash is set on the purchase step only.
	AuthorizationCodeHash      string       `json:"authorizationCodeHash,omitempty"`
	AuthorizationCodeExpiresAt time.Time    `json:"authorizationCodeExpiresAt"`
	Events                     []AuditEvent `json:"events,omitempty"`
	// ISVEvent is the ISV event the step took, whose receipt it records.
	ISVEvent      *ISVEvent        `json:"isvEvent,omitempty"`
	Charges       []billing.Charge `json:"charges,omitempty"`
	Notifications []Notification   `json:"notifications,omitempty"`
	// Lots are the subscription's batches of licences after the step, for
	// its refundableQuantity; empty once it has ended.
	Lots billing.Lots `json:"lots,omitempty"`
	// Operations are the operations the step creates or settles, and
	// PendingChange the change that waits after it (issue 27).
	Operations    []Operation    `json:"operations,omitempty"`
	PendingChange *PendingChange `json:"pendingChange,omitempty"`
	// Fence is the workflow task attempt committing the step
	// (activities.StepFence); "" for steps of runs that commit only by
	// scheduled activities.
	Fence string `json:"fence,omitempty"`
	// Metering is a metered subscription's dimensions and the usage
	// period it counts in after the step (issue 28).
	Metering *Metering `json:"metering,omitempty"`
}

// Metering is what a step tells the store of a metered subscription.
type Metering struct {
	Dimensions []metering.Dimension `json:"dimensions,omitempty"`
	Period     *UsagePeriod         `json:"period,omitempty"`
	// Periods are the periods late usage may still come for, and Gaps
	// the times the subscription did not count (acceptance checks an
	// event against the period it falls in, and refuses one in a gap).
	Periods []UsagePeriod  `json:"periods,omitempty"`
	Gaps    []metering.Gap `json:"gaps,omitempty"`
}

// AuditEvent is one line the step adds to the audit trail.
type AuditEvent struct {
	Kind   string         `json:"kind"`
	Actor  string         `json:"actor"`
	At     time.Time      `json:"at"`
	Detail map[string]any `json:"detail,omitempty"`
}

// Notification is one message the step puts in the outbox.
type Notification struct {
	Type          string         `json:"type"`
	RecipientKind string         `json:"recipientKind"`
	RecipientID   string         `json:"recipientId"`
	Payload       map[string]any `json:"payload,omitempty"`
}

// CommitReceipt answers CommitTransition: the step's version and the task
// attempt it was committed for. It is recorded in the history with the
// commit (the local activity's marker or the activity's completion), which
// is how a delivery knows its step is not from a discarded task.
type CommitReceipt struct {
	Version int64  `json:"version"`
	Fence   string `json:"fence,omitempty"`
}

// TransitionOf is a step the rules decided, in the run started with in,
// as the commit activity takes it (the shell adds the fence, and the
// purchase's code).
func TransitionOf(step lifecycle.Step, in PurchaseInput) Transition {
	s := step.State
	t := Transition{
		Subscription: SubscriptionOf(s.Subscription), LicenseBased: in.LicenseBased, PublisherURL: s.Subscription.PublisherURL,
		IdempotencyKey: in.IdempotencyKey, RequestHash: in.RequestHash, Charges: step.Charges,
	}
	if e := step.ISVEvent; e != nil {
		t.ISVEvent = &ISVEvent{ID: e.ID, Type: e.Type, PublisherID: e.PublisherID, ReceivedAt: e.ReceivedAt, PlanID: e.PlanID, Quantity: e.Quantity, OperationID: e.OperationID}
		if e.Plan != nil {
			p := Plan(*e.Plan)
			t.ISVEvent.Plan = &p
		}
	}
	for _, e := range step.Events {
		t.Events = append(t.Events, AuditEvent(e))
	}
	for _, n := range step.Notifications {
		t.Notifications = append(t.Notifications, Notification(n))
	}
	if !s.Subscription.Status.Terminal() {
		t.Lots = s.WindowedLots()
	}
	for _, op := range step.Operations {
		t.Operations = append(t.Operations, Operation(op))
	}
	t.PendingChange = PendingChangeOf(s.PendingChange)
	if m := s.Meter; m != nil {
		t.Metering = &Metering{Dimensions: s.Plan.Dimensions, Gaps: m.Gaps}
		for _, p := range m.Periods {
			t.Metering.Periods = append(t.Metering.Periods, UsagePeriod(p))
		}
		if m.Open && len(m.Periods) > 0 {
			p := UsagePeriod(m.Periods[len(m.Periods)-1])
			t.Metering.Period = &p
		}
	}
	return t
}

// InvoicingInput says which month the invoicing workflow invoices.
type InvoicingInput struct {
	// Month is YYYY-MM (UTC). Empty when the schedule starts the run: the
	// month that just ended, invoiced by its own run.
	Month string `json:"month,omitempty"`
	// CloseEarly invoices a month that has not ended yet, up to now (demos
	// and tests): what is recorded later in the month goes on the next
	// invoice.
	CloseEarly bool `json:"closeEarly,omitempty"`
}

// InvoicingResult says what an invoicing run did.
type InvoicingResult struct {
	Month string `json:"month"`
	// Issued is how many invoices this run issued; AlreadyIssued how many
	// it found issued before (a repeated run issues nothing twice).
	Issued        int `json:"issued"`
	AlreadyIssued int `json:"alreadyIssued"`
	// AlreadyRun is set when the scheduled run found the month's run
	// started before (by the schedule or on demand).
	AlreadyRun bool `json:"alreadyRun,omitempty"`
}

// UsageClaim is the ClaimUsage activity's input: the close's claim of a
// subscription's usage (lifecycle.UsageClaim).
type UsageClaim struct {
	SubscriptionID string        `json:"subscriptionId"`
	Key            string        `json:"key"`
	Through        time.Time     `json:"through,omitzero"`
	Periods        []UsageBounds `json:"periods,omitempty"`
}

// UsageBounds are one usage period's bounds.
type UsageBounds struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ClaimedUsage is one period's and dimension's usage a claim found.
type ClaimedUsage struct {
	Period    int               `json:"period"`
	Dimension string            `json:"dimension"`
	Before    metering.Quantity `json:"before"`
	Claimed   metering.Quantity `json:"claimed"`
}

// UsageClaimOf is the rules' claim as the activity takes it.
func UsageClaimOf(subscriptionID string, c lifecycle.UsageClaim) UsageClaim {
	out := UsageClaim{SubscriptionID: subscriptionID, Key: c.Key, Through: c.Through}
	for _, b := range c.Periods {
		out.Periods = append(out.Periods, UsageBounds(b))
	}
	return out
}

// Rules is the claim as the rules know it.
func (c UsageClaim) Rules() lifecycle.UsageClaim {
	out := lifecycle.UsageClaim{Key: c.Key, Through: c.Through}
	for _, b := range c.Periods {
		out.Periods = append(out.Periods, lifecycle.UsageBounds(b))
	}
	return out
}
