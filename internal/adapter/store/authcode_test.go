package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
)

// One live authorization code per subscription (issue 9, defect 6): asking
// again shows the same code, concurrent askers agree on one, and a new code
// is minted only when the live one is about to expire, revoking it.
func TestOneLiveAuthorizationCodePerSubscription(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		partnerID, customerID := seedTenant(t, s)
		now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
		// The purchase keeps its code, then its step records the hash.
		require.NoError(t, s.KeepAuthorizationCode(ctx, "ac_first", "hash-first"))
		_, err := s.ApplyStep(ctx, store.Step{
			Subscription:      purchased("sub_1", partnerID, customerID, 1),
			AuthorizationCode: &store.AuthorizationCode{CodeHash: "hash-first", SubscriptionID: "sub_1", PublisherID: "isv-demo", ExpiresAt: now.Add(24 * time.Hour)},
		})
		require.NoError(t, err)

		minted := 0
		var mu sync.Mutex
		mint := func() (string, string, time.Time) {
			mu.Lock()
			defer mu.Unlock()
			minted++
			return fmt.Sprintf("ac_%d", minted), fmt.Sprintf("hash-%d", minted), now.Add(48 * time.Hour)
		}
		code, exp, err := s.LiveAuthorizationCode(ctx, "sub_1", "isv-demo", now.Add(time.Hour), mint)
		require.NoError(t, err)
		assert.Equal(t, "ac_first", code, "the purchase's code is shown again")
		assert.Equal(t, now.Add(24*time.Hour), exp)

		// Near its expiry the live code is replaced, by one code for all
		// concurrent askers.
		codes := make([]string, 6)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, _, err := s.LiveAuthorizationCode(ctx, "sub_1", "isv-demo", now.Add(24*time.Hour), mint)
				assert.NoError(t, err)
				codes[i] = c
			}()
		}
		wg.Wait()
		assert.Equal(t, 1, minted)
		for _, c := range codes {
			assert.Equal(t, "ac_1", c)
		}
		first, err := s.AuthorizationCode(ctx, "hash-first")
		require.NoError(t, err)
		assert.NotNil(t, first.RevokedAt, "the replaced code no longer resolves")
		second, err := s.AuthorizationCode(ctx, "hash-1")
		require.NoError(t, err)
		assert.Nil(t, second.RevokedAt)
	})
}
