package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
)

// Metering is a metered subscription's dimensions (its plan's: usage is
// accepted against them) and the usage period it counts in now (nil
// while it counts none: not active, or between a period's close and the
// next one's start).
type Metering struct {
	Dimensions []metering.Dimension
	Period     *UsagePeriod
	// Periods are the periods late usage may still come for (an event is
	// checked against the one it falls in), Gaps the times the
	// subscription did not count (an event in one is refused).
	Periods []UsagePeriod
	Gaps    []metering.Gap
}

// UsagePeriod is a period usage counts in, with its plan and included
// quantities.
type UsagePeriod struct {
	Start, End time.Time
	PlanID     string
	Dimensions []metering.Dimension
}

// periodAt is the period an event effective at t counts in (the last one
// starting at or before it); false when none is kept.
func (m *Metering) periodAt(t time.Time) (UsagePeriod, bool) {
	var found UsagePeriod
	ok := false
	for _, p := range m.Periods {
		if !p.Start.After(t) {
			found, ok = p, true
		}
	}
	return found, ok
}

// meteringModel is Metering as the subscriptions table keeps it (JSON).
type meteringModel struct {
	Dimensions []dimensionModel `json:"dimensions"`
	Period     *periodModel     `json:"period,omitempty"`
	Periods    []periodModel    `json:"periods,omitempty"`
	Gaps       []gapModel       `json:"gaps,omitempty"`
}

type periodModel struct {
	Start      time.Time        `json:"start"`
	End        time.Time        `json:"end"`
	PlanID     string           `json:"planId,omitempty"`
	Dimensions []dimensionModel `json:"dimensions"`
}

type gapModel struct {
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end,omitempty"`
}

func periodModelOf(p UsagePeriod) periodModel {
	return periodModel{Start: utc(p.Start), End: utc(p.End), PlanID: p.PlanID, Dimensions: dimensionModelsOf(p.Dimensions)}
}

func (p periodModel) period() UsagePeriod {
	return UsagePeriod{Start: p.Start.UTC(), End: p.End.UTC(), PlanID: p.PlanID, Dimensions: dimensionsOfModels(p.Dimensions)}
}

type dimensionModel struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	UnitOfMeasure    string `json:"unitOfMeasure"`
	UnitPrice        int64  `json:"unitPrice"`
	IncludedQuantity int64  `json:"includedMillionths"`
}

func dimensionModelsOf(dims []metering.Dimension) []dimensionModel {
	out := make([]dimensionModel, 0, len(dims))
	for _, d := range dims {
		out = append(out, dimensionModel{ID: d.ID, Name: d.Name, UnitOfMeasure: d.UnitOfMeasure, UnitPrice: d.UnitPrice, IncludedQuantity: int64(d.IncludedQuantity)})
	}
	return out
}

func dimensionsOfModels(dims []dimensionModel) []metering.Dimension {
	out := make([]metering.Dimension, 0, len(dims))
	for _, d := range dims {
		out = append(out, metering.Dimension{ID: d.ID, Name: d.Name, UnitOfMeasure: d.UnitOfMeasure, UnitPrice: d.UnitPrice, IncludedQuantity: metering.Quantity(d.IncludedQuantity)})
	}
	return out
}

func meteringModelOf(m Metering) meteringModel {
	out := meteringModel{Dimensions: dimensionModelsOf(m.Dimensions)}
	if p := m.Period; p != nil {
		pm := periodModelOf(*p)
		out.Period = &pm
	}
	for _, p := range m.Periods {
		out.Periods = append(out.Periods, periodModelOf(p))
	}
	for _, g := range m.Gaps {
		gm := gapModel{Start: utc(g.Start)}
		if !g.End.IsZero() {
			end := utc(g.End)
			gm.End = &end
		}
		out.Gaps = append(out.Gaps, gm)
	}
	return out
}

func (m meteringModel) metering() *Metering {
	out := &Metering{Dimensions: dimensionsOfModels(m.Dimensions)}
	if p := m.Period; p != nil {
		period := p.period()
		out.Period = &period
	}
	for _, p := range m.Periods {
		out.Periods = append(out.Periods, p.period())
	}
	for _, g := range m.Gaps {
		gap := metering.Gap{Start: g.Start.UTC()}
		if g.End != nil {
			gap.End = g.End.UTC()
		}
		out.Gaps = append(out.Gaps, gap)
	}
	return out
}

