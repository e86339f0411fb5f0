package lifecycle

import (
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
	"github.com/cspmarket/orchestrator/internal/domain/period"
)

// Subscription is what a subscription is, as the partner knows it.
type Subscription struct {
	ID, CustomerID, PartnerID, OfferID, PlanID, PublisherID string
	Nickname                                                string
	Quantity                                                int
	Status                                                  Status
	// ActionNeeded: the partner must finish setup on the ISV's site.
	ActionNeeded, AutoRenew bool
	BillingFrequency        string
	// NextBillingFrequency is a change of billing frequency made during a
	// term: it applies at the next renewal.
	NextBillingFrequency string
	TermDuration         string
	ResellerPartnerID    string
	UnitPrice            int64 // minor units, per licence per term
	Currency             string
	PurchasedAt          time.Time
	ActivatedAt          *time.Time
	BillingStartedAt     *time.Time
	TermStart, TermEnd   *time.Time
	// CancellationWindowEndsAt closes the window opened at purchase or at
	// the last renewal.
	CancellationWindowEndsAt *time.Time
	// PublisherURL is the ISV's landing page of the publisher link.
	PublisherURL string
	// Version counts the steps taken; the API's ETag.
	Version int64
}

// Plan is the part of a catalog plan a subscription keeps for its term, so
// that a catalog edit never changes a running term.
type Plan struct {
	ID                            string
	TermDuration                  string
	BillingFrequencies            []string
	UnitPrice                     int64 // minor units, per licence per term
	Currency                      string
	MinQuantity, MaxQuantity      int
	CancellationWindow            string
	CancellationRequiresPublisher bool
	// ChangesRequirePublisher: a partner's change of quantity waits for
	// the publisher's answer, as a change of plan always does.
	ChangesRequirePublisher bool
	// ChangeApprovalWindow is how long a change waits for that answer
	// (ISO-8601); "" is the operator's CancellationApprovalTimeout.
	ChangeApprovalWindow string
	// Dimensions are what the plan meters (Rules.Metering); none for a
	// plan of licences only.
	Dimensions []metering.Dimension
}

// OffersBillingFrequency reports whether the plan can be billed at f.
func (p Plan) OffersBillingFrequency(f string) bool {
	for _, offered := range p.BillingFrequencies {
		if offered == f {
			return true
		}
	}
	return false
}

// Settings are the lifecycle's delays an operator configures, fixed for a
// subscription at its purchase.
type Settings struct {
	// ActivationDeadline: a purchase the ISV has not activated by then is
	// cancelled with no charge.
	ActivationDeadline time.Duration
	// CancellationApprovalTimeout: a cancellation waiting for the ISV
	// lapses after it.
	CancellationApprovalTimeout time.Duration
	// RenewalNotice: how long before the term ends the partner is told.
	RenewalNotice time.Duration
}

// DefaultSettings are 30 days, 7 days and 7 days.
func DefaultSettings() Settings {
	return Settings{ActivationDeadline: 30 * 24 * time.Hour, CancellationApprovalTimeout: 7 * 24 * time.Hour, RenewalNotice: 7 * 24 * time.Hour}
}

// WithDefaults fills the settings left zero.
func (s Settings) WithDefaults() Settings {
	d := DefaultSettings()
	if s.ActivationDeadline <= 0 {
		s.ActivationDeadline = d.ActivationDeadline
	}
	if s.CancellationApprovalTimeout <= 0 {
		s.CancellationApprovalTimeout = d.CancellationApprovalTimeout
	}
	if s.RenewalNotice <= 0 {
		s.RenewalNotice = d.RenewalNotice
	}
	return s
}

// PendingCancellation is a cancellation waiting for the ISV's approval.
type PendingCancellation struct {
	RequestedAt, Deadline time.Time
	PreviousStatus        Status
	Actor                 string
	// OperationID is the Unsubscribe operation that waits ("" in runs of
	// before operations).
	OperationID string
}

// State is a subscription and everything its rules remember, carried
// whole from step to step and from run to run.
type State struct {
	Subscription Subscription
	Plan         Plan
	Settings     Settings
	// Recorded: the purchase is durable; a change before it is refused.
	Recorded bool

	TermNumber int
	// TermCharges are the current term's ledger lines, for refunds.
	TermCharges []billing.Charge
	// Lots are the term's batches of licences and what each was charged,
	// so removed licences are credited what they cost.
	Lots            billing.Lots
	NextInstallment int // the next installment of the term to charge
	// RenewalNoticeSent: the partner was told the term ends.
	RenewalNoticeSent bool
	// ExactLines: the term's ledger lines are exact (Rules.ExactLines,
	// as it was when the term began).
	ExactLines          bool
	PendingCancellation *PendingCancellation
	// PendingChange is a change of plan or quantity waiting for the
	// publisher's answer (Rules.PlanChanges).
	PendingChange *PendingChange
	// RecentEventIDs are the ISV event ids taken, newest last, bounded:
	// the webhook's durable deduplication stops most repeats, this the
	// ones that slip past it.
	RecentEventIDs []string
	// Meter is a metered subscription's usage periods (Rules.Metering);
	// nil for one whose plan never metered.
	Meter *Meter
}

