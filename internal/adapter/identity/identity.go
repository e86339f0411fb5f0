// Package identity is the partner's identity provider, spoken to with
// OpenID Connect through well-kept libraries (github.com/coreos/go-oidc
// and golang.org/x/oauth2; no JOSE by hand): discovery, the console's
// authorization code flow with PKCE and a nonce, verification of ID
// tokens and of the access tokens the API accepts, and the provider's
// sign-out. Which partner and role a verified person has is the rule of
// auth.Directory.
package identity

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/cspmarket/orchestrator/internal/domain/auth"
)

// Config is how to reach the provider and read its people.
type Config struct {
	Issuer, ClientID, ClientSecret string
	// RedirectURL is the console's callback (the public base URL +
	// /sign-in/callback), registered at the provider.
	RedirectURL string
	// PostLogoutURL is where the provider sends people after its own
	// sign-out (the console's sign-in page), registered there too.
	PostLogoutURL string
	// APIAudience is the audience the API's access tokens must name;
	// the client id when empty.
	APIAudience string
	// Scopes are asked for besides openid, profile and email (a provider
	// may give its groups claim only for a scope of its own).
	Scopes []string
	// Name is the provider's name on the sign-in button.
	Name      string
	Directory auth.Directory
	// HTTP is the client for the provider (discovery, keys, tokens,
	// userinfo); a 10-second one when nil.
	HTTP *http.Client
	// Now is the clock tokens' expiry is checked against.
	Now func() time.Time
	// KeysRefreshedAtMostEvery bounds how often the provider's keys are
	// fetched again for a token they do not verify; 10 s when zero.
	KeysRefreshedAtMostEvery time.Duration
}

// Why a sign-in or a token is refused, besides the directory's reasons
// (auth.ErrUnknownPartner, auth.ErrNoRole, auth.ErrNoSubject).
var (
	// ErrUnavailable: the provider could not be reached (discovery, the
	// code exchange); trying again later may work.
	ErrUnavailable = errors.New("the identity provider does not answer")
	// ErrInvalidToken: a token that is not the provider's, not for us,
	// expired, or not what it claims to be.
	ErrInvalidToken = errors.New("the token is not valid")
)

// Provider is the configured identity provider, discovered at first use
// (and again after a failure, at most every few seconds): the product
// starts while its provider is down and signs people in once it answers.
type Provider struct {
	cfg Config

	mu       sync.Mutex
	found    *discovered
	failedAt time.Time
	lastErr  error
}

// discovered is what the provider's discovery document gave.
type discovered struct {
	oauth        oauth2.Config
	provider     *oidc.Provider
	idTokens     *oidc.IDTokenVerifier
	accessTokens *oidc.IDTokenVerifier
	endSession   string
}

// retryAfter is how long a failed discovery is answered from memory.
const retryAfter = 5 * time.Second

// New is a provider of this configuration; nothing is fetched yet.
func New(cfg Config) *Provider {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Name == "" {
		if u, err := url.Parse(cfg.Issuer); err == nil {
			cfg.Name = u.Hostname()
		}
	}
	return &Provider{cfg: cfg}
}

// Name is the provider's name for the sign-in button.
func (p *Provider) Name() string { return p.cfg.Name }

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

func (p *Provider) httpContext(ctx context.Context) context.Context {
	ctx = oidc.ClientContext(ctx, p.cfg.HTTP)
	return context.WithValue(ctx, oauth2.HTTPClient, p.cfg.HTTP)
}

// discover is the provider's discovery document, fetched once.
func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.found != nil {
		return p.found, nil
	}
	if !p.failedAt.IsZero() && time.Since(p.failedAt) < retryAfter {
		return nil, p.lastErr
	}
	dctx, cancel := context.WithTimeout(p.httpContext(context.WithoutCancel(ctx)), 5*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(dctx, p.cfg.Issuer)
	if err != nil {
		p.failedAt, p.lastErr = time.Now(), fmt.Errorf("%w: discovery at %s: %v", ErrUnavailable, p.cfg.Issuer, err)
		return nil, p.lastErr
	}
	var extra struct {
		EndSession string   `json:"end_session_endpoint"`
		JWKS       string   `json:"jwks_uri"`
		Algorithms []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&extra); err != nil || extra.JWKS == "" {
		p.failedAt, p.lastErr = time.Now(), fmt.Errorf("%w: discovery at %s names no jwks_uri", ErrUnavailable, p.cfg.Issuer)
		return nil, p.lastErr
	}
	keys := &keySet{url: extra.JWKS, client: p.cfg.HTTP, refreshEvery: cmp.Or(p.cfg.KeysRefreshedAtMostEvery, 10*time.Second)}
	verifier := func(audience string) *oidc.IDTokenVerifier {
		return oidc.NewVerifier(p.cfg.Issuer, keys, &oidc.Config{ClientID: audience, Now: p.cfg.Now, SupportedSigningAlgs: extra.Algorithms})
	}
	scopes := []string{oidc.ScopeOpenID, "profile", "email"}
	for _, s := range p.cfg.Scopes {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	p.found = &discovered{
		provider: provider,
		oauth: oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: provider.Endpoint(),
			RedirectURL: p.cfg.RedirectURL, Scopes: scopes},
		idTokens:     verifier(p.cfg.ClientID),
		accessTokens: verifier(cmp.Or(p.cfg.APIAudience, p.cfg.ClientID)),
		endSession:   extra.EndSession,
	}
	return p.found, nil
}

