// Package audit names the kinds of a subscription's audit-trail lines: the
// workflow writes them, the ledger check reads them back.
package audit

// Kinds of audit-trail lines the subscription workflow writes.
const (
	Purchased             = "purchased"
	ISVEventApplied       = "isv_event.applied"
	ISVEventRejected      = "isv_event.rejected"
	BillingStarted        = "billing.started"
	InstallmentCharged    = "billing.installment_charged"
	InstallmentSkipped    = "billing.installment_skipped"
	Changed               = "changed"
	CancellationRequested = "cancellation.requested"
	CancellationLapsed    = "cancellation.lapsed"
	Cancelled             = "cancelled"
	ActivationDeadline    = "activation_deadline.passed"
	RenewalNotice         = "renewal.notice_sent"
	Renewed               = "renewed"
	Expired               = "expired"
)

// ExactLinesDetail, true in the detail of a term's BillingStarted or
// Renewed line, says the term's ledger lines are all exact (quantity x
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
	return out
}
