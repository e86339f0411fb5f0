// Package catalog describes the marketplace's offers and plans and loads
// them from a JSON file (CATALOG_FILE) or the built-in dev catalog. The
// store keeps a copy in the database; the file is the source of truth.
package catalog

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/domain/metering"
	"github.com/cspmarket/orchestrator/internal/domain/period"
)

// Catalog is every publisher and offer the marketplace sells.
type Catalog struct {
	Publishers []Publisher `json:"publishers"`
	Offers     []Offer     `json:"offers"`
}

// Publisher is an ISV as the catalog declares it (its secrets are not here).
type Publisher struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	LandingURL string `json:"landingUrl"`
}

// Offer is one marketplace offer with its plans, as the API shows it.
type Offer struct {
	ID           string `json:"id"`
	PublisherID  string `json:"publisherId"`
	Name         string `json:"name"`
	LicenseBased bool   `json:"licenseBased"`
	Plans        []Plan `json:"plans"`
}

// Plan is one way to buy an offer.
type Plan struct {
	ID                            string   `json:"id"`
	Name                          string   `json:"name"`
	TermDuration                  string   `json:"termDuration"`
	BillingFrequencies            []string `json:"billingFrequencies"`
	UnitPrice                     int64    `json:"unitPrice"`
	Currency                      string   `json:"currency"`
	MinQuantity                   int      `json:"minQuantity"`
	MaxQuantity                   int      `json:"maxQuantity"`
	CancellationWindow            string   `json:"cancellationWindow"`
	CancellationRequiresPublisher bool     `json:"cancellationRequiresPublisher"`
	// ChangesRequirePublisher: a partner's change of quantity waits for
	// the publisher's answer (a change of plan always does).
	ChangesRequirePublisher bool `json:"changesRequirePublisher,omitempty"`
	// ChangeApprovalWindow is how long a change waits for that answer
	// (ISO-8601); "" is the operator's cancellation approval timeout.
	ChangeApprovalWindow string `json:"changeApprovalWindow,omitempty"`
	// FlatRate: one price per subscription, no licence count (the
	// quantity is always 1); a metered plan is usually one.
	FlatRate bool `json:"flatRate,omitempty"`
	// Dimensions are what the plan meters (issue 28): usage beyond each
	// one's included quantity is charged at the end of every billing
	// period.
	Dimensions []Dimension `json:"dimensions,omitempty"`
}

// Dimension is one thing a plan meters, as the catalog declares it.
type Dimension struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	UnitOfMeasure string `json:"unitOfMeasure"`
	// UnitPrice is one unit's price beyond the included quantity, in
	// minor units of the plan's currency.
	UnitPrice int64 `json:"unitPrice"`
	// IncludedQuantity is included in each billing period (units, up to
	// six decimals).
	IncludedQuantity float64 `json:"includedQuantity"`
}

// Metered reports whether the plan meters anything.
func (p Plan) Metered() bool { return len(p.Dimensions) > 0 }

// DefaultCancellationWindow applies when a plan names none.
const DefaultCancellationWindow = "PT72H"

// Snapshot is the copy of the plan a subscription keeps for its term.
func (p Plan) Snapshot() lifecycle.Plan {
	return lifecycle.Plan{
		ID:                            p.ID,
		TermDuration:                  p.TermDuration,
		BillingFrequencies:            append([]string(nil), p.BillingFrequencies...),
		UnitPrice:                     p.UnitPrice,
		Currency:                      p.Currency,
		MinQuantity:                   p.MinQuantity,
		MaxQuantity:                   p.MaxQuantity,
		CancellationWindow:            p.CancellationWindow,
		CancellationRequiresPublisher: p.CancellationRequiresPublisher,
		ChangesRequirePublisher:       p.ChangesRequirePublisher,
		ChangeApprovalWindow:          p.ChangeApprovalWindow,
		Dimensions:                    p.meteringDimensions(),
	}
}

// meteringDimensions are the plan's dimensions as the rules count them
// (quantities in exact millionths; Validate refused any that do not fit).
func (p Plan) meteringDimensions() []metering.Dimension {
	var dims []metering.Dimension
	for _, d := range p.Dimensions {
		included, _ := metering.IncludedQuantityOf(d.IncludedQuantity)
		dims = append(dims, metering.Dimension{ID: d.ID, Name: d.Name, UnitOfMeasure: d.UnitOfMeasure, UnitPrice: d.UnitPrice, IncludedQuantity: included})
	}
	return dims
}