// AuthCodeURL is where the browser goes to sign in: the provider's
// authorization endpoint with the state, the nonce and the PKCE
// challenge of the verifier (S256).
func (p *Provider) AuthCodeURL(ctx context.Context, state, nonce, verifier string) (string, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	return d.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// LoginOrigin is the origin of the provider's authorization endpoint
// ("" while it cannot be discovered): the sign-in page's form-action must
// allow it, browsers applying it to the form's redirect too.
func (p *Provider) LoginOrigin(ctx context.Context) string {
	d, err := p.discover(ctx)
	if err != nil {
		return ""
	}
	return Origin(d.oauth.Endpoint.AuthURL)
}

// Profile is the name and email the provider's userinfo endpoint gives
// for an access token, when it takes it (a token whose audience is only
// the API may not be taken there): access tokens seldom carry them, and
// the audit trail names people. Empty when the provider says nothing.
func (p *Provider) Profile(ctx context.Context, subject, accessToken string) (name, email string) {
	d, err := p.discover(ctx)
	if err != nil || d.provider.UserInfoEndpoint() == "" {
		return "", ""
	}
	info, err := d.provider.UserInfo(p.httpContext(ctx), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken}))
	if err != nil || info.Subject != subject {
		return "", ""
	}
	claims := map[string]any{}
	_ = info.Claims(&claims)
	name, _ = claims["name"].(string)
	if name = auth.Shown(name); name == "" {
		name, _ = claims["preferred_username"].(string)
	}
	return auth.Shown(name), auth.Shown(info.Email)
}

// SignedIn is a person the provider vouched for at a sign-in.
type SignedIn struct {
	Person auth.Person
	// IDToken is the raw ID token, kept (sealed) for the provider's
	// sign-out; never logged, never in a URL.
	IDToken string
}

