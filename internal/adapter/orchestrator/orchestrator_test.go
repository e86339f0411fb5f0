package orchestrator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A change sent with a key has the Update id of the key's reservation: a
// key taken anew once its reservation expired is a new change (issue 25).
func TestAChangeUpdateIDIsTheReservations(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	assert.Equal(t, ChangeUpdateID("p", "k", at), ChangeUpdateID("p", "k", at.In(time.FixedZone("x", 3600))))
	assert.NotEqual(t, ChangeUpdateID("p", "k", at), ChangeUpdateID("p", "k", at.Add(25*time.Hour)))
	assert.NotEqual(t, ChangeUpdateID("p", "k", at), ChangeUpdateID("q", "k", at))
}

// A purchase's id comes from its key, per partner; without a key it is
// drawn.
func TestASubscriptionIDComesFromItsKey(t *testing.T) {
	assert.Equal(t, SubscriptionID("p", "order-1"), SubscriptionID("p", "order-1"))
	assert.NotEqual(t, SubscriptionID("p", "order-1"), SubscriptionID("q", "order-1"))
	assert.NotEqual(t, SubscriptionID("p", ""), SubscriptionID("p", ""))
	assert.Regexp(t, `^sub_[0-9a-f]{24}$`, SubscriptionID("p", "order-1"))
}
