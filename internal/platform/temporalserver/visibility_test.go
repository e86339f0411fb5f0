package temporalserver

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// A data directory of before keeps its visibility records in the state
// file; the first start with a visibility file of its own moves them
// there, so that the Web UI still lists and searches every workflow, and
// later starts find them where they are.
func TestVisibilityRecordsMoveToAFileOfTheirOwn(t *testing.T) {
	ctx, opts := dataDirOfBefore(t)
	dir := filepath.Dir(opts.DatabaseFile)
	before := visibilityRecords(t, opts.DatabaseFile)
	require.Contains(t, fmt.Sprint(before), "before {", "the record of the workflow started")

	// The first start with a file of their own moves them (seen here
	// before the server starts: it may write a record again from its
	// own queue of visibility tasks).
	opts.VisibilityDatabaseFile = filepath.Join(dir, "temporal-visibility.db")
	require.NoError(t, moveBeforeStart(opts))
	require.Equal(t, before, visibilityRecords(t, opts.VisibilityDatabaseFile))
	require.Empty(t, visibilityRecords(t, opts.DatabaseFile), "the moved records are deleted from the state file")
	run(t, opts, func(c client.Client) {
		requireListed(ctx, t, c, "CustomerId = 'cus-1'", "before")
		start(ctx, t, c, "after", "cus-2")
		requireListed(ctx, t, c, "CustomerId = 'cus-2'", "after")
	})
	require.Empty(t, visibilityRecords(t, opts.DatabaseFile), "the state file is not written again")
	leftovers, err := filepath.Glob(filepath.Join(dir, "*.partial*"))
	require.NoError(t, err)
	require.Empty(t, leftovers)

	// Later starts read them where they are.
	run(t, opts, func(c client.Client) {
		requireListed(ctx, t, c, "CustomerId = 'cus-1'", "before")
		requireListed(ctx, t, c, "CustomerId = 'cus-2'", "after")
	})
}

// A start interrupted while it built the visibility file leaves a
// partial one: the next start builds it again from the state file.
func TestAnInterruptedMoveStartsOver(t *testing.T) {
	ctx, opts := dataDirOfBefore(t)
	opts.VisibilityDatabaseFile = filepath.Join(filepath.Dir(opts.DatabaseFile), "temporal-visibility.db")
	require.NoError(t, os.WriteFile(opts.VisibilityDatabaseFile+".partial", []byte("not a database"), 0o600))
	run(t, opts, func(c client.Client) { requireListed(ctx, t, c, "WorkflowId = 'before'", "before") })
}

// dataDirOfBefore is a data directory as a build before the visibility
// file left it: one workflow, "before" (customer cus-1), with its record
// in the state file. The options it returns name no visibility file yet.
func dataDirOfBefore(t *testing.T) (context.Context, Options) {
	t.Helper()
	opts := Options{
		DatabaseFile:     filepath.Join(t.TempDir(), "temporal.db"),
		SearchAttributes: map[string]enumspb.IndexedValueType{"CustomerId": enumspb.INDEXED_VALUE_TYPE_KEYWORD},
		Logger:           slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	run(t, opts, func(c client.Client) {
		start(ctx, t, c, "before", "cus-1")
		requireListed(ctx, t, c, "CustomerId = 'cus-1'", "before")
	})
	return ctx, opts
}

// moveBeforeStart does to opts's files what a start does before the
// server runs: seen there, the records are not yet written again by the
// server from its own queue of visibility tasks.
func moveBeforeStart(opts Options) error {
	state, err := sqlConfig(opts)
	if err != nil {
		return err
	}
	_, err = visibilityConfig(opts, state)
	return err
}

func run(t *testing.T, opts Options, body func(client.Client)) {
	t.Helper()
	srv, err := Start(context.Background(), opts)
	require.NoError(t, err)
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Logger: quietSDKLogger{}})
	require.NoError(t, err)
	defer c.Close()
	body(c)
}

func start(ctx context.Context, t *testing.T, c client.Client, id, customer string) {
	t.Helper()
	o := client.StartWorkflowOptions{ID: id, TaskQueue: "nobody-polls"}
	if customer != "" {
		o.TypedSearchAttributes = temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyKeyword("CustomerId").ValueSet(customer))
	}
	_, err := c.ExecuteWorkflow(ctx, o, "Probe")
	require.NoError(t, err)
}

