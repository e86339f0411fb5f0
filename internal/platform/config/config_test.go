package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestEmbeddedDefault(t *testing.T) {
	c, err := FromEnv(env(nil))
	require.NoError(t, err)
	assert.True(t, c.Embedded())
	assert.True(t, c.DevSeed)
	assert.True(t, c.EmbeddedWorker)
	assert.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
	assert.Equal(t, 7233, c.TemporalDevPort)
	assert.Equal(t, 8233, c.TemporalUIPort)
	assert.Equal(t, "sqlite://data/app.db", c.DatabaseURL)
	assert.False(t, c.TemporalGzip, "no compression on loopback to the embedded server")
}

func TestProductionShape(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"TEMPORAL_ADDRESS": "temporal:7233", "DATABASE_URL": "postgres://u@db/app"}))
	require.NoError(t, err)
	assert.False(t, c.Embedded())
	assert.False(t, c.DevSeed, "fixtures never seed production by default")
	assert.False(t, c.EmbeddedWorker)
	assert.True(t, c.TemporalGzip, "the SDK's default across a network")

	assert.Zero(t, c.DatabaseMaxConns, "unset: the store's default pool")
	c, err = FromEnv(env(map[string]string{"TEMPORAL_ADDRESS": "temporal:7233", "DATABASE_URL": "postgres://u@db/app", "DATABASE_MAX_CONNS": "4"}))
	require.NoError(t, err)
	assert.Equal(t, 4, c.DatabaseMaxConns)

	c, err = FromEnv(env(map[string]string{"TEMPORAL_ADDRESS": "temporal:7233", "EMBEDDED_WORKER": "true", "TEMPORAL_UI_PORT": "0"}))
	require.NoError(t, err)
	assert.True(t, c.EmbeddedWorker)
	assert.Equal(t, 0, c.TemporalUIPort)

	c, err = FromEnv(env(map[string]string{"TEMPORAL_ADDRESS": "temporal:7233", "TEMPORAL_GRPC_GZIP": "false"}))
	require.NoError(t, err)
	assert.False(t, c.TemporalGzip)
}

func TestBadValuesAreClearErrors(t *testing.T) {
	for k, v := range map[string]string{"TEMPORAL_DEV_PORT": "abc", "TEMPORAL_UI_PORT": "70000", "DEV_SEED": "maybe", "DATABASE_URL": "mysql://x", "LOG_LEVEL": "loud", "ACTIVATION_DEADLINE": "soon", "RENEWAL_NOTICE": "-1h", "WORKFLOW_CACHE_SIZE": "0", "PPROF": "sometimes", "DATABASE_MAX_CONNS": "-2", "AUTH_FAILURE_LIMIT": "many", "TEMPORAL_GRPC_GZIP": "zip"} {
		_, err := FromEnv(env(map[string]string{k: v}))
		assert.ErrorContains(t, err, k, "%s=%s", k, v)
	}
}

// One connection would deadlock the migration (it holds one for its lock
// and works on another): refused at start instead.
func TestAPostgresPoolOfOneIsRefused(t *testing.T) {
	_, err := FromEnv(env(map[string]string{"DATABASE_MAX_CONNS": "1"}))
	assert.ErrorContains(t, err, "DATABASE_MAX_CONNS")
	assert.ErrorContains(t, err, "at least 2")
}

func TestLifecycleDelays(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"ACTIVATION_DEADLINE": "90s", "CANCELLATION_APPROVAL_TIMEOUT": "1h", "RENEWAL_NOTICE": "30s"}))
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, c.ActivationDeadline)
	assert.Equal(t, time.Hour, c.CancellationApprovalTimeout)
	assert.Equal(t, 30*time.Second, c.RenewalNotice)
}

func TestUIPortAuto(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"TEMPORAL_UI_PORT": "auto"}))
	require.NoError(t, err)
	assert.Equal(t, -1, c.TemporalUIPort)
}

