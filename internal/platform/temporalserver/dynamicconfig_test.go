package temporalserver

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// dynamicConfigValues reads a Temporal dynamic config file: each key's
// unconstrained value, by its lower-case name (the server matches keys
// without regard to case).
func dynamicConfigValues(t *testing.T, text string) map[string]any {
	t.Helper()
	var file map[string][]struct {
		Value       any            `yaml:"value"`
		Constraints map[string]any `yaml:"constraints"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(text), &file))
	values := map[string]any{}
	for key, entries := range file {
		for _, e := range entries {
			if len(e.Constraints) == 0 {
				values[strings.ToLower(key)] = e.Value
			}
		}
	}
	return values
}

// The embedded server, docker-compose.yml's server and the one
// deploy/local-cluster.sh runs are tuned alike: a setting added to one
// and forgotten in another would make the production shape behave
// unlike what was measured on the embedded default. (The test lives here
// rather than in internal/deploy, whose test binary would otherwise link
// the whole server.)
func TestEveryShapeRunsTheSharedTemporalTuning(t *testing.T) {
	compose, err := os.ReadFile("../../../deploy/temporal/dynamicconfig.yaml")
	require.NoError(t, err)
	script, err := os.ReadFile("../../../deploy/local-cluster.sh")
	require.NoError(t, err)
	heredoc := regexp.MustCompile(`(?s)cat >"\$DIR/config/dynamicconfig\.yaml" <<EOF\n(.*?)\nEOF\n`).FindSubmatch(script)
	require.NotNil(t, heredoc, "deploy/local-cluster.sh writes the server's dynamic config")
	clusterText := strings.ReplaceAll(string(heredoc[1]), "$TEMPORAL_HISTORY_CACHE_SIZE", "4096")

	shapes := map[string]map[string]any{
		"deploy/temporal/dynamicconfig.yaml": dynamicConfigValues(t, string(compose)),
		"deploy/local-cluster.sh":            dynamicConfigValues(t, clusterText),
	}
	require.NotEmpty(t, SharedDynamicConfig)
	for key, want := range SharedDynamicConfig {
		for file, values := range shapes {
			assert.Equal(t, want, values[key.String()], "%s sets %s as the embedded server does", file, key)
		}
	}
}
