package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// UsageResult is what the usage phase measured: batches of Microsoft's
// metering API (/api/batchUsageEvent) posted at the run's concurrency.
type UsageResult struct {
	Events, Batches int
	// Statuses counts the events' answers (Accepted, Duplicate, ...).
	Statuses map[string]int
	Errors   int
	Elapsed  time.Duration
	Batch    []time.Duration // sorted
	Samples  []string
}

// EventRate is events answered per second.
func (r UsageResult) EventRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// RunUsage posts one event of quantity per subscription and dimension, effective now,
// in batches of 25 that mix subscriptions (as an ISV's metering job
// would), through Microsoft's batchUsageEvent with the publisher's token.
func RunUsage(ctx context.Context, cfg Config, subscriptionUUIDs []string, dimensions []string, quantity float64) (UsageResult, error) {
	cfg.defaults()
	d := &driver{cfg: cfg}
	if err := d.publisherToken(ctx); err != nil {
		return UsageResult{}, err
	}
	at := time.Now().UTC().Format(time.RFC3339Nano)
	var events []map[string]any
	for _, sub := range subscriptionUUIDs {
		for _, dim := range dimensions {
			events = append(events, map[string]any{"resourceId": sub, "dimension": dim, "quantity": quantity, "effectiveStartTime": at, "planId": cfg.Plan})
		}
	}
	var batches [][]map[string]any
	for len(events) > 0 {
		n := min(25, len(events))
		batches = append(batches, events[:n])
		events = events[n:]
	}
	res := UsageResult{Statuses: map[string]int{}}
	var mu sync.Mutex
	work := make(chan []map[string]any)
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range work {
				began := time.Now()
				status, body, err := d.call(ctx, http.MethodPost, "/api/batchUsageEvent?api-version=2018-08-31", map[string]any{"request": batch},
					"Authorization", "Bearer "+d.token)
				took := time.Since(began)
				var answer struct {
					Result []struct {
						Status string `json:"status"`
					} `json:"result"`
				}
				if err == nil && status == http.StatusOK {
					err = json.Unmarshal(body, &answer)
				} else if err == nil {
					err = fmt.Errorf("batch answered %d: %s", status, trim(body))
				}
				mu.Lock()
				res.Batches++
				if err != nil {
					res.Errors++
					if len(res.Samples) < 5 {
						res.Samples = append(res.Samples, err.Error())
					}
				} else {
					res.Batch = append(res.Batch, took)
					res.Events += len(answer.Result)
					for _, r := range answer.Result {
						res.Statuses[r.Status]++
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, b := range batches {
		select {
		case work <- b:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(res.Batch)
	return res, ctx.Err()
}
