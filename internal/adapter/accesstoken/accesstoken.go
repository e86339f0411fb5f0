// Package accesstoken issues and verifies the product's own JWTs: the
// access tokens of POST /oauth2/token (a publisher's client credentials,
// for Microsoft's /api dialect) and the bearer tokens of the webhooks sent
// in Microsoft's shape. All the JOSE is go-jose's; this package only
// chooses keys, claims and lifetimes.
//
// Keys rotate without downtime: the newest key signs until it is older
// than Rotation, then a new one is made (by whichever process signs
// first); the JWKS publishes every key young enough to have signed a token
// still alive, so a token signed just before a rotation verifies until it
// expires, on every replica.
package accesstoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
)

// Defaults of an Issuer.
const (
	DefaultLifetime = time.Hour
	DefaultRotation = 30 * 24 * time.Hour
	// leeway absorbs clock skew between the product and a verifier.
	leeway = 30 * time.Second
	// refreshEvery bounds how long a replica serves a key list another
	// replica has changed (a rotation it did not make).
	refreshEvery = time.Minute
)

// algorithm is the one signature algorithm of the product's tokens.
const algorithm = jose.ES256

// Issuer signs and verifies tokens with the keys in the store.
type Issuer struct {
	Store *store.Store
	// URL is the iss claim: the product's public base URL.
	URL string
	// Lifetime of a token, Rotation of the signing key; zero: the defaults.
	Lifetime, Rotation time.Duration
	// Now is the clock (tests move it); default time.Now.
	Now func() time.Time

	mu       sync.Mutex
	keys     []key // newest first
	loadedAt time.Time
}

type key struct {
	id        string
	private   *ecdsa.PrivateKey
	createdAt time.Time
}

// Claims are what a verified token says.
type Claims struct {
	Subject  string // the publisher
	Audience []string
	Expiry   time.Time
}

// ErrInvalid is a token that does not verify: forged, expired, of another
// issuer or audience, or unreadable. Which one is logged, never answered.
var ErrInvalid = errors.New("invalid token")

// APIAudience is the audience of the access tokens for /api: the product's
// Microsoft dialect, not a webhook receiver (whose audience is the
// publisher).
func (i *Issuer) APIAudience() string { return i.URL + "/api" }

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now().UTC()
	}
	return time.Now().UTC()
}

func (i *Issuer) lifetime() time.Duration {
	if i.Lifetime > 0 {
		return i.Lifetime
	}
	return DefaultLifetime
}

func (i *Issuer) rotation() time.Duration {
	if i.Rotation > 0 {
		return i.Rotation
	}
	return DefaultRotation
}

// Issue signs a token for subject, valid for audience, and says how many
// seconds it lives.
func (i *Issuer) Issue(ctx context.Context, subject, audience string) (string, int, error) {
	k, err := i.signingKey(ctx)
	if err != nil {
		return "", 0, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: algorithm, Key: k.private},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.id))
	if err != nil {
		return "", 0, err
	}
	now := i.now()
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	claims := jwt.Claims{
		Issuer: i.URL, Subject: subject, Audience: jwt.Audience{audience}, ID: hex.EncodeToString(id),
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(i.lifetime())),
	}
	token, err := jwt.Signed(signer).Claims(claims).Serialize()
	return token, int(i.lifetime() / time.Second), err
}

// Verify checks a token's signature (by one of the published keys),
// issuer, audience and times.
func (i *Issuer) Verify(ctx context.Context, token, audience string) (Claims, error) {
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{algorithm})
	if err != nil || len(parsed.Headers) != 1 {
		return Claims{}, fmt.Errorf("%w: unreadable", ErrInvalid)
	}
	k, err := i.verificationKey(ctx, parsed.Headers[0].KeyID)
	if err != nil {
		return Claims{}, err
	}
	var c jwt.Claims
	if err := parsed.Claims(&k.private.PublicKey, &c); err != nil {
		return Claims{}, fmt.Errorf("%w: signature", ErrInvalid)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: i.URL, AnyAudience: jwt.Audience{audience}, Time: i.now()}, leeway); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.Subject == "" || c.Expiry == nil {
		return Claims{}, fmt.Errorf("%w: no subject or expiry", ErrInvalid)
	}
	return Claims{Subject: c.Subject, Audience: c.Audience, Expiry: c.Expiry.Time().UTC()}, nil
}

// JWKS is the public half of every key that may have signed a live token.
func (i *Issuer) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	keys, err := i.load(ctx, false)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.private.PublicKey, KeyID: k.id, Algorithm: string(algorithm), Use: "sig"})
	}
	return set, nil
}

// signingKey is the newest key, made when there is none younger than
// Rotation.
func (i *Issuer) signingKey(ctx context.Context) (key, error) {
	keys, err := i.load(ctx, false)
	if err != nil {
		return key{}, err
	}
	if len(keys) > 0 && i.now().Sub(keys[0].createdAt) < i.rotation() {
		return keys[0], nil
	}
	if keys, err = i.load(ctx, true); err != nil {
		return key{}, err
	}
	if len(keys) > 0 && i.now().Sub(keys[0].createdAt) < i.rotation() {
		return keys[0], nil // another replica rotated
	}
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return key{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(private)
	if err != nil {
		return key{}, err
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	k := store.SigningKey{KID: hex.EncodeToString(id), PrivateKey: der, CreatedAt: i.now()}
	if err := i.Store.AddSigningKey(ctx, k); err != nil {
		return key{}, err
	}
	if _, err := i.load(ctx, true); err != nil {
		return key{}, err
	}
	return key{id: k.KID, private: private, createdAt: k.CreatedAt}, nil
}

// verificationKey is the published key of that id: a key this replica has
// not seen (made by another) is looked up once more.
func (i *Issuer) verificationKey(ctx context.Context, kid string) (key, error) {
	for _, fresh := range []bool{false, true} {
		keys, err := i.load(ctx, fresh)
		if err != nil {
			return key{}, err
		}
		for _, k := range keys {
			if k.id == kid {
				return k, nil
			}
		}
	}
	return key{}, fmt.Errorf("%w: unknown key", ErrInvalid)
}

// load reads the published keys, from a cache at most refreshEvery old
// unless fresh.
func (i *Issuer) load(ctx context.Context, fresh bool) ([]key, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	now := i.now()
	if !fresh && i.loadedAt.After(now.Add(-refreshEvery)) && !i.loadedAt.After(now) {
		return i.keys, nil
	}
	// A key signs for Rotation; its last token lives Lifetime more.
	stored, err := i.Store.SigningKeys(ctx, now.Add(-i.rotation()-i.lifetime()-leeway))
	if err != nil {
		return nil, err
	}
	keys := make([]key, 0, len(stored))
	for _, s := range stored {
		parsed, err := x509.ParsePKCS8PrivateKey(s.PrivateKey)
		private, ok := parsed.(*ecdsa.PrivateKey)
		if err != nil || !ok {
			return nil, fmt.Errorf("signing key %s is not an ECDSA key", s.KID)
		}
		keys = append(keys, key{id: s.KID, private: private, createdAt: s.CreatedAt})
	}
	i.keys, i.loadedAt = keys, now
	return keys, nil
}
