package lifecycle

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
)

// The lifecycle table (docs/lifecycle.md) as plain table tests: each row a
// case, no Temporal, no database. The workflow's tests prove the shell
// (timers, Updates, continue-as-new, replay) over the same rows.

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

const (
	hour = time.Hour
	day  = 24 * time.Hour
)

var plans = map[string]Plan{
	"monthly": {ID: "monthly", TermDuration: "P1M", BillingFrequencies: []string{"monthly"}, UnitPrice: 1200, Currency: "USD",
		MinQuantity: 1, MaxQuantity: 1000, CancellationWindow: "PT72H"},
	"annual": {ID: "annual", TermDuration: "P1Y", BillingFrequencies: []string{"monthly", "annual"}, UnitPrice: 12000, Currency: "USD",
		MinQuantity: 1, MaxQuantity: 1000, CancellationWindow: "PT72H"},
	"monthly-pro": {ID: "monthly-pro", TermDuration: "P1M", BillingFrequencies: []string{"monthly"}, UnitPrice: 3000, Currency: "USD",
		MinQuantity: 1, MaxQuantity: 1000, CancellationWindow: "PT72H", ChangeApprovalWindow: "P2D"},
	"monthly-approved": {ID: "monthly-approved", TermDuration: "P1M", BillingFrequencies: []string{"monthly"}, UnitPrice: 1200, Currency: "USD",
		MinQuantity: 1, MaxQuantity: 1000, CancellationWindow: "PT72H", ChangesRequirePublisher: true},
	"annual-managed": {ID: "annual-managed", TermDuration: "P1Y", BillingFrequencies: []string{"annual", "monthly"}, UnitPrice: 12000, Currency: "USD",
		MinQuantity: 1, MaxQuantity: 1000, CancellationWindow: "PT72H", CancellationRequiresPublisher: true},
}

// sub drives one subscription through the rules, failing the test on an
// error it did not ask for; now is start plus the last input's offset.
type sub struct {
	t     *testing.T
	s     State
	rules Rules
	steps []Step
}

// bought is a subscription purchased at t0 with the newest rules.
func bought(t *testing.T, plan string, quantity int) *sub {
	t.Helper()
	p := plans[plan]
	s := State{Subscription: Subscription{ID: "sub_1", CustomerID: "cus_1", PartnerID: "partner-demo", OfferID: "contoso-crm", PlanID: p.ID,
		PublisherID: "isv-demo", Quantity: quantity, AutoRenew: true, BillingFrequency: p.BillingFrequencies[0], PublisherURL: "https://isv.example/activate"},
		Plan: p, Settings: DefaultSettings()}
	require.NoError(t, CheckPurchase(s.Subscription, s.Plan, ""))
	st, err := Purchase(s, "agent:agt_1", t0, Newest())
	require.NoError(t, err)
	st.State.Recorded = true
	return &sub{t: t, s: st.State, rules: Newest(), steps: []Step{st}}
}

func (b *sub) take(st Step, err error) Step {
	b.t.Helper()
	require.NoError(b.t, err)
	if !st.Nothing {
		b.s = st.State
	}
	b.steps = append(b.steps, st)
	return st
}

// event takes an ISV event at t0+at.
func (b *sub) event(at time.Duration, id, typ string) Step {
	b.t.Helper()
	return b.answer(at, ISVEvent{ID: id, Type: typ})
}

// answer takes an ISV event at t0+at, as the publisher isv-demo sent it.
func (b *sub) answer(at time.Duration, e ISVEvent) Step {
	b.t.Helper()
	e.PublisherID, e.ReceivedAt = "isv-demo", t0.Add(at)
	id := e.ID
	require.Empty(b.t, MalformedEvent(e))
	require.False(b.t, b.s.Seen(id), "a repeat takes no step")
	b.s.Remember(id)
	return b.take(TakeEvent(b.s, e, t0.Add(at), b.rules))
}

func (b *sub) activate(at time.Duration) Step { return b.event(at, "act", EventActivated) }

// change applies a change at t0+at, checked first as the validator does.
func (b *sub) change(at time.Duration, c Change) (Step, error) {
	b.t.Helper()
	if c.Actor == "" {
		c.Actor = "agent:agt_1"
	}
	if err := CheckChange(b.s, c, t0.Add(at), b.rules); err != nil {
		return Step{}, err
	}
	st, err := ApplyChange(b.s, c, t0.Add(at), b.rules)
	if err == nil && !st.Nothing {
		b.s = st.State
		b.steps = append(b.steps, st)
	}
	return st, err
}

func (b *sub) changed(at time.Duration, c Change) Step {
	b.t.Helper()
	st, err := b.change(at, c)
	require.NoError(b.t, err)
	return st
}

