package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
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
	"go.temporal.io/sdk/interceptor"

	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/platform/app"
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
	concurrentQuantityChanges(t, startProduct(t, storetest.PostgresDatabase(t)))
}

func concurrentQuantityChanges(t *testing.T, p *product) {
	c := p.customer("Storm")
	sub := p.buy(c, "contoso-crm", "monthly", 3)
	require.Equal(t, http.StatusAccepted, p.event(sub.ID+"-act", lifecycle.EventActivated, sub.ID, nil).status)
	p.waitStatus(c, sub.ID, lifecycle.StatusActive)

	const n = 20
	var wg sync.WaitGroup
	answers := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = p.patchUntilConfirmed(sub, map[string]any{"quantity": 4 + i}, fmt.Sprintf("storm-%d", i))
		}()
	}
	wg.Wait()
	for i, r := range answers {
		require.Equal(t, http.StatusOK, r.status, "PATCH %d: %s", i, r.body)
	}
	final := p.waitStatus(c, sub.ID, lifecycle.StatusActive)
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
			Kind        string    `json:"kind"`
			Quantity    int       `json:"quantity"`
			Description string    `json:"description"`
			PostedAt    time.Time `json:"postedAt"`
		} `json:"items"`
	}
	r.json(t, &charges)
	// A removal credits each batch it takes on a line of its own (exact
	// lines): the lines of one step, posted together, count as one.
	var got []string
	var last struct {
		kind string
		at   time.Time
		n    int
	}
	flush := func() {
		if last.kind != "" {
			got = append(got, fmt.Sprintf("%s %d", last.kind, last.n))
		}
	}
	for _, c := range charges.Items {
		if !strings.Contains(c.Description, "licences") {
			continue
		}
		if c.Kind == last.kind && c.PostedAt.Equal(last.at) {
			last.n += c.Quantity
			continue
		}
		flush()
		last.kind, last.at, last.n = c.Kind, c.PostedAt, c.Quantity
	}
	flush()
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
	url := storetest.PostgresDatabase(t)
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
	r := p.event(sub.ID+"-act", lifecycle.EventActivated, sub.ID, nil)
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

	active := p.waitStatusWithin(c, sub.ID, lifecycle.StatusActive, time.Minute)
	require.NotNil(t, active.BillingStartedAt)
	r = p.do(http.MethodGet, "/v1/customers/"+c+"/subscriptions/"+sub.ID+"/charges", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	var charges struct{ Items []struct{ Amount int64 } }
	r.json(t, &charges)
	require.Len(t, charges.Items, 1, "one installment, charged once")
	require.Equal(t, int64(2*1200), charges.Items[0].Amount)

	// The same event again is a duplicate, not a rejection, and the
	// subscription still takes changes.
	r = p.event(sub.ID+"-act", lifecycle.EventActivated, sub.ID, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, http.StatusOK, p.patch(active, map[string]any{"nickname": "after the stall"}).status)
	desc, err := p.app.Client.DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(sub.ID), "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())
	if p.app.Store.Dialect() == "sqlite" {
		p.recordHistory("activation-during-database-stall", workflows.WorkflowID(sub.ID))
	}
}

// A purchase without Idempotency-Key while no worker runs used to answer
// 503 although the subscription was created later, so a client that
// retried bought twice (defect 5). It answers 202 with the subscription it
// bought and a Location that answers until the subscription is recorded.
func TestKeylessPurchaseDuringAWorkerOutageSaysWhatItBought(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "", "EMBEDDED_WORKER", "false", "PURCHASE_TIMEOUT", "2s")
	c := p.customer("Outage")
	r := p.do(http.MethodPost, "/v1/customers/"+c+"/subscriptions", "dev-admin-token",
		map[string]any{"offerId": "contoso-crm", "planId": "monthly", "quantity": 2})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	var pending struct{ ID, CustomerID, Status string }
	r.json(t, &pending)
	require.Equal(t, "purchase_pending", pending.Status)
	location := r.header.Get("Location")
	require.Equal(t, "/v1/customers/"+c+"/subscriptions/"+pending.ID, location)

	r = p.do(http.MethodGet, location, "dev-admin-token", nil)
	require.Equal(t, http.StatusAccepted, r.status, "still pending: %s", r.body)
	r = p.do(http.MethodGet, location, "dev-other-admin-token", nil)
	require.Equal(t, http.StatusNotFound, r.status, "another partner learns nothing")

	w := p.startWorker()
	defer w.Stop(context.Background())
	waitFor(t, 20*time.Second, func() bool {
		r = p.do(http.MethodGet, location, "dev-admin-token", nil)
		require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, r.status, string(r.body))
		return r.status == http.StatusOK
	})
	sub := r.sub(t)
	require.Equal(t, lifecycle.StatusPendingFulfillment, sub.Status)
	require.Equal(t, 2, sub.Quantity)
	r = p.do(http.MethodGet, "/v1/customers/"+c+"/subscriptions?licenseBased=any", "dev-admin-token", nil)
	require.Equal(t, http.StatusOK, r.status)
	var list struct{ Items []json.RawMessage }
	r.json(t, &list)
	require.Len(t, list.Items, 1, "bought once")
}