// usageEventRow is one accepted usage event.
type usageEventRow struct {
	bun.BaseModel `bun:"table:usage_events"`

	ID             string    `bun:"id,pk"`
	SubscriptionID string    `bun:"subscription_id,notnull"`
	PublisherID    string    `bun:"publisher_id,notnull"`
	OfferID        string    `bun:"offer_id,notnull"`
	PlanID         string    `bun:"plan_id,notnull"`
	Dimension      string    `bun:"dimension,notnull"`
	HourUnix       int64     `bun:"hour_unix,notnull"`
	EffectiveUnix  int64     `bun:"effective_unix,notnull"` // microseconds
	EffectiveAt    time.Time `bun:"effective_at,notnull"`
	Quantity       int64     `bun:"quantity,notnull"` // millionths
	Source         string    `bun:"source,notnull"`
	RequestID      string    `bun:"request_id,notnull"`
	AcceptedAt     time.Time `bun:"accepted_at,notnull"`
	ClaimKey       *string   `bun:"claim_key"`
}

// usageRefusalRow is one usage event refused.
type usageRefusalRow struct {
	bun.BaseModel `bun:"table:usage_refusals"`

	ID             string    `bun:"id,pk"`
	PublisherID    string    `bun:"publisher_id,notnull"`
	ResourceID     string    `bun:"resource_id,notnull"`
	SubscriptionID string    `bun:"subscription_id,notnull"`
	Dimension      string    `bun:"dimension,notnull"`
	EffectiveUnix  int64     `bun:"effective_unix,notnull"`
	Quantity       string    `bun:"quantity,notnull"`
	Status         string    `bun:"status,notnull"`
	DuplicateOf    string    `bun:"duplicate_of,notnull"`
	RequestID      string    `bun:"request_id,notnull"`
	RefusedAt      time.Time `bun:"refused_at,notnull"`
}

// UsageSubmission is one usage event an ISV posts.
type UsageSubmission struct {
	PublisherID string
	// SubscriptionID is the product's id the resource names ("" when it
	// names none); ResourceID is the resource as posted.
	SubscriptionID, ResourceID string
	PlanID, Dimension          string
	Quantity                   float64
	EffectiveStart             time.Time
	// Source is the dialect ("microsoft", "native"), RequestID the
	// request's id, for the submission log.
	Source, RequestID string
}

// UsageEvent is an accepted usage event.
type UsageEvent struct {
	ID, SubscriptionID, PublisherID, OfferID, PlanID, Dimension string
	Quantity                                                    metering.Quantity
	EffectiveStart, AcceptedAt                                  time.Time
	// Charged: a close of the subscription's usage has taken it.
	Charged bool
}

func (r usageEventRow) event() UsageEvent {
	return UsageEvent{ID: r.ID, SubscriptionID: r.SubscriptionID, PublisherID: r.PublisherID, OfferID: r.OfferID, PlanID: r.PlanID,
		Dimension: r.Dimension, Quantity: metering.Quantity(r.Quantity), EffectiveStart: r.EffectiveAt.UTC(), AcceptedAt: r.AcceptedAt.UTC(),
		Charged: r.ClaimKey != nil}
}

// UsageResult is what happened to one submission: Accepted with the event
// made, Duplicate with the event accepted first, or another status of
// metering's with why.
type UsageResult struct {
	Status string
	// ID is the submission's: the event's when accepted, the refusal's
	// otherwise (the submission log has it).
	ID      string
	Event   *UsageEvent
	Message string
}

// AcceptUsage takes a batch of usage events in one transaction: each is
// accepted (durable once this returns) or refused with its reason, and
// every refusal is logged. An event and a change of its subscription's
// status are ordered by the subscription's row (locked for share here,
// for update by a step's commit), so no event is accepted after the step
// that stopped its subscription counting: that step's close takes all.
func (s *Store) AcceptUsage(ctx context.Context, batch []UsageSubmission, now time.Time) ([]UsageResult, error) {
	results := make([]UsageResult, len(batch))
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		subs := map[string]*Subscription{}
		// Rows locked in one order, whatever the batch's.
		var ids []string
		for _, u := range batch {
			if u.SubscriptionID != "" && subs[u.SubscriptionID] == nil {
				subs[u.SubscriptionID] = &Subscription{}
				ids = append(ids, u.SubscriptionID)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			var row subscriptionRow
			q := tx.NewSelect().Model(&row).Where("id = ?", id)
			if s.dialect.Name == "pg" {
				q = q.For("SHARE")
			}
			switch err := q.Scan(ctx); {
			case errors.Is(err, sql.ErrNoRows):
				delete(subs, id)
			case err != nil:
				return err
			default:
				sub := row.subscription()
				subs[id] = &sub
			}
		}
		for i, u := range batch {
			r, err := s.acceptOne(ctx, tx, u, subs[u.SubscriptionID], now)
			if err != nil {
				return err
			}
			results[i] = r
		}
		return nil
	})
	return results, err
}

