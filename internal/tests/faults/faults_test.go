package faults

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
	rules "github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/workflows"
)

// size is how much the suite does: CI runs the small size on every
// submission; FAULTS_SIZE=large is run by hand (docs/reliability.md).
type size struct {
	lifecycles   int
	concurrency  int
	stall        time.Duration
	workerKills  int
	starterKills int // in the embedded default, where the starter is everything
}

func suiteSize() size {
	if os.Getenv("FAULTS_SIZE") == "large" {
		return size{lifecycles: 120, concurrency: 12, stall: 30 * time.Second, workerKills: 12, starterKills: 6}
	}
	return size{lifecycles: 8, concurrency: 4, stall: 30 * time.Second, workerKills: 3, starterKills: 2}
}

// The embedded default (one process: Temporal server on SQLite, API,
// worker, SQLite app database): the process is killed and restarted
// mid-lifecycles, its app database stalled for 30 s.
//
// The two shapes run one after the other (no t.Parallel): each runs
// several Temporal servers' worth of processes, and CI runs beside the
// end-to-end package on two cores.
func TestFaultsOnTheEmbeddedDefault(t *testing.T) {
	dir := workDir(t)
	if storetest.KeepForLedgerCheck(t, "sqlite://"+filepath.Join(dir, "data", "app.db"), filepath.Join(dir, "data")) {
		keepDir(dir)
	}
	c := newCluster(t, dir, "")
	c.run(t, suiteSize(), func(ctx context.Context, sz size) {
		for i := range sz.starterKills {
			c.pause(ctx, time.Duration(1000+mrand.IntN(3000))*time.Millisecond)
			c.restartStarter(t)
			if i == 0 {
				c.pause(ctx, 2*time.Second)
				c.stallSQLite(t, filepath.Join(dir, "data", "app.db"), sz.stall)
			}
		}
	})
}

// The production shape: the API process (which also hosts the Temporal
// server on its SQLite file), two separate worker processes, the app
// database on Postgres. Workers are killed at random; the Temporal server
// is restarted; the app database is locked for 30 s and its connections
// are cut.
func TestFaultsOnTheProductionShape(t *testing.T) {
	dir := workDir(t)
	dbURL := storetest.PostgresDatabase(t)
	c := newCluster(t, dir, dbURL)
	c.run(t, suiteSize(), func(ctx context.Context, sz size) {
		var stall sync.WaitGroup
		stall.Add(1)
		go func() {
			defer stall.Done()
			c.pause(ctx, time.Second)
			c.lockPostgres(t, dbURL, sz.stall)
		}()
		for i := range sz.workerKills {
			c.pause(ctx, time.Duration(500+mrand.IntN(2500))*time.Millisecond)
			w := c.workers[mrand.IntN(len(c.workers))]
			w.kill()
			c.tally.kills.Add(1)
			c.pause(ctx, time.Duration(mrand.IntN(2000))*time.Millisecond)
			w.start()
			if i == 0 {
				c.terminateConnections(t, dbURL)
			}
		}
		stall.Wait()
		c.restartStarter(t)
		c.terminateConnections(t, dbURL)
	})
}

// keepDirs are work directories kept for the ledger check after the tests.
var keepDirs sync.Map

func keepDir(dir string) { keepDirs.Store(dir, true) }

