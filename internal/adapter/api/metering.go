package api

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/saaswire"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
	"github.com/cspmarket/orchestrator/internal/platform/metrics"
)

// Metered usage in (issue 28): Microsoft's metering API at /api
// (usageEvent, batchUsageEvent, usageEvents) and the native signed
// /isv/v1/usage. Both hand the store the same submissions: the store's
// transaction decides (store.AcceptUsage, metering's rules), so the two
// dialects can never disagree about an event.

// maxUsageListed bounds one answer of the usage listings.
const maxUsageListed = 1000

// maxUsageIDLength bounds the ids an event names (resource, dimension,
// plan): the submission log keeps them, and no id of ours is longer.
const maxUsageIDLength = 128

// usageSubmission is a posted event as the store takes it; the problem
// (a metering status and why) of one that cannot even be named.
func usageSubmission(publisherID, source, requestID string, e saaswire.UsageEvent) (store.UsageSubmission, string, string) {
	u := store.UsageSubmission{PublisherID: publisherID, ResourceID: e.ResourceID, PlanID: e.PlanID, Dimension: e.Dimension,
		Source: source, RequestID: requestID}
	switch {
	case !fields.CleanText(e.ResourceID) || len(e.ResourceID) > maxUsageIDLength:
		// Never logged: the submission log keeps what it can name.
		return u, metering.BadArgument, "resourceId holds control characters or is too long."
	case e.ResourceURI != "" && e.ResourceID == "":
		return u, metering.BadArgument, "resourceUri names a managed application's resource; a SaaS subscription is named by resourceId."
	case e.Quantity == nil:
		return u, metering.InvalidQuantity, "quantity is required."
	case !fields.CleanText(e.Dimension) || len(e.Dimension) > maxUsageIDLength:
		return u, metering.BadArgument, "dimension holds control characters or is too long."
	case e.PlanID != "" && (!fields.CleanText(e.PlanID) || len(e.PlanID) > maxUsageIDLength):
		return u, metering.BadArgument, "planId holds control characters or is too long."
	}
	u.Quantity = *e.Quantity
	t, err := time.Parse(time.RFC3339Nano, e.EffectiveStartTime)
	if err != nil {
		return u, metering.BadArgument, "effectiveStartTime must be an RFC 3339 date-time in UTC, as 2026-12-07T15:00:00Z."
	}
	u.EffectiveStart = t.UTC()
	if id, ok := saaswire.SubscriptionID(strings.ToLower(e.ResourceID)); ok {
		u.SubscriptionID = id
	}
	return u, "", ""
}

// acceptUsage takes submissions, the ones already refused (a problem
// said) logged as such: the results in the order posted.
func (s *Server) acceptUsage(r *http.Request, subs []store.UsageSubmission, problems [][2]string) ([]store.UsageResult, error) {
	var valid []store.UsageSubmission
	var at []int
	for i, u := range subs {
		if problems[i][0] == "" {
			valid = append(valid, u)
			at = append(at, i)
		}
	}
	results := make([]store.UsageResult, len(subs))
	if len(valid) > 0 {
		got, err := s.Store.AcceptUsage(r.Context(), valid, s.Now().UTC())
		if err != nil {
			return nil, err
		}
		for j, res := range got {
			results[at[j]] = res
		}
	}
	for i, p := range problems {
		if p[0] != "" {
			results[i] = store.UsageResult{Status: p[0], Message: p[1]}
		}
	}
	for _, res := range results {
		metrics.NoteUsage(r.Context(), res.Status)
	}
	return results, nil
}

// usageResultOf is one result in Microsoft's shape.
func usageResultOf(e saaswire.UsageEvent, res store.UsageResult, now time.Time) saaswire.UsageEventResult {
	out := saaswire.UsageEventResult{UsageEventID: res.ID, Status: res.Status, MessageTime: now.UTC().Format(time.RFC3339Nano),
		ResourceID: e.ResourceID, Dimension: e.Dimension, EffectiveStartTime: e.EffectiveStartTime, PlanID: e.PlanID}
	if e.Quantity != nil && !math.IsNaN(*e.Quantity) && !math.IsInf(*e.Quantity, 0) {
		out.Quantity = *e.Quantity
	}
	switch {
	case res.Status == metering.Accepted && res.Event != nil:
		out = acceptedMessage(*res.Event, e.ResourceID)
	case res.Status == metering.Duplicate && res.Event != nil:
		first := acceptedMessage(*res.Event, e.ResourceID)
		out.Error = &saaswire.UsageEventConflict{Message: res.Message, Code: "Conflict"}
		out.Error.AdditionalInfo.AcceptedMessage = &first
	default:
		out.Error = &saaswire.UsageEventConflict{Message: res.Message, Code: res.Status}
	}
	return out
}

