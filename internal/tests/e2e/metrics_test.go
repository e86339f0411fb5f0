package e2e

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrape reads a /metrics page into its series ("name{labels}" as
// Prometheus writes them, labels in name order) and their values.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	series := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		series[line[:i]] = v
	}
	return series
}

// withPrefix says whether some series starts with prefix.
func withPrefix(series map[string]float64, prefix string) bool {
	for k := range series {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// dashboardMetrics are the metric names the Grafana dashboard queries.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../../deploy/grafana/orchestrator-dashboard.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	require.NotEmpty(t, dash.Panels)
	names := map[string]bool{}
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, target := range p.Targets {
			for _, name := range metricName.FindAllString(target.Expr, -1) {
				names[name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(names))
}

var metricName = regexp.MustCompile(`\b(?:marketplace|http|process|temporal)_[a-z_]+`)

// Every series the dashboard draws exists: the product exports it now, or
// it is a failure counter the SDK makes on the first failure.
func assertDashboardDrawsWhatIsExported(t *testing.T, series map[string]float64) {
	t.Helper()
	onFailureOnly := map[string]bool{"temporal_workflow_task_execution_failed": true, "temporal_activity_execution_failed": true, "temporal_local_activity_execution_failed": true,
		"marketplace_cancellations_total": true, "marketplace_notifications_total": true,
	}
	for _, name := range dashboardMetrics(t) {
		if onFailureOnly[name] {
			continue
		}
		found := false
		for s := range series {
			if s == name || strings.HasPrefix(s, name+"{") {
				found = true
				break
			}
		}
		assert.True(t, found, "the dashboard queries %s, which the product does not export", name)
	}
}
