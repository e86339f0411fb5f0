package accesstoken

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
)

func TestATokenVerifiesForItsAudienceOnlyAndUntilItExpires(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	i := &Issuer{Store: storetest.SQLite(t), URL: "https://marketplace.example", Now: func() time.Time { return now }}
	token, expiresIn, err := i.Issue(ctx, "isv-demo", i.APIAudience())
	require.NoError(t, err)
	assert.Equal(t, 3600, expiresIn)

	claims, err := i.Verify(ctx, token, i.APIAudience())
	require.NoError(t, err)
	assert.Equal(t, "isv-demo", claims.Subject)

	_, err = i.Verify(ctx, token, "isv-demo")
	assert.ErrorIs(t, err, ErrInvalid, "another audience")
	other := &Issuer{Store: i.Store, URL: "https://elsewhere.example", Now: i.Now}
	_, err = other.Verify(ctx, token, i.APIAudience())
	assert.ErrorIs(t, err, ErrInvalid, "another issuer")

	now = now.Add(time.Hour + 29*time.Second)
	_, err = i.Verify(ctx, token, i.APIAudience())
	assert.NoError(t, err, "inside the leeway")
	now = now.Add(2 * time.Second)
	_, err = i.Verify(ctx, token, i.APIAudience())
	assert.ErrorIs(t, err, ErrInvalid, "expired")

	for _, bad := range []string{"", "not.a.jwt", token[:len(token)-4] + "AAAA"} {
		_, err = i.Verify(ctx, bad, i.APIAudience())
		assert.ErrorIs(t, err, ErrInvalid, "%q", bad)
	}
}

// A rotation makes a new key that signs from then on, while tokens of the
// old one verify until they expire, on every replica: no downtime.
func TestKeysRotateWithoutDowntime(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := storetest.SQLite(t)
	replica1 := &Issuer{Store: s, URL: "https://m.example", Rotation: 24 * time.Hour, Now: clock}
	replica2 := &Issuer{Store: s, URL: "https://m.example", Rotation: 24 * time.Hour, Now: clock}
	old, _, err := replica1.Issue(ctx, "isv-demo", "aud")
	require.NoError(t, err)
	_, err = replica2.Verify(ctx, old, "aud")
	require.NoError(t, err, "another replica verifies it")

	now = now.Add(24*time.Hour - 30*time.Minute)
	fresh, _, err := replica2.Issue(ctx, "isv-demo", "aud")
	require.NoError(t, err)
	now = now.Add(time.Hour) // past the rotation: a new key signs
	rotated, _, err := replica2.Issue(ctx, "isv-demo", "aud")
	require.NoError(t, err)
	set, err := replica1.JWKS(ctx)
	require.NoError(t, err)
	assert.Len(t, set.Keys, 2, "both keys are published")
	_, err = replica1.Verify(ctx, rotated, "aud")
	assert.NoError(t, err, "a key another replica made is looked up")
	_, err = replica1.Verify(ctx, fresh, "aud")
	assert.NoError(t, err, "a token of the old key verifies until it expires")

	now = now.Add(25 * time.Hour) // the old key can have signed nothing alive
	set, err = replica1.JWKS(ctx)
	require.NoError(t, err)
	assert.Len(t, set.Keys, 1, "an old key leaves the JWKS")
	for _, k := range set.Keys {
		assert.True(t, k.IsPublic(), "only public keys are published")
	}
}
