// Package load drives complete subscription lifecycles through the
// product's public HTTP surface, as partners and ISVs would: a purchase,
// the ISV's two signed webhooks (provisioned, activated), then reads until
// the subscription is active with its first charge. It measures what an
// operator sizes the system by: lifecycles per second, purchase latency
// and purchase-to-active latency, errors. `go run ./internal/tools/loadgen`
// is its command; the e2e tests run its smoke size.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// Config is one run.
type Config struct {
	URL string // the product's API, e.g. http://127.0.0.1:8080
	N   int    // lifecycles (or purchases with PurchaseOnly)
	// Concurrency is how many lifecycles run at once (closed loop); with
	// Rate it bounds how many may be in flight.
	Concurrency int
	// Rate, when set, starts lifecycles at this many per second whatever
	// the answers (open loop): latency at a fixed arrival rate.
	Rate float64
	// PurchaseOnly buys without provisioning: fills the system with
	// subscriptions waiting for their ISV.
	PurchaseOnly bool
	// Customers spreads the purchases over this many new customers.
	Customers int
	Token     string // an agent token (admin or sales) of the partner
	Publisher string // the offer's ISV and its webhook secret
	Secret    []byte
	Offer     string
	Plan      string
	// Tag names this run's customers and idempotency keys.
	Tag string
	// ActiveTimeout bounds the wait for one subscription to be active.
	ActiveTimeout time.Duration
	// HTTP is the client; default one with keep-alive for Concurrency.
	HTTP *http.Client
	// Dialect is how the ISV does its part: "native" (two signed
	// webhooks, provisioned and activated; the default) or "microsoft"
	// (Microsoft's resolve and activate at /api/saas, with a token of
	// /oauth2/token).
	Dialect string
	// Quantity is every purchase's licence count; 0 varies it from 1 to 5.
	Quantity int
}

// quantity is purchase k's licence count.
func (c Config) quantity(k int) int {
	if c.Quantity > 0 {
		return c.Quantity
	}
	return 1 + k%5
}

// Result is what a run measured.
type Result struct {
	Done, Errors            int
	Elapsed                 time.Duration
	Purchase, ToActive      []time.Duration // sorted
	ErrorSamples            []string
	SubscriptionsByCustomer map[string][]string
	// Dispatched is how long starting every lifecycle took (the achieved
	// arrival rate is N over it).
	Dispatched time.Duration
	// Pending is how many purchases were answered 202 purchase_pending
	// (recorded later than the product's purchase timeout).
	Pending int
}

// Rate is completed lifecycles (or purchases) per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Done) / r.Elapsed.Seconds()
}

// Percentile of sorted durations (nearest rank), 0 when empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p/100)) - 1 // nearest rank: p99 of 90 is the largest
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (c *Config) defaults() {
	if c.N <= 0 {
		c.N = 100
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 20
	}
	if c.Customers <= 0 {
		c.Customers = max(1, c.N/100)
	}
	if c.Token == "" {
		c.Token = "dev-admin-token"
	}
	if c.Publisher == "" {
		c.Publisher, c.Secret = "isv-demo", []byte("dev-isv-secret")
	}
	if c.Offer == "" {
		c.Offer, c.Plan = "contoso-crm", "monthly"
	}
	if c.Tag == "" {
		c.Tag = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if c.ActiveTimeout == 0 {
		c.ActiveTimeout = 2 * time.Minute
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			MaxIdleConns: c.Concurrency * 4, MaxIdleConnsPerHost: c.Concurrency * 4,
		}}
	}
}

