package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/cspmarket/orchestrator/internal/subscription"
	"github.com/cspmarket/orchestrator/workflows"
)

// Twenty concurrent quantity changes used to leave charge lines of workflow
// tasks that were later discarded: the ledger disagreed with the audit
// trail (defect 1 of issue 9). Every line must be one the final history
// records.
func TestConcurrentQuantityChangesChargeWhatTheAuditSaysOnSQLite(t *testing.T) {
	concurrentQuantityChanges(t, startProduct(t, ""))
}

func TestConcurrentQuantityChangesChargeWhatTheAuditSaysOnPostgres(t *testing.T) {
	concurrentQuantityChanges(t, startProduct(t, postgresDatabase(t)))
}

func concurrentQuantityChanges(t *testing.T, p *product) {
	c := p.customer("Storm")
	sub := p.buy(c, "contoso-crm", "monthly", 3)
	require.Equal(t, http.StatusAccepted, p.event(sub.ID+"-act", subscription.EventActivated, sub.ID, nil).status)
	p.waitStatus(c, sub.ID, subscription.StatusActive)

	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = p.patch(sub, map[string]any{"quantity": 4 + i}).status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		require.Equal(t, http.StatusOK, s, "PATCH %d", i)
	}
	final := p.waitStatus(c, sub.ID, subscription.StatusActive)
	checkLedgerAgainstAudit(t, p, c, sub.ID, 3, final.Quantity)
	if p.app.Store.Dialect() == "sqlite" {
		p.recordHistory("concurrent-quantity-changes", workflows.WorkflowID(sub.ID))
	}
}

// checkLedgerAgainstAudit replays the audit trail's quantity changes from
// the purchased quantity and checks that the ledger holds exactly one line
// for each: a charge for the licences added, a credit for those removed.
func checkLedgerAgainstAudit(t *testing.T, p *product, customerID, subscriptionID string, purchased, final int) {
	t.Helper()
	base := "/v1/customers/" + customerID + "/subscriptions/" + subscriptionID
	r := p.do(http.MethodGet, base+"/events", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var events struct {
		Items []struct {
			Kind   string          `json:"kind"`
			Detail json.RawMessage `json:"detail"`
		} `json:"items"`
	}
	r.json(t, &events)
	var want []string
	q := purchased
	for _, e := range events.Items {
		if e.Kind != "changed" {
			continue
		}
		var d struct {
			Quantity *int `json:"quantity"`
		}
		require.NoError(t, json.Unmarshal(e.Detail, &d))
		if d.Quantity == nil {
			continue
		}
		switch delta := *d.Quantity - q; {
		case delta > 0:
			want = append(want, fmt.Sprintf("charge %d", delta))
		case delta < 0:
			want = append(want, fmt.Sprintf("credit %d", -delta))
		}
		q = *d.Quantity
	}
	require.Equal(t, final, q, "the audit trail's last quantity is the subscription's")

	r = p.do(http.MethodGet, base+"/charges", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var charges struct {
		Items []struct {
			Kind        string `json:"kind"`
			Quantity    int    `json:"quantity"`
			Description string `json:"description"`
		} `json:"items"`
	}
	r.json(t, &charges)
	var got []string
	for _, c := range charges.Items {
		if strings.Contains(c.Description, "licences") {
			got = append(got, fmt.Sprintf("%s %d", c.Kind, c.Quantity))
		}
	}
	require.Equal(t, want, got, "licence lines of the ledger, in order, against the audit trail's changes")
}

// A database that stalls for longer than a step's commit timeout used to
// fail the subscription's workflow for good, losing the ISV event it had
// acknowledged with 202 (defect 2 of issue 9). The step must wait, show
// operators that it waits, and land once the database answers.
func TestActivationAcknowledgedDuringADatabaseStallLandsOnSQLite(t *testing.T) {
	p := startProduct(t, "")
	activationSurvivesStall(t, p, func(ctx context.Context) (release func()) {
		db, err := sql.Open(sqliteshim.ShimName, "file:"+filepath.Join(p.dataDir, "app.db"))
		require.NoError(t, err)
		db.SetMaxOpenConns(1)
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, "BEGIN EXCLUSIVE")
		require.NoError(t, err)
		return func() {
			_, err := conn.ExecContext(context.Background(), "ROLLBACK")
			require.NoError(t, err)
			require.NoError(t, conn.Close())
			require.NoError(t, db.Close())
		}
	})
}

func TestActivationAcknowledgedDuringADatabaseStallLandsOnPostgres(t *testing.T) {
	url := postgresDatabase(t)
	p := startProduct(t, url)
	activationSurvivesStall(t, p, func(ctx context.Context) (release func()) {
		db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(url)))
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, "LOCK TABLE subscriptions IN EXCLUSIVE MODE")
		require.NoError(t, err)
		return func() {
			require.NoError(t, tx.Rollback())
			require.NoError(t, db.Close())
		}
	})
}

// stallFor is how long the database is held: longer than any single
// attempt's timeout of the commit, as in the hostile test that found it.
const stallFor = 20 * time.Second

func activationSurvivesStall(t *testing.T, p *product, stall func(context.Context) (release func())) {
	c := p.customer("Stalled")
	sub := p.buy(c, "contoso-crm", "monthly", 2)

	release := stall(context.Background())
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(stallFor)
		release()
	}()
	r := p.event(sub.ID+"-act", subscription.EventActivated, sub.ID, nil)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))

	// Operators can list what waits for the database while it stalls.
	waitFor(t, stallFor, func() bool {
		resp, err := p.app.Client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: `WaitingOn = "database"`,
		})
		require.NoError(t, err)
		for _, e := range resp.GetExecutions() {
			if e.GetExecution().GetWorkflowId() == workflows.WorkflowID(sub.ID) {
				return true
			}
		}
		return false
	})
	<-released

	active := p.waitStatusWithin(c, sub.ID, subscription.StatusActive, time.Minute)
	require.NotNil(t, active.BillingStartedAt)
	r = p.do(http.MethodGet, "/v1/customers/"+c+"/subscriptions/"+sub.ID+"/charges", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	var charges struct{ Items []struct{ Amount int64 } }
	r.json(t, &charges)
	require.Len(t, charges.Items, 1, "one installment, charged once")
	require.Equal(t, int64(2*1200), charges.Items[0].Amount)

	// The same event again is a duplicate, not a rejection, and the
	// subscription still takes changes.
	r = p.event(sub.ID+"-act", subscription.EventActivated, sub.ID, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, http.StatusOK, p.patch(active, map[string]any{"nickname": "after the stall"}).status)
	desc, err := p.app.Client.DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(sub.ID), "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())
	if p.app.Store.Dialect() == "sqlite" {
		p.recordHistory("activation-during-database-stall", workflows.WorkflowID(sub.ID))
	}
}