func (s *Store) acceptOne(ctx context.Context, tx bun.Tx, u UsageSubmission, sub *Subscription, now time.Time) (UsageResult, error) {
	refuse := func(status, message, duplicateOf string) (UsageResult, error) {
		row := usageRefusalRow{ID: uuid.NewString(), PublisherID: u.PublisherID, ResourceID: u.ResourceID, SubscriptionID: u.SubscriptionID,
			Dimension: u.Dimension, EffectiveUnix: u.EffectiveStart.UnixMicro(), Quantity: strconv.FormatFloat(u.Quantity, 'g', -1, 64),
			Status: status, DuplicateOf: duplicateOf, RequestID: u.RequestID, RefusedAt: utc(now)}
		if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
			return UsageResult{}, fmt.Errorf("log refused usage: %w", err)
		}
		return UsageResult{Status: status, ID: row.ID, Message: message}, nil
	}
	if sub == nil || sub.PublisherID != u.PublisherID {
		return refuse(metering.ResourceNotFound, "No subscription to your offers has this resourceId.", "")
	}
	// An event is checked against the plan the subscription had when it
	// was effective (late usage may come after a change of plan).
	var dims []metering.Dimension
	var gaps []metering.Gap
	planID := sub.PlanID
	if m := sub.Metering; m != nil {
		dims, gaps = m.Dimensions, m.Gaps
		if p, ok := m.periodAt(u.EffectiveStart); ok {
			dims, planID = p.Dimensions, cmp.Or(p.PlanID, planID)
		} else if len(m.Periods) > 0 && sub.Status == lifecycle.StatusActive && sub.BillingStartedAt != nil && !u.EffectiveStart.Before(*sub.BillingStartedAt) {
			// Older than every period the subscription keeps (only plans
			// whose periods are shorter than half an hour keep fewer than
			// Microsoft's 24 hours): no close could price it in its period.
			return refuse(metering.Expired, "effectiveStartTime is older than the oldest usage period this plan keeps ("+m.Periods[0].Start.Format(time.RFC3339)+").", "")
		}
	}
	if u.PlanID != "" && u.PlanID != planID {
		return refuse(metering.BadArgument, fmt.Sprintf("planId %q is not the plan the subscription had at effectiveStartTime (%s).", u.PlanID, planID), "")
	}
	var since time.Time
	if sub.BillingStartedAt != nil {
		since = *sub.BillingStartedAt
	}
	q, status := metering.Check(metering.Event{Dimension: u.Dimension, Quantity: u.Quantity, EffectiveStart: u.EffectiveStart},
		metering.Subscription{Active: sub.Status == lifecycle.StatusActive, Since: since, Dimensions: dims, Gaps: gaps}, now)
	if status != metering.Accepted {
		return refuse(status, usageRefusalMessage(status, sub), "")
	}
	effective := utc(u.EffectiveStart)
	row := usageEventRow{ID: uuid.NewString(), SubscriptionID: sub.ID, PublisherID: sub.PublisherID, OfferID: sub.OfferID, PlanID: planID,
		Dimension: u.Dimension, HourUnix: metering.Hour(effective).Unix(), EffectiveUnix: effective.UnixMicro(), EffectiveAt: effective,
		Quantity: int64(q), Source: u.Source, RequestID: u.RequestID, AcceptedAt: utc(now)}
	res, err := tx.NewInsert().Model(&row).On("CONFLICT (subscription_id, dimension, hour_unix) DO NOTHING").Exec(ctx)
	if err != nil {
		return UsageResult{}, fmt.Errorf("accept usage: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		e := row.event()
		return UsageResult{Status: metering.Accepted, ID: row.ID, Event: &e}, nil
	}
	var first usageEventRow
	if err := tx.NewSelect().Model(&first).Where("subscription_id = ?", sub.ID).Where("dimension = ?", u.Dimension).
		Where("hour_unix = ?", row.HourUnix).Scan(ctx); err != nil {
		return UsageResult{}, fmt.Errorf("find the usage event accepted first: %w", err)
	}
	r, err := refuse(metering.Duplicate, "This subscription, dimension and hour have a usage event already: "+first.ID+".", first.ID)
	e := first.event()
	r.Event = &e
	return r, err
}