// acceptedMessage is an accepted event as Microsoft answers it.
func acceptedMessage(ev store.UsageEvent, resourceID string) saaswire.UsageEventResult {
	if id, ok := saaswire.SubscriptionUUID(ev.SubscriptionID); ok {
		resourceID = id
	}
	return saaswire.UsageEventResult{UsageEventID: ev.ID, Status: metering.Accepted, MessageTime: ev.AcceptedAt.Format(time.RFC3339Nano),
		ResourceID: resourceID, Quantity: ev.Quantity.Float(), Dimension: ev.Dimension,
		EffectiveStartTime: ev.EffectiveStart.Format(time.RFC3339Nano), PlanID: ev.PlanID}
}

// decodeUsage reads a body of Microsoft's dialect, answering 400 in its
// shape when it is not JSON of the right shape.
func decodeUsage(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSON(r, v); err != nil {
		writeJSON(w, http.StatusBadRequest, saaswire.UsageEventBadRequest{Code: metering.BadArgument, Message: "The body is not a usage event request: " + err.Error(), Target: "usageEventRequest"})
		return false
	}
	return true
}

// usageEvent is Microsoft's POST /api/usageEvent: 200 when accepted, 409
// naming the event accepted first for a repeat, 400 with the reason
// otherwise.
func (s *Server) usageEvent(w http.ResponseWriter, r *http.Request, publisherID string) {
	var e saaswire.UsageEvent
	if !decodeUsage(w, r, &e) {
		return
	}
	u, status, message := usageSubmission(publisherID, "microsoft", w.Header().Get("x-ms-requestid"), e)
	results, err := s.acceptUsage(r, []store.UsageSubmission{u}, [][2]string{{status, message}})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res := usageResultOf(e, results[0], s.Now())
	switch results[0].Status {
	case metering.Accepted:
		writeJSON(w, http.StatusOK, res)
	case metering.Duplicate:
		writeJSON(w, http.StatusConflict, res.Error)
	default:
		writeJSON(w, http.StatusBadRequest, saaswire.UsageEventBadRequest{Code: results[0].Status, Message: results[0].Message, Target: "usageEventRequest",
			Details: []saaswire.UsageEventBadRequestDetail{{Code: results[0].Status, Message: results[0].Message, Target: usageTarget(results[0].Status)}}})
	}
}

// usageTarget is the field a refusal is about.
func usageTarget(status string) string {
	switch status {
	case metering.InvalidDimension:
		return "dimension"
	case metering.InvalidQuantity:
		return "quantity"
	case metering.Expired:
		return "effectiveStartTime"
	case metering.ResourceNotFound, metering.ResourceNotActive:
		return "resourceId"
	}
	return ""
}

// batchUsageEvent is Microsoft's POST /api/batchUsageEvent: 200 with a
// status per event, in order; 400 for more than 25 or none.
func (s *Server) batchUsageEvent(w http.ResponseWriter, r *http.Request, publisherID string) {
	var b saaswire.BatchUsageEvent
	if !decodeUsage(w, r, &b) {
		return
	}
	if len(b.Request) == 0 || len(b.Request) > saaswire.MaxBatch {
		writeJSON(w, http.StatusBadRequest, saaswire.UsageEventBadRequest{Code: metering.BadArgument, Target: "request",
			Message: "A batch carries 1 to 25 usage events."})
		return
	}
	subs := make([]store.UsageSubmission, len(b.Request))
	problems := make([][2]string, len(b.Request))
	for i, e := range b.Request {
		u, status, message := usageSubmission(publisherID, "microsoft", w.Header().Get("x-ms-requestid"), e)
		subs[i], problems[i] = u, [2]string{status, message}
	}
	results, err := s.acceptUsage(r, subs, problems)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := saaswire.BatchUsageEventResult{Result: make([]saaswire.UsageEventResult, len(results)), Count: len(results)}
	for i, res := range results {
		out.Result[i] = usageResultOf(b.Request[i], res, s.Now())
	}
	writeJSON(w, http.StatusOK, out)
}