// Exchange ends a sign-in: the code is exchanged with the PKCE verifier,
// the ID token verified (issuer, audience, authorized party, expiry,
// signature, and the nonce of this sign-in), its claims completed by the
// userinfo endpoint where they lack the name, email or the directory's
// claims, and the directory says who the person is.
func (p *Provider) Exchange(ctx context.Context, code, verifier, nonce string) (SignedIn, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return SignedIn{}, err
	}
	hctx := p.httpContext(ctx)
	token, err := d.oauth.Exchange(hctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			// The provider refused the code (used, expired, not for this
			// verifier): the sign-in must begin again.
			return SignedIn{}, fmt.Errorf("%w: the provider refused the code (%s)", ErrInvalidToken, re.ErrorCode)
		}
		return SignedIn{}, fmt.Errorf("%w: code exchange: %v", ErrUnavailable, err)
	}
	raw, _ := token.Extra("id_token").(string)
	if raw == "" {
		return SignedIn{}, fmt.Errorf("%w: the provider sent no ID token", ErrInvalidToken)
	}
	idToken, err := d.idTokens.Verify(hctx, raw)
	if err != nil {
		return SignedIn{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(nonce)) != 1 || nonce == "" {
		return SignedIn{}, fmt.Errorf("%w: the ID token's nonce is not this sign-in's", ErrInvalidToken)
	}
	claims := map[string]any{}
	if err := idToken.Claims(&claims); err != nil {
		return SignedIn{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if err := checkAuthorizedParty(claims, p.cfg.ClientID); err != nil {
		return SignedIn{}, err
	}
	if p.lacksClaims(claims) && d.provider.UserInfoEndpoint() != "" {
		info, err := d.provider.UserInfo(hctx, oauth2.StaticTokenSource(token))
		if err != nil {
			return SignedIn{}, fmt.Errorf("%w: userinfo: %v", ErrUnavailable, err)
		}
		more := map[string]any{}
		// The userinfo answer is about the ID token's subject, or about
		// no one we know (OpenID Connect Core 5.3.2).
		if err := info.Claims(&more); err == nil && info.Subject == idToken.Subject {
			for k, v := range more {
				if _, ok := claims[k]; !ok {
					claims[k] = v
				}
			}
		}
	}
	person, err := p.cfg.Directory.Person(claims)
	if err != nil {
		return SignedIn{}, err
	}
	return SignedIn{Person: person, IDToken: raw}, nil
}

// lacksClaims reports whether the ID token leaves out what the userinfo
// endpoint may say (providers put only the subject in ID tokens issued
// beside an access token).
func (p *Provider) lacksClaims(claims map[string]any) bool {
	for _, name := range []string{"name", "email", p.cfg.Directory.PartnerClaim, cmp.Or(p.cfg.Directory.GroupsClaim, "groups")} {
		if _, ok := claims[name]; !ok {
			return true
		}
	}
	return false
}

// isAccessToken tells an access token from an ID token of the same
// provider and audience (by default the API's audience is the console's
// client id, every ID token's audience too). An access token says so in
// its header (RFC 9068's typ at+jwt) or grants scopes (a non-empty scope
// or scp: RFC 9068, Keycloak, Entra ID); it never carries the hashes only
// ID tokens have (at_hash, c_hash) nor Keycloak's typ ID. A client_id or
// a nonce is no sign either way: some providers put a client_id in their
// ID tokens, or copy the authorization request's nonce into access tokens.
func isAccessToken(header string, claims map[string]any) bool {
	for _, idOnly := range []string{"at_hash", "c_hash"} {
		if _, ok := claims[idOnly]; ok {
			return false
		}
	}
	if typ, _ := claims["typ"].(string); strings.EqualFold(strings.TrimSpace(typ), "ID") {
		return false
	}
	if t := strings.ToLower(header); t == "at+jwt" || t == "application/at+jwt" {
		return true
	}
	for _, marker := range []string{"scope", "scp"} {
		switch v := claims[marker].(type) {
		case string:
			if auth.Meaningful(v) {
				return true
			}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok && auth.Meaningful(s) {
					return true
				}
			}
		}
	}
	return false
}

// headerType is a compact JWS's typ header ("" when it has none); the
// token's signature is verified elsewhere.
func headerType(token string) string {
	jws, err := jose.ParseSignedCompact(token, signatureAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return ""
	}
	typ, _ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType].(string)
	return typ
}

// signatureAlgorithms are those a provider's tokens may be read with here
// (go-oidc checks the provider's own list before).
var signatureAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512, jose.EdDSA}

// checkAuthorizedParty refuses a token issued to several audiences for
// another client (OpenID Connect Core 3.1.3.7, points 4 and 5).
func checkAuthorizedParty(claims map[string]any, clientID string) error {
	azp, _ := claims["azp"].(string)
	if aud, ok := claims["aud"].([]any); ok && len(aud) > 1 && azp != clientID {
		return fmt.Errorf("%w: issued to several audiences, for %q", ErrInvalidToken, azp)
	}
	if azp != "" && azp != clientID {
		return fmt.Errorf("%w: issued for another client (%q)", ErrInvalidToken, azp)
	}
	return nil
}

// Person is who an access token sent to the API says: the token verified
// (issuer, the API's audience, expiry, signature by the provider's keys,
// fetched again when they rotate) and read by the directory. An ID token
// is not an access token (isAccessToken).
func (p *Provider) Person(ctx context.Context, accessToken string) (auth.Person, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return auth.Person{}, err
	}
	token, err := d.accessTokens.Verify(p.httpContext(ctx), accessToken)
	if err != nil {
		return auth.Person{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	claims := map[string]any{}
	if err := token.Claims(&claims); err != nil {
		return auth.Person{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if !isAccessToken(headerType(accessToken), claims) {
		return auth.Person{}, fmt.Errorf("%w: an ID token, not an access token", ErrInvalidToken)
	}
	return p.cfg.Directory.Person(claims)
}

// SignOut is the provider's end-session endpoint and the form to post to
// it (OpenID Connect RP-Initiated Logout 1.0, which every conforming
// provider takes by POST: the ID token stays out of URLs); ok is false
// when the provider offers none (the console's own sign-out is then all).
func (p *Provider) SignOut(ctx context.Context, idToken string) (endpoint string, form url.Values, ok bool) {
	d, err := p.discover(ctx)
	if err != nil || d.endSession == "" {
		return "", nil, false
	}
	form = url.Values{"client_id": {p.cfg.ClientID}, "post_logout_redirect_uri": {p.cfg.PostLogoutURL}}
	if idToken != "" {
		form.Set("id_token_hint", idToken)
	}
	return d.endSession, form, true
}

// Origin is the scheme and host of a URL ("" when it has none): what a
// page's Content-Security-Policy must allow to post a form there.
func Origin(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
