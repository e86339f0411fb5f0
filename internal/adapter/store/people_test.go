package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
)

// A person is recorded at first sign-in, once per provider, subject and
// partner; later sign-ins keep them current (a name an access token did
// not carry is kept); names are given to their partner only.
func TestPeopleAreRecordedAtFirstSignIn(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		require.NoError(t, s.UpsertPartner(ctx, "p1", "Partner one"))
		require.NoError(t, s.UpsertPartner(ctx, "p2", "Partner two"))
		at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		seen := store.PersonSeen{Issuer: "https://idp.example", Subject: "u1", PartnerID: "p1", Name: "Ada Admin", Email: "ada@example.com", Role: "admin_agent"}
		first, err := s.RecordPerson(ctx, seen, at)
		require.NoError(t, err)
		assert.Equal(t, "Ada Admin", first.Name)
		assert.Equal(t, at, first.CreatedAt)

		seen.Name, seen.Email, seen.Role = "", "", "sales_agent"
		again, err := s.RecordPerson(ctx, seen, at.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, first.ID, again.ID)
		assert.Equal(t, "Ada Admin", again.Name, "kept when the provider did not say")
		assert.Equal(t, "ada@example.com", again.Email)
		assert.Equal(t, "sales_agent", again.Role)
		assert.Equal(t, at, again.CreatedAt)
		assert.Equal(t, at.Add(time.Hour), again.LastSignedInAt)

		otherIssuer := seen
		otherIssuer.Issuer = "https://another.example"
		other, err := s.RecordPerson(ctx, otherIssuer, at)
		require.NoError(t, err)
		assert.NotEqual(t, first.ID, other.ID, "the same subject at another provider is someone else")

		names, err := s.PersonNames(ctx, "p1", []string{first.ID})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{first.ID: "Ada Admin"}, names)
		names, err = s.PersonNames(ctx, "p2", []string{first.ID})
		require.NoError(t, err)
		assert.Empty(t, names, "another partner's people are not named")

		// Whatever path a name came by (userinfo, for an access token),
		// it is recorded as it may be shown.
		odd, err := s.RecordPerson(ctx, store.PersonSeen{Issuer: "https://idp.example", Subject: "u2", PartnerID: "p1",
			Name: "Eve\x00 \u202eAdmin\r\n", Email: "eve@example.com\n", Role: "admin_agent"}, at)
		require.NoError(t, err)
		assert.Equal(t, "Eve Admin", odd.Name)
		assert.Equal(t, "eve@example.com", odd.Email)

		_, err = s.RecordPerson(ctx, store.PersonSeen{Issuer: "i", Subject: "s", PartnerID: "no-such-partner", Role: "admin_agent"}, at)
		assert.ErrorIs(t, err, store.ErrNotFound)

		require.NoError(t, s.RevokePerson(ctx, first.ID))
		revoked, err := s.RecordPerson(ctx, store.PersonSeen{Issuer: "https://idp.example", Subject: "u1", PartnerID: "p1", Role: "admin_agent"}, at)
		require.NoError(t, err)
		assert.NotNil(t, revoked.RevokedAt, "signing in again does not lift a revocation")
	})
}

// Sessions are an agent's or a person's; a person's keeps the role and
// partner of its sign-in and its ID token sealed.
func TestConsoleSessionsOfAgentsAndPeople(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		require.NoError(t, s.UpsertPartner(ctx, "p1", "Partner one"))
		person, err := s.RecordPerson(ctx, store.PersonSeen{Issuer: "i", Subject: "u", PartnerID: "p1", Name: "Ada", Role: "admin_agent"}, time.Now())
		require.NoError(t, err)
		agentID, err := s.CreateAgent(ctx, "p1", "Script", "admin_agent", "hash-1")
		require.NoError(t, err)
		at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		require.NoError(t, s.CreateConsoleSession(ctx, store.NewConsoleSession{IDHash: "s1", PersonID: person.ID, PartnerID: "p1", Role: "sales_agent",
			Secret: "id-token", CSRFToken: "c1"}, at))
		require.NoError(t, s.CreateConsoleSession(ctx, store.NewConsoleSession{IDHash: "s2", AgentID: agentID, PartnerID: "p1", Role: "admin_agent",
			Secret: "mpt_token", CSRFToken: "c2"}, at))
		assert.Error(t, s.CreateConsoleSession(ctx, store.NewConsoleSession{IDHash: "s3", AgentID: agentID, PersonID: person.ID}, at))
		assert.Error(t, s.CreateConsoleSession(ctx, store.NewConsoleSession{IDHash: "s4"}, at))

		got, err := s.ConsoleSessionByHash(ctx, "s1")
		require.NoError(t, err)
		assert.Equal(t, store.ConsoleSession{IDHash: "s1", PersonID: person.ID, PartnerID: "p1", Role: "sales_agent", CSRFToken: "c1",
			CreatedAt: at, LastSeenAt: at, Secret: "id-token"}, *got)
		got, err = s.ConsoleSessionByHash(ctx, "s2")
		require.NoError(t, err)
		assert.Equal(t, agentID, got.AgentID)
		assert.Equal(t, "mpt_token", got.Secret)
	})
}

// A sign-in's state is spent once, even by callbacks at the same moment.
func TestASignInIsSpentOnce(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		won := make(chan bool, 8)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.SpendSignIn(ctx, "state-1", at)
				assert.NoError(t, err)
				won <- ok
			}()
		}
		wg.Wait()
		close(won)
		n := 0
		for ok := range won {
			if ok {
				n++
			}
		}
		assert.Equal(t, 1, n)
		ok, err := s.SpendSignIn(ctx, "state-1", at.Add(time.Minute))
		require.NoError(t, err)
		assert.False(t, ok)
		ok, err = s.SpendSignIn(ctx, "state-2", at.Add(time.Hour))
		require.NoError(t, err)
		assert.True(t, ok, "another state")
		ok, err = s.SpendSignIn(ctx, "state-1", at.Add(time.Hour))
		require.NoError(t, err)
		assert.True(t, ok, "forgotten long after its cookie stopped working")
	})
}
