package store

import (
	"context"

	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// Operation returns an operation of one of a publisher's subscriptions as
// it stands now; ErrNotFound when there is none, or it is another
// publisher's.
func (s *Store) Operation(ctx context.Context, publisherID, subscriptionID, operationID string) (Operation, error) {
	var row operationRow
	err := s.db.NewSelect().Model(&row).Where("operation_id = ?", operationID).Where("subscription_id = ?", subscriptionID).
		Where("publisher_id = ?", publisherID).OrderExpr("step_version DESC").Limit(1).Scan(ctx)
	return row.operation(), notFound(err)
}

// OperationsInProgress are a subscription's operations that wait for its
// publisher's answer, oldest first (Microsoft's "outstanding operations").
func (s *Store) OperationsInProgress(ctx context.Context, subscriptionID string) ([]Operation, error) {
	ops, err := s.Operations(ctx, subscriptionID)
	if err != nil {
		return nil, err
	}
	out := []Operation{}
	for _, op := range ops {
		if op.Status == lifecycle.OperationInProgress {
			out = append(out, op)
		}
	}
	return out, nil
}

// Operations are every operation of a subscription as it stands now,
// oldest first.
func (s *Store) Operations(ctx context.Context, subscriptionID string) ([]Operation, error) {
	var rows []operationRow
	if err := s.db.NewSelect().Model(&rows).Where("subscription_id = ?", subscriptionID).OrderExpr("step_version, key").Scan(ctx); err != nil {
		return nil, err
	}
	latest := map[string]int{}
	var out []Operation
	for _, r := range rows {
		if i, ok := latest[r.OperationID]; ok {
			out[i] = r.operation()
			continue
		}
		latest[r.OperationID] = len(out)
		out = append(out, r.operation())
	}
	return out, nil
}
