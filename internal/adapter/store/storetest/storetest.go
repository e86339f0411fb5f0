// Package storetest opens migrated, isolated stores for tests: a SQLite file
// in a temporary directory, and a Postgres schema of its own on the server
// named by TEST_DATABASE_URL (default: the local one CI starts).
//
// Without a reachable Postgres the Postgres half of a test skips with a
// message saying how to run it, unless REQUIRE_POSTGRES=1 (CI sets it),
// where it fails: CI must never go green by skipping.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/platform/secretbox"
)

// DefaultPostgresURL is the database the tests use when TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Box returns a secrets box with a random key.
func Box(t testing.TB) *secretbox.Box {
	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// SQLite opens a migrated store on a fresh SQLite file.
func SQLite(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "app.db"), Box(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// PostgresURL is the server the Postgres tests use.
func PostgresURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// Postgres opens a migrated store in a new schema, dropped when the test ends.
func Postgres(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	url := PostgresURL()
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(url), pgdriver.WithTimeout(5*time.Second)))
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		if os.Getenv("REQUIRE_POSTGRES") == "1" {
			t.Fatalf("Postgres is required (REQUIRE_POSTGRES=1) but %s does not answer: %v", url, err)
		}
		t.Skipf("Postgres tests skipped: %s does not answer (%v). Start Postgres or set TEST_DATABASE_URL; CI runs them.", url, err)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	schema := "test_" + hex.EncodeToString(suffix)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cleanup := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(url)))
		defer cleanup.Close()
		_, _ = cleanup.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	s, err := store.Open(ctx, url, Box(t), store.Options{PostgresConnParams: map[string]any{"search_path": schema}, MaxOpenConns: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// EachDialect runs fn once on SQLite and once on Postgres, as subtests.
func EachDialect(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// PostgresDatabase creates an empty database of its own on the test server
// for one test (processes under test migrate it themselves), dropped when
// the test ends, and returns its URL.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	url := PostgresURL()
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(url), pgdriver.WithTimeout(5*time.Second)))
	defer admin.Close()
	if err := admin.Ping(); err != nil {
		if os.Getenv("REQUIRE_POSTGRES") == "1" {
			t.Fatalf("Postgres is required (REQUIRE_POSTGRES=1) but %s does not answer: %v", url, err)
		}
		t.Skipf("Postgres test skipped: %s does not answer (%v). Start Postgres or set TEST_DATABASE_URL; CI runs it.", url, err)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "test_db_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(url, "/")
	rest, query := url[i+1:], ""
	if q := strings.Index(rest, "?"); q >= 0 {
		query = rest[q:]
	}
	dbURL := url[:i+1] + name + query
	if KeepForLedgerCheck(t, dbURL, "") {
		return dbURL
	}
	t.Cleanup(func() {
		db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(url)))
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return dbURL
}

// KeepTestDatabasesEnv names a file: when set, the databases a product
// under test wrote are kept and listed there, one "<DATABASE_URL>
// <DATA_DIR>" per line, for `starter ledger verify` to check after the
// tests (.ci/run does; it removes them afterwards).
const KeepTestDatabasesEnv = "KEEP_TEST_DATABASES"

// KeepForLedgerCheck lists a product's database (and data directory, or
// "") in the KEEP_TEST_DATABASES file and reports whether it must be kept.
func KeepForLedgerCheck(t testing.TB, databaseURL, dataDir string) bool {
	list := os.Getenv(KeepTestDatabasesEnv)
	if list == "" {
		return false
	}
	f, err := os.OpenFile(list, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("%s: %v", KeepTestDatabasesEnv, err)
	}
	defer f.Close()
	if dataDir == "" {
		dataDir = "-"
	}
	if _, err := fmt.Fprintf(f, "%s %s\n", databaseURL, dataDir); err != nil {
		t.Fatalf("%s: %v", KeepTestDatabasesEnv, err)
	}
	return true
}
