package temporalserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/server/common/config"
)

// visibilityColumns are the columns of a visibility record that hold
// data; the others are generated from search_attributes by SQLite (and
// may not be written). The schema of Temporal v1.32.1
// (schema/sqlite/v3/visibility).
const visibilityColumns = `namespace_id, run_id, _version, start_time, execution_time, workflow_id,
	workflow_type_name, status, close_time, history_length, history_size_bytes, execution_duration,
	state_transition_count, memo, encoding, task_queue, search_attributes, parent_workflow_id,
	parent_run_id, root_workflow_id, root_run_id`

// visibilityConfig is the store of the server's visibility records (what
// the Web UI and the operator API list and search): the file
// opts.VisibilityDatabaseFile when it names one, else the state's own.
//
// Why a file of its own: the server's SQLite store has one connection,
// so every write waits for the one before it. Visibility writes are most
// of the server's database work (SQLite's REPLACE rewrites a record's
// entry in each of the table's 59 indexes and its two full-text tables),
// and with them in the same file a purchase's start and workflow task
// queued behind the visibility writes of every other subscription's
// steps. In a file of their own they have a connection and a writer of
// their own (docs/performance.md: purchase p99 at 17/s 96-105 ms in one
// file, 88-89 ms in two).
//
// A data directory of before keeps its records in the state file; the
// first start that names a visibility file moves them there. Records
// found in the state file later were written by an older build run on
// this directory since (a downgrade): they are newer than the file's,
// and are moved over them.
func visibilityConfig(opts Options, state *config.SQL) (*config.SQL, error) {
	if opts.DatabaseFile == "" || opts.VisibilityDatabaseFile == "" {
		return state, nil
	}
	conf := *state
	conf.ConnectAttributes = maps.Clone(state.ConnectAttributes)
	conf.DatabaseName = opts.VisibilityDatabaseFile
	if _, err := os.Stat(conf.DatabaseName); err == nil {
		whole, err := mergeVisibility(opts.DatabaseFile, conf.DatabaseName, opts.Logger)
		if err != nil {
			return nil, fmt.Errorf("move the visibility records of %s to %s: %w", opts.DatabaseFile, conf.DatabaseName, err)
		}
		if whole {
			return &conf, nil
		}
		// A file with no table holds no record (an empty one is what a
		// tool opening a path that did not exist leaves): the server
		// would answer every list with "no such table". Built again.
		opts.Logger.Warn("the Temporal visibility file has no visibility table: building it again from the state file", "file", conf.DatabaseName)
		if err := removeDatabase(conf.DatabaseName); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := moveVisibility(opts.DatabaseFile, &conf, opts.Logger); err != nil {
		return nil, fmt.Errorf("move the visibility records of %s to %s: %w", opts.DatabaseFile, conf.DatabaseName, err)
	}
	return &conf, nil
}

// moveVisibility builds the visibility file under a temporary name, with
// the schema and the records of the state file's visibility table, and
// renames it into place: the file exists only whole, so a start
// interrupted at any point starts over. Only then are the records
// deleted from the state file (after a crash in between, the next start
// finds them there and moves them again: mergeVisibility).
//
// The schema is copied from the state file (Temporal's setup made it
// there, of the server's own version) rather than made by Temporal's
// setup, whose connection to a file stays open for the life of the
// process.
func moveVisibility(stateFile string, conf *config.SQL, logger *slog.Logger) error {
	final := conf.DatabaseName
	partial := final + ".partial"
	if err := removeDatabase(partial); err != nil {
		return err
	}
	started := time.Now()
	moved, err := copyVisibility(stateFile, partial)
	if err != nil {
		return err
	}
	if err := syncFile(partial); err != nil {
		return err
	}
	if err := os.Rename(partial, final); err != nil {
		return err
	}
	if err := syncFile(filepath.Dir(final)); err != nil {
		return err
	}
	if err := forgetVisibility(stateFile); err != nil {
		return err
	}
	if moved > 0 {
		logger.Info("moved the Temporal visibility records to a file of their own (once)",
			"records", moved, "from", stateFile, "to", final, "took", time.Since(started).Round(time.Millisecond).String())
	}
	return nil
}

// visibilitySchema selects the statements that made the state file's
// visibility table: the table, its full-text tables (whose own tables
// they make), its indexes and its triggers, in that order.
const visibilitySchema = `SELECT sql FROM state.sqlite_master WHERE sql IS NOT NULL AND (
	(type = 'table' AND (name = 'executions_visibility' OR (name LIKE 'executions_visibility_fts_%' AND sql LIKE 'CREATE VIRTUAL TABLE%')))
	OR (type IN ('index', 'trigger') AND tbl_name = 'executions_visibility'))
	ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid`

// copyVisibility makes the file to (which does not exist) with the
// schema and every record of stateFile's visibility table, and closes it.
func copyVisibility(stateFile, to string) (int64, error) {
	// A rollback journal (not write-ahead logging): once closed, the
	// file is whole by itself when it is renamed. The server turns
	// write-ahead logging on when it opens it.
	db, err := openWithState(to, stateFile, "&_pragma=journal_mode(delete)")
	if err != nil {
		return 0, err
	}
	defer func() { _ = db.Close() }()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	var statements []string
	rows, err := tx.QueryContext(ctx, visibilitySchema)
	if err != nil {
		return 0, fmt.Errorf("read the schema: %w", err)
	}
	for rows.Next() {
		var statement string
		if err := rows.Scan(&statement); err != nil {
			_ = rows.Close()
			return 0, err
		}
		statements = append(statements, statement)
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if len(statements) == 0 || !strings.HasPrefix(statements[0], "CREATE TABLE executions_visibility") {
		return 0, fmt.Errorf("%s has no visibility table", stateFile)
	}
	for _, statement := range statements {
		if _, err := tx.ExecContext(ctx, statement); err != nil {
			return 0, fmt.Errorf("make the schema: %q: %w", statement, err)
		}
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO main.executions_visibility ("+visibilityColumns+") SELECT "+visibilityColumns+" FROM state.executions_visibility")
	if err != nil {
		return 0, fmt.Errorf("copy: %w", err)
	}
	moved, _ := res.RowsAffected()
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return moved, db.Close()
}

// mergeVisibility moves the records of stateFile's visibility table, if
// it holds any, into the visibility file, over those of the same runs.
// A visibility file without the table is not whole: nothing is moved.
func mergeVisibility(stateFile, visibilityFile string, logger *slog.Logger) (whole bool, err error) {
	db, err := openWithState(visibilityFile, stateFile, "")
	if err != nil {
		return false, err
	}
	defer func() { _ = db.Close() }()
	ctx := context.Background()
	var tables, leftover int
	err = db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = 'executions_visibility'),
		(SELECT EXISTS (SELECT 1 FROM state.executions_visibility))`).Scan(&tables, &leftover)
	if err != nil {
		return false, err
	}
	if tables == 0 || leftover == 0 {
		return tables == 1, db.Close()
	}
	res, err := db.ExecContext(ctx, "REPLACE INTO main.executions_visibility ("+visibilityColumns+") SELECT "+visibilityColumns+" FROM state.executions_visibility")
	if err != nil {
		return false, fmt.Errorf("copy: %w", err)
	}
	moved, _ := res.RowsAffected()
	if err := db.Close(); err != nil {
		return false, err
	}
	// A crash before this delete moves the same records again next time.
	if err := forgetVisibility(stateFile); err != nil {
		return false, err
	}
	logger.Warn("moved visibility records an older build wrote in the Temporal state file to the visibility file",
		"records", moved, "from", stateFile, "to", visibilityFile)
	return true, nil
}

// forgetVisibility deletes the visibility records left in the state file.
func forgetVisibility(stateFile string) error {
	db, err := openSQLite(stateFile, "")
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	if _, err := db.Exec("DELETE FROM executions_visibility"); err != nil {
		return fmt.Errorf("delete the moved records from %s: %w", stateFile, err)
	}
	return db.Close()
}

// openSQLite opens a SQLite file with more "&_pragma=…" parameters.
func openSQLite(file, pragmas string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)"+pragmas)
}

// openWithState opens file with stateFile attached as "state", on one
// connection (an attachment holds for the connection that made it).
func openWithState(file, stateFile, pragmas string) (*sql.DB, error) {
	db, err := openSQLite(file, pragmas)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("ATTACH DATABASE ? AS state", stateFile); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("attach %s: %w", stateFile, err)
	}
	return db, nil
}

// removeDatabase removes a SQLite file and its journals, if they exist.
func removeDatabase(file string) error {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		if err := os.Remove(file + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	return f.Sync()
}