func usageRefusalMessage(status string, sub *Subscription) string {
	switch status {
	case metering.ResourceNotActive:
		if sub.Status == lifecycle.StatusActive {
			return "The subscription was not active at effectiveStartTime: its usage counts from " + sub.BillingStartedAt.Format(time.RFC3339) + "."
		}
		return fmt.Sprintf("The subscription is %s: only an active subscription takes usage.", sub.Status)
	case metering.InvalidDimension:
		return fmt.Sprintf("Plan %s meters no such dimension.", sub.PlanID)
	case metering.InvalidQuantity:
		return fmt.Sprintf("quantity must be more than 0 and at most %d, with at most six decimals kept.", metering.MaxQuantity/metering.QuantityScale)
	case metering.Expired:
		return "effectiveStartTime must be within the last 24 hours and not in the future."
	}
	return status
}

// ClaimUsage marks the subscription's usage events not charged yet whose
// effective start is before claim.Through (every one when zero) with
// claim.Key, and sums per period and dimension what the claim took and
// what earlier claims took (lifecycle.UsageClaim says how an event finds
// its period). Claiming again with the same key takes what came since and
// answers the sums of everything the key holds, so a retried activity
// never loses nor counts twice.
func (s *Store) ClaimUsage(ctx context.Context, subscriptionID string, claim lifecycle.UsageClaim) ([]lifecycle.ClaimedUsage, error) {
	var out []lifecycle.ClaimedUsage
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		out = nil
		q := tx.NewUpdate().Model((*usageEventRow)(nil)).Set("claim_key = ?", claim.Key).
			Where("subscription_id = ?", subscriptionID).Where("claim_key IS NULL")
		if !claim.Through.IsZero() {
			q = q.Where("effective_unix < ?", claim.Through.UnixMicro())
		}
		if _, err := q.Exec(ctx); err != nil {
			return fmt.Errorf("claim usage: %w", err)
		}
		var rows []usageEventRow
		sel := tx.NewSelect().Model(&rows).Column("dimension", "effective_unix", "quantity", "claim_key").
			Where("subscription_id = ?", subscriptionID)
		if len(claim.Periods) > 0 {
			sel = sel.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("claim_key = ?", claim.Key).
					WhereOr("claim_key IS NOT NULL AND effective_unix >= ?", claim.Periods[0].Start.UnixMicro())
			})
		} else {
			sel = sel.Where("claim_key = ?", claim.Key)
		}
		if err := sel.Scan(ctx); err != nil {
			return fmt.Errorf("sum claimed usage: %w", err)
		}
		out = lifecycle.SumClaimed(claim, rowsClaimed(rows))
		return nil
	})
	return out, err
}

func rowsClaimed(rows []usageEventRow) []lifecycle.ClaimedEvent {
	out := make([]lifecycle.ClaimedEvent, 0, len(rows))
	for _, r := range rows {
		e := lifecycle.ClaimedEvent{Dimension: r.Dimension, Effective: time.UnixMicro(r.EffectiveUnix).UTC(), Quantity: metering.Quantity(r.Quantity)}
		if r.ClaimKey != nil {
			e.ClaimKey = *r.ClaimKey
		}
		out = append(out, e)
	}
	return out
}

// UsageFilter narrows a publisher's usage events (Microsoft's GET
// usageEvents).
type UsageFilter struct {
	From, To                  time.Time
	OfferID, PlanID           string
	Dimension, SubscriptionID string
	// Accepted and Refused say which to list.
	Accepted, Refused bool
	Limit             int
}

