// Package metrics is what a process tells Prometheus: HTTP requests by
// route pattern and status with latency histograms, the Temporal SDK's
// own metrics, and the business counters an operator watches (purchases,
// activations, cancellations, webhooks by outcome, notifications, ledger
// lines). A nil *Registry counts nothing, so code under test needs none.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/cspmarket/orchestrator/internal/platform/httpstatus"
)

// Registry holds one process's metrics.
type Registry struct {
	reg *prometheus.Registry
	sdk *sdkCollector

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	purchases     prometheus.Counter
	activations   prometheus.Counter
	cancellations prometheus.Counter
	webhooks      *prometheus.CounterVec
	notifications *prometheus.CounterVec
	ledgerLines   *prometheus.CounterVec
	usageEvents   *prometheus.CounterVec
	signIns       *prometheus.CounterVec
}

// New makes a registry with the Go runtime's and the process's collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), sdk: newSDKCollector()}
	r.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total", Help: "HTTP requests answered, by route pattern, method and status.",
	}, []string{"route", "method", "status"})
	r.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "Time to answer an HTTP request, by route pattern, method and status class.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "method", "class"})
	r.purchases = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "marketplace_purchases_total", Help: "Purchases recorded (each subscription once).",
	})
	r.activations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "marketplace_activations_total", Help: "Subscriptions whose fulfillment was confirmed and billing started.",
	})
	r.cancellations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "marketplace_cancellations_total", Help: "Subscriptions cancelled.",
	})
	r.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "marketplace_webhooks_total", Help: "ISV webhooks: accepted (applied or duplicate), rejected by reason (the problem code), or unanswered (the ISV hung up first).",
	}, []string{"outcome", "reason"})
	r.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "marketplace_notifications_total", Help: "Notification deliveries: delivered, attempt_failed (retried, by category) or failed (retries ran out).",
	}, []string{"outcome", "reason"})
	r.ledgerLines = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "marketplace_ledger_lines_total", Help: "Ledger lines recorded, by reason (installment, licences_added, licences_removed, refund).",
	}, []string{"reason"})
	r.usageEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "marketplace_usage_events_total", Help: "Usage events posted by ISVs, by status: Accepted, Duplicate, or why they were refused (Expired, ResourceNotActive, InvalidDimension, ...).",
	}, []string{"status"})
	r.signIns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "marketplace_console_sign_ins_total", Help: "Console sign-ins by method (token, provider) and outcome (signed_in, or why not: bad_token, no_role, unknown_partner, revoked, expired_or_replayed, provider_refused, not_verified, provider_unavailable).",
	}, []string{"method", "outcome"})
	r.reg.MustRegister(r.httpRequests, r.httpDuration, r.purchases, r.activations, r.cancellations,
		r.webhooks, r.notifications, r.ledgerLines, r.usageEvents, r.signIns, r.sdk,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler answers GET /metrics in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	if r == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// SDKHandler is the Temporal SDK's metrics handler reporting here (the
// SDK's contrib/tally module is not served by the module proxy, so the
// SDK's small Handler interface is implemented on Prometheus directly).
func (r *Registry) SDKHandler() client.MetricsHandler {
	if r == nil {
		return client.MetricsNopHandler
	}
	return &sdkHandler{c: r.sdk}
}

// Purchased, Activated and Cancelled count a business step once: call
// them when the step's commit first lands, not on its retries.
func (r *Registry) Purchased() {
	if r != nil {
		r.purchases.Inc()
	}
}

// Activated counts a confirmed fulfillment (billing started).
func (r *Registry) Activated() {
	if r != nil {
		r.activations.Inc()
	}
}

// Cancelled counts a subscription cancelled.
func (r *Registry) Cancelled() {
	if r != nil {
		r.cancellations.Inc()
	}
}

// LedgerLine counts a ledger line recorded.
func (r *Registry) LedgerLine(reason string) {
	if r != nil {
		r.ledgerLines.WithLabelValues(reason).Inc()
	}
}

// Notification counts a delivery outcome.
func (r *Registry) Notification(outcome, reason string) {
	if r != nil {
		r.notifications.WithLabelValues(outcome, reason).Inc()
	}
}

// routeKey holds, for one request, what the handlers learnt about it.
type routeKey struct{}

type requestNotes struct {
	route   string
	problem string
	usage   map[string]int
	signIn  [2]string // method, outcome
}

// NoteSignIn records a console sign-in's method and outcome.
func NoteSignIn(ctx context.Context, method, outcome string) {
	if n, ok := ctx.Value(routeKey{}).(*requestNotes); ok {
		n.signIn = [2]string{method, outcome}
	}
}

// NoteUsage records what happened to one usage event the request posted
// (metering's status), counted when the request is answered.
func NoteUsage(ctx context.Context, status string) {
	if n, ok := ctx.Value(routeKey{}).(*requestNotes); ok {
		if n.usage == nil {
			n.usage = map[string]int{}
		}
		n.usage[status]++
	}
}

// NoteRoute records the route pattern that served the request (the
// ServeMux's r.Pattern), for the request's metrics labels. The last note
// wins: a console page that called the API in process is the page's route.
func NoteRoute(ctx context.Context, pattern string) {
	if n, ok := ctx.Value(routeKey{}).(*requestNotes); ok {
		n.route = pattern
	}
}

// NoteProblem records the problem code a request was answered with (the
// webhook counter's reason).
func NoteProblem(ctx context.Context, code string) {
	if n, ok := ctx.Value(routeKey{}).(*requestNotes); ok {
		n.problem = code
	}
}

// StatusClientClosedRequest labels a request the client gave up on before
// it was answered (nginx's 499): not a server error.
const StatusClientClosedRequest = 499

// WebhookRoute is the route whose answers are counted as webhooks.
const WebhookRoute = "POST /isv/v1/webhook"

// Middleware counts and times every request by the route pattern that
// served it ("unmatched" when none did, so scanners cannot make labels).
func (r *Registry) Middleware(next http.Handler) http.Handler {
	if r == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		notes := &requestNotes{}
		req = req.WithContext(context.WithValue(req.Context(), routeKey{}, notes))
		rec := httpstatus.New(w)
		start := time.Now()
		defer func() {
			route := notes.route
			if route == "" {
				route = "unmatched"
			}
			method := req.Method
			switch method {
			case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
			default:
				method = "other"
			}
			code := rec.Status
			if !rec.Wrote && req.Context().Err() != nil {
				code = StatusClientClosedRequest // nothing was answered: the client hung up
			}
			status := strconv.Itoa(code)
			r.httpRequests.WithLabelValues(route, method, status).Inc()
			if notes.signIn[0] != "" {
				r.signIns.WithLabelValues(notes.signIn[0], notes.signIn[1]).Inc()
			}
			for usage, n := range notes.usage {
				r.usageEvents.WithLabelValues(usage).Add(float64(n))
			}
			r.httpDuration.WithLabelValues(route, method, status[:1]+"xx").Observe(time.Since(start).Seconds())
			if route == WebhookRoute {
				switch {
				case code == StatusClientClosedRequest:
					r.webhooks.WithLabelValues("unanswered", "client_closed_request").Inc()
				case code == http.StatusAccepted:
					r.webhooks.WithLabelValues("accepted", "applied").Inc()
				case code == http.StatusOK:
					r.webhooks.WithLabelValues("accepted", "duplicate").Inc()
				default:
					reason := notes.problem
					if reason == "" {
						reason = "status_" + status
					}
					r.webhooks.WithLabelValues("rejected", reason).Inc()
				}
			}
		}()
		next.ServeHTTP(rec, req)
	})
}