// workDir is the processes' data and logs, kept when the test fails.
func workDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "faults-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, kept := keepDirs.Load(dir); kept {
			return
		}
		if t.Failed() {
			t.Logf("process logs and data are kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// cluster is the product's processes for one test.
type cluster struct {
	t        *testing.T
	base     string
	temporal string
	starter  *proc
	workers  []*proc
	tally    *tally
	client   *apiClient
}

func newCluster(t *testing.T, dir, databaseURL string) *cluster {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	httpPort, temporalPort := freePort(t, false), freePort(t, true)
	c := &cluster{
		t: t, base: "http://127.0.0.1:" + strconv.Itoa(httpPort), temporal: "127.0.0.1:" + strconv.Itoa(temporalPort), tally: &tally{},
	}
	common := []string{"SECRETS_KEY=" + base64.StdEncoding.EncodeToString(key), "LOG_LEVEL=warn", "AUTH_FAILURE_LIMIT=1000000"}
	env := append([]string{
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(httpPort), "TEMPORAL_DEV_PORT=" + strconv.Itoa(temporalPort), "TEMPORAL_UI_PORT=0",
		"DATA_DIR=" + filepath.Join(dir, "data"), "PURCHASE_TIMEOUT=5s",
	}, common...)
	if databaseURL != "" {
		env = append(env, "DATABASE_URL="+databaseURL, "EMBEDDED_WORKER=false")
	}
	c.starter = newProc(t, dir, "starter", binaries.starter, env...)
	c.starter.start()
	c.waitStarter(t)
	if databaseURL != "" {
		for i := range 2 {
			w := newProc(t, dir, "worker-"+strconv.Itoa(i), binaries.worker,
				append([]string{"TEMPORAL_ADDRESS=" + c.temporal, "DATABASE_URL=" + databaseURL, "DATA_DIR=" + filepath.Join(dir, "worker-data")}, common...)...)
			w.start()
			c.workers = append(c.workers, w)
		}
	}
	c.client = &apiClient{t: t, base: c.base, http: &http.Client{Timeout: 30 * time.Second}, tally: c.tally}
	return c
}

func (c *cluster) pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// restartStarter kills the starter with SIGKILL and starts it again on the
// same files: in the embedded default that is the Temporal server too.
func (c *cluster) restartStarter(t *testing.T) {
	c.starter.kill()
	c.tally.kills.Add(1)
	c.tally.temporalRestarts.Add(1)
	time.Sleep(time.Second)
	c.starter.start()
	c.waitStarter(t)
}

// waitStarter waits for the starter to answer /healthz, starting it again
// when it exits first: its ports are picked before it starts (and kept
// across restarts, since the workers dial them), so another test's server
// may hold one for a while; the starter then exits saying so.
func (c *cluster) waitStarter(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if healthy(c.base) {
			return
		}
		if c.starter.exited() {
			t.Logf("the starter exited before it was healthy (see %s); starting it again", c.starter.log)
			time.Sleep(2 * time.Second)
			c.starter.start()
			continue
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s/healthz did not answer 200 within 3m", c.base)
}

// stallSQLite holds the app database's write lock for d.
func (c *cluster) stallSQLite(t *testing.T, path string, d time.Duration) {
	db, err := sql.Open(sqliteshim.ShimName, "file:"+path+"?_pragma=busy_timeout(30000)")
	require.NoError(t, err)
	defer db.Close()
	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE")
	require.NoError(t, err)
	c.tally.stalls.Add(1)
	time.Sleep(d)
	_, err = conn.ExecContext(context.Background(), "ROLLBACK")
	require.NoError(t, err)
}

// lockPostgres holds an exclusive lock on the subscriptions table for d.
func (c *cluster) lockPostgres(t *testing.T, url string, d time.Duration) {
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(url), pgdriver.WithApplicationName(faultInjector)))
	defer db.Close()
	tx, err := db.BeginTx(context.Background(), nil)
	require.NoError(t, err)
	_, err = tx.Exec("LOCK TABLE subscriptions IN EXCLUSIVE MODE")
	require.NoError(t, err)
	c.tally.stalls.Add(1)
	time.Sleep(d)
	require.NoError(t, tx.Rollback())
}

// faultInjector names the suite's own connections, which it never cuts.
const faultInjector = "fault-injector"

// terminateConnections cuts the product's connections to the app database.
func (c *cluster) terminateConnections(t *testing.T, url string) {
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(url)))
	defer db.Close()
	_, err := db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> $1", faultInjector)
	require.NoError(t, err)
	c.tally.terminations.Add(1)
}

