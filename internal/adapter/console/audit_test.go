package console

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	marketplace "github.com/cspmarket/orchestrator/internal/domain/catalog"
)

// The audit trail reads as sentences with names and amounts, in the
// page's language; the outbox's messages are left out (issue 25: raw
// kinds, "agent:agt_dev_admin" and a "notification" row per message).
func TestTheAuditTrailReadsAsWords(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	lines := []wire.Event{
		{Kind: "purchased", Actor: "agent:agt_dev_admin", ActorName: "Dev admin agent", At: at, Detail: detail(map[string]any{"quantity": 5.0, "billingFrequency": "monthly"})},
		{Kind: "notification", Actor: "system", At: at},
		{Kind: "isv_event.applied", Actor: "publisher:isv-demo", ActorName: "Contoso ISV (demo)", At: at, Detail: detail(map[string]any{"type": "subscription.activated", "from": "pending_fulfillment", "to": "active"})},
		{Kind: "billing.installment_charged", Actor: "system", At: at, Detail: detail(map[string]any{"amount": 6000.0, "currency": "USD", "quantity": 5.0})},
		{Kind: "changed", Actor: "agent:agt_gone", At: at, Detail: detail(map[string]any{"quantity": 2.0, "autoRenew": false, "nickname": "Seats"})},
		{Kind: "cancelled", Actor: "agent:agt_dev_admin", ActorName: "Dev admin agent", At: at, Detail: detail(map[string]any{"refunded": 2400.0, "currency": "USD"})},
		{Kind: "billing.installment_charged", Actor: "system", At: at, Detail: detail(map[string]any{"quantity": 5.0})}, // as a sales agent gets it
	}
	rows := auditRows("en", lines)
	assert.Len(t, rows, 6, "no notification row")
	assert.Equal(t, auditRow{At: at, What: "Bought", Facts: "5 licences · billed monthly", Who: "Dev admin agent"}, rows[0])
	assert.Equal(t, "Publisher's update applied", rows[1].What)
	assert.Equal(t, "purchase confirmed · Pending fulfillment → Active", rows[1].Facts)
	assert.Equal(t, "Contoso ISV (demo)", rows[1].Who)
	assert.Equal(t, "60.00 USD · 5 licences", rows[2].Facts)
	assert.Equal(t, "Marketplace", rows[2].Who)
	assert.Equal(t, "nickname \u201cSeats\u201d · 2 licences · does not renew", rows[3].Facts)
	assert.Equal(t, "agent:agt_gone", rows[3].Who, "an actor without a name stays as recorded")
	assert.Equal(t, "24.00 USD refunded", rows[4].Facts)
	assert.Equal(t, "5 licences", rows[5].Facts, "no amount where the API gave none")

	// An ISV event type the console has no words for yet reads as its
	// name (a new type needs no change here to be shown).
	unknown := auditRows("en", []wire.Event{{Kind: "isv_event.applied", Actor: "system", At: at,
		Detail: detail(map[string]any{"type": "subscription.paused"})}})
	assert.Equal(t, "subscription.paused", unknown[0].Facts)

	fr := auditRows("fr", lines)
	assert.Equal(t, "Achat", fr[0].What)
	assert.Equal(t, "5 licences · facturation mensuelle", fr[0].Facts)
	assert.Equal(t, "Place de marché", fr[2].Who)
	for _, kind := range []string{"purchased", "isv_event.received", "isv_event.applied", "isv_event.rejected", "billing.started", "billing.installment_charged",
		"billing.installment_skipped", "changed", "cancellation.requested", "cancellation.lapsed", "cancelled", "activation_deadline.passed",
		"renewal.notice_sent", "renewed", "expired", "usage.closed"} {
		assert.Contains(t, catalog["en"], "audit.kind."+kind, "every kind the workflow writes has words")
	}
}

func TestNamesFallBackToIDs(t *testing.T) {
	n := namesOf(marketplace.Dev().Offers)
	assert.Equal(t, "Contoso CRM", n.Offer("contoso-crm"))
	assert.Equal(t, "Contoso CRM monthly", n.Plan("contoso-crm", "monthly"))
	assert.Equal(t, "retired-offer", n.Offer("retired-offer"))
	assert.Equal(t, "gone", n.Plan("contoso-crm", "gone"))
}

func detail(m map[string]any) json.RawMessage {
	b, _ := json.Marshal(m)
	return b
}
