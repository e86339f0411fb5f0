package activities

import (
	"context"
	"fmt"

	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// The usage activities' payloads.
type (
	UsageClaim   = payload.UsageClaim
	ClaimedUsage = payload.ClaimedUsage
)

// ClaimUsage takes a subscription's usage not charged yet for the close
// the workflow is about to make (store.ClaimUsage). It runs as an activity
// scheduled in the history, never a local one: what it marks must be what
// the recorded result says, and a local activity's task may be discarded
// after it wrote.
func (a *Activities) ClaimUsage(ctx context.Context, c UsageClaim) ([]ClaimedUsage, error) {
	claimed, err := a.Store.ClaimUsage(ctx, c.SubscriptionID, c.Rules())
	if err != nil {
		return nil, fmt.Errorf("claim usage of subscription %s (%s): %w", c.SubscriptionID, c.Key, err)
	}
	out := make([]ClaimedUsage, 0, len(claimed))
	for _, u := range claimed {
		out = append(out, ClaimedUsage(u))
	}
	return out, nil
}

// ClaimedRules are the claim's sums as the rules take them.
func ClaimedRules(in []ClaimedUsage) []lifecycle.ClaimedUsage {
	out := make([]lifecycle.ClaimedUsage, 0, len(in))
	for _, u := range in {
		out = append(out, lifecycle.ClaimedUsage(u))
	}
	return out
}