// lifecycle is what the suite did to one subscription, and so what its
// state must come to.
type lifecycle struct {
	key, id   string
	cancelled bool
	// metered: a subscription of the metered offer, whose usage was
	// posted in batches through the faults (usage: what was accepted, per
	// dimension, once each however often it was sent).
	metered bool
	usage   map[string]float64
}

// run drives sz.lifecycles lifecycles while faults runs, then checks.
func (c *cluster) run(t *testing.T, sz size, faults func(context.Context, size)) {
	cl := c.client
	var cust struct{ ID string }
	r := cl.partner(http.MethodPost, "/v1/customers", map[string]any{"name": "Faults " + t.Name()})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	r.decode(t, &cust)

	ctx, stopFaults := context.WithCancel(context.Background())
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		faults(ctx, sz)
	}()

	lifecycles := make([]*lifecycle, sz.lifecycles)
	sem := make(chan struct{}, sz.concurrency)
	var wg sync.WaitGroup
	for i := range lifecycles {
		lc := &lifecycle{key: fmt.Sprintf("faults-%d-%d", time.Now().UnixNano(), i)}
		lifecycles[i] = lc
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c.drive(t, cust.ID, lc, i)
		}()
	}
	wg.Wait()
	<-faultsDone
	stopFaults()
	// Every process is back: the checks run against the product as a
	// partner would find it after the incident.
	for _, w := range c.workers {
		w.mu.Lock()
		down := w.cmd == nil
		w.mu.Unlock()
		if down {
			w.start()
		}
	}
	c.waitStarter(t)
	c.check(t, cust.ID, lifecycles)
}

// drive runs one lifecycle: purchase, the ISV's events (duplicated,
// shuffled, replayed stale and forged), a storm of concurrent changes,
// malformed input, and for some a cancel inside the window.
func (c *cluster) drive(t *testing.T, customerID string, lc *lifecycle, i int) {
	cl := c.client
	// Spread the lifecycles over the faults' script.
	time.Sleep(time.Duration(mrand.IntN(3000)) * time.Millisecond)
	base := "/v1/customers/" + customerID + "/subscriptions"
	if i%4 == 3 {
		c.driveMetered(t, base, lc)
		return
	}
	r := cl.partner(http.MethodPost, base, map[string]any{"offerId": "contoso-crm", "planId": "monthly", "quantity": 3}, "Idempotency-Key", lc.key)
	require.Contains(t, []int{http.StatusCreated, http.StatusAccepted}, r.status, string(r.body))
	var bought struct{ ID string }
	r.decode(t, &bought)
	lc.id = bought.ID
	path := base + "/" + lc.id

	// The ISV's events: each sent twice, in a shuffled order, concurrently;
	// a stale replay and a forgery of each are refused.
	type delivery struct {
		body   map[string]any
		secret string
		at     time.Time
		forged bool
	}
	var deliveries []delivery
	for _, typ := range []string{rules.EventProvisioned, rules.EventActivated} {
		body := map[string]any{"id": lc.id + "/" + typ, "type": typ, "subscriptionId": lc.id}
		deliveries = append(deliveries,
			delivery{body: body, secret: "dev-isv-secret", at: time.Now()},
			delivery{body: body, secret: "dev-isv-secret", at: time.Now()},
			delivery{body: body, secret: "dev-isv-secret", at: time.Now().Add(-10 * time.Minute), forged: true},
			delivery{body: body, secret: "not-the-secret", at: time.Now(), forged: true})
	}
	mrand.Shuffle(len(deliveries), func(a, b int) { deliveries[a], deliveries[b] = deliveries[b], deliveries[a] })
	var wg sync.WaitGroup
	for _, d := range deliveries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r := cl.isv("/isv/v1/webhook", d.body, d.secret, d.at)
				switch {
				case d.forged && r.status == http.StatusUnauthorized:
					c.tally.forgedRefused.Add(1)
				case d.forged:
					c.tally.forgedAccepted.Add(1)
					t.Errorf("a forged or stale webhook was answered %d: %s", r.status, r.body)
				case r.status == http.StatusNotFound:
					// The purchase answered 202 and is not recorded yet.
					time.Sleep(300 * time.Millisecond)
					continue
				default:
					require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, r.status, string(r.body))
				}
				return
			}
		}()
	}
	wg.Wait()
	c.tally.duplicateWebhooks.Add(2)
	c.tally.staleWebhooks.Add(2)
	active := c.waitStatus(t, path, rules.StatusActive)

	// Malformed input changes nothing.
	r = cl.partner(http.MethodPatch, path, map[string]any{"nickname": "x\u0000y"})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
	r = cl.send(http.MethodGet, path+"%00%ff", nil, "Authorization", "Bearer dev-admin-token")
	require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
	r = cl.send(http.MethodPatch, path, []byte(`{"quantity":2}`), "Authorization", "Bearer dev-admin-token", "Content-Type", "text/plain")
	require.Equal(t, http.StatusUnsupportedMediaType, r.status, string(r.body))
	c.tally.malformed.Add(3)

	if i%2 == 0 {
		// A storm: concurrent quantity changes, half conditional on the
		// version read before it.
		var storm sync.WaitGroup
		for j := range 6 {
			storm.Add(1)
			go func() {
				defer storm.Done()
				headers := []string{"Idempotency-Key", fmt.Sprintf("%s-q%d", lc.key, j)}
				if j%2 == 1 {
					headers = append(headers, "If-Match", active.ETag)
				}
				r := cl.partner(http.MethodPatch, path, map[string]any{"quantity": 1 + mrand.IntN(8)}, headers...)
				require.Contains(t, []int{http.StatusOK, http.StatusPreconditionFailed}, r.status, string(r.body))
			}()
		}
		storm.Wait()
		c.tally.storms.Add(1)
	}
	if i%3 == 1 {
		r = cl.partner(http.MethodPatch, path, map[string]any{"status": "cancelled"}, "Idempotency-Key", lc.key+"-cancel")
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		lc.cancelled = true
	}
}

