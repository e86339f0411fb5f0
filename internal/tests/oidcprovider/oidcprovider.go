// Package oidcprovider is a real, standards-compliant OpenID provider for
// the tests and for trying sign-in on a laptop: zitadel's example OP
// (github.com/zitadel/oidc/v3, its own login page, discovery, JWKS,
// PKCE, userinfo, RP-initiated logout), with the people of a partner's
// directory: their organisation and groups are claims, as Entra ID's
// tenant id and groups are. It is not a mock: the product talks to it
// over HTTP as it talks to any provider.
package oidcprovider

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/cspmarket/orchestrator/internal/domain/auth"
)

// The claims this provider's directory gives: the organisation (what
// OIDC_PARTNER_CLAIM names) and the groups.
const (
	OrgClaim    = "org"
	GroupsClaim = "groups"
)

// Person is someone of the provider's directory.
type Person struct {
	ID, Username, Password string
	GivenName, FamilyName  string
	Email                  string
	Org                    string
	Groups                 []string
}

// Groups and organisations of the dev directory.
const (
	AdminGroup  = "marketplace-admins"
	SalesGroup  = "marketplace-sales"
	DemoOrg     = "contoso-partners"
	OtherOrg    = "fabrikam-partners"
	DevPassword = "correct-horse-battery"
)

// DevPeople are an admin agent and a sales agent of partner-demo's
// organisation, an admin of another partner's, and a person in neither
// group.
func DevPeople() []Person {
	return []Person{
		{ID: "u-ada", Username: "ada", Password: DevPassword, GivenName: "Ada", FamilyName: "Admin", Email: "ada@contoso.example", Org: DemoOrg, Groups: []string{AdminGroup, "everyone"}},
		{ID: "u-sam", Username: "sam", Password: DevPassword, GivenName: "Sam", FamilyName: "Sales", Email: "sam@contoso.example", Org: DemoOrg, Groups: []string{SalesGroup}},
		{ID: "u-olga", Username: "olga", Password: DevPassword, GivenName: "Olga", FamilyName: "Other", Email: "olga@fabrikam.example", Org: OtherOrg, Groups: []string{AdminGroup}},
		{ID: "u-nina", Username: "nina", Password: DevPassword, GivenName: "Nina", FamilyName: "Nogroup", Email: "nina@contoso.example", Org: DemoOrg, Groups: []string{"everyone"}},
	}
}

// Directory is how the product reads this provider's people (what
// OIDC_PARTNER_CLAIM, OIDC_ADMIN_GROUP and OIDC_SALES_GROUP say), with
// the dev organisations mapped to partner-demo and partner-other.
func Directory() auth.Directory {
	return auth.Directory{PartnerClaim: OrgClaim, AdminGroup: AdminGroup, SalesGroup: SalesGroup,
		Partners: map[string]string{DemoOrg: "partner-demo", OtherOrg: "partner-other"}}
}

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is its URL (discovery at Issuer + /.well-known/openid-configuration).
	Issuer       string
	ClientID     string
	ClientSecret string

	server  *http.Server
	storage *directoryStorage
}

// Start serves a provider on addr ("127.0.0.1:0" picks a port) with one
// confidential client (code flow, PKCE, JWT access tokens whose audience
// is the client) and these people.
func Start(addr, clientID, clientSecret string, people []Person) (*Provider, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	issuer := "http://" + l.Addr().String()
	st := newDirectoryStorage(people, &client{id: clientID, secret: clientSecret})
	// SetupServer logs every request at Info on the process's default
	// logger, which it replaces with this one: warnings only.
	router := exampleop.SetupServer(issuer, st, slog.New(slog.NewTextHandler(logWriter{}, &slog.HandlerOptions{Level: slog.LevelWarn})), false)
	p := &Provider{Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret, storage: st,
		server: &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = p.server.Serve(l) }()
	return p, nil
}

// Close stops the provider.
func (p *Provider) Close() { _ = p.server.Close() }

// AllowRedirect registers the client's redirect URI and the URI it may
// send people to after signing out (known once the product listens).
func (p *Provider) AllowRedirect(redirectURI, postLogoutURI string) {
	p.storage.client.allow(redirectURI, postLogoutURI)
}

// RotateKeys makes a new signing key the one in use; the old one stays
// published (tokens it signed stay valid until they expire).
func (p *Provider) RotateKeys() error { return p.storage.rotate() }

// Sign signs claims with the provider's current key, as its tokens are:
// for the tests' expired, wrong-audience and wrong-issuer tokens, which
// must fail for their claims, not their signature.
func (p *Provider) Sign(claims map[string]any) (string, error) { return p.SignAs("JWT", claims) }

// SignAs is Sign with this typ header (RFC 9068's access tokens: at+jwt).
func (p *Provider) SignAs(typ string, claims map[string]any) (string, error) {
	key := p.storage.current()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key.private},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", key.id))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// Claims are those of an access token of this provider for a person of