// usageEvents is Microsoft's GET /api/usageEvents: the publisher's events
// effective from usageStartDate to UsageEndDate (default now), accepted
// and refused, filtered as asked: the submission log.
func (s *Server) usageEvents(w http.ResponseWriter, r *http.Request, publisherID string) {
	q := r.URL.Query()
	bad := func(msg string) {
		writeJSON(w, http.StatusBadRequest, saaswire.UsageEventBadRequest{Code: metering.BadArgument, Message: msg})
	}
	from, ok := parseUsageDate(q.Get("usageStartDate"))
	if !ok {
		bad("usageStartDate is required: an ISO 8601 date or date-time, as 2026-12-03 or 2026-12-03T15:00.")
		return
	}
	to := s.Now().UTC()
	if v := q.Get("UsageEndDate"); v != "" {
		if to, ok = parseUsageDate(v); !ok {
			bad("UsageEndDate must be an ISO 8601 date or date-time.")
			return
		}
	}
	f := store.UsageFilter{From: from, To: to, OfferID: q.Get("offerId"), PlanID: q.Get("planId"), Dimension: q.Get("dimension"),
		Accepted: true, Refused: true, Limit: maxUsageListed}
	switch q.Get("reconStatus") {
	case "":
	case saaswire.ReconAccepted:
		f.Refused = false
	case saaswire.ReconRejected:
		f.Accepted = false
	case "Submitted", "Mismatch":
		// Every event is accepted or refused when answered: none stays
		// submitted, and none can mismatch.
		f.Accepted, f.Refused = false, false
	default:
		bad("reconStatus must be Submitted, Accepted, Rejected or Mismatch.")
		return
	}
	records, err := s.Store.PublisherUsage(r.Context(), publisherID, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]saaswire.UsageRecord, 0, len(records))
	for _, rec := range records {
		line := saaswire.UsageRecord{UsageDate: rec.EffectiveStart.Format(time.RFC3339), Dimension: rec.Dimension, PlanID: rec.PlanID,
			OfferID: rec.OfferID, OfferType: "SaaS", SubmittedCount: 1, UsageResourceID: rec.ResourceID}
		if id, ok := saaswire.SubscriptionUUID(rec.SubscriptionID); ok {
			line.UsageResourceID = id
		}
		if rec.Status == metering.Accepted {
			line.ReconStatus, line.SubmittedQuantity, line.ProcessedQuantity = saaswire.ReconAccepted, rec.Quantity.Float(), rec.Quantity.Float()
		} else {
			line.ReconStatus = saaswire.ReconRejected
			line.SubmittedQuantity = parseSubmitted(rec.Submitted)
		}
		out = append(out, line)
	}
	writeJSON(w, http.StatusOK, out)
}

// parseUsageDate reads Microsoft's dates: a date, a date-time without
// seconds, or RFC 3339; UTC when no zone is given.
func parseUsageDate(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func parseSubmitted(v string) float64 {
	var f float64
	if err := json.Unmarshal([]byte(v), &f); err != nil {
		return 0
	}
	return f
}

// nativeUsage is POST /isv/v1/usage: a batch of the native dialect (signed
// like every /isv/v1 request), the same rules, an answer per event.
func (s *Server) nativeUsage(w http.ResponseWriter, r *http.Request, publisherID string, body []byte) {
	var req wire.UsageBatch
	// Strict, as every body of this API: an unknown field (a planId the
	// native dialect does not take) is refused, not dropped.
	if err := decodeJSONBytes(body, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Events) == 0 || len(req.Events) > saaswire.MaxBatch {
		s.writeError(w, r, invalid("events", "a batch carries 1 to %d usage events", saaswire.MaxBatch))
		return
	}
	subs := make([]store.UsageSubmission, len(req.Events))
	problems := make([][2]string, len(req.Events))
	for i, e := range req.Events {
		subs[i], problems[i][0], problems[i][1] = usageSubmission(publisherID, "native", requestID(r), saaswire.UsageEvent{
			ResourceID: e.SubscriptionID, Quantity: e.Quantity, Dimension: e.Dimension, EffectiveStartTime: e.EffectiveStartTime})
		subs[i].ResourceID, subs[i].SubscriptionID = e.SubscriptionID, e.SubscriptionID
	}
	results, err := s.acceptUsage(r, subs, problems)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := wire.UsageBatchResult{Results: make([]wire.UsageResult, len(results))}
	for i, res := range results {
		item := wire.UsageResult{Status: res.Status, ID: res.ID, Message: res.Message}
		if res.Event != nil {
			item.EventID = res.Event.ID
		}
		out.Results[i] = item
	}
	writeJSON(w, http.StatusOK, out)
}

// subscriptionUsage is GET …/subscriptions/{id}/usage: the period so far
// of a metered subscription (billing's price of what is beyond, as the
// close would charge it now); no dimensions for a plan that meters nothing.
func (s *Server) subscriptionUsage(w http.ResponseWriter, r *http.Request, a auth.Agent) {
	if !allow(w, r, a, auth.PermBilling) {
		return
	}
	row, ok := s.subscription(w, r, a)
	if !ok {
		return
	}
	out := wire.Usage{SubscriptionID: row.ID, Currency: row.Currency, Dimensions: []wire.UsageDimension{}}
	m := row.Metering
	if m == nil {
		writeJSON(w, http.StatusOK, out) // a plan of licences only meters nothing
		return
	}
	dims := m.Dimensions
	used := map[string]metering.Quantity{}
	if p := m.Period; p != nil {
		start, end := p.Start, p.End
		out.PeriodStart, out.PeriodEnd = &start, &end
		dims = p.Dimensions
		var err error
		if used, err = s.Store.UsageSince(r.Context(), row.ID, p.Start); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	for _, d := range dims {
		beyond, amount := billing.UsageOverage(int64(used[d.ID]), int64(d.IncludedQuantity), d.UnitPrice)
		out.Dimensions = append(out.Dimensions, wire.UsageDimension{ID: d.ID, Name: d.Name, UnitOfMeasure: d.UnitOfMeasure, UnitPrice: d.UnitPrice,
			Included: d.IncludedQuantity.Float(), Used: used[d.ID].Float(), Beyond: metering.Quantity(beyond).Float(), Amount: amount})
	}
	writeJSON(w, http.StatusOK, out)
}
