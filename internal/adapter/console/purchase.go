package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	marketplace "github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
)

// offerView is an offer as GET /v1/offers shows it: the catalog's own
// shape (the API writes catalog offers).
type offerView = marketplace.Offer

// purchaseForm is what the partner chose, carried from page to page.
type purchaseForm struct {
	OfferID, PlanID, Frequency, Quantity, Key string
}

func formOf(v url.Values) purchaseForm {
	f := purchaseForm{OfferID: v.Get("offer"), PlanID: v.Get("plan"), Frequency: v.Get("frequency"), Quantity: strings.TrimSpace(v.Get("quantity")), Key: v.Get("key")}
	if offer, plan, ok := strings.Cut(v.Get("choice"), "/"); ok {
		f.OfferID, f.PlanID = offer, plan
	}
	return f
}

func (c *Console) offers(r *http.Request, s *session) ([]offerView, apiAnswer) {
	a := c.call(r.Context(), s, http.MethodGet, "/v1/offers", nil)
	if a.Status != http.StatusOK {
		return nil, a
	}
	var page struct{ Items []offerView }
	_ = a.decode(&page)
	return page.Items, a
}

func (c *Console) customerOf(w http.ResponseWriter, r *http.Request, s *session) (*wire.Customer, bool) {
	a := c.call(r.Context(), s, http.MethodGet, "/v1/customers/"+url.PathEscape(r.PathValue("customerId")), nil)
	if a.Status != http.StatusOK {
		c.failed(w, r, s, a)
		return nil, false
	}
	var cu wire.Customer
	_ = a.decode(&cu)
	return &cu, true
}

// purchasePage is the offers, their plans, and the quantity: the first
// step of a purchase. It posts nothing: "Review" is a GET.
func (c *Console) purchasePage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showPurchase(w, r, s, http.StatusOK, formOf(r.URL.Query()), map[string]string{})
}

func (c *Console) showPurchase(w http.ResponseWriter, r *http.Request, s *session, status int, f purchaseForm, errs map[string]string) {
	cu, ok := c.customerOf(w, r, s)
	if !ok {
		return
	}
	offers, a := c.offers(r, s)
	if offers == nil && a.Status != http.StatusOK {
		c.failed(w, r, s, a)
		return
	}
	if f.Quantity == "" {
		f.Quantity = "1"
	}
	c.render(w, r, status, "purchase", s, map[string]any{"Customer": cu, "Offers": offers, "Form": f, "Errors": errs}, "")
}

// review shows what will be bought and its price before the Buy button,
// with an idempotency key made now: pressing Buy twice buys once.
func (c *Console) review(w http.ResponseWriter, r *http.Request, s *session) {
	f := formOf(r.URL.Query())
	cu, ok := c.customerOf(w, r, s)
	if !ok {
		return
	}
	offers, _ := c.offers(r, s)
	for _, o := range offers {
		for _, p := range o.Plans {
			if o.ID != f.OfferID || p.ID != f.PlanID {
				continue
			}
			q, err := strconv.Atoi(f.Quantity)
			if err != nil || fields.Quantity(q, p.MinQuantity, p.MaxQuantity, p.ID) != nil {
				c.showPurchase(w, r, s, http.StatusUnprocessableEntity, f, map[string]string{"quantity": translate(c.lang(r), "purchase.badquantity") + " " + strconv.Itoa(p.MinQuantity) + "–" + strconv.Itoa(p.MaxQuantity)})
				return
			}
			if f.Frequency == "" {
				f.Frequency = p.BillingFrequencies[0]
			}
			if !p.Snapshot().OffersBillingFrequency(f.Frequency) {
				c.showPurchase(w, r, s, http.StatusUnprocessableEntity, f, map[string]string{"billingFrequency": translate(c.lang(r), "purchase.badfrequency")})
				return
			}
			f.Key = "console-" + randomToken()
			c.render(w, r, http.StatusOK, "review", s, map[string]any{
				"Customer": cu, "Offer": o, "Plan": p, "Form": f, "Quantity": q, "Total": money(billing.TermPrice(q, p.UnitPrice), p.Currency),
			}, "")
			return
		}
	}
	c.showPurchase(w, r, s, http.StatusUnprocessableEntity, f, map[string]string{"plan": translate(c.lang(r), "purchase.choose")})
}

// buy is the review page's Buy: the API's purchase, with the key made at
// review, then the confirmation with the publisher's link.
func (c *Console) buy(w http.ResponseWriter, r *http.Request, s *session) {
	f := formOf(r.PostForm)
	if !strings.HasPrefix(f.Key, "console-") || len(f.Key) > 100 {
		// Only a review page's Buy, whose key makes a repeat buy nothing.
		c.showPurchase(w, r, s, http.StatusUnprocessableEntity, f, map[string]string{"plan": translate(c.lang(r), "purchase.reviewfirst")})
		return
	}
	q, err := strconv.Atoi(f.Quantity)
	if err != nil {
		c.showPurchase(w, r, s, http.StatusUnprocessableEntity, f, map[string]string{"quantity": translate(c.lang(r), "purchase.badquantity")})
		return
	}
	body := map[string]any{"offerId": f.OfferID, "planId": f.PlanID, "quantity": q, "billingFrequency": f.Frequency}
	path := "/v1/customers/" + url.PathEscape(r.PathValue("customerId")) + "/subscriptions"
	a := c.callWith(r.Context(), s, http.MethodPost, path, body, "Idempotency-Key", f.Key)
	switch a.Status {
	case http.StatusCreated, http.StatusAccepted:
		var sub struct {
			ID            string `json:"id"`
			Status        string `json:"status"`
			PublisherLink *struct {
				URL               string     `json:"url"`
				AuthorizationCode string     `json:"authorizationCode"`
				ExpiresAt         *time.Time `json:"expiresAt"`
			} `json:"publisherLink"`
		}
		_ = a.decode(&sub)
		cu, ok := c.customerOf(w, r, s)
		if !ok {
			return
		}
		c.render(w, r, http.StatusOK, "confirmation", s, map[string]any{"Customer": cu, "Sub": sub, "Pending": a.Status == http.StatusAccepted, "Form": f}, "")
	case http.StatusUnprocessableEntity:
		p := a.problem()
		field := p.Field
		if field == "" || field == "offerId" || field == "planId" {
			field = "plan"
		}
		c.showPurchase(w, r, s, a.Status, f, map[string]string{field: p.Detail})
	case http.StatusConflict:
		c.showPurchase(w, r, s, a.Status, f, map[string]string{"plan": translate(c.lang(r), "purchase.conflict")})
	default:
		c.failed(w, r, s, a)
	}
}
