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
