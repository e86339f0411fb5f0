package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/cspmarket/orchestrator/internal/adapter/wire"
)

// invoiceLine is an invoice's line (or an unbilled one) with its offer's
// and plan's names, from the catalog.
type invoiceLine struct {
	wire.InvoiceLine
	OfferName, PlanName string
}

// Money is the line's amount for people.
func (l invoiceLine) Money() string { return money(l.Amount, l.Currency) }

// invoice is an invoice with its lines named.
type invoice struct {
	wire.Invoice
	Lines []invoiceLine
}

// Money is the invoice's total for people.
func (v invoice) Money() string { return money(v.Total, v.Currency) }

// nameLines gives invoice lines their offer's and plan's names.
func (c *Console) nameLines(r *http.Request, s *session, lines []wire.InvoiceLine) []invoiceLine {
	offers, _ := c.offers(r, s)
	n := namesOf(offers)
	named := make([]invoiceLine, len(lines))
	for i, l := range lines {
		named[i] = invoiceLine{InvoiceLine: l, OfferName: n.Offer(l.OfferID), PlanName: n.Plan(l.OfferID, l.PlanID)}
	}
	return named
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
	var list wire.Page[wire.Invoice]
	_ = a.decode(&list)
	invoices := make([]invoice, len(list.Items))
	for i, inv := range list.Items {
		invoices[i] = invoice{Invoice: inv}
	}
	var unbilled wire.Unbilled
	if u := c.call(r.Context(), s, http.MethodGet, base+"/unbilled", nil); u.Status == http.StatusOK {
		_ = u.decode(&unbilled)
	}
	var totals []string
	for _, t := range unbilled.Totals {
		totals = append(totals, money(t.Total, t.Currency))
	}
	c.render(w, r, http.StatusOK, "invoices", s, map[string]any{"Customer": cu, "Invoices": invoices, "Unbilled": c.nameLines(r, s, unbilled.Items), "UnbilledTotals": totals}, "")
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
	var inv wire.Invoice
	_ = a.decode(&inv)
	c.render(w, r, http.StatusOK, "invoice", s, invoice{Invoice: inv, Lines: c.nameLines(r, s, inv.Lines)}, "")
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