// refused asserts the change is refused with kind (and field).
func (b *sub) refused(at time.Duration, c Change, kind string, field ...string) {
	b.t.Helper()
	version := b.s.Subscription.Version
	_, err := b.change(at, c)
	var r *Refusal
	require.ErrorAs(b.t, err, &r)
	assert.Equal(b.t, kind, r.Kind, r.Message)
	if len(field) > 0 {
		assert.Equal(b.t, field[0], r.Field)
	}
	assert.Equal(b.t, version, b.s.Subscription.Version, "a refused change leaves no trace")
}

// until takes every deadline due by t0+at, one step each, as the shell does.
func (b *sub) until(at time.Duration) []Step {
	b.t.Helper()
	var taken []Step
	for !b.s.Subscription.Status.Terminal() {
		next, ok := NextDeadline(b.s)
		if !ok || t0.Add(at).Before(next) {
			break
		}
		st := b.take(PassDeadline(b.s, next, next, b.rules))
		taken = append(taken, st)
		if st.Renewed {
			break
		}
	}
	return taken
}

func (b *sub) status() Status { return b.s.Subscription.Status }

// ledger is every line the subscription's steps wrote.
func (b *sub) ledger() []billing.Charge {
	var lines []billing.Charge
	for _, st := range b.steps {
		lines = append(lines, st.Charges...)
	}
	return lines
}

func kinds(st Step) []string {
	var out []string
	for _, e := range st.Events {
		out = append(out, e.Kind)
	}
	return out
}

