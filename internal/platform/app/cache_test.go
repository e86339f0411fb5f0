package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/platform/app"
	"github.com/cspmarket/orchestrator/internal/platform/config"
)

// TestTheWorkflowCacheIsBoundedInTheEmbeddedDefault: WORKFLOW_CACHE_SIZE
// bounds how many subscriptions the worker keeps in memory. The SDK's
// cache is one per process, sized when its first worker starts; in the
// embedded default that first worker is one of the Temporal server's own,
// so a size set after the server started was ignored: the cache grew to
// the SDK's 10 000 (about 60 KiB each) and the one process to 1.4 GiB
// while 100 000 subscriptions were filled. This test runs in a process of
// its own (the e2e tests share theirs).
func TestTheWorkflowCacheIsBoundedInTheEmbeddedDefault(t *testing.T) {
	const cacheSize, subscriptions = 3, 8
	env := map[string]string{
		"HTTP_ADDR": "127.0.0.1:0", "DATA_DIR": t.TempDir(), "TEMPORAL_DEV_PORT": "0", "TEMPORAL_UI_PORT": "0",
		"WORKFLOW_CACHE_SIZE": strconv.Itoa(cacheSize),
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := app.Start(ctx, cfg, app.Parts{HTTP: true, Worker: cfg.EmbeddedWorker}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, err)
	t.Cleanup(func() { a.Stop(context.Background()) })
	base := "http://" + a.HTTPAddress()

	post := func(path string, body any) map[string]any {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer dev-admin-token")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Less(t, resp.StatusCode, 300, "%s: %v", path, out)
		return out
	}
	customer := post("/v1/customers", map[string]any{"name": "Northwind"})["id"].(string)
	for range subscriptions {
		// Each waits for its ISV: its workflow stays open, cached or not.
		post("/v1/customers/"+customer+"/subscriptions", map[string]any{"offerId": "contoso-crm", "planId": "monthly", "quantity": 1})
	}

	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	cached := -1.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "temporal_sticky_cache_size") {
			fields := strings.Fields(line)
			cached, err = strconv.ParseFloat(fields[len(fields)-1], 64)
			require.NoError(t, err, line)
		}
	}
	require.GreaterOrEqual(t, cached, 0.0, "the SDK reports its cache size")
	require.LessOrEqual(t, cached, float64(cacheSize), fmt.Sprintf("%d subscriptions open, cache bounded to %d", subscriptions, cacheSize))
}
