package api

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/identity"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
	"github.com/cspmarket/orchestrator/internal/tests/oidcprovider"
)

// lockedBuffer is a log sink the handlers may write from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Access tokens, good or refused, never reach the logs (at debug level,
// where everything is written), and the provider down answers 503 with
// Retry-After, not 401: the caller's token may be fine.
func TestAccessTokensAreNeverLogged(t *testing.T) {
	eve := oidcprovider.Person{ID: "u-eve", Username: "eve", Password: "pw", GivenName: "Ev\x00e\r\nlevel=ERROR", FamilyName: "\u202enimdA",
		Email: "eve@contoso.example", Org: oidcprovider.DemoOrg, Groups: []string{oidcprovider.AdminGroup}}
	op, err := oidcprovider.Start("127.0.0.1:0", "console", "secret", append(oidcprovider.DevPeople(), eve))
	require.NoError(t, err)
	t.Cleanup(op.Close)
	s := storetest.SQLite(t)
	ctx := context.Background()
	require.NoError(t, s.SyncCatalog(ctx, catalog.Dev()))
	require.NoError(t, fixtures.Seed(ctx, s))
	logs := &lockedBuffer{}
	directory := oidcprovider.Directory()
	srv := httptest.NewServer((&Server{Store: s, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		CheckTemporal: func(context.Context) error { return nil },
		Identity:      identity.New(identity.Config{Issuer: op.Issuer, ClientID: "console", ClientSecret: "secret", Directory: directory})}).Handler())
	t.Cleanup(srv.Close)

	tokens, err := op.Tokens(ctx, "ada", oidcprovider.DevPassword)
	require.NoError(t, err)
	resp, _ := call(t, srv, http.MethodGet, "/v1/customers", tokens.AccessToken, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	expired, err := op.Sign(map[string]any{"iss": op.Issuer, "sub": "u-ada", "aud": "console", "exp": time.Now().Add(-time.Hour).Unix()})
	require.NoError(t, err)
	resp, p := call(t, srv, http.MethodGet, "/v1/customers", expired, "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, "unauthenticated", p.Code)
	idToken, _ := tokens.Extra("id_token").(string)
	resp, _ = call(t, srv, http.MethodGet, "/v1/customers", idToken, "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "an ID token is not an access token")

	// A name with a NUL, a line break and a direction override, from the
	// provider's userinfo (the access token carries none): served, and
	// recorded as it may be shown.
	eveTokens, err := op.Tokens(ctx, "eve", "pw")
	require.NoError(t, err)
	resp, _ = call(t, srv, http.MethodGet, "/v1/customers", eveTokens.AccessToken, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	people, err := s.People(ctx)
	require.NoError(t, err)
	names := map[string]string{}
	for _, p := range people {
		names[p.Subject] = p.Name
	}
	assert.Equal(t, "Evelevel=ERROR nimdA", names["u-eve"])

	require.Contains(t, logs.String(), "access token refused", "the refusals are logged, with their reason")
	for _, secret := range []string{tokens.AccessToken, expired, idToken} {
		parts := bytes.Split([]byte(secret), []byte("."))
		assert.NotContains(t, logs.String(), string(parts[1]), "a token's claims in the logs")
		assert.NotContains(t, logs.String(), string(parts[2]), "a token's signature in the logs")
	}

	down := httptest.NewServer((&Server{Store: s, Logger: slog.New(slog.DiscardHandler), CheckTemporal: func(context.Context) error { return nil },
		Identity: identity.New(identity.Config{Issuer: "http://127.0.0.1:1", ClientID: "console", ClientSecret: "secret", Directory: directory})}).Handler())
	t.Cleanup(down.Close)
	resp, p = call(t, down, http.MethodGet, "/v1/customers", tokens.AccessToken, "")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "identity_provider_unavailable", p.Code)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	resp, _ = call(t, down, http.MethodGet, "/v1/customers", "dev-admin-token", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "agent tokens never need the provider")
}
