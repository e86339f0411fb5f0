package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/tools/loadgen/load"
)

// The load command's smoke size against the embedded default: complete
// lifecycles through the public surface, each active with its charge.
func TestLoadCommandSmoke(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := load.Run(ctx, load.Config{URL: p.base, N: 20, Concurrency: 5, Customers: 2})
	require.NoError(t, err)
	assert.Equal(t, 20, res.Done, "errors: %v", res.ErrorSamples)
	assert.Zero(t, res.Errors)
	assert.Len(t, res.ToActive, 20)
	assert.Positive(t, res.Rate())
	assert.LessOrEqual(t, load.Percentile(res.Purchase, 50), load.Percentile(res.Purchase, 99))

	var customers []string
	for c, subs := range res.SubscriptionsByCustomer {
		customers = append(customers, c)
		assert.Len(t, subs, 10)
	}
	lat, err := load.ListLatency(ctx, load.Config{URL: p.base}, customers, 10)
	require.NoError(t, err)
	assert.Len(t, lat, 10)

	m := scrape(t, p.base+"/metrics")
	assert.Equal(t, 20.0, m["marketplace_activations_total"])
	assert.Equal(t, 40.0, m[`marketplace_webhooks_total{outcome="accepted",reason="applied"}`])
}

// The load command's Microsoft dialect: the ISV resolves and activates
// every purchase through /api/saas with one token.
func TestLoadCommandSmokeInMicrosoftsDialect(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := load.Run(ctx, load.Config{URL: p.base, N: 10, Concurrency: 5, Customers: 1, Dialect: "microsoft"})
	require.NoError(t, err)
	assert.Equal(t, 10, res.Done, "errors: %v", res.ErrorSamples)
	assert.Len(t, res.ToActive, 10)
	m := scrape(t, p.base+"/metrics")
	assert.Equal(t, 10.0, m["marketplace_activations_total"])
}
