package store_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
)

// The production shape's processes each opened up to 20 Postgres
// connections: two APIs, two workers and Temporal's own pools reached the
// server's max_connections (100) during a fill at 11 000 subscriptions,
// and requests failed with "sorry, too many clients already". A process's
// pool is DATABASE_MAX_CONNS, DefaultMaxOpenConns when unset, however many
// queries wait.
func TestAProcessOpensNoMorePostgresConnectionsThanItsPool(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  int
		want int
	}{
		{"DATABASE_MAX_CONNS=3", 3, 3},
		{"default", 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := storetest.PostgresDatabase(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := store.Open(ctx, url, storetest.Box(t), store.Options{MaxOpenConns: tc.max})
			require.NoError(t, err)
			defer s.Close()
			watcher := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(url)))
			defer watcher.Close()

			var wg sync.WaitGroup
			defer wg.Wait() // before the pool closes, whatever fails
			for range 3 * tc.want {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.DB().ExecContext(ctx, "SELECT pg_sleep(0.3)")
					assert.NoError(t, err)
				}()
			}
			var busiest int64
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			for {
				var n int64
				require.NoError(t, watcher.QueryRowContext(ctx,
					"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()").Scan(&n))
				busiest = max(busiest, n)
				select {
				case <-done:
					require.EqualValues(t, tc.want, busiest, "connections the process held at its busiest")
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
	}
}
