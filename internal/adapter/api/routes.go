package api

import "net/http"

// Route is one endpoint the server registers.
type Route struct {
	Method  string
	Pattern string // net/http pattern, {name} for path parameters
	// Auth is "bearer" (partner agents), "signature" (ISVs) or "" (public).
	Auth    string
	handler http.HandlerFunc
}

// routes is every endpoint, in one table: the mux, the OpenAPI document's
// test, the tenancy test and the fuzzer all read it.
func (s *Server) routes() []Route {
	const (
		customer     = "/v1/customers/{customerId}"
		subscription = customer + "/subscriptions/{subscriptionId}"
	)
	return []Route{
		{"GET", "/healthz", "", s.healthz},
		{"GET", "/openapi.yaml", "", serveOpenAPI},
		{"GET", "/v1/offers", "bearer", s.partner(s.listOffers)},
		{"POST", "/v1/customers", "bearer", s.partner(s.createCustomer)},
		{"GET", "/v1/customers", "bearer", s.partner(s.listCustomers)},
		{"GET", customer, "bearer", s.partner(s.getCustomer)},
		{"POST", customer + "/subscriptions", "bearer", s.partner(s.purchase)},
		{"GET", customer + "/subscriptions", "bearer", s.partner(s.listSubscriptions)},
		{"GET", subscription, "bearer", s.partner(s.getSubscription)},
		{"PATCH", subscription, "bearer", s.partner(s.patchSubscription)},
		{"GET", subscription + "/activation-link", "bearer", s.partner(s.activationLink)},
		{"GET", subscription + "/events", "bearer", s.partner(s.listEvents)},
		{"GET", subscription + "/charges", "bearer", s.partner(s.listCharges)},
		{"GET", subscription + "/usage", "bearer", s.partner(s.subscriptionUsage)},
		{"GET", customer + "/invoices", "bearer", s.partner(s.listInvoices)},
		{"GET", customer + "/unbilled", "bearer", s.partner(s.listUnbilled)},
		{"GET", "/v1/invoices/{invoiceId}", "bearer", s.partner(s.getInvoice)},
		{"PUT", "/v1/notification-endpoint", "bearer", s.partner(s.putPartnerEndpoint)},
		{"GET", "/v1/notification-endpoint", "bearer", s.partner(s.getPartnerEndpoint)},
		{"GET", "/v1/notifications", "bearer", s.partner(s.listPartnerNotifications)},
		{"POST", "/isv/v1/subscriptions/resolve", "signature", s.isv(s.resolve)},
		{"PUT", "/isv/v1/notification-endpoint", "signature", s.isv(s.putPublisherEndpoint)},
		{"GET", "/isv/v1/notifications", "signature", s.isv(s.listPublisherNotifications)},
		{"POST", "/isv/v1/webhook", "signature", s.isv(s.webhook)},
		{"POST", "/isv/v1/usage", "signature", s.isv(s.nativeUsage)},
	}
}

// Routes lists the endpoints (for tests and documentation).
func (s *Server) Routes() []Route { return s.routes() }
