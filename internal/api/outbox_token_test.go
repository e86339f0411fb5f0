package api

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspmarket/orchestrator/internal/store"
)

// Outbox page tokens read back as the cursor they were made of; a bare id
// (tokens issued before transactions were recorded) still reads; anything
// else is refused rather than guessed at.
func TestOutboxPageTokensRoundTrip(t *testing.T) {
	for _, c := range []store.OutboxCursor{store.OutboxStart, {ID: 42}, {Tx: 7391, ID: 42}} {
		got, ok := parseOutboxToken(outboxToken(c))
		assert.True(t, ok, "%+v", c)
		assert.Equal(t, c, got)
	}
	got, ok := parseOutboxToken("")
	assert.True(t, ok)
	assert.Equal(t, store.OutboxStart, got)
	for _, bad := range []string{"x", "-1", "1.", ".1", "0.5", "1.2.3", "1.-2", "99999999999999999999"} {
		_, ok := parseOutboxToken(bad)
		assert.False(t, ok, "%q", bad)
	}
}
