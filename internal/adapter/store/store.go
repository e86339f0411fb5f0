// Package store is the application database: bun over Postgres in
// production and SQLite in the embedded default, with the same queries and
// the same tests on both. It holds the queryable projection of the
// subscription workflows, the catalog, tenants and their credentials, the
// audit trail, the charge ledger and the notification outbox.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"

	// SQLite in this process allocates through it (see the package).
	_ "github.com/cspmarket/orchestrator/internal/platform/sqlitemem"
	"github.com/uptrace/bun/migrate"

	"github.com/cspmarket/orchestrator/internal/adapter/store/migrations"
	"github.com/cspmarket/orchestrator/internal/platform/secretbox"
)

// ErrNotFound is returned when a row does not exist or is not visible to
// the caller's tenant: callers cannot tell the two apart, on purpose.
var ErrNotFound = errors.New("not found")

// Store is the application database.
type Store struct {
	db      *bun.DB
	dialect migrations.Dialect
	box     *secretbox.Box
}

// DefaultMaxOpenConns is a process's Postgres pool when DATABASE_MAX_CONNS
// is unset. It is small because it is multiplied: the production shape
// runs several API and worker processes and Temporal's own pools on the
// same server, and Postgres refuses connections past max_connections (100
// by default). The pool was 20: two APIs, two workers and Temporal then
// reached 100 under load, and requests failed with "too many clients".
// A step holds a connection for milliseconds; the CPU, not the pool,
// bounds the rate.
const DefaultMaxOpenConns = 10

// Options tune Open.
type Options struct {
	// PostgresConnParams are extra session parameters (tests set search_path
	// to an isolated schema).
	PostgresConnParams map[string]any
	// MaxOpenConns bounds the Postgres pool; 0 keeps DefaultMaxOpenConns.
	MaxOpenConns int
}

// Open connects to the database named by dsn: "postgres://…" or
// "postgresql://…" for Postgres, "sqlite://path" or a plain path for SQLite.
// It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string, box *secretbox.Box, opts Options) (*Store, error) {
	if box == nil {
		return nil, errors.New("store: a secrets box is required")
	}
	var (
		db      *bun.DB
		dialect migrations.Dialect
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		connOpts := []pgdriver.Option{pgdriver.WithDSN(dsn), pgdriver.WithTimeout(10 * time.Second), pgdriver.WithResetSessionFunc(dropDeadIdleConn)}
		if len(opts.PostgresConnParams) > 0 {
			connOpts = append(connOpts, pgdriver.WithConnParams(opts.PostgresConnParams))
		}
		sqldb := sql.OpenDB(pgdriver.NewConnector(connOpts...))
		maxConns := opts.MaxOpenConns
		if maxConns <= 0 {
			maxConns = DefaultMaxOpenConns
		}
		sqldb.SetMaxOpenConns(maxConns)
		sqldb.SetMaxIdleConns(maxConns)
		db, dialect = bun.NewDB(sqldb, pgdialect.New()), migrations.Postgres
	default:
		path, err := sqlitePath(dsn)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: create directory for %s: %w", path, err)
		}
		// WAL lets readers run beside the writer; busy_timeout rides out the
		// rare lock; IMMEDIATE transactions take the write lock up front so
		// two writers never deadlock upgrading a read lock.
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		sqldb, err := sql.Open(sqliteshim.ShimName, "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, err
		}
		// One connection: SQLite has one writer anyway, and more
		// connections only trade queueing for SQLITE_BUSY.
		sqldb.SetMaxOpenConns(1)
		db, dialect = bun.NewDB(sqldb, sqlitedialect.New()), migrations.SQLite
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return &Store{db: db, dialect: dialect, box: box}, nil
}

func sqlitePath(dsn string) (string, error) {
	path := strings.TrimPrefix(dsn, "sqlite://")
	if path == "" || strings.Contains(path, "?") {
		return "", fmt.Errorf("store: DATABASE_URL %q: want postgres://… or sqlite://path", dsn)
	}
	return path, nil
}

// DB exposes the bun handle for tests and maintenance commands.
func (s *Store) DB() *bun.DB { return s.db }

// Dialect names the database kind: "pg" or "sqlite".
func (s *Store) Dialect() string { return s.dialect.Name }

// Ping checks that the database answers (for /healthz).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close releases the pool.
func (s *Store) Close() error { return s.db.Close() }

// migrationLockID is the Postgres advisory lock that serialises migrations
// when a worker and a starter boot at the same time.
const migrationLockID = 7_233_001

// Migrate applies every pending migration.
func (s *Store) Migrate(ctx context.Context) error {
	migrator := migrate.NewMigrator(s.db, migrations.Migrations, migrate.WithTemplateData(s.dialect), migrate.WithMarkAppliedOnSuccess(true))
	if s.dialect.Name == migrations.Postgres.Name {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrationLockID); err != nil {
			return fmt.Errorf("store: take migration lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrationLockID)
		}()
	}
	if err := migrator.Init(ctx); err != nil {
		return fmt.Errorf("store: init migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// now is the store's clock: UTC, microsecond precision (what both databases keep).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// utc normalises a time for storage.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// convert hands rows out as what the store gives of them.
func convert[R, M any](rows []R, of func(R) M) []M {
	out := make([]M, len(rows))
	for i, r := range rows {
		out[i] = of(r)
	}
	return out
}
