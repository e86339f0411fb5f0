package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	marketplace "github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// ledgerLine is a line of the subscription's ledger.
type ledgerLine struct{ wire.Charge }

// Money is the line's amount for people (the API's amounts stay integers).
func (l ledgerLine) Money() string { return money(l.Amount, l.Currency) }

func money(minor int64, currency string) string { return billing.Decimal(minor) + " " + currency }

// subscriptionPage is a subscription's page: its details, the change
// controls (disabled, with the reason, when the role or the state does not
// allow them), the refundable licences per batch, the audit trail and the
// charges.
type subscriptionPage struct {
	Sub       wire.Subscription
	Plan      marketplace.Plan
	OfferName string
	CanChange bool
	// CanBill: the agent may see money (the charges table).
	CanBill  bool
	InWindow bool
	// Ended (cancelled or expired) and AwaitsApproval (a cancellation
	// the ISV must approve) are the rules' reading of the status.
	Ended, AwaitsApproval bool
	// OtherPlans are the plans of the offer the subscription may move to
	// (the same term); PendingPlan names the one a change waits for.
	OtherPlans  []marketplace.Plan
	PendingPlan string
	Audit       []auditRow
	Charges     []ledgerLine
	// Usage is a metered subscription's period so far, a bar per
	// dimension; nil for a plan of licences only.
	Usage      *usageCard
	FieldError map[string]string
	Link       *wire.PublisherLink
}

// usageCard is the period so far as the page draws it.
type usageCard struct {
	PeriodStart, PeriodEnd *time.Time
	Bars                   []usageBar
}

// usageBar is one dimension: how much of the bar the included quantity
// and the usage take (percent of the larger), and the figures.
type usageBar struct {
	Name, Unit                   string
	Included, Used, Beyond, Cost string
	IncludedPercent, UsedPercent int
	BeyondPercent, WithinPercent int
	Over                         bool
}

func usageCardOf(u wire.Usage) *usageCard {
	card := &usageCard{PeriodStart: u.PeriodStart, PeriodEnd: u.PeriodEnd}
	for _, d := range u.Dimensions {
		scale := max(d.Included, d.Used)
		percent := func(v float64) int {
			if scale <= 0 {
				return 0
			}
			return int(v / scale * 100)
		}
		within := min(d.Used, d.Included)
		card.Bars = append(card.Bars, usageBar{Name: d.Name, Unit: d.UnitOfMeasure,
			Included: units(d.Included), Used: units(d.Used), Beyond: units(d.Beyond), Cost: money(d.Amount, u.Currency),
			IncludedPercent: percent(d.Included), UsedPercent: percent(d.Used), WithinPercent: percent(within),
			BeyondPercent: percent(d.Used) - percent(within), Over: d.Beyond > 0})
	}
	return card
}

