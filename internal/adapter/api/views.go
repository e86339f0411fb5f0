package api

import (
	"encoding/json"
	"strconv"

	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
)

// What the store keeps, as the API shows it (the wire types, which the
// console reads too). The subscription's own view is Server.view: it
// depends on the caller and the time.

// pendingView is the change that waits for the publisher, as the store
// keeps it; nil for none.
func pendingView(pc *store.PendingChange) *wire.PendingChange {
	if pc == nil {
		return nil
	}
	return &wire.PendingChange{OperationID: pc.OperationID, Action: pc.Action, PlanID: pc.PlanID, Quantity: pc.Quantity,
		RequestedAt: pc.RequestedAt, Deadline: pc.Deadline}
}

// pendingOf is the change that waits, as a change's answer carries it.
func pendingOf(pc *payload.PendingChange) *wire.PendingChange {
	if pc == nil {
		return nil
	}
	op := pc.Operation
	return &wire.PendingChange{OperationID: op.ID, Action: op.Action, PlanID: op.PlanID, Quantity: op.Quantity,
		RequestedAt: op.RequestedAt.UTC(), Deadline: pc.Deadline.UTC()}
}

func customerView(c store.Customer) wire.Customer {
	return wire.Customer{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt}
}

// eventView is an audit line; seesMoney: the caller may see its amounts.
func eventView(e store.AuditLine, seesMoney bool) wire.Event {
	v := wire.Event{ID: "evt-" + strconv.FormatInt(e.ID, 10), Kind: e.Kind, Actor: e.Actor, At: e.At, Detail: json.RawMessage(e.Detail)}
	if !seesMoney {
		v.Detail = withoutMoney(v.Detail)
	}
	if e.ISVEventID != nil {
		v.ISVEventID = *e.ISVEventID
	}
	if e.PublisherID != nil {
		v.PublisherID = *e.PublisherID
	}
	return v
}

// notificationEvent is an outbox message as a line of the audit trail.
func notificationEvent(n store.Notification) wire.Event {
	detail, _ := json.Marshal(map[string]any{
		"type": n.Type, "recipientKind": n.RecipientKind, "recipientId": n.RecipientID, "status": n.Status, "payload": json.RawMessage(n.Payload),
	})
	return wire.Event{ID: "ntf-" + strconv.FormatInt(n.ID, 10), Kind: "notification", Actor: "system", At: n.CreatedAt, Detail: detail}
}

func chargeView(c store.Line) wire.Charge {
	return wire.Charge{ID: billing.LineID(c.Key), Reason: c.Reason, UnitPrice: c.UnitPrice, PostedAt: c.PostedAt, InvoiceID: c.InvoiceID,
		Kind: c.Kind, Amount: c.Amount, Currency: c.Currency, Quantity: c.Quantity, PeriodStart: c.PeriodStart, PeriodEnd: c.PeriodEnd,
		Description: c.Description, CreatedAt: c.CreatedAt, Dimension: c.Dimension, Usage: usageUnits(c.Charge)}
}

// usageUnits is a usage line's units beyond, as a number; nil for others.
func usageUnits(c billing.Charge) *float64 {
	if c.Reason != billing.ReasonUsage {
		return nil
	}
	u := metering.Quantity(c.Usage).Float()
	return &u
}

func invoiceLineView(l store.InvoiceLine) wire.InvoiceLine {
	return wire.InvoiceLine{
		ChargeID: billing.LineID(l.ChargeKey), SubscriptionID: l.SubscriptionID, OfferID: l.OfferID, PlanID: l.PlanID,
		PublisherID: l.PublisherID, ResellerPartnerID: l.ResellerPartnerID, Kind: l.Kind, Reason: l.Reason, Quantity: l.Quantity,
		UnitPrice: l.UnitPrice, PeriodStart: l.PeriodStart, PeriodEnd: l.PeriodEnd, Amount: l.Amount, Currency: l.Currency, PostedAt: l.PostedAt,
		Dimension: l.Dimension, Usage: usageUnits(billing.Charge{Reason: l.Reason, Usage: l.Usage}),
	}
}

func invoiceView(inv store.Invoice, lines []store.InvoiceLine) wire.Invoice {
	v := wire.Invoice{
		ID: inv.ID, Number: inv.Number, PartnerID: inv.PartnerID, CustomerID: inv.CustomerID, PeriodStart: inv.PeriodStart,
		PeriodEnd: inv.PeriodEnd, Currency: inv.Currency, IssuedAt: inv.IssuedAt, Subtotal: inv.Subtotal, Total: inv.Total,
	}
	for _, l := range lines {
		v.Lines = append(v.Lines, invoiceLineView(l))
	}
	return v
}
