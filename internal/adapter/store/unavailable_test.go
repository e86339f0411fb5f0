package store_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
)

// Connections cut by the server (pg_terminate_backend, a failover) used to
// fail the next query on each of them with "terminating connection due to
// administrator command", answered 500. The pool now drops them at
// checkout and the queries run on fresh connections.
func TestTerminatedPooledConnectionsAreReplacedNotFailed(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := context.Background()
	db := s.DB()
	// Hold five connections at once, so the pool keeps five idle ones.
	conns := make([]bun.Conn, 5)
	pids := make([]int64, 5)
	for i := range conns {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		require.NoError(t, c.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pids[i]))
		conns[i] = c
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(storetest.PostgresURL())))
	defer admin.Close()
	for _, pid := range pids {
		_, err := admin.Exec("SELECT pg_terminate_backend($1)", pid)
		require.NoError(t, err)
	}
	time.Sleep(200 * time.Millisecond) // the FATAL messages reach the sockets

	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Offers(ctx)
			require.NoError(t, err)
		}()
	}
	wg.Wait()
}