// units writes a quantity of usage for people: up to six decimals, none
// trailing.
func units(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func subscriptionPath(customerID, id string) string {
	return "/v1/customers/" + url.PathEscape(customerID) + "/subscriptions/" + url.PathEscape(id)
}

// load reads everything the page shows through the API.
func (c *Console) load(r *http.Request, s *session) (*subscriptionPage, apiAnswer) {
	base := subscriptionPath(r.PathValue("customerId"), r.PathValue("subscriptionId"))
	a := c.call(r.Context(), s, http.MethodGet, base, nil)
	if a.Status != http.StatusOK {
		return nil, a
	}
	p := &subscriptionPage{CanChange: s.Agent.Role.Can(auth.PermChange), CanBill: s.Agent.Role.Can(auth.PermBilling), FieldError: map[string]string{}}
	if err := a.decode(&p.Sub); err != nil {
		return nil, apiAnswer{Status: http.StatusBadGateway}
	}
	p.InWindow = p.Sub.CancellationWindowEndsAt != nil && c.Now().Before(*p.Sub.CancellationWindowEndsAt)
	status := lifecycle.Status(p.Sub.Status)
	p.Ended, p.AwaitsApproval = status.Terminal(), status == lifecycle.StatusPendingCancellation
	offers, _ := c.offers(r, s)
	n := namesOf(offers)
	p.Plan, _ = n[p.Sub.OfferID].Plan(p.Sub.PlanID)
	if p.Plan.Name == "" {
		p.Plan.Name = p.Sub.PlanID
	}
	p.OfferName = n.Offer(p.Sub.OfferID)
	for _, plan := range n[p.Sub.OfferID].Plans {
		if plan.ID != p.Sub.PlanID && plan.TermDuration == p.Plan.TermDuration {
			p.OtherPlans = append(p.OtherPlans, plan)
		}
	}
	if pc := p.Sub.PendingChange; pc != nil {
		p.PendingPlan = n.Plan(p.Sub.OfferID, pc.PlanID)
	}
	var events wire.Page[wire.Event]
	if e := c.call(r.Context(), s, http.MethodGet, base+"/events", nil); e.Status == http.StatusOK {
		_ = e.decode(&events)
	}
	p.Audit = auditRows(c.lang(r), events.Items)
	if p.CanBill {
		var charges wire.Page[ledgerLine]
		if ch := c.call(r.Context(), s, http.MethodGet, base+"/charges", nil); ch.Status == http.StatusOK {
			_ = ch.decode(&charges)
		}
		p.Charges = charges.Items
		var usage wire.Usage
		if u := c.call(r.Context(), s, http.MethodGet, base+"/usage", nil); u.Status == http.StatusOK && u.decode(&usage) == nil && len(usage.Dimensions) > 0 {
			p.Usage = usageCardOf(usage)
		}
	}
	if p.Sub.ActionNeeded {
		if l := c.call(r.Context(), s, http.MethodGet, base+"/activation-link", nil); l.Status == http.StatusOK {
			_ = l.decode(&p.Link)
		}
	}
	return p, a
}

func (c *Console) subscription(w http.ResponseWriter, r *http.Request, s *session) {
	p, a := c.load(r, s)
	if p == nil {
		c.failed(w, r, s, a)
		return
	}
	c.render(w, r, http.StatusOK, "subscription", s, p, "")
}

// changeSubscription applies the page's form: the fields that changed, or
// the cancel button, as one PATCH with the version the page showed.
func (c *Console) changeSubscription(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	body := map[string]any{}
	switch f.Get("action") {
	case "cancel":
		body["status"] = "cancelled"
	case "plan":
		if v := f.Get("planId"); v != "" {
			body["planId"] = v
		}
	default:
		if v, ok := f["nickname"]; ok && v[0] != f.Get("was_nickname") {
			body["nickname"] = v[0]
		}
		if v := f.Get("quantity"); v != "" && v != f.Get("was_quantity") {
			q, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				body["quantity"] = v // the API says why it is not a number
			} else {
				body["quantity"] = q
			}
		}
		if autoRenew := f.Get("autoRenew") == "on"; strconv.FormatBool(autoRenew) != f.Get("was_autoRenew") {
			body["autoRenew"] = autoRenew
		}
		if v, ok := f["resellerPartnerId"]; ok && v[0] != f.Get("was_resellerPartnerId") {
			body["resellerPartnerId"] = v[0]
		}
		if v := f.Get("billingFrequency"); v != "" && v != f.Get("was_billingFrequency") {
			body["billingFrequency"] = v
		}
	}
	back := "/customers/" + url.PathEscape(r.PathValue("customerId")) + "/subscriptions/" + url.PathEscape(r.PathValue("subscriptionId"))
	if len(body) == 0 {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	a := c.patch(r, s, body, f.Get("etag"))
	switch a.Status {
	case http.StatusOK, http.StatusAccepted:
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	p, loaded := c.load(r, s)
	if p == nil {
		c.failed(w, r, s, loaded)
		return
	}
	prob := a.problem()
	switch a.Status {
	case http.StatusUnprocessableEntity:
		field := prob.Field
		if field == "" {
			field = "form"
		}
		p.FieldError[field] = prob.Detail
		c.render(w, r, a.Status, "subscription", s, p, "")
	case http.StatusConflict:
		c.renderWithDetail(w, r, a.Status, s, p, "error.conflict", prob.Detail)
	case http.StatusPreconditionFailed:
		c.render(w, r, a.Status, "subscription", s, p, "error.stale")
	case http.StatusForbidden:
		c.render(w, r, a.Status, "subscription", s, p, "subscription.salesreason")
	default:
		c.failed(w, r, s, a)
	}
}

func (c *Console) renderWithDetail(w http.ResponseWriter, r *http.Request, status int, s *session, p *subscriptionPage, key, detail string) {
	p.FieldError["banner"] = detail
	c.render(w, r, status, "subscription", s, p, key)
}

// patch sends the change with If-Match, as the API's PATCH.
func (c *Console) patch(r *http.Request, s *session, body map[string]any, etag string) apiAnswer {
	path := subscriptionPath(r.PathValue("customerId"), r.PathValue("subscriptionId"))
	return c.callWith(r.Context(), s, http.MethodPatch, path, body, "If-Match", etag)
}

// status answers the subscription's status for the page's live update.
func (c *Console) status(w http.ResponseWriter, r *http.Request, s *session) {
	a := c.call(r.Context(), s, http.MethodGet, subscriptionPath(r.PathValue("customerId"), r.PathValue("subscriptionId")), nil)
	if a.Status != http.StatusOK {
		w.WriteHeader(a.Status)
		return
	}
	var sub wire.Subscription
	_ = a.decode(&sub)
	lang := c.lang(r)
	label := translate(lang, "status."+sub.Status)
	if sub.ActionNeeded {
		label = translate(lang, "subs.actionneeded")
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": sub.Status, "actionNeeded": sub.ActionNeeded, "label": label, "etag": sub.ETag,
		"pendingChange": sub.PendingChange != nil, "waiting": lifecycle.Status(sub.Status).WaitsOnPublisher() || sub.PendingChange != nil})
}
