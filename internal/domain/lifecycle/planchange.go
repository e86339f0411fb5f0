package lifecycle

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/period"
)

// Operations are what Microsoft's SaaS Fulfillment API v2 calls the moves a
// publisher is told of and may answer: every step that is one records it
// (Step.Operations), so both dialects read the same history.
const (
	ActionChangePlan     = "ChangePlan"
	ActionChangeQuantity = "ChangeQuantity"
	ActionSuspend        = "Suspend"
	ActionReinstate      = "Reinstate"
	ActionUnsubscribe    = "Unsubscribe"
	ActionRenew          = "Renew"
)

// Statuses of an operation.
const (
	OperationInProgress = "InProgress" // waits for the publisher's answer
	OperationSucceeded  = "Succeeded"
	OperationFailed     = "Failed" // rejected, lapsed, or dropped when the subscription left active
)

// Who asked for an operation, as Microsoft's operationRequestSource says it:
// "Azure" is the marketplace's side (here the partner, or the product
// itself), "Partner" the publisher's own (Microsoft calls ISVs partners).
const (
	SourceMarketplace = "Azure"
	SourcePublisher   = "Partner"
)

// Operation is one operation of a subscription, as a step creates or
// settles it.
type Operation struct {
	ID, Action, Status string
	PlanID             string
	Quantity           int
	Source             string
	RequestedAt        time.Time
	// Reason says why an operation failed.
	Reason string
}

// PendingChange is a change of plan or quantity waiting for the
// publisher's answer: the subscription keeps its plan, quantity and status
// until it comes (or the deadline passes).
type PendingChange struct {
	Operation Operation
	// Plan is the plan asked for, when the plan changes.
	Plan     *Plan
	Deadline time.Time
	Actor    string
}

// OperationIDFor is the id of the operation a step creates when nobody
// named one: derived from the subscription and the step's version, so a
// replayed or retried step makes the same id. It is a UUID (version 8), as
// Microsoft's operation ids are.
func OperationIDFor(subscriptionID string, version int64) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "operation\n%s\n%d", subscriptionID, version))
	sum[6] = sum[6]&0x0f | 0x80
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// changesPlan reports whether the change asks for another plan.
func (c Change) changesPlan(s State) bool {
	return c.PlanID != nil && *c.PlanID != s.Subscription.PlanID
}

// waitsForPublisher reports whether the change is applied only once the
// publisher accepts it: a partner's change of plan always (a new plan is a
// new provisioning), of quantity when the plan says so. A change the
// publisher makes itself is its own answer.
func waitsForPublisher(s State, c Change) bool {
	if c.Source == SourcePublisher {
		return false
	}
	quantity := c.Quantity != nil && *c.Quantity != s.Subscription.Quantity
	return c.changesPlan(s) || (quantity && s.Plan.ChangesRequirePublisher && s.Subscription.Status == StatusActive)
}