// the dev directory (ada's: partner-demo's organisation, the admin
// group), for the audience, valid an hour, with change applied (a nil
// value removes a claim): what the tests sign to make a token fail for
// one reason only.
func (p *Provider) Claims(audience string, change map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": p.Issuer, "sub": "u-ada", "aud": []string{audience}, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"client_id": p.ClientID, "scope": "openid profile email", "jti": random(), OrgClaim: DemoOrg, GroupsClaim: []string{AdminGroup}}
	for k, v := range change {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// logWriter sends the provider's warnings to the standard error.
type logWriter struct{}

func (logWriter) Write(b []byte) (int, error) { return fmt.Fprint(stderr, string(b)) }

// directoryStorage is the example's in-memory storage with this
// directory's people, client, claims and rotating keys.
type directoryStorage struct {
	*storage.Storage
	people map[string]Person
	client *client

	mu   sync.Mutex
	keys []*signingKey // the last is in use
}

func newDirectoryStorage(people []Person, c *client) *directoryStorage {
	byID := map[string]Person{}
	users := userStore{}
	for _, p := range people {
		byID[p.ID] = p
		users[p.ID] = &storage.User{ID: p.ID, Username: p.Username, Password: p.Password, FirstName: p.GivenName, LastName: p.FamilyName,
			Email: p.Email, EmailVerified: true, PreferredLanguage: language.English}
	}
	st := &directoryStorage{Storage: storage.NewStorageWithClients(users, map[string]*storage.Client{}), people: byID, client: c}
	if err := st.rotate(); err != nil {
		panic(err) // rand.Reader failing
	}
	return st
}

// userStore is the example's user lookup over this directory.
type userStore map[string]*storage.User

func (u userStore) GetUserByID(id string) *storage.User { return u[id] }
func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, user := range u {
		if user.Username == name {
			return user
		}
	}
	return nil
}
func (u userStore) ExampleClientID() string { return storage.ServiceUserID }

// directoryClaims are the organisation and groups of a person.
func (s *directoryStorage) directoryClaims(userID string) map[string]any {
	p, ok := s.people[userID]
	if !ok {
		return nil
	}
	return map[string]any{OrgClaim: p.Org, GroupsClaim: slices.Clone(p.Groups)}
}

// GetPrivateClaimsFromScopes puts the directory's claims in access
// tokens, and the scopes they grant (RFC 9068's scope claim, which the
// example's tokens leave out).
func (s *directoryStorage) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, scopes []string) (map[string]any, error) {
	claims := s.directoryClaims(userID)
	if claims != nil {
		claims["scope"] = strings.Join(append([]string{oidc.ScopeOpenID}, slices.DeleteFunc(slices.Clone(scopes), func(v string) bool { return v == oidc.ScopeOpenID })...), " ")
	}
	return claims, nil
}

// ValidateTokenExchangeRequest refuses every token exchange: the example
// lets a client exchange a person's token for another person's (its
// impersonation scope), which a directory of the tests must not offer.
func (s *directoryStorage) ValidateTokenExchangeRequest(context.Context, op.TokenExchangeRequest) error {
	return errors.New("token exchange is not offered")
}

// SetUserinfoFromRequest puts them in ID tokens.
func (s *directoryStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, token, scopes); err != nil {
		return err
	}
	for k, v := range s.directoryClaims(token.GetSubject()) {
		info.AppendClaims(k, v)
	}
	return nil
}

// SetUserinfoFromToken puts them in the userinfo answer.
func (s *directoryStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	for k, v := range s.directoryClaims(info.Subject) {
		info.AppendClaims(k, v)
	}
	return nil
}

// ClientCredentials refuses the example's service client: the tests'
// directory has people only.
func (s *directoryStorage) ClientCredentials(context.Context, string, string) (op.Client, error) {
	return nil, errors.New("client credentials are not offered")
}

// GetClientByClientID knows the one client.
func (s *directoryStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != s.client.id {
		return nil, errors.New("client not found")
	}
	return s.client, nil
}

// AuthorizeClientIDSecret checks the client's secret.
func (s *directoryStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != s.client.id || subtle.ConstantTimeCompare([]byte(secret), []byte(s.client.secret)) != 1 {
		return errors.New("invalid client")
	}
	return nil
}

// signingKey is one RSA key of the provider.
type signingKey struct {
	id      string
	private *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.private }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a published key.
type publicKey struct{ *signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.private.PublicKey }

func (s *directoryStorage) rotate() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, &signingKey{id: uuid.NewString(), private: key})
	return nil
}

func (s *directoryStorage) current() *signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1]
}

// SigningKey is the key in use.
func (s *directoryStorage) SigningKey(context.Context) (op.SigningKey, error) {
	return s.current(), nil
}

// SignatureAlgorithms are the keys' algorithm.
func (s *directoryStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet publishes every key, old and current.
func (s *directoryStorage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]op.Key, len(s.keys))
	for i, k := range s.keys {
		out[i] = publicKey{k}
	}
	return out, nil
}

// client is the product, a confidential web client.
type client struct {
	id, secret string

	mu                       sync.Mutex
	redirectURIs, logoutURIs []string
}

func (c *client) allow(redirect, logout string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.redirectURIs = append(c.redirectURIs, redirect)
	c.logoutURIs = append(c.logoutURIs, logout)
}

func (c *client) GetID() string { return c.id }
func (c *client) RedirectURIs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.redirectURIs)
}
func (c *client) PostLogoutRedirectURIs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.logoutURIs)
}
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode}
}
func (c *client) LoginURL(id string) string            { return "/login/username?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration       { return time.Hour }
func (c *client) DevMode() bool                        { return true } // http redirect URIs on loopback
func (c *client) IsScopeAllowed(scope string) bool     { return strings.TrimSpace(scope) != "" }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
