// Package authcode issues the authorization codes that identify a purchase
// to its ISV: random, valid for a day and only while the ISV has not
// activated the subscription. A subscription has one live code at a time:
// the purchase answer, the activation link and the ISV's purchase
// notification all show the same one (kept sealed, looked up by its
// SHA-256 hash; histories hold only the hash), and a new one is minted,
// revoking the old, only when it is about to expire.
package authcode

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
)

// TTL is how long an issued code resolves.
const TTL = 24 * time.Hour

// ErrNotResolvable: the subscription is past activation; no code is issued.
var ErrNotResolvable = errors.New("the subscription is past activation")

// New returns a random code and the hash that is stored.
func New() (code, hash string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	code = "ac_" + base64.RawURLEncoding.EncodeToString(b)
	return code, Hash(code)
}

// Hash is what the database keeps of a code.
func Hash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// Link is the publisher link with a live code: where the partner
// finishes setup on the ISV's site, and the code that identifies the
// purchase there.
type Link struct {
	URL               string
	AuthorizationCode string
	ExpiresAt         time.Time
}

// MinValidity is how long a code shown must still resolve: a live code
// closer to its expiry is replaced by a fresh one.
const MinValidity = time.Hour

// Live returns the publisher link carrying the subscription's live code,
// minting one (and revoking any other) when none can be shown.
func Live(ctx context.Context, s *store.Store, sub store.Subscription, now time.Time) (*Link, error) {
	if !sub.Status.AwaitsPublisher() {
		return nil, ErrNotResolvable
	}
	code, expires, err := s.LiveAuthorizationCode(ctx, sub.ID, sub.PublisherID, now.Add(MinValidity), func() (string, string, time.Time) {
		code, hash := New()
		return code, hash, now.UTC().Add(TTL).Truncate(time.Second)
	})
	if err != nil {
		return nil, err
	}
	return &Link{URL: sub.PublisherURL, AuthorizationCode: code, ExpiresAt: expires}, nil
}