// meteredUsage is what driveMetered posts: api-calls beyond the 100
// included, storage within its 10, messages beyond its 50.
var meteredUsage = map[string]float64{"api-calls": 130.5, "storage-gb": 7.25, "messages": 61}

// driveMetered runs a metered lifecycle: bought, activated, its usage
// posted in one batch sent three times at once and once more (an ISV
// retrying what it is not sure landed) while the faults run, then
// cancelled inside its window, which closes and charges its usage.
func (c *cluster) driveMetered(t *testing.T, base string, lc *lifecycle) {
	cl := c.client
	lc.metered, lc.usage = true, meteredUsage
	r := cl.partner(http.MethodPost, base, map[string]any{"offerId": "contoso-api", "planId": "api-standard", "quantity": 1}, "Idempotency-Key", lc.key)
	require.Contains(t, []int{http.StatusCreated, http.StatusAccepted}, r.status, string(r.body))
	var bought struct{ ID string }
	r.decode(t, &bought)
	lc.id = bought.ID
	path := base + "/" + lc.id
	for {
		r := cl.isv("/isv/v1/webhook", map[string]any{"id": lc.id + "/activated", "type": rules.EventActivated, "subscriptionId": lc.id}, "dev-isv-secret", time.Now())
		if r.status == http.StatusNotFound {
			time.Sleep(300 * time.Millisecond) // the purchase answered 202 and is not recorded yet
			continue
		}
		require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, r.status, string(r.body))
		break
	}
	c.waitStatus(t, path, rules.StatusActive)
	at := time.Now().UTC()
	var events []map[string]any
	for dim, q := range meteredUsage {
		events = append(events, map[string]any{"subscriptionId": lc.id, "dimension": dim, "quantity": q, "effectiveStartTime": at.Format(time.RFC3339Nano)})
	}
	batch := map[string]any{"events": events}
	var sends sync.WaitGroup
	for range 3 {
		sends.Add(1)
		go func() {
			defer sends.Done()
			c.postUsage(t, batch)
		}()
	}
	sends.Wait()
	c.postUsage(t, batch)
	c.tally.usageBatches.Add(4)
	r = cl.partner(http.MethodPatch, path, map[string]any{"status": "cancelled"}, "Idempotency-Key", lc.key+"-cancel")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	lc.cancelled = true
}