// Plan returns the offer's plan with that id.
func (o Offer) Plan(id string) (Plan, bool) {
	for _, p := range o.Plans {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}

//go:embed dev-catalog.json
var devCatalog []byte

// Dev is the built-in catalog of the embedded default (CONTRACT.md's fixtures).
func Dev() Catalog {
	c, err := Parse(devCatalog)
	if err != nil {
		panic("built-in dev catalog: " + err.Error())
	}
	return c
}

// Load reads a catalog file.
func Load(path string) (Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Catalog{}, fmt.Errorf("catalog: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return Catalog{}, fmt.Errorf("catalog %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a catalog, filling defaults.
func Parse(b []byte) (Catalog, error) {
	var c Catalog
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Catalog{}, err
	}
	for i := range c.Offers {
		for j := range c.Offers[i].Plans {
			if c.Offers[i].Plans[j].CancellationWindow == "" {
				c.Offers[i].Plans[j].CancellationWindow = DefaultCancellationWindow
			}
		}
	}
	return c, c.Validate()
}

var (
	idPattern       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// ValidID reports whether s has the shape of a catalog id (publisher,
// offer, plan): lower-case letters, digits, '.', '_' or '-'.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// Validate checks every rule the workflow relies on, so that a bad catalog
// fails at start and never inside a running subscription.
func (c Catalog) Validate() error {
	var errs []error
	publishers := map[string]bool{}
	for _, p := range c.Publishers {
		if !ValidID(p.ID) {
			errs = append(errs, fmt.Errorf("publisher id %q: want lower-case letters, digits, '.', '_' or '-'", p.ID))
		}
		if publishers[p.ID] {
			errs = append(errs, fmt.Errorf("publisher %q declared twice", p.ID))
		}
		publishers[p.ID] = true
	}
	offers := map[string]bool{}
	for _, o := range c.Offers {
		if !ValidID(o.ID) {
			errs = append(errs, fmt.Errorf("offer id %q: want lower-case letters, digits, '.', '_' or '-'", o.ID))
		}
		if offers[o.ID] {
			errs = append(errs, fmt.Errorf("offer %q declared twice", o.ID))
		}
		offers[o.ID] = true
		if !publishers[o.PublisherID] {
			errs = append(errs, fmt.Errorf("offer %q: unknown publisher %q", o.ID, o.PublisherID))
		}
		if len(o.Plans) == 0 {
			errs = append(errs, fmt.Errorf("offer %q has no plan", o.ID))
		}
		plans := map[string]bool{}
		for _, p := range o.Plans {
			where := fmt.Sprintf("offer %q plan %q", o.ID, p.ID)
			if !ValidID(p.ID) || plans[p.ID] {
				errs = append(errs, fmt.Errorf("%s: bad or repeated id", where))
			}
			plans[p.ID] = true
			if _, err := period.Parse(p.TermDuration); err != nil {
				errs = append(errs, fmt.Errorf("%s: termDuration: %w", where, err))
			}
			if _, err := period.Parse(p.CancellationWindow); err != nil {
				errs = append(errs, fmt.Errorf("%s: cancellationWindow: %w", where, err))
			}
			if p.ChangeApprovalWindow != "" {
				if _, err := period.Parse(p.ChangeApprovalWindow); err != nil {
					errs = append(errs, fmt.Errorf("%s: changeApprovalWindow: %w", where, err))
				}
			}
			if len(p.BillingFrequencies) == 0 {
				errs = append(errs, fmt.Errorf("%s: no billing frequency", where))
			}
			for _, f := range p.BillingFrequencies {
				if f != billing.Monthly && f != billing.Annual {
					errs = append(errs, fmt.Errorf("%s: billing frequency %q: want monthly or annual", where, f))
				}
			}
			if err := billing.PlanWithinBounds(p.UnitPrice, p.MaxQuantity); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
			if !currencyPattern.MatchString(p.Currency) {
				errs = append(errs, fmt.Errorf("%s: currency %q: want an ISO-4217 code", where, p.Currency))
			}
			if p.MinQuantity < 1 || p.MaxQuantity < p.MinQuantity {
				errs = append(errs, fmt.Errorf("%s: want 1 <= minQuantity <= maxQuantity", where))
			}
			if p.FlatRate && (p.MinQuantity != 1 || p.MaxQuantity != 1) {
				errs = append(errs, fmt.Errorf("%s: a flat-rate plan has no licence count: want minQuantity and maxQuantity 1", where))
			}
			errs = append(errs, validateDimensions(where, p.Dimensions)...)
		}
	}
	return errors.Join(errs...)
}

// validateDimensions checks a plan's dimensions: ids Microsoft's metering
// API can name, each once, prices within billing's bounds and included
// quantities exact to the millionth.
func validateDimensions(where string, dims []Dimension) []error {
	var errs []error
	seen := map[string]bool{}
	for _, d := range dims {
		at := fmt.Sprintf("%s dimension %q", where, d.ID)
		if !ValidID(d.ID) || seen[d.ID] {
			errs = append(errs, fmt.Errorf("%s: bad or repeated id", at))
		}
		seen[d.ID] = true
		if strings.TrimSpace(d.Name) == "" || strings.TrimSpace(d.UnitOfMeasure) == "" {
			errs = append(errs, fmt.Errorf("%s: name and unitOfMeasure are required", at))
		}
		if d.UnitPrice < 0 || d.UnitPrice > billing.MaxUsageUnitPrice {
			errs = append(errs, fmt.Errorf("%s: unitPrice must be 0 to %d minor units", at, billing.MaxUsageUnitPrice))
		}
		if _, ok := metering.IncludedQuantityOf(d.IncludedQuantity); !ok {
			errs = append(errs, fmt.Errorf("%s: includedQuantity must be 0 or more, at most %d, with at most six decimals", at, metering.MaxQuantity/metering.QuantityScale))
		}
	}
	return errs
}