// requireListed waits for the visibility query to list exactly the
// workflow id (visibility records are written after the start returns).
func requireListed(ctx context.Context, t *testing.T, c client.Client, query, id string) {
	t.Helper()
	var got []string
	require.Eventually(t, func() bool {
		res, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			return false
		}
		got = got[:0]
		for _, e := range res.GetExecutions() {
			got = append(got, e.GetExecution().GetWorkflowId())
		}
		return len(got) == 1 && got[0] == id
	}, 20*time.Second, 100*time.Millisecond, "%s lists %v", query, got)
}

// visibilityRecords reads a file's visibility records: workflow id and
// search attributes, by run id.
func visibilityRecords(t *testing.T, file string) map[string]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file)
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	rows, err := db.Query("SELECT run_id, workflow_id, COALESCE(search_attributes, '') FROM executions_visibility")
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	records := map[string]string{}
	for rows.Next() {
		var run, id, attrs string
		require.NoError(t, rows.Scan(&run, &id, &attrs))
		records[run] = id + " " + attrs
	}
	require.NoError(t, rows.Err())
	return records
}

// An older build started on the directory since (a downgrade) wrote its
// records in the state file again: the next start moves them over the
// file's, so the Web UI lists what was started meanwhile and the newest
// state of each workflow.
func TestRecordsAnOlderBuildWroteAreMovedAtTheNextStart(t *testing.T) {
	dir := t.TempDir()
	newer := Options{
		DatabaseFile:           filepath.Join(dir, "temporal.db"),
		VisibilityDatabaseFile: filepath.Join(dir, "temporal-visibility.db"),
		SearchAttributes:       map[string]enumspb.IndexedValueType{"CustomerId": enumspb.INDEXED_VALUE_TYPE_KEYWORD},
		Logger:                 slog.New(slog.DiscardHandler),
	}
	older := newer
	older.VisibilityDatabaseFile = ""
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	run(t, newer, func(c client.Client) {
		start(ctx, t, c, "first", "cus-1")
		requireListed(ctx, t, c, "CustomerId = 'cus-1'", "first")
	})
	run(t, older, func(c client.Client) {
		start(ctx, t, c, "meanwhile", "cus-2")
		requireListed(ctx, t, c, "CustomerId = 'cus-2'", "meanwhile")
	})
	meanwhile := visibilityRecords(t, newer.DatabaseFile)
	require.Contains(t, fmt.Sprint(meanwhile), "meanwhile {")

	require.NoError(t, moveBeforeStart(newer))
	records := visibilityRecords(t, newer.VisibilityDatabaseFile)
	for run, record := range meanwhile {
		require.Equal(t, record, records[run])
	}
	require.Contains(t, fmt.Sprint(records), "first {")
	require.Empty(t, visibilityRecords(t, newer.DatabaseFile))
	run(t, newer, func(c client.Client) {
		requireListed(ctx, t, c, "CustomerId = 'cus-1'", "first")
		requireListed(ctx, t, c, "CustomerId = 'cus-2'", "meanwhile")
	})
}

// An empty visibility file (what a tool opening a path that did not
// exist leaves) holds no table: the server answered every list with "no
// such table" while the records stayed in the state file. It is built
// again; a file that is not a database is an error that names it.
func TestAVisibilityFileWithNoTableIsBuiltAgain(t *testing.T) {
	_, opts := dataDirOfBefore(t)
	before := visibilityRecords(t, opts.DatabaseFile)

	opts.VisibilityDatabaseFile = filepath.Join(filepath.Dir(opts.DatabaseFile), "temporal-visibility.db")
	require.NoError(t, os.WriteFile(opts.VisibilityDatabaseFile, nil, 0o600))
	require.NoError(t, moveBeforeStart(opts))
	require.Equal(t, before, visibilityRecords(t, opts.VisibilityDatabaseFile))

	require.NoError(t, os.WriteFile(opts.VisibilityDatabaseFile, []byte("not a database, but long enough to be read as one"), 0o600))
	require.ErrorContains(t, moveBeforeStart(opts), opts.VisibilityDatabaseFile)
}