// postUsage sends a batch of usage until it is answered: every event is
// then Accepted or a Duplicate of the one accepted (a send that landed
// before its answer was lost).
func (c *cluster) postUsage(t *testing.T, batch map[string]any) {
	r := c.client.isv("/isv/v1/usage", batch, "dev-isv-secret", time.Now())
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var answer struct{ Results []struct{ Status string } }
	r.decode(t, &answer)
	for _, res := range answer.Results {
		require.Contains(t, []string{"Accepted", "Duplicate"}, res.Status)
		if res.Status == "Duplicate" {
			c.tally.usageDuplicates.Add(1)
		}
	}
}

// usageProblems checks a metered subscription's usage lines: once it is
// cancelled, each dimension's usage was charged once, beyond its included
// quantity, to the cent.
func usageProblems(t *testing.T, cl *apiClient, customerID string, lc *lifecycle) []string {
	included := map[string][2]int64{"api-calls": {100, 25}, "storage-gb": {10, 100}, "messages": {50, 5}} // units, unit price
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := cl.partner(http.MethodGet, "/v1/customers/"+customerID+"/subscriptions/"+lc.id+"/charges", nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var charges struct {
			Items []struct {
				Reason, Dimension string
				Amount            int64
			}
		}
		r.decode(t, &charges)
		got := map[string][]int64{}
		for _, ch := range charges.Items {
			if ch.Reason == billing.ReasonUsage {
				got[ch.Dimension] = append(got[ch.Dimension], ch.Amount)
			}
		}
		var problems []string
		for dim, q := range lc.usage {
			_, want := billing.UsageOverage(int64(q*billing.UsageScale), included[dim][0]*billing.UsageScale, included[dim][1])
			switch {
			case want == 0 && len(got[dim]) == 0:
			case len(got[dim]) != 1 || got[dim][0] != want:
				problems = append(problems, fmt.Sprintf("usage of %s charged %v, want one line of %d", dim, got[dim], want))
			}
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			return problems
		}
		time.Sleep(500 * time.Millisecond) // the close comes just after the cancellation's step
	}
}

type subscriptionJSON struct {
	workflows.Subscription
	ETag string `json:"etag"`
}

