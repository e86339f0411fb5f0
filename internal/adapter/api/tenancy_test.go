package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
)

// TestEveryEndpointHidesAnotherPartnersData walks every partner route of
// the server's route table with another partner's admin token: each id of
// partner-demo answers 404, never 403, so ids leak nothing. A route added
// later is walked too.
func TestEveryEndpointHidesAnotherPartnersData(t *testing.T) {
	srv, s := newTestServer(t)
	ctx := context.Background()
	c, err := s.CreateCustomer(ctx, fixtures.PartnerDemo, "Fabrikam")
	require.NoError(t, err)
	_, err = s.ApplyStep(ctx, store.Step{Subscription: storedSubscription("sub_1", c.ID, "pending_fulfillment", true, time.Now(), 1)})
	require.NoError(t, err)

	bodies := map[string]string{
		"POST":  `{"offerId":"contoso-crm","planId":"monthly","quantity":1}`,
		"PATCH": `{"nickname":"mine now"}`,
	}
	walked := 0
	for _, rt := range (&Server{}).Routes() {
		if rt.Auth != "bearer" || !strings.Contains(rt.Pattern, "{customerId}") {
			continue
		}
		path := strings.NewReplacer("{customerId}", c.ID, "{subscriptionId}", "sub_1").Replace(rt.Pattern)
		for _, token := range []string{fixtures.OtherAdminToken} {
			resp, p := call(t, srv, rt.Method, path, token, bodies[rt.Method])
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", rt.Method, rt.Pattern)
			assert.Contains(t, []string{"customer_not_found", "subscription_not_found"}, p.Code)
		}
		// The same route as the owner: found (reads answer 200; writes may be
		// refused later for other reasons, never as unknown).
		resp, p := call(t, srv, rt.Method, path, fixtures.AdminToken, bodies[rt.Method])
		assert.NotEqual(t, http.StatusNotFound, resp.StatusCode, "owner: %s %s: %s", rt.Method, rt.Pattern, p.Code)
		if rt.Method == "GET" {
			assert.Equal(t, http.StatusOK, resp.StatusCode, "owner: %s %s: %s", rt.Method, rt.Pattern, p.Code)
		}
		walked++
	}
	assert.GreaterOrEqual(t, walked, 7)

	// Lists never show another partner's rows, and do show the owner's.
	listed := func(token string) []string {
		req, err := http.NewRequest("GET", srv.URL+"/v1/customers", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		got, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer got.Body.Close()
		require.Equal(t, http.StatusOK, got.StatusCode)
		var list struct{ Items []wire.Customer }
		require.NoError(t, jsonDecode(got, &list))
		var ids []string
		for _, item := range list.Items {
			ids = append(ids, item.ID)
		}
		return ids
	}
	assert.NotContains(t, listed(fixtures.OtherAdminToken), c.ID)
	assert.Contains(t, listed(fixtures.AdminToken), c.ID)
}
