package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// TestAPullerNeverSkipsANotificationCommittedOutOfIDOrder: Postgres hands
// out ids when rows are inserted, not when they commit. Two steps commit
// at once; the first to insert its notification stalls before its commit
// (a trigger sleeps), the second commits at once with a larger id. A
// puller paging "after the last id" read the larger one, moved past the
// smaller one and never saw it. Every notification must reach a puller
// that follows the page tokens, whatever the timing of the commits.
func TestAPullerNeverSkipsANotificationCommittedOutOfIDOrder(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := context.Background()
	partnerID, customerID := seedTenant(t, s)
	for _, ddl := range []string{
		`CREATE FUNCTION stall_slow_step() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN IF NEW.subscription_id = 'sub_slow' THEN PERFORM pg_sleep(1.5); END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER stall_slow_step AFTER INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION stall_slow_step()`,
	} {
		_, err := s.DB().ExecContext(ctx, ddl)
		require.NoError(t, err)
	}
	step := func(subscriptionID string) store.Step {
		return store.Step{
			Subscription:  purchased(subscriptionID, partnerID, customerID, 1),
			Notifications: []lifecycle.Notification{{RecipientKind: "partner", RecipientID: partnerID, Type: "subscription.purchased"}},
		}
	}
	commit := func(subscriptionID string, done chan<- error) {
		_, err := s.ApplyStep(ctx, step(subscriptionID))
		done <- err
	}

	slowDone, fastDone := make(chan error, 1), make(chan error, 1)
	go commit("sub_slow", slowDone)
	// The slow step has taken its id once the sequence has moved.
	require.Eventually(t, func() bool {
		var called bool
		return s.DB().QueryRowContext(ctx, "SELECT is_called FROM notifications_id_seq").Scan(&called) == nil && called
	}, 5*time.Second, 10*time.Millisecond)
	go commit("sub_fast", fastDone)

	seen := map[string]bool{}
	var after int64
	pull := func() {
		rows, err := s.Outbox(ctx, "partner", partnerID, "", after, 10)
		require.NoError(t, err)
		for _, r := range rows {
			seen[r.SubscriptionID] = true
			after = r.ID
		}
	}
	var slowErr, fastErr error
	for pending := 2; pending > 0; {
		select {
		case slowErr = <-slowDone:
			pending--
		case fastErr = <-fastDone:
			pending--
		case <-time.After(20 * time.Millisecond):
		}
		pull()
	}
	require.NoError(t, slowErr)
	require.NoError(t, fastErr)
	pull()
	require.Equal(t, map[string]bool{"sub_slow": true, "sub_fast": true}, seen, "every notification reaches the puller")
}
