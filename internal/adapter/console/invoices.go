package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

type invoiceLineView struct {
	SubscriptionID string    `json:"subscriptionId"`
	OfferID        string    `json:"offerId"`
	PlanID         string    `json:"planId"`
	OfferName      string    `json:"-"` // from the catalog (nameLines)
	PlanName       string    `json:"-"`
	Kind           string    `json:"kind"`
	Reason         string    `json:"reason"`
	Quantity       int       `json:"quantity"`
	PeriodStart    time.Time `json:"periodStart"`
	PeriodEnd      time.Time `json:"periodEnd"`
	Amount         int64     `json:"amount"`
	Currency       string    `json:"currency"`
}

// Money is the line's amount for people.
func (l invoiceLineView) Money() string { return money(l.Amount, l.Currency) }

type invoiceView struct {
	ID          string            `json:"id"`
	Number      int64             `json:"number"`
	CustomerID  string            `json:"customerId"`
	PeriodStart time.Time         `json:"periodStart"`
	PeriodEnd   time.Time         `json:"periodEnd"`
	Currency    string            `json:"currency"`
	IssuedAt    time.Time         `json:"issuedAt"`
	Lines       []invoiceLineView `json:"lines"`
	Total       int64             `json:"total"`
}

// Money is the invoice's total for people.
func (v invoiceView) Money() string { return money(v.Total, v.Currency) }

// nameLines gives invoice lines their offer's and plan's names.
func (c *Console) nameLines(r *http.Request, s *session, lines []invoiceLineView) {
	offers, _ := c.offers(r, s)
	n := namesOf(offers)
	for i, l := range lines {
		lines[i].OfferName, lines[i].PlanName = n.Offer(l.OfferID), n.Plan(l.OfferID, l.PlanID)
	}
}

// billingRefused shows the API's 403 on billing as its reason.
func (c *Console) billingRefused(w http.ResponseWriter, r *http.Request, s *session, a apiAnswer) bool {
	if a.Status != http.StatusForbidden {
		return false
	}
	c.render(w, r, http.StatusForbidden, "error", s, nil, "invoices.salesreason")
	return true
}

func (c *Console) invoices(w http.ResponseWriter, r *http.Request, s *session) {
	cu, ok := c.customerOf(w, r, s)
	if !ok {
		return
	}
	base := "/v1/customers/" + url.PathEscape(cu.ID)
	a := c.call(r.Context(), s, http.MethodGet, base+"/invoices?pageSize=200", nil)
	if c.billingRefused(w, r, s, a) {
		return
	}
	if a.Status != http.StatusOK {
		c.failed(w, r, s, a)
		return
	}
	var list struct{ Items []invoiceView }
	_ = a.decode(&list)
	var unbilled struct {
		Items  []invoiceLineView `json:"items"`
		Totals []struct {
			Currency string `json:"currency"`
			Total    int64  `json:"total"`
		} `json:"totals"`
	}
	if u := c.call(r.Context(), s, http.MethodGet, base+"/unbilled", nil); u.Status == http.StatusOK {
		_ = u.decode(&unbilled)
	}
	c.nameLines(r, s, unbilled.Items)
	var totals []string
	for _, t := range unbilled.Totals {
		totals = append(totals, money(t.Total, t.Currency))
	}
	c.render(w, r, http.StatusOK, "invoices", s, map[string]any{"Customer": cu, "Invoices": list.Items, "Unbilled": unbilled.Items, "UnbilledTotals": totals}, "")
}

func (c *Console) invoice(w http.ResponseWriter, r *http.Request, s *session) {
	a := c.call(r.Context(), s, http.MethodGet, "/v1/invoices/"+url.PathEscape(r.PathValue("invoiceId")), nil)
	if c.billingRefused(w, r, s, a) {
		return
	}
	if a.Status != http.StatusOK {
		c.failed(w, r, s, a)
		return
	}
	var inv invoiceView
	_ = a.decode(&inv)
	c.nameLines(r, s, inv.Lines)
	c.render(w, r, http.StatusOK, "invoice", s, inv, "")
}

// invoiceCSV downloads the API's reconciliation export as it is.
func (c *Console) invoiceCSV(w http.ResponseWriter, r *http.Request, s *session) {
	a := c.callWith(r.Context(), s, http.MethodGet, "/v1/invoices/"+url.PathEscape(r.PathValue("invoiceId")), nil, "Accept", "text/csv")
	if c.billingRefused(w, r, s, a) {
		return
	}
	if a.Status != http.StatusOK {
		c.failed(w, r, s, a)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="invoice-`+r.PathValue("invoiceId")+`.csv"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(a.Body)))
	_, _ = w.Write(a.Body)
}