// UsageRecord is one line of a publisher's submission log: an event
// accepted, or one refused with its status.
type UsageRecord struct {
	ID, SubscriptionID, ResourceID, OfferID, PlanID, Dimension string
	EffectiveStart, At                                         time.Time
	// Quantity is as accepted; Submitted as posted (a refusal's).
	Quantity  metering.Quantity
	Submitted string
	Status    string // metering's: Accepted, Duplicate, Expired, ...
	// DuplicateOf is the event a duplicate repeated.
	DuplicateOf string
	Charged     bool
}

// PublisherUsage lists a publisher's usage events effective in [From, To),
// accepted and refused as the filter asks, oldest first.
func (s *Store) PublisherUsage(ctx context.Context, publisherID string, f UsageFilter) ([]UsageRecord, error) {
	var out []UsageRecord
	if f.Accepted {
		var rows []usageEventRow
		q := s.db.NewSelect().Model(&rows).Where("publisher_id = ?", publisherID).
			Where("effective_unix >= ?", f.From.UnixMicro()).Where("effective_unix < ?", f.To.UnixMicro())
		for col, v := range map[string]string{"offer_id": f.OfferID, "plan_id": f.PlanID, "dimension": f.Dimension, "subscription_id": f.SubscriptionID} {
			if v != "" {
				q = q.Where("? = ?", bun.Ident(col), v)
			}
		}
		if err := q.OrderExpr("effective_unix ASC, id ASC").Limit(int64(f.Limit)).Scan(ctx); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, UsageRecord{ID: r.ID, SubscriptionID: r.SubscriptionID, OfferID: r.OfferID, PlanID: r.PlanID, Dimension: r.Dimension,
				EffectiveStart: r.EffectiveAt.UTC(), At: r.AcceptedAt.UTC(), Quantity: metering.Quantity(r.Quantity),
				Submitted: metering.Quantity(r.Quantity).String(), Status: metering.Accepted, Charged: r.ClaimKey != nil})
		}
	}
	if f.Refused && f.OfferID == "" && f.PlanID == "" {
		var rows []usageRefusalRow
		q := s.db.NewSelect().Model(&rows).Where("publisher_id = ?", publisherID).
			Where("effective_unix >= ?", f.From.UnixMicro()).Where("effective_unix < ?", f.To.UnixMicro())
		if f.Dimension != "" {
			q = q.Where("dimension = ?", f.Dimension)
		}
		if f.SubscriptionID != "" {
			q = q.Where("subscription_id = ?", f.SubscriptionID)
		}
		if err := q.OrderExpr("effective_unix ASC, id ASC").Limit(int64(f.Limit)).Scan(ctx); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, UsageRecord{ID: r.ID, SubscriptionID: r.SubscriptionID, ResourceID: r.ResourceID, Dimension: r.Dimension,
				EffectiveStart: time.UnixMicro(r.EffectiveUnix).UTC(), At: r.RefusedAt.UTC(), Submitted: r.Quantity, Status: r.Status, DuplicateOf: r.DuplicateOf})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].EffectiveStart.Before(out[j].EffectiveStart) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// UsageSince sums a subscription's accepted usage per dimension effective
// at or after from: the usage view's period so far.
func (s *Store) UsageSince(ctx context.Context, subscriptionID string, from time.Time) (map[string]metering.Quantity, error) {
	var rows []struct {
		Dimension string `bun:"dimension"`
		Total     int64  `bun:"total"`
	}
	err := s.db.NewSelect().Model((*usageEventRow)(nil)).Column("dimension").ColumnExpr("CAST(SUM(quantity) AS BIGINT) AS total").
		Where("subscription_id = ?", subscriptionID).Where("effective_unix >= ?", from.UnixMicro()).
		Group("dimension").Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := map[string]metering.Quantity{}
	for _, r := range rows {
		out[r.Dimension] = metering.Quantity(r.Total)
	}
	return out, nil
}

// SubscriptionUsage is every usage event of a subscription, oldest first
// (the ledger check's).
func (s *Store) SubscriptionUsage(ctx context.Context, subscriptionID string) ([]UsageEvent, map[string]string, error) {
	var rows []usageEventRow
	if err := s.db.NewSelect().Model(&rows).Where("subscription_id = ?", subscriptionID).OrderExpr("effective_unix ASC, id ASC").Scan(ctx); err != nil {
		return nil, nil, err
	}
	keys := map[string]string{}
	out := make([]UsageEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.event())
		if r.ClaimKey != nil {
			keys[r.ID] = *r.ClaimKey
		}
	}
	return out, keys, nil
}
