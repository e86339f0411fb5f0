// Package authcode issues the authorization codes that identify a purchase
// to its ISV: random, stored only as a SHA-256 hash, valid for a day and
// only while the ISV has not activated the subscription.
package authcode

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/cspmarket/orchestrator/internal/store"
	"github.com/cspmarket/orchestrator/internal/subscription"
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

// Resolvable reports whether a subscription in this status takes codes.
func Resolvable(status subscription.Status) bool {
	return status == subscription.StatusPendingFulfillment || status == subscription.StatusProvisioned
}

// Issue stores a fresh code for a subscription still waiting for its ISV
// and returns the publisher link carrying it.
func Issue(ctx context.Context, s *store.Store, sub *store.SubscriptionRow, now time.Time) (*subscription.PublisherLink, error) {
	if !Resolvable(subscription.Status(sub.Status)) {
		return nil, ErrNotResolvable
	}
	code, hash := New()
	expires := now.UTC().Add(TTL).Truncate(time.Second)
	if err := s.IssueAuthorizationCode(ctx, hash, sub.ID, sub.PublisherID, expires); err != nil {
		return nil, err
	}
	return &subscription.PublisherLink{URL: sub.PublisherURL, AuthorizationCode: code, ExpiresAt: &expires}, nil
}
