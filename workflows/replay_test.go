package workflows

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
)

// TestReplayRecordedHistories replays every history recorded from a real
// server run through today's workflow code. A change that would break
// running subscriptions (a new command where history has another) fails
// here: guard such changes with workflow.GetVersion.
//
// The histories are recorded by the end-to-end tests:
//
//	RECORD_HISTORIES=$PWD/workflows/testdata/histories go test ./internal/tests/e2e/
//
// Record new ones when a path is added; never re-record old ones to make
// this test pass, since they stand for workflows already running.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 111, "recorded histories are missing")
	logger := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			RegisterSubscriptionWorkflow(replayer)
			require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(logger, file))
		})
	}
}