func notified(st Step) []string {
	var out []string
	for _, n := range st.Notifications {
		out = append(out, n.RecipientKind+":"+n.Type)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// table is every row of docs/lifecycle.md that is a rule; the shell's own
// rows are shellRows.
var table = map[string]func(t *testing.T){
	"L01": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		st := b.event(hour, "p1", EventProvisioned)
		assert.Equal(t, StatusProvisioned, b.status())
		assert.False(t, b.s.Subscription.ActionNeeded)
		assert.Empty(t, st.Charges)
	},
	"L02": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		st := b.activate(hour)
		assert.Equal(t, StatusActive, b.status())
		assert.Equal(t, t0.Add(hour), *b.s.Subscription.BillingStartedAt)
		require.Len(t, st.Charges, 1)
		assert.Equal(t, int64(3*1200), st.Charges[0].Amount)
		assert.Equal(t, []string{KindISVEventApplied, KindInstallmentCharged, KindBillingStarted}, kinds(st))
		assert.Equal(t, []string{"partner:" + NotifyActivated}, notified(st))
	},
	"L03": func(t *testing.T) {
		b := bought(t, "monthly", 2)
		b.event(hour, "p1", EventProvisioned)
		st := b.activate(2 * hour)
		assert.Equal(t, StatusActive, b.status())
		require.Len(t, st.Charges, 1)
		assert.Equal(t, int64(2400), st.Charges[0].Amount)
	},
	"L04": func(t *testing.T) {
		for _, typ := range []string{EventSuspended, EventReinstated, EventCancellationApproved, EventCancellationRejected} {
			b := bought(t, "monthly", 1)
			st := b.event(hour, "x", typ)
			assert.Equal(t, []string{KindISVEventRejected}, kinds(st), typ)
			assert.Equal(t, StatusPendingFulfillment, b.status(), typ)
		}
		b := bought(t, "monthly", 1)
		b.event(hour, "p1", EventProvisioned)
		st := b.event(2*hour, "p2", EventProvisioned)
		assert.Equal(t, []string{KindISVEventRejected}, kinds(st), "a second provisioned")
		assert.Equal(t, "a provisioned subscription cannot take subscription.provisioned", st.Events[0].Detail["reason"])
	},
	"L05": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		st := b.take(TakeEvent(b.s, ISVEvent{ID: "a", Type: EventActivated, PublisherID: "isv-demo", Quantity: 5000}, t0.Add(hour), b.rules))
		assert.Equal(t, []string{KindISVEventRejected}, kinds(st))
		assert.Equal(t, StatusPendingFulfillment, b.status())
		assert.Empty(t, st.Charges)
		annual := plans["annual"]
		annual.BillingFrequencies = []string{"annual"}
		st = b.take(TakeEvent(b.s, ISVEvent{ID: "b", Type: EventActivated, PublisherID: "isv-demo", PlanID: "annual", Plan: &annual}, t0.Add(hour), b.rules))
		assert.Equal(t, []string{KindISVEventRejected}, kinds(st), "a billing frequency the plan lacks")
	},
	"L07": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.activate(hour)
		assert.True(t, b.s.Seen("act"), "the shell drops a repeat: no step")
	},
	"L08": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.event(hour, "p1", EventProvisioned)
		steps := b.until(30*day + hour)
		require.Len(t, steps, 1)
		assert.Equal(t, StatusCancelled, b.status())
		assert.Equal(t, []string{KindActivationDeadline}, kinds(steps[0]))
		assert.Equal(t, []string{"partner:" + NotifyActivationDeadline, "publisher:" + NotifyCancelled}, notified(steps[0]))
		assert.Equal(t, ActionUnsubscribe, steps[0].Notifications[1].Payload["operation"].(map[string]any)["action"],
			"the publisher's notification is an operation, which Microsoft's webhook needs")
		assert.Empty(t, b.ledger())
	},
	"L09": func(t *testing.T) {
		b := bought(t, "annual", 1)
		st := b.changed(hour, Change{Nickname: ptr("CRM"), AutoRenew: ptr(false), ResellerPartnerID: ptr("R-1"), BillingFrequency: ptr("annual")})
		s := b.s.Subscription
		assert.Equal(t, "CRM", s.Nickname)
		assert.False(t, s.AutoRenew)
		assert.Equal(t, "R-1", s.ResellerPartnerID)
		assert.Equal(t, "annual", s.BillingFrequency, "nothing billed yet: the first term takes it")
		assert.Equal(t, []string{KindChanged}, kinds(st))
	},
	"L10": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		b.changed(hour, Change{Quantity: ptr(5)})
		st := b.changed(2*hour, Change{Quantity: ptr(2)})
		assert.Equal(t, 2, b.s.Subscription.Quantity)
		assert.Empty(t, b.ledger())
		assert.Contains(t, notified(st), "publisher:"+NotifyChanged)
	},
	"L11": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		st := b.changed(hour, Change{Cancel: true})
		assert.Equal(t, StatusCancelled, b.status())
		assert.Empty(t, st.Charges)
	},
	"L12": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.activate(0)
		st := b.changed(15*day, Change{Quantity: ptr(3)})
		require.Len(t, st.Charges, 1)
		c := st.Charges[0]
		assert.Equal(t, billing.ReasonLicencesAdded, c.Reason)
		assert.Equal(t, 2, c.Quantity)
		assert.Equal(t, billing.Prorate(1200, t0, t0.AddDate(0, 1, 0), t0.Add(15*day)), c.UnitPrice, "the installment prorated per licence")
		assert.Contains(t, notified(st), "publisher:"+NotifyChanged)
	},
	"L13": func(t *testing.T) {
		b := bought(t, "monthly", 5)
		b.activate(hour)
		st := b.changed(2*hour, Change{Quantity: ptr(2)})
		require.Len(t, st.Charges, 1)
		assert.Equal(t, billing.CreditKind, st.Charges[0].Kind)
		assert.Equal(t, int64(3*1200), st.Charges[0].Amount)
		assert.Equal(t, int64(2*1200), billing.Net(b.ledger()))
	},
	"L14": func(t *testing.T) {
		b := bought(t, "monthly", 5)
		b.activate(hour)
		b.refused(4*day, Change{Quantity: ptr(2)}, RefusedWindowClosed)
	},
	"L15": func(t *testing.T) {
		b := bought(t, "monthly", 5)
		b.activate(hour)
		b.refused(2*hour, Change{Quantity: ptr(1001)}, RefusedInvalid, "quantity")
		b.refused(2*hour, Change{Quantity: ptr(0)}, RefusedInvalid, "quantity")
	},
	"L16": func(t *testing.T) {
		b := bought(t, "monthly", 5)
		b.activate(hour)
		b.changed(2*hour, Change{Quantity: ptr(6)})
		st := b.changed(3*hour, Change{Cancel: true})
		assert.Equal(t, StatusCancelled, b.status())
		assert.Zero(t, billing.Net(b.ledger()), "every charge of the term credited")
		assert.Equal(t, []string{"partner:" + NotifyCancelled, "publisher:" + NotifyCancelled}, notified(st))
	},
	"L17": func(t *testing.T) {
		b := bought(t, "monthly", 5)
		b.activate(hour)
		b.refused(4*day, Change{Cancel: true}, RefusedWindowClosed)
		b.changed(4*day, Change{AutoRenew: ptr(false)})
		assert.False(t, b.s.Subscription.AutoRenew)
	},
	"L18": func(t *testing.T) {
		b := bought(t, "annual-managed", 2)
		b.activate(hour)
		st := b.changed(2*hour, Change{Cancel: true})
		assert.True(t, st.Pending)
		assert.Equal(t, StatusPendingCancellation, b.status())
		assert.Equal(t, []string{"publisher:" + NotifyCancellationRequested}, notified(st))
	},
	"L19": func(t *testing.T) {
		b := bought(t, "annual-managed", 2)
		b.activate(hour)
		b.changed(2*hour, Change{Cancel: true})
		st := b.event(3*hour, "ok", EventCancellationApproved)
		assert.Equal(t, StatusCancelled, b.status())
		assert.Zero(t, billing.Net(b.ledger()))
		assert.Equal(t, []string{KindISVEventApplied, KindCancelled}, kinds(st))
	},
	"L20": func(t *testing.T) {
		b := bought(t, "annual-managed", 2)
		b.activate(hour)
		b.changed(2*hour, Change{Cancel: true})
		st := b.event(3*hour, "no", EventCancellationRejected)
		assert.Equal(t, StatusActive, b.status())
		assert.Nil(t, b.s.PendingCancellation)
		assert.Equal(t, []string{"partner:" + NotifyCancellationRejected}, notified(st))
	},
	"L21": func(t *testing.T) {
		b := bought(t, "annual-managed", 2)
		b.activate(hour)
		b.changed(2*hour, Change{Cancel: true})
		steps := b.until(2*hour + 7*day)
		require.NotEmpty(t, steps)
		assert.Equal(t, []string{KindCancellationLapsed}, kinds(steps[0]))
		assert.Equal(t, StatusActive, b.status())
	},
	"L22": func(t *testing.T) {
		b := bought(t, "annual-managed", 2)
		b.activate(hour)
		b.changed(2*hour, Change{Cancel: true})
		b.refused(3*hour, Change{Cancel: true}, RefusedState)
		b.refused(3*hour, Change{Quantity: ptr(3)}, RefusedState)
		b.refused(3*hour, Change{BillingFrequency: ptr("monthly")}, RefusedState)
	},
	"L23": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.activate(hour)
		st := b.event(2*hour, "s", EventSuspended)
		assert.Equal(t, StatusSuspended, b.status())
		assert.Equal(t, []string{"partner:" + NotifySuspended}, notified(st))
	},
	"L24": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.activate(hour)
		b.event(2*hour, "s", EventSuspended)
		st := b.event(3*hour, "r", EventReinstated)
		assert.Equal(t, StatusActive, b.status())
		assert.Equal(t, []string{"partner:" + NotifyReinstated}, notified(st))
	},
	"L25": func(t *testing.T) {
		b := bought(t, "annual", 2)
		b.activate(0)
		b.event(hour, "s", EventSuspended)
		steps := b.until(32 * day)
		var skipped bool
		for _, st := range steps {
			skipped = skipped || (len(st.Events) == 1 && st.Events[0].Kind == KindInstallmentSkipped)
		}
		assert.True(t, skipped)
		assert.Len(t, b.ledger(), 1, "only the installment charged before the suspension")
	},
	"L26": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.activate(hour)
		b.event(2*hour, "s", EventSuspended)
		b.refused(3*hour, Change{Quantity: ptr(2)}, RefusedState)
	},
	"L27": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.activate(hour)
		st := b.event(2*hour, "u", EventUnsubscribed)
		assert.Equal(t, StatusCancelled, b.status())
		assert.Empty(t, st.Charges, "the term stays charged")
		assert.Equal(t, int64(1200), billing.Net(b.ledger()))
	},
	"L28": func(t *testing.T) {
		b := bought(t, "annual", 1)
		b.activate(0)
		b.until(364 * day)
		var sum int64
		installments := 0
		for _, c := range b.ledger() {
			if c.Reason == billing.ReasonInstallment {
				sum += c.Amount
				installments++
			}
		}
		assert.Equal(t, 12, installments)
		assert.Equal(t, int64(12000), sum, "twelve installments sum to the term's price")
	},
	"L29": func(t *testing.T) {
		for _, autoRenew := range []bool{true, false} {
			b := bought(t, "annual", 1)
			b.changed(0, Change{AutoRenew: ptr(autoRenew)})
			b.activate(hour)
			var notice Step
			for _, st := range b.until(360 * day) {
				if len(st.Events) == 1 && st.Events[0].Kind == KindRenewalNotice {
					notice = st
				}
			}
			want := NotifyRenewalUpcoming
			if !autoRenew {
				want = NotifyExpiring
			}
			assert.Equal(t, []string{"partner:" + want}, notified(notice))
		}
	},
	"L30": func(t *testing.T) {
		b := bought(t, "monthly", 2)
		b.activate(0)
		steps := b.until(31 * day)
		last := steps[len(steps)-1]
		assert.True(t, last.Renewed)
		assert.Equal(t, 2, b.s.TermNumber)
		assert.Equal(t, t0.AddDate(0, 1, 0), *b.s.Subscription.TermStart, "from the old end")
		assert.Equal(t, t0.AddDate(0, 1, 0).Add(72*hour), *b.s.Subscription.CancellationWindowEndsAt, "a new window")
		assert.Equal(t, []string{KindInstallmentCharged, KindRenewed}, kinds(last))
	},
	"L31": func(t *testing.T) {
		b := bought(t, "monthly", 2)
		b.changed(0, Change{AutoRenew: ptr(false)})
		b.activate(hour)
		steps := b.until(32 * day)
		assert.Equal(t, StatusExpired, b.status())
		assert.Equal(t, []string{"partner:" + NotifyExpired, "publisher:" + NotifyExpired}, notified(steps[len(steps)-1]))
	},
	"L32": func(t *testing.T) {
		b := bought(t, "annual", 1)
		b.activate(hour)
		b.changed(2*hour, Change{BillingFrequency: ptr("annual")})
		assert.Equal(t, "monthly", b.s.Subscription.BillingFrequency)
		assert.Equal(t, "annual", b.s.Subscription.NextBillingFrequency)
		b.until(366 * day)
		assert.Equal(t, "annual", b.s.Subscription.BillingFrequency, "applied at the renewal")
		assert.Empty(t, b.s.Subscription.NextBillingFrequency)
	},
	"L33": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.refused(hour, Change{Nickname: ptr("x"), IfVersion: 7}, RefusedStale)
	},
	"L34": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.refused(hour, Change{}, RefusedInvalid, "")
	},
	"L35": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.changed(hour, Change{Cancel: true})
		st := b.event(2*hour, "late", EventActivated)
		assert.Equal(t, []string{KindISVEventRejected}, kinds(st))
		assert.Equal(t, StatusCancelled, b.status())
	},
	"L36": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.changed(hour, Change{Cancel: true})
		b.refused(2*hour, Change{Nickname: ptr("x")}, RefusedState)
	},
	"L38": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.refused(hour, Change{Nickname: ptr("x\x00y")}, RefusedInvalid, "nickname")
		b.refused(hour, Change{Nickname: ptr("x\x1b[2Jy")}, RefusedInvalid, "nickname")
		b.refused(hour, Change{ResellerPartnerID: ptr("R\x00")}, RefusedInvalid, "resellerPartnerId")
	},
	"L39": func(t *testing.T) {
		p := plans["monthly"]
		ok := Subscription{ID: "sub_1", CustomerID: "cus_1", PartnerID: "p", OfferID: "o", PlanID: p.ID, PublisherID: "isv", Quantity: 1, BillingFrequency: "monthly"}
		for field, bad := range map[string]func(*Subscription, *Plan){
			"nickname":          func(s *Subscription, _ *Plan) { s.Nickname = "a\x00b" },
			"quantity":          func(s *Subscription, _ *Plan) { s.Quantity = 5000 },
			"plan.termDuration": func(_ *Subscription, p *Plan) { p.TermDuration = "a month" },
			"billingFrequency":  func(s *Subscription, _ *Plan) { s.BillingFrequency = "weekly" },
			"id":                func(s *Subscription, _ *Plan) { s.ID = "" },
		} {
			s, pl := ok, p
			bad(&s, &pl)
			var r *Refusal
			require.ErrorAs(t, CheckPurchase(s, pl, ""), &r, field)
			assert.Equal(t, field, r.Field)
		}
	},
	"L40": func(t *testing.T) {
		for _, e := range []ISVEvent{{ID: "", Type: EventActivated, PublisherID: "isv"}, {ID: "a", Type: EventActivated, PublisherID: "is v"},
			{ID: "a", Type: "subscription.exploded", PublisherID: "isv"}, {ID: "a", Type: EventActivated, PublisherID: "isv", PlanID: "a b"}} {
			assert.NotEmpty(t, MalformedEvent(e), "%+v", e)
		}
	},
	"L42": func(t *testing.T) {
		b := bought(t, "monthly", 5)
		b.activate(hour)
		b.changed(2*hour, Change{Quantity: ptr(2)})
		b.changed(3*hour, Change{Cancel: true})
		lines := b.ledger()
		require.Len(t, lines, 3)
		assert.Equal(t, 2, lines[2].Quantity, "the refund counts the licences left")
		assert.Zero(t, billing.Net(lines))
	},
	"L43": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.activate(hour)
		b.refused(72*hour, Change{Cancel: true}, RefusedWindowClosed)
		b.changed(72*hour-time.Second, Change{Cancel: true})
	},
	"L44": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		b.activate(hour)
		b.changed(2*day, Change{Quantity: ptr(5)})
		assert.Equal(t, 2, RefundableQuantity(b.s.Subscription, b.s.WindowedLots(), t0.Add(4*day)).Total)
		b.refused(4*day, Change{Quantity: ptr(2)}, RefusedWindowClosed)
		st := b.changed(4*day+hour, Change{Quantity: ptr(3)})
		require.Len(t, st.Charges, 1)
		added := b.steps[len(b.steps)-2].Charges[0]
		assert.Equal(t, added.Amount, st.Charges[0].Amount, "credited what the batch was charged")
	},
	"L45": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		b.changed(2*day, Change{Quantity: ptr(5)})
		b.activate(4 * day)
		b.refused(4*day+hour, Change{Quantity: ptr(2)}, RefusedWindowClosed)
		b.changed(4*day+2*hour, Change{Quantity: ptr(3)})
	},
	"L46": func(t *testing.T) {
		b := bought(t, "monthly", 2)
		b.activate(hour)
		b.changed(2*day, Change{Quantity: ptr(4)})
		b.refused(5*day, Change{Quantity: ptr(3)}, RefusedWindowClosed)
		b.changed(5*day-time.Second, Change{Quantity: ptr(3)})
	},
	"L47": func(t *testing.T) {
		b := bought(t, "monthly", 2)
		b.activate(hour)
		b.changed(2*hour, Change{Nickname: ptr("Café"), AutoRenew: ptr(false)})
		for _, c := range []Change{{Nickname: ptr(" Cafe\u0301 ")}, {AutoRenew: ptr(false)}, {Quantity: ptr(2)}, {BillingFrequency: ptr("monthly")}, {ResellerPartnerID: ptr("")}} {
			assert.True(t, ChangesNothing(b.s, c), "%+v", c)
		}
		assert.False(t, ChangesNothing(b.s, Change{Quantity: ptr(3)}))
		assert.False(t, ChangesNothing(b.s, Change{Cancel: true}))
	},
	"L48": func(t *testing.T) {
		b := bought(t, "monthly", 2)
		b.activate(hour)
		same := Change{Actor: "agent:agt_1", Nickname: ptr("Seats")}
		require.NoError(t, CheckChange(b.s, same, t0.Add(2*hour), b.rules), "both pass their validators before either applies")
		b.changed(2*hour, same)
		version := b.s.Subscription.Version
		st, err := ApplyChange(b.s, same, t0.Add(2*hour), b.rules)
		require.NoError(t, err)
		assert.True(t, st.Nothing)
		assert.Equal(t, version, st.State.Subscription.Version)
	},
	"L49": func(t *testing.T) {
		b := bought(t, "monthly", 1)
		b.activate(hour)
		b.changed(day+7*time.Minute, Change{Quantity: ptr(4)})
		b.changed(day+hour, Change{Quantity: ptr(3)})
		b.changed(day+2*hour, Change{Quantity: ptr(5)})
		b.changed(2*day, Change{Cancel: true})
		lines := b.ledger()
		for _, c := range lines {
			assert.Equal(t, c.Amount, int64(c.Quantity)*c.UnitPrice, "%s", c.Key)
		}
		assert.Zero(t, billing.Net(lines))
	},
	"L50": func(t *testing.T) {
		b := bought(t, "monthly", 5)
		b.rules.ExactLines = false
		b.activate(hour)
		assert.False(t, b.s.ExactLines, "a term that began under rules of before")
		b.changed(2*hour, Change{Quantity: ptr(2)})
		b.changed(3*hour, Change{Cancel: true})
		lines := b.ledger()
		require.Len(t, lines, 3)
		assert.Equal(t, 5, lines[2].Quantity, "the refund of before copied the credited charge's quantity")
		assert.Equal(t, "credit/"+lines[0].Key, lines[2].Key)
	},
}