// The dev fixtures' tokens are public (README): a listener others can reach
// gets them only when told explicitly, and its console cookies are Secure
// by default (hostile pass, issue 25).
func TestAListenerOthersCanReachIsSafeByDefault(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		loopback bool
	}{
		{"127.0.0.1:8080", true}, {"localhost:8080", true}, {"[::1]:8080", true}, {"127.0.0.2:0", true},
		{"0.0.0.0:8080", false}, {":8080", false}, {"10.0.0.5:8080", false}, {"[::]:8080", false}, {"example.com:80", false},
	} {
		c, err := FromEnv(env(map[string]string{"HTTP_ADDR": tc.addr}))
		require.NoError(t, err, tc.addr)
		assert.Equal(t, tc.loopback, c.LoopbackListener(), tc.addr)
		assert.Equal(t, tc.loopback, c.DevSeed, "%s: dev tokens seeded by default", tc.addr)
		assert.Equal(t, !tc.loopback, c.ConsoleSecureCookies, "%s: Secure cookies by default", tc.addr)
	}
	c, err := FromEnv(env(map[string]string{"HTTP_ADDR": "0.0.0.0:8080", "DEV_SEED": "true", "CONSOLE_SECURE_COOKIES": "false"}))
	require.NoError(t, err)
	assert.True(t, c.DevSeed, "told explicitly")
	assert.False(t, c.ConsoleSecureCookies, "told explicitly")
}

func TestTheIdentityProvider(t *testing.T) {
	c, err := FromEnv(env(nil))
	require.NoError(t, err)
	assert.Nil(t, c.OIDC, "agent tokens only by default")

	full := map[string]string{"OIDC_ISSUER": "https://login.microsoftonline.com/tid/v2.0/", "OIDC_CLIENT_ID": "app", "OIDC_CLIENT_SECRET": "s",
		"OIDC_PARTNER_CLAIM": "tid", "OIDC_ADMIN_GROUP": "g-admin", "OIDC_SALES_GROUP": "g-sales", "OIDC_PARTNERS": "tid-1=partner-demo, tid-2=partner-other",
		"OIDC_SCOPES": "groups, api://app/use"}
	c, err = FromEnv(env(full))
	require.NoError(t, err)
	require.NotNil(t, c.OIDC)
	assert.Equal(t, "https://login.microsoftonline.com/tid/v2.0/", c.OIDC.Issuer, "as configured: it must be the discovery document's to the byte")
	assert.Equal(t, map[string]string{"tid-1": "partner-demo", "tid-2": "partner-other"}, c.OIDC.Directory.Partners)
	assert.Equal(t, []string{"groups", "api://app/use"}, c.OIDC.Scopes)

	// A partial setting is refused at start, naming what is missing.
	for name, want := range map[string]string{"OIDC_CLIENT_SECRET": "go together", "OIDC_PARTNER_CLAIM": "OIDC_PARTNER_CLAIM", "OIDC_PARTNERS": "OIDC_PARTNERS"} {
		partial := map[string]string{}
		for k, v := range full {
			partial[k] = v
		}
		delete(partial, name)
		_, err := FromEnv(env(partial))
		assert.ErrorContains(t, err, want, name)
	}
	noGroup := map[string]string{}
	for k, v := range full {
		noGroup[k] = v
	}
	delete(noGroup, "OIDC_ADMIN_GROUP")
	delete(noGroup, "OIDC_SALES_GROUP")
	_, err = FromEnv(env(noGroup))
	assert.ErrorContains(t, err, "OIDC_ADMIN_GROUP")
	for _, issuer := range []string{"login.example.com", "https://idp.example?", "https://idp.example#", "https://idp.example/a b", "https://idp.example/?a=b", "https://u@idp.example", "http://:80", "http://127.0.0.1:99999"} {
		full["OIDC_ISSUER"] = issuer
		_, err = FromEnv(env(full))
		assert.ErrorContains(t, err, "OIDC_ISSUER", issuer)
	}
}
