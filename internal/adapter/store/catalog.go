package store

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/cspmarket/orchestrator/internal/domain/catalog"
)

// SyncCatalog writes the catalog's publishers, offers and plans into the
// database, updating what changed. Offers and plans missing from the file
// are kept: running subscriptions still refer to them.
func (s *Store) SyncCatalog(ctx context.Context, c catalog.Catalog) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, p := range c.Publishers {
			row := &publisherRow{ID: p.ID, Name: p.Name, LandingURL: p.LandingURL, CreatedAt: now()}
			if _, err := tx.NewInsert().Model(row).On("CONFLICT (id) DO UPDATE").
				Set("name = EXCLUDED.name, landing_url = EXCLUDED.landing_url").Exec(ctx); err != nil {
				return err
			}
		}
		for _, o := range c.Offers {
			row := &offerRow{ID: o.ID, PublisherID: o.PublisherID, Name: o.Name, LicenseBased: o.LicenseBased, UpdatedAt: now()}
			if _, err := tx.NewInsert().Model(row).On("CONFLICT (id) DO UPDATE").
				Set("publisher_id = EXCLUDED.publisher_id, name = EXCLUDED.name, license_based = EXCLUDED.license_based, updated_at = EXCLUDED.updated_at").
				Exec(ctx); err != nil {
				return err
			}
			for i, p := range o.Plans {
				plan := planRowOf(o.ID, i, p)
				if _, err := tx.NewInsert().Model(&plan).On("CONFLICT (offer_id, id) DO UPDATE").
					Set("position = EXCLUDED.position, name = EXCLUDED.name, term_duration = EXCLUDED.term_duration").
					Set("billing_frequencies = EXCLUDED.billing_frequencies, unit_price = EXCLUDED.unit_price, currency = EXCLUDED.currency").
					Set("min_quantity = EXCLUDED.min_quantity, max_quantity = EXCLUDED.max_quantity").
					Set("cancellation_window = EXCLUDED.cancellation_window, cancellation_requires_publisher = EXCLUDED.cancellation_requires_publisher").
					Set("changes_require_publisher = EXCLUDED.changes_require_publisher, change_approval_window = EXCLUDED.change_approval_window").
					Set("flat_rate = EXCLUDED.flat_rate, dimensions = EXCLUDED.dimensions").
					Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Offers returns every offer with its plans, in a stable order.
func (s *Store) Offers(ctx context.Context) ([]catalog.Offer, error) {
	var offers []offerRow
	if err := s.db.NewSelect().Model(&offers).OrderExpr("id ASC").Scan(ctx); err != nil {
		return nil, err
	}
	var plans []planRow
	if err := s.db.NewSelect().Model(&plans).OrderExpr("offer_id ASC, position ASC, id ASC").Scan(ctx); err != nil {
		return nil, err
	}
	byOffer := map[string][]catalog.Plan{}
	for _, p := range plans {
		byOffer[p.OfferID] = append(byOffer[p.OfferID], p.plan())
	}
	out := make([]catalog.Offer, 0, len(offers))
	for _, o := range offers {
		out = append(out, o.offer(byOffer[o.ID]))
	}
	return out, nil
}

// Offer returns one offer with its plans.
func (s *Store) Offer(ctx context.Context, offerID string) (catalog.Offer, error) {
	var o offerRow
	if err := s.db.NewSelect().Model(&o).Where("id = ?", offerID).Scan(ctx); err != nil {
		return catalog.Offer{}, notFound(err)
	}
	var plans []planRow
	if err := s.db.NewSelect().Model(&plans).Where("offer_id = ?", offerID).OrderExpr("position ASC, id ASC").Scan(ctx); err != nil {
		return catalog.Offer{}, err
	}
	return o.offer(convert(plans, planRow.plan)), nil
}
