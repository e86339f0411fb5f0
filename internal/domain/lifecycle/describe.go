package lifecycle

import (
	"fmt"
	"strings"
	"time"
)

// Describe is the human summary of a subscription operators read in the
// Temporal Web UI (its workflow's current details).
func Describe(s State) string {
	sub := s.Subscription
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** — %s / %s × %d for customer %s of partner %s (v%d)", sub.Status, sub.OfferID, sub.PlanID, sub.Quantity, sub.CustomerID, sub.PartnerID, sub.Version)
	switch sub.Status {
	case StatusPendingFulfillment:
		fmt.Fprintf(&b, "\n\nWaiting for ISV %s to provision (action needed by the partner).", sub.PublisherID)
	case StatusProvisioned:
		fmt.Fprintf(&b, "\n\nLicences assigned; waiting for ISV %s to confirm fulfillment. Billing has not started.", sub.PublisherID)
	case StatusActive, StatusSuspended:
		if sub.TermEnd != nil {
			renew := "expires"
			if sub.AutoRenew {
				renew = "renews"
			}
			fmt.Fprintf(&b, "\n\nTerm %d ends %s and %s. Billed %s.", s.TermNumber, sub.TermEnd.Format(time.RFC3339), renew, sub.BillingFrequency)
		}
		if sub.Status == StatusSuspended {
			b.WriteString(" Billing is paused.")
		}
	case StatusPendingCancellation:
		if pc := s.PendingCancellation; pc != nil {
			fmt.Fprintf(&b, "\n\nCancellation requested %s; waiting for ISV %s until %s.", pc.RequestedAt.Format(time.RFC3339), sub.PublisherID, pc.Deadline.Format(time.RFC3339))
		}
	}
	if sub.CancellationWindowEndsAt != nil && !sub.Status.Terminal() {
		fmt.Fprintf(&b, "\n\nCancellation window until %s.", sub.CancellationWindowEndsAt.Format(time.RFC3339))
	}
	return b.String()
}