// Run runs the lifecycles and returns what it measured.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.defaults()
	d := &driver{cfg: cfg}
	if cfg.Dialect == "microsoft" {
		if err := d.publisherToken(ctx); err != nil {
			return Result{}, err
		}
	}
	customers := make([]string, cfg.Customers)
	for i := range customers {
		id, err := d.createCustomer(ctx, fmt.Sprintf("loadgen %s %d", cfg.Tag, i))
		if err != nil {
			return Result{}, fmt.Errorf("create customer: %w", err)
		}
		customers[i] = id
	}

	var (
		mu  sync.Mutex
		res = Result{SubscriptionsByCustomer: map[string][]string{}}
	)
	record := func(customer, sub string, purchase, toActive time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.Errors++
			if len(res.ErrorSamples) < 5 {
				res.ErrorSamples = append(res.ErrorSamples, err.Error())
			}
			return
		}
		res.Done++
		res.Purchase = append(res.Purchase, purchase)
		if toActive > 0 {
			res.ToActive = append(res.ToActive, toActive)
		}
		res.SubscriptionsByCustomer[customer] = append(res.SubscriptionsByCustomer[customer], sub)
	}

	start := time.Now()
	var wg sync.WaitGroup
	slots := make(chan struct{}, cfg.Concurrency)
	one := func(k int, due time.Time) {
		defer wg.Done()
		defer func() { <-slots }()
		customer := customers[k%len(customers)]
		sub, purchase, toActive, err := d.lifecycle(ctx, customer, k, due)
		record(customer, sub, purchase, toActive, err)
	}
	for k := 0; k < cfg.N && ctx.Err() == nil; k++ {
		due := time.Now()
		if cfg.Rate > 0 {
			// Open loop: lifecycle k is due at its arrival time, and its
			// latency counts from then, waiting for a free slot included
			// (no coordinated omission).
			due = start.Add(time.Duration(float64(k) * float64(time.Second) / cfg.Rate))
			if err := sleep(ctx, time.Until(due)); err != nil {
				break
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		wg.Add(1)
		go one(k, due)
	}
	res.Dispatched = time.Since(start)
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Pending = int(d.pending.Load())
	slices.Sort(res.Purchase)
	slices.Sort(res.ToActive)
	return res, ctx.Err()
}

type driver struct {
	cfg     Config
	pending atomic.Int64 // purchases answered 202 purchase_pending
	token   string       // the ISV's access token (Dialect "microsoft")
}

// waitRecorded reads a pending purchase until the product has recorded it.
func (d *driver) waitRecorded(ctx context.Context, customer, id string) error {
	deadline := time.Now().Add(d.cfg.ActiveTimeout)
	for {
		status, body, err := d.call(ctx, http.MethodGet, "/v1/customers/"+customer+"/subscriptions/"+id, nil, "Authorization", "Bearer "+d.cfg.Token)
		if err != nil {
			return err
		}
		switch {
		case status == http.StatusOK:
			return nil
		case status != http.StatusAccepted:
			return fmt.Errorf("pending purchase %s: %d %s", id, status, trim(body))
		case time.Now().After(deadline):
			return fmt.Errorf("purchase %s still pending after %s", id, d.cfg.ActiveTimeout)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// lifecycle buys one subscription and, unless only purchasing, plays the
// ISV and waits for it to be active with its first charge.
func (d *driver) lifecycle(ctx context.Context, customer string, k int, t0 time.Time) (string, time.Duration, time.Duration, error) {
	var sub struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		PublisherLink struct {
			AuthorizationCode string `json:"authorizationCode"`
		} `json:"publisherLink"`
	}
	status, body, err := d.call(ctx, http.MethodPost, "/v1/customers/"+customer+"/subscriptions",
		map[string]any{"offerId": d.cfg.Offer, "planId": d.cfg.Plan, "quantity": d.cfg.quantity(k)},
		"Authorization", "Bearer "+d.cfg.Token, "Idempotency-Key", fmt.Sprintf("loadgen-%s-%d", d.cfg.Tag, k))
	if err != nil {
		return "", 0, 0, err
	}
	if status != http.StatusCreated && status != http.StatusAccepted {
		return "", 0, 0, fmt.Errorf("purchase: %d %s", status, trim(body))
	}
	if err := json.Unmarshal(body, &sub); err != nil || sub.ID == "" {
		return "", 0, 0, fmt.Errorf("purchase answer: %s", trim(body))
	}
	purchase := time.Since(t0)
	if status == http.StatusAccepted {
		// purchase_pending: not recorded within the product's purchase
		// timeout. The contract: do not buy again, read it until it is.
		d.pending.Add(1)
		if err := d.waitRecorded(ctx, customer, sub.ID); err != nil {
			return "", 0, 0, err
		}
	}
	if d.cfg.PurchaseOnly {
		return sub.ID, purchase, 0, nil
	}
	if d.cfg.Dialect == "microsoft" {
		if err := d.microsoftActivation(ctx, sub.PublisherLink.AuthorizationCode); err != nil {
			return "", 0, 0, err
		}
	} else {
		for i, e := range []map[string]any{
			{"id": "loadgen-prov-" + sub.ID, "type": lifecycle.EventProvisioned, "subscriptionId": sub.ID},
			{"id": "loadgen-act-" + sub.ID, "type": lifecycle.EventActivated, "subscriptionId": sub.ID},
		} {
			if err := d.webhook(ctx, e); err != nil {
				return "", 0, 0, fmt.Errorf("webhook %d: %w", i+1, err)
			}
		}
	}
	path := "/v1/customers/" + customer + "/subscriptions/" + sub.ID
	deadline := time.Now().Add(d.cfg.ActiveTimeout)
	wait := 5 * time.Millisecond
	for {
		status, body, err := d.call(ctx, http.MethodGet, path, nil, "Authorization", "Bearer "+d.cfg.Token)
		if err != nil {
			return "", 0, 0, err
		}
		if status != http.StatusOK {
			return "", 0, 0, fmt.Errorf("read: %d %s", status, trim(body))
		}
		if err := json.Unmarshal(body, &sub); err != nil {
			return "", 0, 0, err
		}
		if sub.Status == "active" {
			break
		}
		if time.Now().After(deadline) {
			return "", 0, 0, fmt.Errorf("subscription %s still %s after %s", sub.ID, sub.Status, d.cfg.ActiveTimeout)
		}
		if err := sleep(ctx, wait); err != nil {
			return "", 0, 0, err
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
	toActive := time.Since(t0)
	// Active means billed: the first installment is on the ledger.
	status, body, err = d.call(ctx, http.MethodGet, path+"/charges", nil, "Authorization", "Bearer "+d.cfg.Token)
	if err != nil {
		return "", 0, 0, err
	}
	var charges struct {
		Items []json.RawMessage `json:"items"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &charges) != nil || len(charges.Items) != 1 {
		return "", 0, 0, fmt.Errorf("subscription %s active with charges %d %s", sub.ID, status, trim(body))
	}
	return sub.ID, purchase, toActive, nil
}

// microsoftActivation is the ISV's part in Microsoft's dialect: resolve
// the landing page's token, activate what it names.
func (d *driver) microsoftActivation(ctx context.Context, code string) error {
	if code == "" {
		return errors.New("the purchase's answer has no authorization code")
	}
	auth := "Bearer " + d.token
	status, body, err := d.send(ctx, http.MethodPost, "/api/saas/subscriptions/resolve?api-version=2018-08-31", nil,
		"Authorization", auth, "x-ms-marketplace-token", url.QueryEscape(code))
	if err != nil {
		return err
	}
	var resolved struct {
		ID       string `json:"id"`
		PlanID   string `json:"planId"`
		Quantity int    `json:"quantity"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &resolved) != nil {
		return fmt.Errorf("resolve: %d %s", status, trim(body))
	}
	plan, _ := json.Marshal(map[string]any{"planId": resolved.PlanID, "quantity": resolved.Quantity})
	status, body, err = d.send(ctx, http.MethodPost, "/api/saas/subscriptions/"+resolved.ID+"/activate?api-version=2018-08-31", plan,
		"Authorization", auth, "Content-Type", "application/json")
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("activate: %d %s", status, trim(body))
	}
	return nil
}

// publisherToken trades the ISV's credentials for a token of /oauth2/token.
func (d *driver) publisherToken(ctx context.Context) error {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {d.cfg.Publisher}, "client_secret": {string(d.cfg.Secret)}}
	status, body, err := d.send(ctx, http.MethodPost, "/oauth2/token", []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	if err != nil {
		return err
	}
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &answer) != nil || answer.AccessToken == "" {
		return fmt.Errorf("token: %d %s", status, trim(body))
	}
	d.token = answer.AccessToken
	return nil
}

func (d *driver) webhook(ctx context.Context, event map[string]any) error {
	body, err := json.Marshal(event)
	if err != nil {
		return err
	}
	status, answer, err := d.send(ctx, http.MethodPost, "/isv/v1/webhook", body,
		signature.PublisherHeader, d.cfg.Publisher, signature.Header, signature.Sign(d.cfg.Secret, time.Now(), body))
	if err != nil {
		return err
	}
	if status != http.StatusAccepted && status != http.StatusOK {
		return fmt.Errorf("%d %s", status, trim(answer))
	}
	return nil
}

func (d *driver) createCustomer(ctx context.Context, name string) (string, error) {
	status, body, err := d.call(ctx, http.MethodPost, "/v1/customers", map[string]any{"name": name}, "Authorization", "Bearer "+d.cfg.Token)
	if err != nil {
		return "", err
	}
	var c struct {
		ID string `json:"id"`
	}
	if status != http.StatusCreated || json.Unmarshal(body, &c) != nil || c.ID == "" {
		return "", fmt.Errorf("%d %s", status, trim(body))
	}
	return c.ID, nil
}

func (d *driver) call(ctx context.Context, method, path string, v any, headers ...string) (int, []byte, error) {
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			return 0, nil, err
		}
	}
	return d.send(ctx, method, path, body, headers...)
}

func (d *driver) send(ctx context.Context, method, path string, body []byte, headers ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.cfg.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := d.cfg.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, answer, err
}

// ListLatency reads the first page of each customer's subscriptions
// samples times, round robin, and returns the sorted latencies.
func ListLatency(ctx context.Context, cfg Config, customers []string, samples int) ([]time.Duration, error) {
	cfg.defaults()
	if len(customers) == 0 {
		return nil, errors.New("no customers to list")
	}
	d := &driver{cfg: cfg}
	var lat []time.Duration
	for i := range samples {
		t0 := time.Now()
		status, body, err := d.call(ctx, http.MethodGet, "/v1/customers/"+customers[i%len(customers)]+"/subscriptions", nil, "Authorization", "Bearer "+cfg.Token)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("list: %d %s", status, trim(body))
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	return lat, nil
}

// Customers lists up to max of the partner's customers (oldest first).
func Customers(ctx context.Context, cfg Config, max int) ([]string, error) {
	cfg.defaults()
	d := &driver{cfg: cfg}
	var ids []string
	token := ""
	for len(ids) < max {
		path := "/v1/customers?pageSize=100"
		if token != "" {
			path += "&pageToken=" + url.QueryEscape(token)
		}
		status, body, err := d.call(ctx, http.MethodGet, path, nil, "Authorization", "Bearer "+cfg.Token)
		if err != nil {
			return nil, err
		}
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextPageToken string `json:"nextPageToken"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			return nil, fmt.Errorf("list customers: %d %s", status, trim(body))
		}
		for _, c := range page.Items {
			ids = append(ids, c.ID)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	return ids[:min(len(ids), max)], nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func trim(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(bytes.TrimSpace(b))
}
