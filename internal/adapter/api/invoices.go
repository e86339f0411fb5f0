package api

import (
	"encoding/base64"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
	"github.com/cspmarket/orchestrator/internal/platform/httpaccept"
)

func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermBilling) {
		return
	}
	if _, ok := s.customer(w, r, a); !ok {
		return
	}
	size, after, err := invoicePageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rows, err := s.Store.Invoices(r.Context(), a.PartnerID, r.PathValue("customerId"), after, size+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := make([]wire.Invoice, 0, len(rows))
	for i, inv := range rows {
		if i == size {
			break
		}
		items = append(items, invoiceView(inv, nil))
	}
	resp := wire.Page[wire.Invoice]{Items: items}
	if len(rows) > size {
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte("n:" + strconv.FormatInt(rows[size-1].Number, 10)))
	}
	writeJSON(w, http.StatusOK, resp)
}

// invoicePageParams are the page size and the invoice number the page
// starts after (0 for the first page).
func invoicePageParams(r *http.Request) (int, int64, error) {
	size, err := pageSizeParam(r)
	if err != nil {
		return 0, 0, err
	}
	token := r.URL.Query().Get("pageToken")
	if token == "" {
		return size, 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	digits, ok := strings.CutPrefix(string(b), "n:")
	n, perr := strconv.ParseInt(digits, 10, 64)
	if err != nil || !ok || perr != nil || n < 1 {
		return 0, 0, invalid("pageToken", "is not a token this API issued")
	}
	return size, n, nil
}

// getInvoice answers an invoice as JSON, or as the reconciliation CSV when
// the client accepts text/csv.
func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermBilling) {
		return
	}
	id := r.PathValue("invoiceId")
	if !fields.ID(id) {
		writeProblem(w, r, http.StatusNotFound, "invoice_not_found", "No such invoice.")
		return
	}
	inv, lines, err := s.Store.Invoice(r.Context(), a.PartnerID, id)
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, "invoice_not_found", "No such invoice.")
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch negotiate(r.Header.Get("Accept")) {
	case "text/csv":
		writeInvoiceCSV(w, *inv, lines)
	case "application/json":
		writeJSON(w, http.StatusOK, invoiceView(*inv, lines))
	default:
		writeProblem(w, r, http.StatusNotAcceptable, "not_acceptable", "An invoice is served as application/json or text/csv.")
	}
}

// negotiate picks application/json (the default) or text/csv from an
// Accept header; "" when it accepts neither.
func negotiate(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return "application/json"
	}
	best, bestQ := "", -1.0
	for _, r := range httpaccept.Parse(accept) {
		var offer string
		switch r.Value {
		case "text/csv", "text/*":
			offer = "text/csv"
		case "application/json", "application/*", "*/*":
			offer = "application/json"
		default:
			continue
		}
		if r.Q > 0 && r.Q > bestQ {
			best, bestQ = offer, r.Q
		}
	}
	return best
}

// csvHeader is the reconciliation export's header row (CONTRACT.md): one
// row per invoice line, amounts in minor units, positive for both kinds.
var csvHeader = []string{
	"partner_id", "customer_id", "invoice_id", "invoice_number", "charge_id", "subscription_id", "offer_id", "plan_id",
	"publisher_id", "reseller_partner_id", "kind", "reason", "quantity", "unit_price", "period_start", "period_end", "amount", "currency",
	// A usage line's dimension and units beyond the included quantity
	// (issue 28); empty for other lines. Last, so readers of the columns
	// before keep them where they were.
	"dimension", "usage",
}

func writeInvoiceCSV(w http.ResponseWriter, inv store.Invoice, lines []store.InvoiceLine) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
	w.Header().Set("Content-Disposition", `attachment; filename="invoice-`+strconv.FormatInt(inv.Number, 10)+`-`+inv.ID+`.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	_ = cw.Write(csvHeader)
	for _, l := range lines {
		_ = cw.Write([]string{
			csvText(inv.PartnerID), csvText(inv.CustomerID), inv.ID, strconv.FormatInt(inv.Number, 10), billing.LineID(l.ChargeKey),
			csvText(l.SubscriptionID), csvText(l.OfferID), csvText(l.PlanID), csvText(l.PublisherID), csvText(l.ResellerPartnerID),
			l.Kind, l.Reason, strconv.Itoa(l.Quantity),
			strconv.FormatInt(l.UnitPrice, 10), l.PeriodStart.UTC().Format(time.RFC3339), l.PeriodEnd.UTC().Format(time.RFC3339),
			strconv.FormatInt(l.Amount, 10), l.Currency, csvText(l.Dimension), usageCell(l),
		})
	}
	cw.Flush()
}

// usageCell is a usage line's units beyond, as a decimal; "" for others.
func usageCell(l store.InvoiceLine) string {
	if l.Reason != billing.ReasonUsage {
		return ""
	}
	return metering.Quantity(l.Usage).String()
}

// csvText keeps a text cell from being read as a formula by a spreadsheet
// (a reseller PartnerID may start with "-"): a cell that starts with one of
// = + - @, a tab or a carriage return is prefixed with an apostrophe
// (OWASP's CSV injection advice). Numbers and dates are written by us and
// never start so.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// listUnbilled is what the customer's next invoices will hold: the lines
// not invoiced yet, with their total per currency (credits negative).
func (s *Server) listUnbilled(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermBilling) {
		return
	}
	if _, ok := s.customer(w, r, a); !ok {
		return
	}
	lines, err := s.Store.UnbilledLines(r.Context(), a.PartnerID, r.PathValue("customerId"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	unbilled := wire.Unbilled{Items: make([]wire.InvoiceLine, 0, len(lines)), Totals: []wire.UnbilledTotal{}}
	for _, l := range lines {
		unbilled.Items = append(unbilled.Items, invoiceLineView(l))
		totals := unbilled.Totals
		if n := len(totals); n == 0 || totals[n-1].Currency != l.Currency {
			unbilled.Totals = append(totals, wire.UnbilledTotal{Currency: l.Currency})
		}
		last := &unbilled.Totals[len(unbilled.Totals)-1]
		last.Total = billing.Add(last.Total, l.Signed())
	}
	writeJSON(w, http.StatusOK, unbilled)
}