// waitStatus polls until the subscription has the status; a purchase
// still pending (202) is waited for too.
func (c *cluster) waitStatus(t *testing.T, path string, want rules.Status) subscriptionJSON {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	var sub subscriptionJSON
	for {
		r := c.client.partner(http.MethodGet, path, nil)
		if r.status == http.StatusOK {
			r.decode(t, &sub)
			if sub.Status == want {
				return sub
			}
		} else {
			require.Equal(t, http.StatusAccepted, r.status, string(r.body))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v: still %q, want %s", path, errStuck, sub.Status, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// check verifies, through the API, what the partner would check after
// the incident, and reports the figures.
func (c *cluster) check(t *testing.T, customerID string, lifecycles []*lifecycle) {
	cl := c.client
	want := map[string]*lifecycle{}
	for _, lc := range lifecycles {
		want[lc.id] = lc
	}
	// Every purchase exists exactly once.
	seen := map[string]int{}
	token := ""
	for {
		q := "?licenseBased=any&pageSize=200"
		if token != "" {
			q += "&pageToken=" + token
		}
		r := cl.partner(http.MethodGet, "/v1/customers/"+customerID+"/subscriptions"+q, nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var page struct {
			Items         []subscriptionJSON
			NextPageToken string
		}
		r.decode(t, &page)
		for _, s := range page.Items {
			seen[s.ID]++
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	lost, duplicated, extra := 0, 0, 0
	for id := range want {
		switch seen[id] {
		case 0:
			lost++
		case 1:
		default:
			duplicated++
		}
	}
	for id := range seen {
		if want[id] == nil {
			extra++
		}
	}

	// Every subscription reaches the state its events imply, and its
	// ledger is what its audit trail implies, to the cent.
	wrong := 0
	for _, lc := range lifecycles {
		status := rules.StatusActive
		if lc.cancelled {
			status = rules.StatusCancelled
		}
		sub := c.waitStatus(t, "/v1/customers/"+customerID+"/subscriptions/"+lc.id, status)
		if lc.metered {
			if problems := usageProblems(t, cl, customerID, lc); len(problems) > 0 {
				wrong++
				t.Errorf("subscription %s: %s", lc.id, strings.Join(problems, "; "))
			}
			continue
		}
		if problems := ledgerProblems(t, cl, customerID, sub); len(problems) > 0 {
			wrong++
			t.Errorf("subscription %s: %s", lc.id, strings.Join(problems, "; "))
		}
	}

	// No workflow failed, timed out or was terminated.
	tc, err := client.Dial(client.Options{HostPort: c.temporal, Logger: nil})
	require.NoError(t, err)
	defer tc.Close()
	failed, runs := 0, 0
	var next []byte
	for {
		resp, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = %q", workflows.SubscriptionWorkflowType), NextPageToken: next,
		})
		require.NoError(t, err)
		for _, e := range resp.GetExecutions() {
			runs++
			switch e.GetStatus() {
			case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
			default:
				failed++
				t.Errorf("workflow %s is %s", e.GetExecution().GetWorkflowId(), e.GetStatus())
			}
		}
		if next = resp.GetNextPageToken(); len(next) == 0 {
			break
		}
	}

	require.GreaterOrEqual(t, runs, len(lifecycles), "a run of every subscription is listed")

	tl := c.tally
	t.Logf("figures: lifecycles=%d lost=%d duplicated=%d extra=%d wrong_ledgers=%d failed_workflows=%d internal_errors=%d "+
		"kills=%d temporal_restarts=%d db_stalls=%d db_terminations=%d duplicate_webhooks=%d stale_or_forged_refused=%d forged_accepted=%d "+
		"storms=%d malformed=%d usage_batches=%d usage_duplicates=%d requests=%d transport_errors=%d unavailable_503=%d",
		len(lifecycles), lost, duplicated, extra, wrong, failed, tl.internalErrors.Load(),
		tl.kills.Load(), tl.temporalRestarts.Load(), tl.stalls.Load(), tl.terminations.Load(), tl.duplicateWebhooks.Load(),
		tl.forgedRefused.Load(), tl.forgedAccepted.Load(), tl.storms.Load(), tl.malformed.Load(), tl.usageBatches.Load(), tl.usageDuplicates.Load(), tl.requests.Load(),
		tl.transportErrors.Load(), tl.unavailable.Load())
	require.Zero(t, lost, "lost purchases")
	require.Zero(t, duplicated+extra, "duplicated purchases")
	require.Zero(t, wrong, "wrong ledgers")
	require.Zero(t, failed, "failed workflows")
	require.Zero(t, tl.internalErrors.Load(), "500s")
	require.Zero(t, tl.forgedAccepted.Load(), "forged requests accepted")
}

// ledgerProblems recomputes a subscription's ledger from its audit trail
// with the billing rules (the installment at activation, an increase
// prorated, a decrease credited what its batches were charged, newest
// first, the refund of a cancel) and says where the ledger differs.
func ledgerProblems(t *testing.T, cl *apiClient, customerID string, sub subscriptionJSON) []string {
	path := "/v1/customers/" + customerID + "/subscriptions/" + sub.ID
	r := cl.partner(http.MethodGet, path+"/events", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var events struct {
		Items []struct {
			Kind   string          `json:"kind"`
			At     time.Time       `json:"at"`
			Detail json.RawMessage `json:"detail"`
		}
	}
	r.decode(t, &events)
	r = cl.partner(http.MethodGet, path+"/charges", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var charges struct {
		Items []struct {
			Kind        string    `json:"kind"`
			Amount      int64     `json:"amount"`
			Quantity    int       `json:"quantity"`
			PeriodStart time.Time `json:"periodStart"`
			PeriodEnd   time.Time `json:"periodEnd"`
			Description string    `json:"description"`
		}
	}
	r.decode(t, &charges)

	const unitPrice = 1200 // contoso-crm/monthly, one installment per term
	schedule := billing.Schedule{Installments: 1, UnitPrice: unitPrice, Currency: "USD"}
	var want []string
	var lots billing.Lots
	q, refunded := 3, int64(-1)
	for _, e := range events.Items {
		var d struct {
			Quantity *int   `json:"quantity"`
			Amount   *int64 `json:"amount"`
			Refunded *int64 `json:"refunded"`
		}
		_ = json.Unmarshal(e.Detail, &d)
		switch {
		case e.Kind == "billing.installment_charged" && d.Amount != nil:
			lots = billing.StartTerm(q, time.Time{}).ChargeInstallment(unitPrice, *sub.TermStart)
			want = append(want, fmt.Sprintf("charge %d x%d", int64(q)*unitPrice, q))
		case e.Kind == "changed" && d.Quantity != nil:
			delta := *d.Quantity - q
			q = *d.Quantity
			if lots == nil {
				continue // nothing billed before activation
			}
			// Exact lines: licences added are prorated per licence; a
			// removal credits each batch it takes, at what the batch was
			// charged per licence (billing.Lots, RemovalCredits).
			switch {
			case delta > 0:
				amount := int64(delta) * billing.Prorate(unitPrice, *sub.TermStart, *sub.TermEnd, e.At)
				lots = lots.Add(delta, amount, time.Time{}, e.At)
				if amount > 0 {
					want = append(want, fmt.Sprintf("charge %d x%d", amount, delta))
				}
			case delta < 0:
				var taken billing.Lots
				lots, taken = lots.Take(-delta)
				for _, c := range schedule.RemovalCredits(billing.Subject{SubscriptionID: sub.ID}, 1, *sub.TermStart, taken, *sub.TermEnd, e.At) {
					want = append(want, fmt.Sprintf("credit %d x%d", c.Amount, c.Quantity))
				}
			}
		case e.Kind == "cancelled" && d.Refunded != nil:
			refunded = *d.Refunded
		}
	}
	var problems []string
	if q != sub.Quantity {
		problems = append(problems, fmt.Sprintf("audit ends at quantity %d, subscription has %d", q, sub.Quantity))
	}
	var got []string
	var net, refunds int64
	for _, c := range charges.Items {
		if c.Kind == "credit" {
			net -= c.Amount
		} else {
			net += c.Amount
		}
		if strings.HasPrefix(c.Description, "credit: ") {
			refunds += c.Amount
			continue
		}
		got = append(got, fmt.Sprintf("%s %d x%d", c.Kind, c.Amount, c.Quantity))
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		problems = append(problems, fmt.Sprintf("ledger [%s], audit implies [%s]", strings.Join(got, ", "), strings.Join(want, ", ")))
	}
	switch {
	case sub.Status == rules.StatusCancelled && (net != 0 || refunds != refunded):
		problems = append(problems, fmt.Sprintf("cancelled inside the window: net %d (want 0), refunds %d, audit says %d", net, refunds, refunded))
	case sub.Status != rules.StatusCancelled && refunds != 0:
		problems = append(problems, fmt.Sprintf("refunds %d on a subscription never cancelled", refunds))
	}
	return problems
}
