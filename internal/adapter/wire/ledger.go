package wire

import (
	"encoding/json"
	"time"
)

// Customer is a partner's customer.
type Customer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// Event is one line of a subscription's audit trail: a step of its
// workflow, an ISV event received, or a notification of the outbox.
type Event struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Actor string `json:"actor"`
	// ActorName names an agent actor for people.
	ActorName string    `json:"actorName,omitempty"`
	At        time.Time `json:"at"`
	// Detail is a JSON object; its amounts only for agents who may see
	// money.
	Detail      json.RawMessage `json:"detail"`
	ISVEventID  string          `json:"isvEventId,omitempty"`
	PublisherID string          `json:"publisherId,omitempty"`
}

// Charge is one line of a subscription's ledger: a charge or a credit, in
// minor units.
type Charge struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Reason    string    `json:"reason"`
	UnitPrice int64     `json:"unitPrice"`
	PostedAt  time.Time `json:"postedAt"`
	// InvoiceID is null until the line is invoiced.
	InvoiceID   *string   `json:"invoiceId"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Quantity    int       `json:"quantity"`
	PeriodStart time.Time `json:"periodStart"`
	PeriodEnd   time.Time `json:"periodEnd"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"createdAt"`
	// Dimension and Usage are a usage line's: the dimension, and the
	// units beyond the included quantity it charges.
	Dimension string   `json:"dimension,omitempty"`
	Usage     *float64 `json:"usage,omitempty"`
}

// InvoiceLine is a line of an invoice, or of the unbilled view.
type InvoiceLine struct {
	ChargeID          string    `json:"chargeId"`
	SubscriptionID    string    `json:"subscriptionId"`
	OfferID           string    `json:"offerId"`
	PlanID            string    `json:"planId"`
	PublisherID       string    `json:"publisherId"`
	ResellerPartnerID string    `json:"resellerPartnerId,omitempty"`
	Kind              string    `json:"kind"`
	Reason            string    `json:"reason"`
	Quantity          int       `json:"quantity"`
	UnitPrice         int64     `json:"unitPrice"`
	PeriodStart       time.Time `json:"periodStart"`
	PeriodEnd         time.Time `json:"periodEnd"`
	Amount            int64     `json:"amount"`
	Currency          string    `json:"currency"`
	PostedAt          time.Time `json:"postedAt"`
	// Dimension and Usage are a usage line's (Charge).
	Dimension string   `json:"dimension,omitempty"`
	Usage     *float64 `json:"usage,omitempty"`
}

// Invoice is an issued invoice; lines only when one invoice is read.
type Invoice struct {
	ID          string        `json:"id"`
	Number      int64         `json:"number"`
	PartnerID   string        `json:"partnerId"`
	CustomerID  string        `json:"customerId"`
	PeriodStart time.Time     `json:"periodStart"`
	PeriodEnd   time.Time     `json:"periodEnd"`
	Currency    string        `json:"currency"`
	IssuedAt    time.Time     `json:"issuedAt"`
	Lines       []InvoiceLine `json:"lines,omitempty"`
	Subtotal    int64         `json:"subtotal"`
	Total       int64         `json:"total"`
}

// Unbilled is what a customer's next invoices will hold.
type Unbilled struct {
	Items []InvoiceLine `json:"items"`
	// Totals: one per currency, credits negative.
	Totals []UnbilledTotal `json:"totals"`
}

// UnbilledTotal is what the next invoice of one currency will come to.
type UnbilledTotal struct {
	Currency string `json:"currency"`
	Total    int64  `json:"total"`
}

// Page is one page of a list; NextPageToken reads the next.
type Page[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"nextPageToken,omitempty"`
}

// Usage is a metered subscription's period so far
// (GET …/subscriptions/{id}/usage): per dimension, what the period
// includes, what was used, what is beyond and what that costs at the
// close, in the plan's currency. Quantities are units, to six decimals.
type Usage struct {
	SubscriptionID string `json:"subscriptionId"`
	// PeriodStart and PeriodEnd are the period counting now; null while
	// the subscription counts none (not active).
	PeriodStart *time.Time       `json:"periodStart"`
	PeriodEnd   *time.Time       `json:"periodEnd"`
	Currency    string           `json:"currency"`
	Dimensions  []UsageDimension `json:"dimensions"`
}

// UsageDimension is one dimension of a period so far.
type UsageDimension struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	UnitOfMeasure string  `json:"unitOfMeasure"`
	UnitPrice     int64   `json:"unitPrice"`
	Included      float64 `json:"included"`
	Used          float64 `json:"used"`
	Beyond        float64 `json:"beyond"`
	// Amount is what the usage beyond costs if the period closed now.
	Amount int64 `json:"amount"`
}
