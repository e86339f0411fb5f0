package workflows

import (
	"context"

	"github.com/cspmarket/orchestrator/internal/adapter/ledger"
)

// The ledger check run after every lifecycle test finds a line that does
// not follow from the audit trail: one changed, one missing, one extra, and
// a cancellation whose refund disagrees.
func (s *LifecycleSuite) TestLedgerCheckFindsWhatTheAuditTrailDoesNotExplain() {
	s.activateAt(hour)
	s.change(2*day, ChangeRequest{Quantity: ptr(5)})
	s.change(3*day, ChangeRequest{Quantity: ptr(4)})
	s.run(purchaseInput("monthly", 3))
	ctx := context.Background()
	check := func() []string {
		diffs, _, err := ledger.VerifySubscription(ctx, s.store, s.stored())
		s.Require().NoError(err)
		return diffs
	}
	s.Require().Empty(check())

	db := s.store.DB()
	_, err := db.ExecContext(ctx, "UPDATE charges SET amount = amount + 1 WHERE key = 'sub_1/term-1/installment-0'")
	s.Require().NoError(err)
	s.Len(check(), 1, "an amount changed by a cent")
	_, err = db.ExecContext(ctx, "UPDATE charges SET amount = amount - 1 WHERE key = 'sub_1/term-1/installment-0'")
	s.Require().NoError(err)

	_, err = db.ExecContext(ctx, "UPDATE charges SET key = 'sub_1/term-1/installment-9' WHERE key LIKE 'credit/%'")
	s.Require().NoError(err)
	s.Len(check(), 2, "a line missing, a line without cause")
	_, err = db.ExecContext(ctx, "UPDATE charges SET key = 'x' WHERE key = 'sub_1/term-1/installment-9'")
	s.Require().NoError(err)

	_, err = db.ExecContext(ctx, "DELETE FROM subscription_events WHERE kind = 'changed'")
	s.Require().NoError(err)
	s.NotEmpty(check(), "charges for changes the audit trail does not have")
	s.SetupTest() // the suite's own check after the test looks at a clean store
}
