package store

import (
	"time"

	"github.com/uptrace/bun"
)

// The tables of the application database. They are defined once here and
// created by the migrations through bun, so the same definitions serve
// Postgres and SQLite. Times are stored in UTC.

// PartnerRow is a CSP partner: the tenant every agent, customer and
// subscription belongs to.
type PartnerRow struct {
	bun.BaseModel `bun:"table:partners"`

	ID        string    `bun:"id,pk"`
	Name      string    `bun:"name,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// AgentRow is one bearer token of a partner's agent. Only the SHA-256 of the
// token is stored: a database leak does not leak usable tokens.
type AgentRow struct {
	bun.BaseModel `bun:"table:agents"`

	ID        string     `bun:"id,pk"`
	PartnerID string     `bun:"partner_id,notnull"`
	Name      string     `bun:"name,notnull"`
	Role      string     `bun:"role,notnull"`
	TokenHash string     `bun:"token_hash,notnull,unique"`
	CreatedAt time.Time  `bun:"created_at,notnull"`
	RevokedAt *time.Time `bun:"revoked_at"`
}

// CustomerRow is a partner's customer.
type CustomerRow struct {
	bun.BaseModel `bun:"table:customers"`

	ID        string    `bun:"id,pk"`
	PartnerID string    `bun:"partner_id,notnull"`
	Name      string    `bun:"name,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// PublisherRow is an ISV selling offers on the marketplace.
type PublisherRow struct {
	bun.BaseModel `bun:"table:publishers"`

	ID         string    `bun:"id,pk"`
	Name       string    `bun:"name,notnull"`
	LandingURL string    `bun:"landing_url,notnull"`
	CreatedAt  time.Time `bun:"created_at,notnull"`
}

// PublisherSecretRow is one webhook signing secret of a publisher, sealed
// with the application's secrets key (HMAC verification needs the secret
// itself, so it cannot be hashed). A publisher may have two active secrets
// while it rotates.
type PublisherSecretRow struct {
	bun.BaseModel `bun:"table:publisher_secrets"`

	ID           string    `bun:"id,pk"`
	PublisherID  string    `bun:"publisher_id,notnull"`
	SealedSecret []byte    `bun:"sealed_secret,notnull"`
	CreatedAt    time.Time `bun:"created_at,notnull"`
	// RevokedAt is when the secret stops verifying: now or past for a
	// revoked one, in the future for the previous secret of a rotation
	// (its overlap), nil while it is current.
	RevokedAt *time.Time `bun:"revoked_at"`
}

// OfferRow is a marketplace offer; its plans are PlanRows.
type OfferRow struct {
	bun.BaseModel `bun:"table:offers"`

	ID           string    `bun:"id,pk"`
	PublisherID  string    `bun:"publisher_id,notnull"`
	Name         string    `bun:"name,notnull"`
	LicenseBased bool      `bun:"license_based,notnull"`
	UpdatedAt    time.Time `bun:"updated_at,notnull"`
}

// PlanRow is one plan of an offer.
type PlanRow struct {
	bun.BaseModel `bun:"table:plans"`

	OfferID                       string `bun:"offer_id,pk"`
	ID                            string `bun:"id,pk"`
	Position                      int    `bun:"position,notnull"`
	Name                          string `bun:"name,notnull"`
	TermDuration                  string `bun:"term_duration,notnull"`
	BillingFrequencies            string `bun:"billing_frequencies,notnull"` // comma-separated
	UnitPrice                     int64  `bun:"unit_price,notnull"`
	Currency                      string `bun:"currency,notnull"`
	MinQuantity                   int    `bun:"min_quantity,notnull"`
	MaxQuantity                   int    `bun:"max_quantity,notnull"`
	CancellationWindow            string `bun:"cancellation_window,notnull"`
	CancellationRequiresPublisher bool   `bun:"cancellation_requires_publisher,notnull"`
}

// SubscriptionRow is the queryable projection of one subscription workflow.
// Only the workflow's CommitTransition writes it (ApplyTransition): never an
// older state over a newer one, by Version for steps committed by an
// activity and by Fence for steps committed inside a workflow task.
type SubscriptionRow struct {
	bun.BaseModel `bun:"table:subscriptions"`

	ID                       string     `bun:"id,pk"`
	PartnerID                string     `bun:"partner_id,notnull"`
	CustomerID               string     `bun:"customer_id,notnull"`
	OfferID                  string     `bun:"offer_id,notnull"`
	PlanID                   string     `bun:"plan_id,notnull"`
	PublisherID              string     `bun:"publisher_id,notnull"`
	LicenseBased             bool       `bun:"license_based,notnull"`
	Nickname                 string     `bun:"nickname,notnull"`
	Quantity                 int        `bun:"quantity,notnull"`
	Status                   string     `bun:"status,notnull"`
	ActionNeeded             bool       `bun:"action_needed,notnull"`
	AutoRenew                bool       `bun:"auto_renew,notnull"`
	BillingFrequency         string     `bun:"billing_frequency,notnull"`
	NextBillingFrequency     string     `bun:"next_billing_frequency,notnull"`
	TermDuration             string     `bun:"term_duration,notnull"`
	ResellerPartnerID        string     `bun:"reseller_partner_id,notnull"`
	UnitPrice                int64      `bun:"unit_price,notnull"`
	Currency                 string     `bun:"currency,notnull"`
	PublisherURL             string     `bun:"publisher_url,notnull"`
	PurchasedAt              time.Time  `bun:"purchased_at,notnull"`
	ActivatedAt              *time.Time `bun:"activated_at"`
	BillingStartedAt         *time.Time `bun:"billing_started_at"`
	TermStart                *time.Time `bun:"term_start"`
	TermEnd                  *time.Time `bun:"term_end"`
	CancellationWindowEndsAt *time.Time `bun:"cancellation_window_ends_at"`
	// IdempotencyKey is the purchase's Idempotency-Key (empty without one);
	// a unique index on (partner_id, idempotency_key) backs the workflow ID
	// in guaranteeing one purchase per key.
	IdempotencyKey *string   `bun:"idempotency_key"`
	RequestHash    string    `bun:"request_hash,notnull"`
	Version        int64     `bun:"version,notnull"`
	UpdatedAt      time.Time `bun:"updated_at,notnull"`
	// Lots are the batches of licences with their windows (JSON of
	// billing.Lots), for refundableQuantity; "" before they were kept.
	Lots string `bun:"lots,notnull"`
	// Fence is the workflow task attempt that wrote this version (see
	// Fence in fence.go); "" for a step committed by a scheduled activity.
	Fence string `bun:"fence,notnull"`
}

// AuthorizationCodeRow identifies a purchase to its ISV. Only the hash of
// the code is kept.
type AuthorizationCodeRow struct {
	bun.BaseModel `bun:"table:authorization_codes"`

	CodeHash       string    `bun:"code_hash,pk"`
	SubscriptionID string    `bun:"subscription_id,notnull"`
	PublisherID    string    `bun:"publisher_id,notnull"`
	ExpiresAt      time.Time `bun:"expires_at,notnull"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
	// RevokedAt is set when a newer code replaced this one.
	RevokedAt *time.Time `bun:"revoked_at"`
}

// SealedAuthorizationCodeRow keeps a code itself, sealed, so the live code
// can be shown again instead of minting another. It has no foreign key:
// the API writes it before the purchase's workflow records the code.
type SealedAuthorizationCodeRow struct {
	bun.BaseModel `bun:"table:sealed_authorization_codes"`

	CodeHash   string    `bun:"code_hash,pk"`
	SealedCode []byte    `bun:"sealed_code,notnull"`
	CreatedAt  time.Time `bun:"created_at,notnull"`
}

// EventRow is one line of a subscription's audit trail. Key makes writes
// idempotent. For ISV events received on the webhook, (publisher_id,
// isv_event_id) is unique: that is the durable deduplication of event ids.
type EventRow struct {
	bun.BaseModel `bun:"table:subscription_events"`

	ID             int64     `bun:"id,pk,autoincrement"`
	Key            string    `bun:"key,notnull,unique"`
	SubscriptionID string    `bun:"subscription_id,notnull"`
	Kind           string    `bun:"kind,notnull"`
	Actor          string    `bun:"actor,notnull"`
	Detail         string    `bun:"detail,notnull"` // JSON object
	PublisherID    *string   `bun:"publisher_id"`
	ISVEventID     *string   `bun:"isv_event_id"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
	// StepVersion and Fence say which step and task attempt wrote the
	// line (0 and "" for receipts the API writes and older lines).
	StepVersion int64  `bun:"step_version,notnull"`
	Fence       string `bun:"fence,notnull"`
}

// ChargeRow is one line of the charge ledger (charges and credits).
type ChargeRow struct {
	bun.BaseModel `bun:"table:charges"`

	ID             int64     `bun:"id,pk,autoincrement"`
	Key            string    `bun:"key,notnull,unique"`
	SubscriptionID string    `bun:"subscription_id,notnull"`
	PartnerID      string    `bun:"partner_id,notnull"`
	Kind           string    `bun:"kind,notnull"`
	Amount         int64     `bun:"amount,notnull"`
	Currency       string    `bun:"currency,notnull"`
	Quantity       int       `bun:"quantity,notnull"`
	PeriodStart    time.Time `bun:"period_start,notnull"`
	PeriodEnd      time.Time `bun:"period_end,notnull"`
	Description    string    `bun:"description,notnull"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
	CustomerID     string    `bun:"customer_id,notnull"`
	Reason         string    `bun:"reason,notnull"`
	UnitPrice      int64     `bun:"unit_price,notnull"`
	// PostedAt is the workflow time of the step that made the line: it
	// decides the line's invoice month.
	PostedAt time.Time `bun:"posted_at,notnull"`
	// InvoiceID is set once, when the line is invoiced.
	InvoiceID *string `bun:"invoice_id"`
	// StepVersion and Fence say which step and task attempt wrote the line.
	StepVersion int64  `bun:"step_version,notnull"`
	Fence       string `bun:"fence,notnull"`
}

// InvoiceRow is an issued invoice: one per partner, customer, currency and
// calendar month. It never changes once written.
type InvoiceRow struct {
	bun.BaseModel `bun:"table:invoices"`

	ID          string    `bun:"id,pk"`
	PartnerID   string    `bun:"partner_id,notnull"`
	CustomerID  string    `bun:"customer_id,notnull"`
	Currency    string    `bun:"currency,notnull"`
	PeriodStart time.Time `bun:"period_start,notnull"`
	PeriodEnd   time.Time `bun:"period_end,notnull"`
	Number      int64     `bun:"number,notnull"`
	IssuedAt    time.Time `bun:"issued_at,notnull"`
	Subtotal    int64     `bun:"subtotal,notnull"`
	Total       int64     `bun:"total,notnull"`
	// RunID is the invoicing workflow that issued it.
	RunID string `bun:"run_id,notnull"`
}

// InvoiceLineRow is a ledger line as it was invoiced, with what a
// reconciliation needs of its subscription at that moment: a later change
// to the subscription does not change an issued invoice.
type InvoiceLineRow struct {
	bun.BaseModel `bun:"table:invoice_lines"`

	InvoiceID         string    `bun:"invoice_id,pk"`
	Position          int       `bun:"position,pk"`
	ChargeKey         string    `bun:"charge_key,notnull,unique"`
	SubscriptionID    string    `bun:"subscription_id,notnull"`
	OfferID           string    `bun:"offer_id,notnull"`
	PlanID            string    `bun:"plan_id,notnull"`
	PublisherID       string    `bun:"publisher_id,notnull"`
	ResellerPartnerID string    `bun:"reseller_partner_id,notnull"`
	Kind              string    `bun:"kind,notnull"`
	Reason            string    `bun:"reason,notnull"`
	Quantity          int       `bun:"quantity,notnull"`
	UnitPrice         int64     `bun:"unit_price,notnull"`
	PeriodStart       time.Time `bun:"period_start,notnull"`
	PeriodEnd         time.Time `bun:"period_end,notnull"`
	Amount            int64     `bun:"amount,notnull"`
	Currency          string    `bun:"currency,notnull"`
	PostedAt          time.Time `bun:"posted_at,notnull"`
}

// NotificationRow is one message of the outbox, to a partner or an ISV.
type NotificationRow struct {
	bun.BaseModel `bun:"table:notifications"`

	ID             int64      `bun:"id,pk,autoincrement"`
	Key            string     `bun:"key,notnull,unique"`
	SubscriptionID string     `bun:"subscription_id,notnull"`
	RecipientKind  string     `bun:"recipient_kind,notnull"` // "partner" or "publisher"
	RecipientID    string     `bun:"recipient_id,notnull"`
	Type           string     `bun:"type,notnull"`
	Payload        string     `bun:"payload,notnull"` // JSON object
	Status         string     `bun:"status,notnull"`
	Attempts       int        `bun:"attempts,notnull"`
	LastError      string     `bun:"last_error,notnull"`
	CreatedAt      time.Time  `bun:"created_at,notnull"`
	DeliveredAt    *time.Time `bun:"delivered_at"`
	// StepVersion and Fence say which step and task attempt wrote the
	// notification; WorkflowID and RunID are the run whose history records
	// that step, where a delivery checks it before sending (a fenced step
	// is sent only once it is in the history).
	StepVersion int64  `bun:"step_version,notnull"`
	Fence       string `bun:"fence,notnull"`
	WorkflowID  string `bun:"workflow_id,notnull"`
	RunID       string `bun:"run_id,notnull"`
}

// EndpointRow is where a partner or a publisher receives its
// notifications. A partner's endpoint has its own signing secret (sealed);
// a publisher's notifications are signed with its webhook secret.
type EndpointRow struct {
	bun.BaseModel `bun:"table:notification_endpoints"`

	OwnerKind    string    `bun:"owner_kind,pk"` // "partner" or "publisher"
	OwnerID      string    `bun:"owner_id,pk"`
	URL          string    `bun:"url,notnull"`
	SealedSecret []byte    `bun:"sealed_secret"`
	UpdatedAt    time.Time `bun:"updated_at,notnull"`
}

// AttemptRow is one delivery attempt of a notification.
type AttemptRow struct {
	bun.BaseModel `bun:"table:notification_attempts"`

	ID             int64     `bun:"id,pk,autoincrement"`
	NotificationID int64     `bun:"notification_id,notnull"`
	Attempt        int       `bun:"attempt,notnull"`
	URL            string    `bun:"url,notnull"`
	StatusCode     int       `bun:"status_code,notnull"`
	Error          string    `bun:"error,notnull"`
	DurationMs     int64     `bun:"duration_ms,notnull"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
}