// checkPlanOrQuantityOperation refuses what a change of plan, or one that
// waits for the publisher, cannot be: combined with other fields, made
// while another waits, on a subscription that is not active, or to a plan
// that cannot take the subscription's term, billing and licences.
func checkPlanOrQuantityOperation(s State, c Change, rules Rules) error {
	sub := s.Subscription
	quantity := c.Quantity != nil && *c.Quantity != sub.Quantity
	if s.PendingChange != nil && (quantity || c.changesPlan(s)) {
		return refuse(RefusedState, "a change (operation %s) already waits for the publisher until %s", s.PendingChange.Operation.ID, s.PendingChange.Deadline.Format(time.RFC3339))
	}
	if c.Source == SourcePublisher && sub.Status != StatusActive {
		// Before activation the purchase stands as the partner bought it
		// (an activation cannot change it either, issue 25): a publisher
		// that raised the licences first would bill them at activation.
		return refuse(RefusedState, "a publisher changes the plan or the quantity of an active subscription only; this one is %s", sub.Status)
	}
	if !c.changesPlan(s) && !waitsForPublisher(s, c) {
		return nil
	}
	if !rules.PlanChanges {
		return refuse(RefusedState, "this subscription's plan and quantity changes wait for the publisher from its next term (it began before they could)")
	}
	if c.changesPlan(s) && quantity {
		return refuseField("planId", "change the plan or the quantity, one at a time")
	}
	if c.Nickname != nil || c.AutoRenew != nil || c.ResellerPartnerID != nil || c.BillingFrequency != nil || c.Cancel {
		return refuseField("", "a change that waits for the publisher is a request of its own: send the other fields apart")
	}
	if sub.Status != StatusActive {
		return refuse(RefusedState, "the plan of a %s subscription cannot change: only an active one's can", sub.Status)
	}
	if !s.ExactLines {
		return refuse(RefusedState, "this term's ledger lines are of before plan changes: the plan can change from the next term")
	}
	if !c.changesPlan(s) {
		return nil
	}
	p := c.Plan
	if p == nil || p.ID != *c.PlanID {
		return refuseField("planId", "plan %q is not a plan of offer %s", *c.PlanID, sub.OfferID)
	}
	switch {
	case p.TermDuration != s.Plan.TermDuration:
		return refuseField("planId", "plan %s has a term of %s, this subscription's is %s: a plan of another term is a new purchase", p.ID, p.TermDuration, s.Plan.TermDuration)
	case p.Currency != s.Plan.Currency:
		return refuseField("planId", "plan %s is priced in %s, this subscription in %s", p.ID, p.Currency, s.Plan.Currency)
	case !p.OffersBillingFrequency(sub.BillingFrequency):
		return refuseField("planId", "plan %s cannot be billed %s, as this subscription is", p.ID, sub.BillingFrequency)
	}
	if e := fields.Quantity(sub.Quantity, p.MinQuantity, p.MaxQuantity, p.ID); e != nil {
		return refuseField("planId", "plan %s cannot take this subscription's %d licences: %s", p.ID, sub.Quantity, e.Message)
	}
	if _, err := period.Parse(p.CancellationWindow); err != nil {
		return refuseField("planId", "plan %s has a bad cancellation window", p.ID)
	}
	return nil
}

// requestChange records a change that waits for the publisher: the
// operation in progress, the publisher asked, the partner's answer pending.
func (st *Step) requestChange(c Change, now time.Time) error {
	s := &st.State
	sub := s.Subscription
	window := s.Settings.CancellationApprovalTimeout
	if s.Plan.ChangeApprovalWindow != "" {
		p, err := period.Parse(s.Plan.ChangeApprovalWindow)
		if err != nil {
			return &PlanError{"plan has a bad change approval window", err}
		}
		window = p.AddTo(now).Sub(now)
	}
	op := Operation{ID: c.OperationID, Action: ActionChangeQuantity, Status: OperationInProgress, PlanID: sub.PlanID, Quantity: sub.Quantity,
		Source: SourceMarketplace, RequestedAt: now}
	if op.ID == "" {
		op.ID = OperationIDFor(sub.ID, sub.Version)
	}
	pc := &PendingChange{Deadline: now.Add(window), Actor: c.Actor}
	detail := map[string]any{"operationId": op.ID, "deadline": pc.Deadline}
	if c.changesPlan(*s) {
		op.Action, op.PlanID = ActionChangePlan, c.Plan.ID
		plan := *c.Plan
		pc.Plan = &plan
		detail["planId"] = plan.ID
	} else {
		op.Quantity = *c.Quantity
		detail["quantity"] = op.Quantity
	}
	pc.Operation = op
	s.PendingChange = pc
	st.Pending = true
	st.Operations = append(st.Operations, op)
	st.event(KindChangeRequested, c.Actor, now, detail)
	st.notifyOperation(NotifyChangeRequested, RecipientPublisher, sub.PublisherID, op)
	return nil
}

// answerChange takes the publisher's answer to the change that waits: an
// approval applies it (re-checked: a removal of licences whose windows
// closed meanwhile fails), a rejection drops it.
func (st *Step) answerChange(e ISVEvent, now time.Time, rules Rules) error {
	s := &st.State
	pc := s.PendingChange
	s.PendingChange = nil
	op := pc.Operation
	if e.Type == EventChangeRejected {
		st.settle(op, OperationFailed, "rejected by the publisher", now, KindChangeRejected, NotifyChangeRejected)
		return nil
	}
	if pc.Plan == nil && op.Quantity < s.Subscription.Quantity {
		if err := removable(*s, now, s.Subscription.Quantity-op.Quantity, s.inWindow(now), rules); err != nil {
			st.settle(op, OperationFailed, err.Error(), now, KindChangeFailed, NotifyChangeRejected)
			return nil
		}
	}
	changed := map[string]any{"operationId": op.ID, "approvedBy": actorPublisherPrefix + e.PublisherID}
	if pc.Plan != nil {
		if err := st.changePlan(*pc.Plan, now, changed); err != nil {
			return err
		}
	} else {
		if err := st.changeQuantity(op.Quantity, now, rules); err != nil {
			return err
		}
		changed["quantity"] = op.Quantity
	}
	op.Status = OperationSucceeded
	st.Operations = append(st.Operations, op)
	st.event(KindChanged, pc.Actor, now, changed)
	st.toPartner(NotifyChanged)
	st.notifyOperation(NotifyChanged, RecipientPublisher, s.Subscription.PublisherID, op)
	return nil
}

