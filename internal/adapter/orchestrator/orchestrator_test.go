package orchestrator

import (
	"context"
	"testing"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// A purchase the workflow's rules refuse starts no workflow: the door asks
// the same rule first (a nil Temporal client would panic if it were used).
func TestAPurchaseTheRulesRefuseStartsNothing(t *testing.T) {
	in := payload.PurchaseInput{
		Subscription: payload.Subscription{ID: "sub_1", CustomerID: "cus_1", PartnerID: "p", OfferID: "contoso-crm", PlanID: "monthly",
			PublisherID: "isv-demo", Quantity: 0, BillingFrequency: "monthly"},
		Plan: payload.Plan{ID: "monthly", TermDuration: "P1M", BillingFrequencies: []string{"monthly"}, UnitPrice: 1200, Currency: "USD",
			MinQuantity: 1, MaxQuantity: 10, CancellationWindow: "PT72H"},
	}
	_, err := (&Client{}).Purchase(context.Background(), in, "")
	var refused *lifecycle.Refusal
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, lifecycle.RefusedInvalid, refused.Kind)
	assert.Equal(t, "quantity", refused.Field)
}
