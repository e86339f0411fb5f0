package payload

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes operators filter on in the Web UI (CONTRACT.md).
var (
	CustomerIDKey  = temporal.NewSearchAttributeKeyKeyword("CustomerId")
	PartnerIDKey   = temporal.NewSearchAttributeKeyKeyword("PartnerId")
	OfferIDKey     = temporal.NewSearchAttributeKeyKeyword("OfferId")
	PublisherIDKey = temporal.NewSearchAttributeKeyKeyword("PublisherId")
	StatusKey      = temporal.NewSearchAttributeKeyKeyword("SubscriptionStatus")
	// WaitingOnKey is set while a step waits for something outside
	// Temporal (WaitingOnDatabase), unset otherwise: operators list the
	// subscriptions held up by an outage with WaitingOn="database".
	WaitingOnKey = temporal.NewSearchAttributeKeyKeyword("WaitingOn")
)

// WaitingOnDatabase is the WaitingOn value of a step whose commit is
// being retried.
const WaitingOnDatabase = "database"

// SearchAttributes is what the namespace must have registered.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	CustomerIDKey.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	PartnerIDKey.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	OfferIDKey.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	PublisherIDKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	StatusKey.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	WaitingOnKey.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// SearchAttributesOf are the attributes of a subscription in this state.
func SearchAttributesOf(s Subscription) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		CustomerIDKey.ValueSet(s.CustomerID),
		PartnerIDKey.ValueSet(s.PartnerID),
		OfferIDKey.ValueSet(s.OfferID),
		PublisherIDKey.ValueSet(s.PublisherID),
		StatusKey.ValueSet(string(s.Status)),
	)
}