// settle ends an operation that changed nothing: failed, with why, the
// partner told.
func (st *Step) settle(op Operation, status, reason string, now time.Time, kind, notify string) {
	op.Status, op.Reason = status, reason
	st.Operations = append(st.Operations, op)
	st.event(kind, ActorSystem, now, map[string]any{"operationId": op.ID, "reason": reason})
	st.toPartner(notify)
}

// dropPendingChange fails the change that waits once the subscription is
// no longer active: it could not be applied as it was asked.
func (st *Step) dropPendingChange(now time.Time) {
	s := &st.State
	if s.PendingChange == nil || s.Subscription.Status == StatusActive {
		return
	}
	op := s.PendingChange.Operation
	s.PendingChange = nil
	st.settle(op, OperationFailed, "the subscription is "+string(s.Subscription.Status), now, KindChangeFailed, NotifyChangeRejected)
}

// changePlan moves the subscription to plan at now, the term kept: the
// rest of the installment now billed is credited at the old plan's price
// and charged at the new one's (billing.PlanChanged), and later
// installments and renewals bill the new plan.
func (st *Step) changePlan(plan Plan, now time.Time, changed map[string]any) error {
	s := &st.State
	sub := &s.Subscription
	from, err := s.schedule()
	if err != nil {
		return err
	}
	changed["fromPlanId"], changed["fromUnitPrice"] = sub.PlanID, sub.UnitPrice
	st.cutUsagePeriod(now)
	s.Plan = plan
	sub.PlanID, sub.UnitPrice = plan.ID, plan.UnitPrice
	to, err := s.schedule()
	if err != nil {
		return err
	}
	changed["planId"], changed["unitPrice"] = plan.ID, plan.UnitPrice
	if s.NextInstallment == 0 {
		return nil
	}
	lines, perLicence := billing.PlanChanged(from, to, s.subject(), s.TermNumber, *sub.TermStart, *sub.TermEnd, s.NextInstallment-1, now)
	s.Lots = s.currentLots().Repriced(perLicence)
	for _, c := range lines {
		st.charge(c)
	}
	return nil
}

// recordOperation records a step the publisher is told of as a settled
// operation (suspension, reinstatement, unsubscription, renewal, a
// change of quantity that did not wait), so the operations list shows the
// subscription's whole story.
func (st *Step) recordOperation(action, source, id string, now time.Time) Operation {
	sub := st.State.Subscription
	if id == "" {
		id = OperationIDFor(sub.ID, sub.Version)
	}
	op := Operation{ID: id, Action: action, Status: OperationSucceeded, PlanID: sub.PlanID, Quantity: sub.Quantity, Source: source, RequestedAt: now}
	st.Operations = append(st.Operations, op)
	return op
}

// notifyOperation puts a message in the outbox naming the operation it is
// about, which Microsoft's webhook dialect needs.
func (st *Step) notifyOperation(typ, kind, id string, op Operation) {
	st.notify(typ, kind, id)
	n := &st.Notifications[len(st.Notifications)-1]
	n.Payload["operation"] = map[string]any{"id": op.ID, "action": op.Action, "status": op.Status, "source": op.Source, "planId": op.PlanID, "quantity": op.Quantity}
}

// failPendingCancellation puts the subscription back as it was before the
// cancellation that waits, its operation failed with why.
func (st *Step) failPendingCancellation(reason string, now time.Time) {
	s := &st.State
	pc := s.PendingCancellation
	s.Subscription.Status = pc.PreviousStatus
	s.PendingCancellation = nil
	if pc.OperationID != "" {
		st.Operations = append(st.Operations, Operation{ID: pc.OperationID, Action: ActionUnsubscribe, Status: OperationFailed,
			PlanID: s.Subscription.PlanID, Quantity: s.Subscription.Quantity, Source: SourceMarketplace, RequestedAt: pc.RequestedAt, Reason: reason})
	}
}