// Rules are the behaviour changes a subscription's workflow generation
// has (workflows/versions.go decides them): a subscription keeps the
// rules it was started or continued with, so that a recorded history
// replays as it ran.
type Rules struct {
	// LotWindows: each batch of licences has its own cancellation window
	// from the moment it was added; a decrease takes only the newest
	// licences inside theirs. Without: the subscription's one window.
	LotWindows bool
	// ExactLines: a term that begins has exact ledger lines (licences
	// added prorated per licence, credits per batch).
	ExactLines bool
	// NoOpChangesRecordNothing: a change found to change nothing once it
	// is applied records no step.
	NoOpChangesRecordNothing bool
	// PlanChanges: the plan can change, and such a change (and a change
	// of quantity on a plan that says so) waits for the publisher's
	// answer (issue 27). Without: a change of plan is refused.
	PlanChanges bool
	// Metering: plans with dimensions count usage, charged beyond the
	// included quantity at the end of each billing period (issue 28).
	// Without: dimensions are ignored.
	Metering bool
}

// Newest are the rules of subscriptions started now.
func Newest() Rules {
	return Rules{LotWindows: true, ExactLines: true, NoOpChangesRecordNothing: true, PlanChanges: true, Metering: true}
}

// rememberedEventIDsMax bounds RecentEventIDs.
const rememberedEventIDsMax = 200

// Seen reports whether the ISV event id was taken already.
func (s State) Seen(id string) bool {
	for _, seen := range s.RecentEventIDs {
		if seen == id {
			return true
		}
	}
	return false
}

// Remember records an ISV event id as taken.
func (s *State) Remember(id string) {
	s.RecentEventIDs = append(s.RecentEventIDs, id)
	if len(s.RecentEventIDs) > rememberedEventIDsMax {
		s.RecentEventIDs = s.RecentEventIDs[len(s.RecentEventIDs)-rememberedEventIDsMax:]
	}
}

// windowEnd is when a cancellation window opened at from closes.
func (s State) windowEnd(from time.Time) (time.Time, error) {
	window, err := period.Parse(s.Plan.CancellationWindow)
	if err != nil {
		return time.Time{}, &PlanError{"plan has a bad cancellation window", err}
	}
	return window.AddTo(from), nil
}

// schedule is how the current term is billed.
func (s State) schedule() (billing.Schedule, error) {
	sched, err := billing.ScheduleFor(s.Plan.TermDuration, s.Plan.UnitPrice, s.Plan.Currency, s.Subscription.BillingFrequency)
	if err != nil {
		return sched, &PlanError{"plan has a bad term", err}
	}
	return sched, nil
}

// subject is the subscription as its ledger lines name it.
func (s State) subject() billing.Subject {
	sub := s.Subscription
	return billing.Subject{SubscriptionID: sub.ID, PartnerID: sub.PartnerID, OfferID: sub.OfferID, PlanID: sub.PlanID, Quantity: sub.Quantity, Version: sub.Version}
}

// currentLots are the term's lots. A run continued from one started before
// lots were kept has none: its licences are then one batch charged what
// the term's ledger nets to.
func (s State) currentLots() billing.Lots {
	if s.Lots != nil || s.NextInstallment == 0 {
		return s.Lots
	}
	return billing.Lots{{Quantity: s.Subscription.Quantity, Charged: billing.Net(s.TermCharges)}}
}

// WindowedLots are the current lots with a window on each batch: batches
// recorded before they had their own take the subscription's window, and
// a run with no lots yet (recorded before they were kept from purchase) is
// one batch of every licence.
func (s State) WindowedLots() billing.Lots {
	var window time.Time
	if s.Subscription.CancellationWindowEndsAt != nil {
		window = *s.Subscription.CancellationWindowEndsAt
	}
	lots := s.currentLots()
	if lots == nil {
		lots = billing.StartTerm(s.Subscription.Quantity, window)
	}
	return lots.WithWindow(window)
}

// RefundableQuantity is Partner Center's refundableQuantity of a
// subscription with these lots at at: the licences that can still be
// removed, and are credited, batch by batch. None once the quantity can
// no longer change (suspended, pending cancellation, ended).
func RefundableQuantity(sub Subscription, lots billing.Lots, at time.Time) billing.Refundable {
	if !sub.Status.QuantityCanChange() {
		return billing.Refundable{Details: []billing.RefundableLot{}}
	}
	var window time.Time
	if sub.CancellationWindowEndsAt != nil {
		window = *sub.CancellationWindowEndsAt
	}
	return lots.Refundable(sub.Quantity, window, at)
}

// chargedUntil is the end of the installment last charged (or skipped):
// what the term has billed so far covers the time up to it.
func (s State) chargedUntil(sched billing.Schedule) time.Time {
	_, end := sched.Period(*s.Subscription.TermStart, *s.Subscription.TermEnd, max(s.NextInstallment-1, 0))
	return end
}

// inWindow reports whether the subscription's cancellation window is open
// at now (it is half-open: closed at its end).
func (s State) inWindow(now time.Time) bool {
	end := s.Subscription.CancellationWindowEndsAt
	return end != nil && now.Before(*end)
}
