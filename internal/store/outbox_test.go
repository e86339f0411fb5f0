package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/store"
	"github.com/cspmarket/orchestrator/internal/store/storetest"
)

// TestAPullerNeverSkipsANotificationCommittedOutOfIDOrder: Postgres hands
// out ids when rows are inserted, not when they commit, so a notification
// with a smaller id can become visible after a larger one. A puller that
// pages by "after the last id" read the larger one, moved its cursor past
// the smaller one and never saw it. Every notification must reach a
// puller that follows the page tokens, whatever order they commit in.
func TestAPullerNeverSkipsANotificationCommittedOutOfIDOrder(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		notification := func(key string) *store.NotificationRow {
			return &store.NotificationRow{Key: key, SubscriptionID: "sub_o", RecipientKind: "publisher", RecipientID: "isv-o",
				Type: "subscription.purchased", Payload: "{}", Status: store.NotificationPending, CreatedAt: time.Now().UTC()}
		}
		seen := map[string]bool{}
		cursor := store.OutboxStart
		pull := func() {
			for {
				rows, err := s.Outbox(ctx, "publisher", "isv-o", "", cursor, 10)
				require.NoError(t, err)
				for _, r := range rows {
					seen[r.Key] = true
				}
				if len(rows) == 0 {
					return
				}
				cursor = rows[len(rows)-1].Cursor()
			}
		}

		slow, err := s.DB().BeginTx(ctx, nil)
		if s.Dialect() == "sqlite" {
			// One writer at a time: ids commit in order; nothing to race.
			require.NoError(t, err)
			require.NoError(t, slow.Rollback())
			_, err = s.DB().NewInsert().Model(notification("first")).Exec(ctx)
			require.NoError(t, err)
			_, err = s.DB().NewInsert().Model(notification("second")).Exec(ctx)
			require.NoError(t, err)
			pull()
			require.Equal(t, map[string]bool{"first": true, "second": true}, seen)
			return
		}
		require.NoError(t, err)
		_, err = slow.NewInsert().Model(notification("slow")).Exec(ctx) // the smaller id, not committed yet
		require.NoError(t, err)
		_, err = s.DB().NewInsert().Model(notification("fast")).Exec(ctx) // a larger id, committed at once
		require.NoError(t, err)
		pull()
		require.NoError(t, slow.Commit())
		pull()
		require.Equal(t, map[string]bool{"slow": true, "fast": true}, seen, "every notification reaches the puller")
	})
}
