package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs("../../..")
	require.NoError(t, err)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("cspmarket"), cli.WithOsEnv)
	require.NoError(t, err)
	project, err := opts.LoadProject(context.Background())
	require.NoError(t, err, "docker-compose.yml must load and validate against the compose spec")
	return project
}

func TestComposeHasTheWholeProductionShape(t *testing.T) {
	project := loadCompose(t)
	for _, name := range []string{"postgres", "temporal-schema", "temporal", "temporal-setup", "temporal-ui", "worker", "starter"} {
		_, err := project.GetService(name)
		assert.NoError(t, err, "service %s", name)
	}

	temporal, err := project.GetService("temporal")
	require.NoError(t, err)
	assert.Equal(t, types.ServiceConditionCompletedSuccessfully, temporal.DependsOn["temporal-schema"].Condition, "the schema is set up before the server starts")

	require.Len(t, temporal.Volumes, 1, "the server's dynamic config")
	assert.FileExists(t, filepath.Join(temporal.Volumes[0].Source, "dynamicconfig.yaml"))
	assert.Equal(t, temporal.Volumes[0].Target+"/dynamicconfig.yaml", deref(temporal.Environment["DYNAMIC_CONFIG_FILE_PATH"]))

	setup, err := project.GetService("temporal-setup")
	require.NoError(t, err)
	script := strings.Join(setup.Command, " ")
	for name := range payload.SearchAttributes {
		assert.Contains(t, script, name, "search attribute %s is registered", name)
	}

	for _, name := range []string{"worker", "starter"} {
		svc, err := project.GetService(name)
		require.NoError(t, err)
		require.NotNil(t, svc.Build, "%s is built from this repository", name)
		assert.Equal(t, "temporal:7233", deref(svc.Environment["TEMPORAL_ADDRESS"]), name)
		assert.True(t, strings.HasPrefix(deref(svc.Environment["DATABASE_URL"]), "postgres://"), "%s uses Postgres", name)
		assert.NotEmpty(t, deref(svc.Environment["SECRETS_KEY"]), name)
		assert.Equal(t, types.ServiceConditionCompletedSuccessfully, svc.DependsOn["temporal-setup"].Condition, name)
	}
	starter, err := project.GetService("starter")
	require.NoError(t, err)
	require.Len(t, starter.Ports, 1)
	assert.Equal(t, uint32(8080), starter.Ports[0].Target)
	assert.Equal(t, "0.0.0.0:8080", deref(starter.Environment["HTTP_ADDR"]), "the API must listen beyond the container's loopback")
	ui, err := project.GetService("temporal-ui")
	require.NoError(t, err)
	assert.Equal(t, "temporal:7233", deref(ui.Environment["TEMPORAL_ADDRESS"]))
}

// Every pool opens in full under load. With the image's defaults Temporal
// alone could open 4 services x (20 + 10) connections, past Postgres's
// default max_connections of 100; the product's fill on the same shape
// (deploy/local-cluster.sh) reached it and requests failed with "too many
// clients". The pools must fit, with room for an operator's psql.
func TestComposeConnectionPoolsFitInPostgres(t *testing.T) {
	project := loadCompose(t)
	number := func(svc types.ServiceConfig, name string) int {
		t.Helper()
		v := deref(svc.Environment[name])
		require.NotEmpty(t, v, "%s sets %s", svc.Name, name)
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "%s %s", svc.Name, name)
		return n
	}
	temporal, err := project.GetService("temporal")
	require.NoError(t, err)
	total := 4 * (number(temporal, "SQL_MAX_CONNS") + number(temporal, "SQL_VIS_MAX_CONNS"))
	for _, name := range []string{"worker", "starter"} {
		svc, err := project.GetService(name)
		require.NoError(t, err)
		total += number(svc, "DATABASE_MAX_CONNS")
	}
	postgres, err := project.GetService("postgres")
	require.NoError(t, err)
	maxConnections := 100 // the image's default, unless its command sets it
	for i, arg := range postgres.Command {
		if v, ok := strings.CutPrefix(arg, "max_connections="); ok && i > 0 && postgres.Command[i-1] == "-c" {
			maxConnections, err = strconv.Atoi(v)
			require.NoError(t, err)
		}
	}
	const reservedAndSpare = 3 + 5 // superuser_reserved_connections, and psql
	assert.LessOrEqual(t, total, maxConnections-reservedAndSpare, "the pools' connections against Postgres's max_connections")
}

func TestDockerfileBuildsBothMains(t *testing.T) {
	b, err := os.ReadFile("../../../Dockerfile")
	require.NoError(t, err)
	for _, want := range []string{"./starter", "./worker", "/app/"} {
		assert.Contains(t, string(b), want)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
