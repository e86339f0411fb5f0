package identity

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// keySet is the provider's signing keys, verified with go-oidc's static
// key set (go-jose underneath), fetched again when a token's signature is
// not verified by those held, but at most once every refreshEvery:
// go-oidc's remote key set fetches them again for every token it cannot
// verify, so a stream of forged tokens would be a stream of requests to
// the provider, each one waited for. A provider publishes a new key
// before it signs with it, so the wait only delays a token of a key that
// appeared in the last seconds.
type keySet struct {
	url          string
	client       *http.Client
	refreshEvery time.Duration

	mu        sync.Mutex
	held      *oidc.StaticKeySet
	fetchedAt time.Time
}

func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	k.mu.Lock()
	held := k.held
	k.mu.Unlock()
	if held != nil {
		if payload, err := held.VerifySignature(ctx, jwt); err == nil {
			return payload, nil
		}
	}
	fresh, err := k.refresh(ctx, held)
	if err != nil {
		return nil, err
	}
	if fresh == held {
		return nil, errors.New("no key of the provider verifies the signature")
	}
	return fresh.VerifySignature(ctx, jwt)
}

// refresh fetches the keys unless they were fetched lately; one fetch at
// a time (the others wait for it and use its keys).
func (k *keySet) refresh(ctx context.Context, tried *oidc.StaticKeySet) (*oidc.StaticKeySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.held != tried {
		return k.held, nil // fetched meanwhile by another caller
	}
	if k.held != nil && time.Since(k.fetchedAt) < k.refreshEvery {
		return k.held, nil
	}
	if k.held == nil && !k.fetchedAt.IsZero() && time.Since(k.fetchedAt) < k.refreshEvery {
		return nil, fmt.Errorf("%w: its keys could not be fetched", ErrUnavailable)
	}
	k.fetchedAt = time.Now()
	keys, err := k.fetch(ctx)
	if err != nil {
		if k.held != nil {
			return k.held, nil // the keys held still verify what they can
		}
		return nil, fmt.Errorf("%w: keys: %v", ErrUnavailable, err)
	}
	k.held = &oidc.StaticKeySet{PublicKeys: keys}
	return k.held, nil
}

// fetch reads the JWKS document: its signing keys, a key of a type or use
// this cannot verify with being skipped, not failing the others.
func (k *keySet) fetch(ctx context.Context) ([]crypto.PublicKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", k.url, resp.Status)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", k.url, err)
	}
	var keys []crypto.PublicKey
	for _, raw := range doc.Keys {
		var key jose.JSONWebKey
		if key.UnmarshalJSON(raw) != nil || (key.Use != "" && key.Use != "sig") || !key.IsPublic() {
			continue
		}
		keys = append(keys, key.Key)
	}
	if len(keys) == 0 {
		return nil, errors.New(k.url + " holds no signing key")
	}
	return keys, nil
}