// Every GET of the activation link used to mint another day-long code, all
// valid at once (defect 6). The purchase's code is the subscription's one
// live code: the link shows it again, to admin and sales agents alike,
// and the ISV resolves it.
func TestOneLiveAuthorizationCodeIsShownEverywhere(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	c := p.customer("Codes")
	r := p.do(http.MethodPost, "/v1/customers/"+c+"/subscriptions", "dev-admin-token",
		map[string]any{"offerId": "contoso-crm", "planId": "monthly", "quantity": 2})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"), "the answer carries a secret")
	sub := r.sub(t)
	code := sub.PublisherLink.AuthorizationCode
	require.NotEmpty(t, code)
	for _, token := range []string{"dev-admin-token", "dev-sales-token", "dev-admin-token"} {
		r := p.do(http.MethodGet, "/v1/customers/"+c+"/subscriptions/"+sub.ID+"/activation-link", token, nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var link struct{ AuthorizationCode string }
		r.json(t, &link)
		require.Equal(t, code, link.AuthorizationCode)
	}
	r = p.isv("/isv/v1/subscriptions/resolve", "isv-demo", []byte("dev-isv-secret"), time.Now(), map[string]any{"authorizationCode": code})
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	// The data directory (customers, token hashes, the secrets key) is the
	// owner's alone.
	info, err := os.Stat(p.dataDir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm())
}

// The hostile sequence of defect 3: a NUL in a nickname, then an ISV event.
// The PATCH is refused at once, the event applies, changes go on.
func TestNULInANicknameKillsNothing(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	c := p.customer("Bytes")
	sub := p.buy(c, "contoso-crm", "monthly", 1)
	r := p.patch(sub, map[string]any{"nickname": "x\u0000y"})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
	require.Equal(t, http.StatusAccepted, p.event(sub.ID+"-a", lifecycle.EventActivated, sub.ID, nil).status)
	active := p.waitStatus(c, sub.ID, lifecycle.StatusActive)
	r = p.patch(active, map[string]any{"nickname": "fine"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = p.do(http.MethodPost, "/v1/customers/"+c+"/subscriptions", "dev-admin-token",
		map[string]any{"offerId": "contoso-crm", "planId": "monthly", "quantity": 1, "nickname": "a\u0000b"}, "Idempotency-Key", "nul-1")
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
	r = p.do(http.MethodPost, "/v1/customers/"+c+"/subscriptions", "dev-admin-token",
		map[string]any{"offerId": "contoso-crm", "planId": "monthly", "quantity": 1, "nickname": "ab"}, "Idempotency-Key", "nul-1")
	require.Equal(t, http.StatusCreated, r.status, "the key was not poisoned: %s", r.body)
}

// Concurrent PATCHes with one Idempotency-Key and different bodies used to
// all answer 200 with one outcome, and the key then belonged to whichever
// answer was saved first (found by a hostile pass). One request holds the
// key; the others are 409; a repeat of the one that applied replays it.
func TestOneIdempotencyKeyOnConcurrentChangesAppliesOneRequest(t *testing.T) {
	t.Parallel()
	p := startProduct(t, "")
	c := p.customer("Keys")
	sub := p.buy(c, "contoso-crm", "monthly", 3)
	require.Equal(t, http.StatusAccepted, p.event(sub.ID+"-act", lifecycle.EventActivated, sub.ID, nil).status)
	p.waitStatus(c, sub.ID, lifecycle.StatusActive)

	statuses := make([]int, 8)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = p.patch(sub, map[string]any{"quantity": 4 + i}, "Idempotency-Key", "race-1").status
		}()
	}
	wg.Wait()
	applied := -1
	for i, s := range statuses {
		if s == http.StatusOK {
			require.Equal(t, -1, applied, "only one request applies: %v", statuses)
			applied = i
		} else {
			require.Equal(t, http.StatusConflict, s, "the others are refused: %v", statuses)
		}
	}
	require.NotEqual(t, -1, applied, "one request applies: %v", statuses)
	r := p.patch(sub, map[string]any{"quantity": 4 + applied}, "Idempotency-Key", "race-1")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	require.Equal(t, 4+applied, p.get(c, sub.ID).Quantity)
}

// A change whose commit outlasts the request's deadline answers 503
// change_pending; the client repeats it with its Idempotency-Key, as the
// answer says, and the change is applied and charged once. (CI's loaded
// machine answered 503 to one of twenty concurrent changes; nothing
// checked what a repeat then does.) The change's commit is held until the
// first answer has come, so the 503 comes every time.
func TestAChangeNotConfirmedInTimeIsAppliedOnceWhenRepeated(t *testing.T) {
	t.Parallel()
	slow := &slowCommit{version: 3, release: make(chan struct{}), holding: make(chan struct{})}
	release := sync.OnceFunc(func() { close(slow.release) })
	t.Cleanup(release)
	p := startProductWith(t, app.Parts{WorkerInterceptors: []interceptor.WorkerInterceptor{slow}}, "", "PURCHASE_TIMEOUT", "8s")
	c := p.customer("Deadline")
	sub := p.buy(c, "contoso-crm", "monthly", 3)
	require.Equal(t, http.StatusAccepted, p.event(sub.ID+"-act", lifecycle.EventActivated, sub.ID, nil).status)
	p.waitStatus(c, sub.ID, lifecycle.StatusActive)

	first := p.patch(sub, map[string]any{"quantity": 5}, "Idempotency-Key", "slow-1")
	require.Equal(t, http.StatusServiceUnavailable, first.status, string(first.body))
	require.Equal(t, "change_pending", first.code(t))
	require.NotEmpty(t, first.header.Get("Retry-After"))
	release()

	repeated := p.patchUntilConfirmed(sub, map[string]any{"quantity": 5}, "slow-1")
	require.Equal(t, http.StatusOK, repeated.status, string(repeated.body))
	require.Equal(t, 5, repeated.sub(t).Quantity)
	again := p.patch(sub, map[string]any{"quantity": 5}, "Idempotency-Key", "slow-1")
	require.Equal(t, http.StatusOK, again.status, string(again.body))
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))

	final := p.waitStatus(c, sub.ID, lifecycle.StatusActive)
	require.EqualValues(t, 3, final.Version, "one change applied")
	checkLedgerAgainstAudit(t, p, c, sub.ID, 3, 5)
}
