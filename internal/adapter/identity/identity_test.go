package identity_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/cspmarket/orchestrator/internal/adapter/identity"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/tests/oidcprovider"
)

const redirect = "http://127.0.0.1:1/sign-in/callback"

// start runs the real test provider and a Provider of the product for it.
func start(t *testing.T) (*oidcprovider.Provider, *identity.Provider) {
	t.Helper()
	return startWith(t, func(*identity.Config) {})
}

func startWith(t *testing.T, change func(*identity.Config)) (*oidcprovider.Provider, *identity.Provider) {
	t.Helper()
	op, err := oidcprovider.Start("127.0.0.1:0", "console", "console-secret", oidcprovider.DevPeople())
	require.NoError(t, err)
	t.Cleanup(op.Close)
	op.AllowRedirect(redirect, "http://127.0.0.1:1/sign-in")
	cfg := identity.Config{Issuer: op.Issuer, ClientID: "console", ClientSecret: "console-secret",
		RedirectURL: redirect, PostLogoutURL: "http://127.0.0.1:1/sign-in", Name: "Test provider",
		Directory: oidcprovider.Directory()}
	change(&cfg)
	return op, identity.New(cfg)
}

// countingTransport counts the requests for the provider's keys.
type countingTransport struct{ keys atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "keys") {
		c.keys.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// signIn goes through the provider's login page as username and returns
// the code it sent back, with the sign-in's verifier and nonce.
func signIn(t *testing.T, op *oidcprovider.Provider, p *identity.Provider, username string) (code, verifier, nonce string) {
	t.Helper()
	state, verifier, nonce := "state-"+username, oauth2.GenerateVerifier(), "nonce-"+username
	to, err := p.AuthCodeURL(context.Background(), state, nonce, verifier)
	require.NoError(t, err)
	assert.Contains(t, to, "code_challenge_method=S256")
	assert.NotContains(t, to, verifier, "only the challenge goes to the browser")
	jar, _ := cookiejar.New(nil)
	back, err := op.LogIn(&http.Client{Jar: jar}, to, username, oidcprovider.DevPassword)
	require.NoError(t, err)
	require.Equal(t, state, back.Query().Get("state"))
	return back.Query().Get("code"), verifier, nonce
}

func TestASignInThroughTheProvidersLoginPage(t *testing.T) {
	op, p := start(t)
	ctx := context.Background()
	code, verifier, nonce := signIn(t, op, p, "ada")
	in, err := p.Exchange(ctx, code, verifier, nonce)
	require.NoError(t, err)
	assert.Equal(t, auth.Person{Subject: "u-ada", Name: "Ada Admin", Email: "ada@contoso.example", PartnerID: "partner-demo", Role: auth.RoleAdminAgent}, in.Person,
		"the name and email come from the userinfo endpoint, the organisation and groups from the ID token")
	assert.NotEmpty(t, in.IDToken)

	// The same code again: the provider refuses it, nothing is signed in.
	_, err = p.Exchange(ctx, code, verifier, nonce)
	assert.ErrorIs(t, err, identity.ErrInvalidToken)

	code, verifier, nonce = signIn(t, op, p, "sam")
	in, err = p.Exchange(ctx, code, verifier, nonce)
	require.NoError(t, err)
	assert.Equal(t, auth.RoleSalesAgent, in.Person.Role)

	code, verifier, nonce = signIn(t, op, p, "olga")
	in, err = p.Exchange(ctx, code, verifier, nonce)
	require.NoError(t, err)
	assert.Equal(t, "partner-other", in.Person.PartnerID)

	code, verifier, nonce = signIn(t, op, p, "nina")
	_, err = p.Exchange(ctx, code, verifier, nonce)
	assert.ErrorIs(t, err, auth.ErrNoRole)
}

func TestASignInIsRefusedWithAnotherVerifierOrNonce(t *testing.T) {
	op, p := start(t)
	ctx := context.Background()
	code, _, nonce := signIn(t, op, p, "ada")
	_, err := p.Exchange(ctx, code, oauth2.GenerateVerifier(), nonce)
	assert.ErrorIs(t, err, identity.ErrInvalidToken, "PKCE: the code is worth nothing without its verifier")

	code, verifier, _ := signIn(t, op, p, "ada")
	_, err = p.Exchange(ctx, code, verifier, "another-nonce")
	assert.ErrorIs(t, err, identity.ErrInvalidToken, "the ID token must carry this sign-in's nonce")
}

func TestAccessTokensAreVerified(t *testing.T) {
	op, p := start(t)
	ctx := context.Background()
	tokens, err := op.Tokens(ctx, "ada", oidcprovider.DevPassword)
	require.NoError(t, err)
	person, err := p.Person(ctx, tokens.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "u-ada", person.Subject)
	assert.Equal(t, "partner-demo", person.PartnerID)
	assert.Equal(t, auth.RoleAdminAgent, person.Role)

	idToken, _ := tokens.Extra("id_token").(string)
	_, err = p.Person(ctx, idToken)
	assert.ErrorIs(t, err, identity.ErrInvalidToken, "an ID token is not an access token")

	now := time.Now()
	claims := func(change map[string]any) map[string]any { return op.Claims("console", change) }
	good, err := op.Sign(claims(nil))
	require.NoError(t, err)
	_, err = p.Person(ctx, good)
	require.NoError(t, err, "the control: the provider's key and right claims")
	for name, token := range map[string]func() (string, error){
		"Entra ID's scp": func() (string, error) { return op.Sign(claims(map[string]any{"scope": nil, "scp": "Marketplace.Use"})) },
		"RFC 9068's typ, no scope": func() (string, error) {
			return op.SignAs("at+jwt", claims(map[string]any{"scope": nil}))
		},
	} {
		signed, err := token()
		require.NoError(t, err)
		_, err = p.Person(ctx, signed)
		assert.NoError(t, err, name)
	}

	for name, change := range map[string]map[string]any{
		"expired":        {"exp": now.Add(-time.Minute).Unix()},
		"wrong audience": {"aud": []string{"another-api"}},
		"wrong issuer":   {"iss": "https://login.example.com"},
		// ID tokens of this client, which have its audience too: with
		// the hashes of a code flow, and the barest one (no nonce).
		"an ID token without a nonce": {"scope": nil, "client_id": nil, "jti": nil, "azp": "console", "at_hash": "x", "c_hash": "y", "auth_time": now.Unix()},
		"a bare ID token":             {"scope": nil, "client_id": nil, "jti": nil},
		// Some providers put a client_id in ID tokens; one issued without
		// an access token has no hash either (zitadel's token exchange).
		"an ID token with a client_id": {"scope": nil, "azp": "console", "auth_time": now.Unix(), "nonce": "n"},
		"an empty scope":               {"scope": ""},
		"an empty scp":                 {"scope": nil, "scp": []any{}},
		"a scope beside an at_hash":    {"at_hash": "x"},
		"Keycloak's ID token":          {"typ": "ID"},
		"Keycloak's ID token, spaced":  {"typ": " id "},
		"a blank scope in a list":      {"scope": []any{" ", "\u200b", 1}},
		"a zero-width scope":           {"scope": "\u200b\u00a0"},
	} {
		token, err := op.Sign(claims(change))
		require.NoError(t, err)
		_, err = p.Person(ctx, token)
		assert.ErrorIs(t, err, identity.ErrInvalidToken, name)
	}

	// Forged: the right claims, signed by another key (with the
	// provider's key id), and unsigned.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	kid := headerKeyID(t, good)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	require.NoError(t, err)
	forged, err := jwt.Signed(signer).Claims(claims(nil)).Serialize()
	require.NoError(t, err)
	_, err = p.Person(ctx, forged)
	assert.ErrorIs(t, err, identity.ErrInvalidToken, "forged")
	parts := splitJWT(good)
	_, err = p.Person(ctx, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."+parts[1]+".")
	assert.ErrorIs(t, err, identity.ErrInvalidToken, "alg none")

	nobody, err := op.Sign(claims(map[string]any{oidcprovider.GroupsClaim: []string{"everyone"}}))
	require.NoError(t, err)
	_, err = p.Person(ctx, nobody)
	assert.ErrorIs(t, err, auth.ErrNoRole)
}

// The provider rotates its keys: tokens signed by the new key are
// verified (its keys fetched again), and the old key's still are.
func TestKeysAreFetchedAgainWhenTheyRotate(t *testing.T) {
	op, p := startWith(t, func(c *identity.Config) { c.KeysRefreshedAtMostEvery = 300 * time.Millisecond })
	ctx := context.Background()
	before, err := op.Tokens(ctx, "ada", oidcprovider.DevPassword)
	require.NoError(t, err)
	_, err = p.Person(ctx, before.AccessToken)
	require.NoError(t, err)
	require.NoError(t, op.RotateKeys())
	after, err := op.Tokens(ctx, "sam", oidcprovider.DevPassword)
	require.NoError(t, err)
	require.NotEqual(t, headerKeyID(t, before.AccessToken), headerKeyID(t, after.AccessToken))
	time.Sleep(300 * time.Millisecond)
	person, err := p.Person(ctx, after.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, auth.RoleSalesAgent, person.Role)
	_, err = p.Person(ctx, before.AccessToken)
	assert.NoError(t, err)
}

// Forged tokens (another key, made-up key ids) do not make a request to
// the provider each: its keys are fetched at most once every interval.
func TestForgedTokensDoNotHammerTheProvider(t *testing.T) {
	counter := &countingTransport{}
	op, p := startWith(t, func(c *identity.Config) { c.HTTP = &http.Client{Transport: counter, Timeout: 10 * time.Second} })
	ctx := context.Background()
	good, err := op.Sign(op.Claims("console", nil))
	require.NoError(t, err)
	_, err = p.Person(ctx, good)
	require.NoError(t, err)
	require.Equal(t, int32(1), counter.keys.Load())
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for i := range 50 {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", fmt.Sprintf("kid-%d", i)))
		require.NoError(t, err)
		forged, err := jwt.Signed(signer).Claims(map[string]any{"iss": op.Issuer, "sub": "u-ada", "aud": "console", "exp": time.Now().Add(time.Hour).Unix()}).Serialize()
		require.NoError(t, err)
		_, err = p.Person(ctx, forged)
		require.ErrorIs(t, err, identity.ErrInvalidToken)
	}
	assert.Equal(t, int32(1), counter.keys.Load(), "no fetch of the keys within the interval")
	_, err = p.Person(ctx, good)
	assert.NoError(t, err, "the keys held still verify")
}

// A provider that does not answer: the sign-in and the tokens say so
// (ErrUnavailable), and once it answers, everything works.
func TestAProviderDownAtStart(t *testing.T) {
	p := identity.New(identity.Config{Issuer: "http://127.0.0.1:1", ClientID: "console", ClientSecret: "x", RedirectURL: redirect})
	_, err := p.AuthCodeURL(context.Background(), "s", "n", oauth2.GenerateVerifier())
	assert.ErrorIs(t, err, identity.ErrUnavailable)
	_, err = p.Person(context.Background(), "a.b.c")
	assert.ErrorIs(t, err, identity.ErrUnavailable)
}

func TestTheProvidersSignOutTakesTheIDTokenByPost(t *testing.T) {
	_, p := start(t)
	endpoint, form, ok := p.SignOut(context.Background(), "the-id-token")
	require.True(t, ok)
	assert.Contains(t, endpoint, "/end_session")
	assert.Equal(t, "the-id-token", form.Get("id_token_hint"))
	assert.Equal(t, "http://127.0.0.1:1/sign-in", form.Get("post_logout_redirect_uri"))
	assert.NotContains(t, endpoint, "the-id-token")
}

func headerKeyID(t *testing.T, token string) string {
	t.Helper()
	parsed, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	return parsed.Signatures[0].Header.KeyID
}

func splitJWT(token string) []string {
	var parts []string
	start := 0
	for i := range token {
		if token[i] == '.' {
			parts = append(parts, token[start:i])
			start = i + 1
		}
	}
	return append(parts, token[start:])
}
