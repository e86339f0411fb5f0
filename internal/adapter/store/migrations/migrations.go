// Package migrations holds the application database's schema changes as SQL
// files named by bun's convention (<timestamp>_<name>.tx.up.sql), reviewed
// like code. Each file is a Go template: the few spellings that differ
// between Postgres and SQLite come from Dialect, so one file serves both.
package migrations

import (
	"embed"

	"github.com/uptrace/bun/migrate"
)

//go:embed *.sql
var files embed.FS

// Migrations is every schema change, in name order.
var Migrations = migrate.NewMigrations()

func init() {
	if err := Migrations.Discover(files); err != nil {
		panic(err)
	}
}

// Dialect is the template data of the SQL files.
type Dialect struct {
	Name      string // "pg" or "sqlite"
	AutoID    string // an auto-incrementing BIGINT primary key
	Bytes     string // a binary column
	Timestamp string // a UTC instant
}

// Postgres and SQLite are the two dialects the product runs on.
var (
	Postgres = Dialect{Name: "pg", AutoID: "BIGSERIAL PRIMARY KEY", Bytes: "BYTEA", Timestamp: "TIMESTAMPTZ"}
	SQLite   = Dialect{Name: "sqlite", AutoID: "INTEGER PRIMARY KEY AUTOINCREMENT", Bytes: "BLOB", Timestamp: "TIMESTAMP"}
)
