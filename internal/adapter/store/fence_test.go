package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// fencedStep is one step as a local commit writes it: the subscription at
// version v and one line of each kind, all named by tag (the same step of
// a discarded task and of its retry have the same keys but the kind of
// event and the type of notification they differ by).
func fencedStep(partnerID, customerID string, v int64, fence, tag string, quantity int) store.Step {
	row := purchased("sub_f", partnerID, customerID, v)
	row.Quantity, row.Fence = quantity, fence
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	return store.Step{
		Subscription: row,
		Events:       []lifecycle.AuditEvent{{Kind: tag, Actor: "agent:a", At: at}},
		Charges: []billing.Charge{{Key: "sub_f/" + tag + "/charge", SubscriptionID: "sub_f", PartnerID: partnerID, Kind: "charge", Amount: int64(quantity) * 100,
			Currency: "USD", Quantity: quantity, PeriodStart: at, PeriodEnd: at.AddDate(0, 1, 0), Description: tag, Reason: "installment", UnitPrice: 100, PostedAt: at}},
		Notifications: []lifecycle.Notification{{RecipientKind: "partner", RecipientID: partnerID, Type: tag}},
	}
}

func keysOf(t *testing.T, s *store.Store) (events, charges, notifications []string) {
	t.Helper()
	ctx := context.Background()
	es, err := s.Events(ctx, "sub_f")
	require.NoError(t, err)
	for _, e := range es {
		events = append(events, e.Kind)
	}
	cs, err := s.Charges(ctx, "sub_f")
	require.NoError(t, err)
	for _, c := range cs {
		charges = append(charges, c.Key)
	}
	ns, err := s.Notifications(ctx, "sub_f")
	require.NoError(t, err)
	for _, n := range ns {
		notifications = append(notifications, n.Type)
	}
	return events, charges, notifications
}

// A workflow task commits two steps by local activities and is then
// discarded (its worker died before completing it); the task's retry
// takes other steps at the same versions (an Update delivered in another
// order). What the discarded attempt wrote must not survive: not its
// projection, nor its lines, nor its notifications; and its late write,
// arriving after the retry's, must be refused.
func TestAFencedRetryReplacesWhatADiscardedTaskWrote(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		partnerID, customerID := seedTenant(t, s)
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		purchase := activities.StepFence(0, 3, at, false)
		discarded := activities.StepFence(0, 9, at.Add(time.Second), false)
		retry := activities.StepFence(0, 9, at.Add(12*time.Second), false) // the same task, after its timeout
		later := activities.StepFence(0, 15, at.Add(13*time.Second), false)

		_, err := s.ApplyStep(ctx, fencedStep(partnerID, customerID, 1, purchase, "v1", 3))
		require.NoError(t, err)
		_, err = s.ApplyStep(ctx, fencedStep(partnerID, customerID, 2, discarded, "v2-discarded", 7))
		require.NoError(t, err)
		_, err = s.ApplyStep(ctx, fencedStep(partnerID, customerID, 3, discarded, "v3-discarded", 9))
		require.NoError(t, err)

		moved, err := s.ApplyStep(ctx, fencedStep(partnerID, customerID, 2, retry, "v2-retry", 4))
		require.NoError(t, err)
		assert.False(t, moved, "a version counted already (the business counters count a version once)")
		row, err := s.SubscriptionByID(ctx, "sub_f")
		require.NoError(t, err)
		assert.Equal(t, int64(2), row.Version, "the retry's step is the stored state, though the discarded task had reached v3")
		assert.Equal(t, 4, row.Quantity)
		events, charges, notifications := keysOf(t, s)
		assert.Equal(t, []string{"v1", "v2-retry"}, events)
		assert.Equal(t, []string{"sub_f/v1/charge", "sub_f/v2-retry/charge"}, charges)
		assert.Equal(t, []string{"v1", "v2-retry"}, notifications)

		_, err = s.ApplyStep(ctx, fencedStep(partnerID, customerID, 3, discarded, "v3-discarded", 9))
		assert.ErrorIs(t, err, store.ErrStaleAttempt, "a late write of the discarded task")
		moved, err = s.ApplyStep(ctx, fencedStep(partnerID, customerID, 2, retry, "v2-retry", 4))
		require.NoError(t, err, "the retry's commit retried")
		assert.False(t, moved)
		_, err = s.ApplyStep(ctx, fencedStep(partnerID, customerID, 3, later, "v3", 5))
		require.NoError(t, err)
		_, err = s.ApplyStep(ctx, fencedStep(partnerID, customerID, 2, retry, "v2-retry", 4))
		assert.ErrorIs(t, err, store.ErrStaleAttempt, "an attempt of an earlier task after a later one wrote")

		row, err = s.SubscriptionByID(ctx, "sub_f")
		require.NoError(t, err)
		assert.Equal(t, int64(3), row.Version)
		assert.Equal(t, 5, row.Quantity)
		assert.Equal(t, later, row.Fence)
		events, charges, notifications = keysOf(t, s)
		assert.Equal(t, []string{"v1", "v2-retry", "v3"}, events)
		assert.Equal(t, []string{"sub_f/v1/charge", "sub_f/v2-retry/charge", "sub_f/v3/charge"}, charges)
		assert.Equal(t, []string{"v1", "v2-retry", "v3"}, notifications)
	})
}

// Fences compare as the tasks were taken: by run, then history length,
// then start time, whatever the digits; in a reset run, by start time.
func TestStepFencesOrderRunsThenTasksThenAttempts(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ordered := []string{
		activities.StepFence(0, 9, at.Add(time.Hour), false),
		activities.StepFence(0, 10, at, false),
		activities.StepFence(0, 10, at.Add(time.Nanosecond), false),
		activities.StepFence(0, 100, at, false),
		activities.StepFence(1, 3, at.Add(time.Hour), false),
		activities.StepFence(2, 3, at.Add(90*time.Minute), false),
		// An operator reset run 0 after the chain continued as new: the
		// reset run's tasks come after every task of before the reset,
		// whatever their run and length; its successors, and a second
		// reset, after them.
		activities.StepFence(0, 4, at.Add(2*time.Hour), true),
		activities.StepFence(0, 3, at.Add(3*time.Hour), true),
		activities.StepFence(0, 3, at.Add(3*time.Hour+time.Nanosecond), true),
		activities.StepFence(0, 4, at.Add(3*time.Hour+time.Nanosecond), true),
		activities.StepFence(1, 3, at.Add(4*time.Hour), true),
	}
	for i := 1; i < len(ordered); i++ {
		assert.Less(t, ordered[i-1], ordered[i])
	}
}
