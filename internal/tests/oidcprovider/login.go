package oidcprovider

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// LogIn does what a person does at the provider's login page, over HTTP
// with client (it keeps the cookies of a browser): from authURL (the
// authorization request a product sent the browser to) through the login
// form, up to the redirect back to the product, whose URL it returns
// without following it.
func (p *Provider) LogIn(client *http.Client, authURL, username, password string) (*url.URL, error) {
	issuer, _ := url.Parse(p.Issuer)
	c := *client
	var back *url.URL
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != issuer.Host {
			back = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if back != nil {
		return back, nil // signed in already at the provider
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	if resp.StatusCode != http.StatusOK || id == "" {
		return nil, fmt.Errorf("no login page: %s at %s", resp.Status, resp.Request.URL)
	}
	resp, err = c.PostForm(p.Issuer+"/login/username", url.Values{"id": {id}, "username": {username}, "password": {password}})
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if back == nil {
		return nil, fmt.Errorf("the login page did not send the browser back (%s): %.200s", resp.Status, body)
	}
	return back, nil
}

// tokensRedirect is the redirect URI of Tokens: never served, its URL is
// all Tokens needs.
const tokensRedirect = "http://127.0.0.1:1/tokens-callback"

// Tokens signs a person in as a script's client would (code flow with
// PKCE) and returns the provider's tokens: the access token for the API
// (a JWT) and the ID token in its extras.
func (p *Provider) Tokens(ctx context.Context, username, password string) (*oauth2.Token, error) {
	p.AllowRedirect(tokensRedirect, tokensRedirect)
	provider, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		return nil, err
	}
	cfg := oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: provider.Endpoint(), RedirectURL: tokensRedirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	jar, _ := cookiejar.New(nil)
	verifier, state := oauth2.GenerateVerifier(), random()
	back, err := p.LogIn(&http.Client{Jar: jar}, cfg.AuthCodeURL(state, oidc.Nonce(random()), oauth2.S256ChallengeOption(verifier)), username, password)
	if err != nil {
		return nil, err
	}
	if back.Query().Get("state") != state || !strings.HasPrefix(back.String(), tokensRedirect) {
		return nil, errors.New("came back with another state")
	}
	return cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