// toPlan is a change of plan to one of the test plans.
func toPlan(id string) Change {
	p := plans[id]
	return Change{PlanID: &p.ID, Plan: &p}
}

var planRows = map[string]func(t *testing.T){
	"L51": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		b.activate(hour)
		before := b.s
		st := b.changed(day, toPlan("monthly-pro"))
		assert.True(t, st.Pending)
		assert.Equal(t, "monthly", b.s.Subscription.PlanID, "the plan waits for the publisher")
		assert.Equal(t, before.Subscription.Quantity, b.s.Subscription.Quantity)
		assert.Equal(t, StatusActive, b.status())
		assert.Empty(t, st.Charges, "nothing charged while it waits")
		require.NotNil(t, b.s.PendingChange)
		op := b.s.PendingChange.Operation
		assert.Equal(t, ActionChangePlan, op.Action)
		assert.Equal(t, OperationInProgress, op.Status)
		assert.Equal(t, "monthly-pro", op.PlanID)
		assert.Equal(t, t0.Add(8*day), b.s.PendingChange.Deadline, "the plan has no answer window of its own: the operator's 7 days")
		assert.Equal(t, []string{KindChangeRequested}, kinds(st))
		assert.Equal(t, []string{"publisher:" + NotifyChangeRequested}, notified(st))
		assert.Equal(t, op.ID, st.Notifications[0].Payload["operation"].(map[string]any)["id"])
		assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, op.ID)
		b.refused(day+hour, toPlan("monthly-pro"), RefusedState)
		b.refused(day+hour, Change{Quantity: ptr(4)}, RefusedState)
	},
	"L52": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		b.activate(hour)
		b.changed(day, toPlan("monthly-pro"))
		st := b.answer(2*day, ISVEvent{ID: "no", Type: EventChangeRejected})
		assert.Equal(t, "monthly", b.s.Subscription.PlanID)
		assert.Nil(t, b.s.PendingChange)
		assert.Empty(t, st.Charges)
		require.Len(t, st.Operations, 1)
		assert.Equal(t, OperationFailed, st.Operations[0].Status)
		assert.Contains(t, kinds(st), KindChangeRejected)
		assert.Equal(t, []string{"partner:" + NotifyChangeRejected}, notified(st))
		assert.Len(t, b.ledger(), 1, "only the first installment")
	},
	"L53": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		b.activate(0)
		req := b.changed(10*day, toPlan("monthly-pro"))
		st := b.answer(11*day, ISVEvent{ID: "yes", Type: EventChangeApproved, OperationID: req.State.PendingChange.Operation.ID})
		assert.Equal(t, "monthly-pro", b.s.Subscription.PlanID)
		assert.Equal(t, int64(3000), b.s.Subscription.UnitPrice)
		assert.Equal(t, StatusActive, b.status())
		require.Len(t, st.Charges, 2)
		credit, charge := st.Charges[0], st.Charges[1]
		// 30-day month from t0 (Nov 24 to Dec 24), 19 days left of 30.
		assert.Equal(t, billing.CreditKind, credit.Kind)
		assert.Equal(t, int64(760), credit.UnitPrice, "1200 x 19/30")
		assert.Equal(t, int64(3*760), credit.Amount)
		assert.Equal(t, billing.ChargeKind, charge.Kind)
		assert.Equal(t, int64(1900), charge.UnitPrice, "3000 x 19/30")
		assert.Equal(t, int64(3*1900), charge.Amount)
		assert.Equal(t, billing.ReasonPlanChanged, charge.Reason)
		require.Len(t, st.Operations, 1)
		assert.Equal(t, OperationSucceeded, st.Operations[0].Status)
		// The next term bills the new plan; a cancellation credits what
		// each licence paid, not more.
		taken := b.until(31 * day)
		require.NotEmpty(t, taken)
		renewal := taken[len(taken)-1]
		require.True(t, renewal.Renewed)
		assert.Equal(t, int64(3*3000), renewal.Charges[0].Amount)
	},
	"L54": func(t *testing.T) {
		b := bought(t, "monthly-pro", 3)
		b.activate(hour)
		b.changed(day, toPlan("monthly"))
		st := b.until(3*day + hour)
		require.Len(t, st, 1)
		assert.Equal(t, []string{KindChangeLapsed}, kinds(st[0]))
		assert.Equal(t, "monthly-pro", b.s.Subscription.PlanID, "a lapsed change changes nothing")
		assert.Empty(t, st[0].Charges)
		assert.Nil(t, b.s.PendingChange)
		assert.Equal(t, OperationFailed, st[0].Operations[0].Status)
	},
	"L55": func(t *testing.T) {
		b := bought(t, "monthly-approved", 3)
		b.activate(hour)
		st := b.changed(day, Change{Quantity: ptr(5)})
		assert.True(t, st.Pending)
		assert.Equal(t, 3, b.s.Subscription.Quantity)
		assert.Equal(t, ActionChangeQuantity, b.s.PendingChange.Operation.Action)
		st = b.answer(day+hour, ISVEvent{ID: "ok", Type: EventChangeApproved})
		assert.Equal(t, 5, b.s.Subscription.Quantity)
		require.Len(t, st.Charges, 1)
		assert.Equal(t, billing.ReasonLicencesAdded, st.Charges[0].Reason)
		// Without the plan's flag a quantity change does not wait.
		o := bought(t, "monthly", 3)
		o.activate(hour)
		st = o.changed(day, Change{Quantity: ptr(5)})
		assert.False(t, st.Pending)
		assert.Equal(t, ActionChangeQuantity, st.Operations[0].Action)
		assert.Equal(t, OperationSucceeded, st.Operations[0].Status)
	},
	"L56": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		b.refused(0, toPlan("monthly-pro"), RefusedState) // not active yet
		b.activate(hour)
		b.refused(day, toPlan("annual"), RefusedInvalid, "planId")                                                                      // another term
		b.refused(day, Change{PlanID: ptr("gold")}, RefusedInvalid, "planId")                                                           // not a plan of the offer
		b.refused(day, Change{PlanID: ptr("monthly-pro"), Plan: ptr(plans["monthly-pro"]), Quantity: ptr(4)}, RefusedInvalid, "planId") // one at a time
		c := toPlan("monthly-pro")
		c.Nickname = ptr("x")
		b.refused(day, c, RefusedInvalid, "")
		old := bought(t, "monthly", 3)
		old.rules.PlanChanges = false
		old.activate(hour)
		old.refused(day, toPlan("monthly-pro"), RefusedState)
		assert.True(t, ChangesNothing(b.s, Change{PlanID: ptr("monthly")}), "the plan it has")
	},
	"L57": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		b.activate(hour)
		b.changed(day, toPlan("monthly-pro"))
		st := b.event(2*day, "s", EventSuspended)
		assert.Nil(t, b.s.PendingChange, "a suspended subscription cannot take the change")
		assert.Contains(t, kinds(st), KindChangeFailed)
		assert.Equal(t, "monthly", b.s.Subscription.PlanID)
		assert.Len(t, b.ledger(), 1)
		ops := map[string]string{}
		for _, op := range st.Operations {
			ops[op.Action] = op.Status
		}
		assert.Equal(t, map[string]string{ActionSuspend: OperationSucceeded, ActionChangePlan: OperationFailed}, ops)
	},
	"L58": func(t *testing.T) {
		b := bought(t, "monthly", 3)
		b.activate(hour)
		c := toPlan("monthly-pro")
		c.Source, c.OperationID = SourcePublisher, "11111111-2222-4333-8444-555555555555"
		st := b.changed(day, c)
		assert.False(t, st.Pending, "the publisher's own change is its answer")
		assert.Equal(t, "monthly-pro", b.s.Subscription.PlanID)
		require.Len(t, st.Charges, 2)
		assert.Equal(t, []Operation{{ID: c.OperationID, Action: ActionChangePlan, Status: OperationSucceeded, PlanID: "monthly-pro", Quantity: 3,
			Source: SourcePublisher, RequestedAt: t0.Add(day)}}, st.Operations)
		for _, n := range st.Notifications {
			assert.Equal(t, RecipientPartner, n.RecipientKind, "the publisher is not told of its own change")
		}
		st = b.answer(2*day, ISVEvent{ID: "late", Type: EventChangeApproved})
		assert.Equal(t, []string{KindISVEventRejected}, kinds(st), "an answer with nothing waiting is recorded, not applied")
		// Before activation the publisher changes nothing: the purchase
		// stands as bought (the hostile pass of issue 27 raised 2
		// licences to 50 before activating, and the partner was billed 50).
		early := bought(t, "monthly", 2)
		early.refused(hour, Change{Quantity: ptr(50), Source: SourcePublisher}, RefusedState)
		early.refused(hour, Change{PlanID: ptr("monthly-pro"), Plan: ptr(plans["monthly-pro"]), Source: SourcePublisher}, RefusedState)
	},
}

