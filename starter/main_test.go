package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/platform/config"
	"github.com/cspmarket/orchestrator/internal/platform/secretbox"
)

func TestAgentTokensAreShownOnceStoredHashedAndRevocable(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.FromEnv(func(k string) string { return map[string]string{"DATA_DIR": dir}[k] })
	require.NoError(t, err)

	var out bytes.Buffer
	require.NoError(t, agents(&out, cfg, "create", []string{"--partner", "partner-x", "--role", "sales_agent", "--name", "bob"}))
	m := regexp.MustCompile(`agent (agt_\S+) .*\ntoken (mpt_\S+)`).FindStringSubmatch(out.String())
	require.Len(t, m, 3, out.String())
	agentID, token := m[1], m[2]

	key, err := secretbox.LoadOrCreateKeyFile(cfg.SecretsKeyFile())
	require.NoError(t, err)
	box, err := secretbox.New(key)
	require.NoError(t, err)
	s, err := store.Open(context.Background(), "sqlite://"+filepath.Join(dir, "app.db"), box, store.Options{})
	require.NoError(t, err)
	defer s.Close()
	a, err := s.AgentByTokenHash(context.Background(), auth.HashToken(token))
	require.NoError(t, err)
	assert.Equal(t, "partner-x", a.PartnerID)
	assert.Equal(t, "sales_agent", a.Role)
	// Found by its hash, and the token itself is nowhere in the files.
	for _, file := range []string{"app.db", "app.db-wal"} {
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.False(t, bytes.Contains(raw, []byte(token)), "%s holds the token", file)
	}

	out.Reset()
	require.NoError(t, agents(&out, cfg, "revoke", []string{"--id", agentID}))
	_, err = s.AgentByTokenHash(context.Background(), auth.HashToken(token))
	assert.ErrorIs(t, err, store.ErrNotFound)

	assert.Error(t, agents(&out, cfg, "create", []string{"--partner", "p", "--role", "root"}), "unknown role")
	assert.Error(t, agents(&out, cfg, "create", []string{"--role", "admin_agent"}), "partner required")
	assert.Error(t, agents(&out, cfg, "revoke", []string{"--id", "agt_nope"}))
}

func TestRotateSecretPrintsTheNewSecretOnceAndRevokeStopsTheOldOne(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.FromEnv(func(k string) string { return map[string]string{"DATA_DIR": dir}[k] })
	require.NoError(t, err)
	s, err := openStore(cfg)
	require.NoError(t, err)
	require.NoError(t, s.SyncCatalog(context.Background(), catalog.Dev()))
	require.NoError(t, s.EnsurePublisherSecret(context.Background(), "sec_old", "isv-demo", []byte("old")))

	var out bytes.Buffer
	require.NoError(t, publishers(&out, cfg, "rotate-secret", []string{"--publisher", "isv-demo", "--overlap", "1h"}))
	secret := regexp.MustCompile(`whsec_\S+`).FindString(out.String())
	require.NotEmpty(t, secret, out.String())
	secrets, err := s.PublisherSecrets(context.Background(), "isv-demo")
	require.NoError(t, err)
	require.Len(t, secrets, 2)
	assert.Equal(t, secret, string(secrets[0]), "the new secret signs from now on")
	assert.Equal(t, "old", string(secrets[1]), "the old one still verifies, for the overlap")

	out.Reset()
	require.NoError(t, publishers(&out, cfg, "secrets", []string{"--publisher", "isv-demo"}))
	assert.Contains(t, out.String(), "sec_old\tcreated")
	assert.Contains(t, out.String(), "verifies until")
	assert.NotContains(t, out.String(), secret, "secrets are never listed")
	require.NoError(t, publishers(&out, cfg, "revoke-secret", []string{"--publisher", "isv-demo", "--id", "sec_old"}))
	secrets, err = s.PublisherSecrets(context.Background(), "isv-demo")
	require.NoError(t, err)
	require.Len(t, secrets, 1)
	assert.Equal(t, secret, string(secrets[0]))
	require.NoError(t, s.Close())

	assert.Error(t, publishers(&out, cfg, "revoke-secret", []string{"--publisher", "isv-demo", "--id", "sec_old"}), "revoked already")
	assert.Error(t, publishers(&out, cfg, "rotate-secret", []string{"--publisher", "nobody"}))
	assert.Error(t, publishers(&out, cfg, "rotate-secret", []string{"--publisher", "isv-demo", "--overlap", "-1h"}))
}

func TestPeopleAreListedAndRevocable(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.FromEnv(func(k string) string { return map[string]string{"DATA_DIR": dir}[k] })
	require.NoError(t, err)
	s, err := openStore(cfg)
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	require.NoError(t, s.UpsertPartner(ctx, "partner-x", "X"))
	ada, err := s.RecordPerson(ctx, store.PersonSeen{Issuer: "https://idp", Subject: "u1", PartnerID: "partner-x", Name: "Ada Admin", Email: "ada@x.example", Role: "admin_agent"}, time.Now())
	require.NoError(t, err)

	var out bytes.Buffer
	require.NoError(t, people(&out, cfg, "list", nil))
	assert.Contains(t, out.String(), ada.ID)
	assert.Contains(t, out.String(), "Ada Admin")
	out.Reset()
	require.NoError(t, people(&out, cfg, "revoke", []string{"--id", ada.ID}))
	got, err := s.PersonByID(ctx, ada.ID)
	require.NoError(t, err)
	assert.NotNil(t, got.RevokedAt)
	assert.Error(t, people(&out, cfg, "revoke", []string{"--id", ada.ID}), "already revoked")
	assert.Error(t, people(&out, cfg, "revoke", nil), "--id required")
}