// shellRows are the rows only the workflow (or the API) can show: the
// webhook's refusal (L06), continue-as-new over ten years (L37), commits
// retried through a database outage (L41).
var shellRows = map[string]bool{"L06": true, "L37": true, "L41": true}

func init() {
	for id, c := range planRows {
		table[id] = c
	}
}

func TestLifecycleTable(t *testing.T) {
	ids := make([]string, 0, len(table))
	for id := range table {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t.Run(id, table[id])
	}
}

// Every rule row of docs/lifecycle.md has its case here, and every case a
// row.
func TestEveryRuleRowHasACase(t *testing.T) {
	doc, err := os.Open(filepath.Join("..", "..", "..", "docs", "lifecycle.md"))
	require.NoError(t, err)
	defer doc.Close()
	row := regexp.MustCompile(`^\| (L\d+) \|`)
	rows := map[string]bool{}
	sc := bufio.NewScanner(doc)
	for sc.Scan() {
		if m := row.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			rows[m[1]] = true
			if !shellRows[m[1]] {
				assert.Contains(t, table, m[1], "row %s has no case", m[1])
			}
		}
	}
	require.GreaterOrEqual(t, len(rows), 40, "the table was not read")
	for id := range table {
		assert.True(t, rows[id], "case %s has no row", id)
	}
}
