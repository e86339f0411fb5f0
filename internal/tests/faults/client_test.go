package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/signature"
)

// tally counts what the suite saw; it is printed as the run's figures.
type tally struct {
	requests, transportErrors, unavailable, internalErrors atomic.Int64
	forgedRefused, forgedAccepted                          atomic.Int64
	duplicateWebhooks, staleWebhooks, storms, malformed    atomic.Int64
	kills, temporalRestarts, stalls, terminations          atomic.Int64
	usageBatches, usageDuplicates                          atomic.Int64
}

// apiClient is a partner's or an ISV's HTTP client that retries what a
// careful client retries: transport errors (a killed process), 503 and
// 429, with the same request (and so the same Idempotency-Key).
type apiClient struct {
	t     *testing.T
	base  string
	http  *http.Client
	tally *tally
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %d %s: %v", a.status, a.body, err)
	}
}

// once sends one request; err is a transport error.
func (c *apiClient) once(method, path string, body []byte, headers ...string) (answer, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c.tally.requests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		c.tally.transportErrors.Add(1)
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tally.transportErrors.Add(1)
		return answer{}, err
	}
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		c.tally.unavailable.Add(1)
	case resp.StatusCode >= 500:
		c.tally.internalErrors.Add(1)
		c.t.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, b)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// retryable are the answers a client waits out.
func retryable(status int) bool {
	return status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests || status == http.StatusBadGateway
}

// send retries a request until it gets an answer that is not retryable,
// for up to four minutes (a stall, a restart of every process).
func (c *apiClient) send(method, path string, body []byte, headers ...string) answer {
	c.t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		a, err := c.once(method, path, body, headers...)
		if err == nil && !retryable(a.status) {
			return a
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s %s: no answer within 4 minutes (last: %d %v)", method, path, a.status, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (c *apiClient) partner(method, path string, v any, headers ...string) answer {
	c.t.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	return c.send(method, path, body, append([]string{"Authorization", "Bearer dev-admin-token", "Content-Type", "application/json"}, headers...)...)
}

// isv sends a signed ISV request, signed at `at` with secret, retried
// while the product is unreachable (the signature is made once: a retry
// is a replay of the same bytes, as an ISV's queue would send).
func (c *apiClient) isv(path string, v any, secret string, at time.Time) answer {
	c.t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.send(http.MethodPost, path, body, "Content-Type", "application/json",
		signature.PublisherHeader, "isv-demo", signature.Header, signature.Sign([]byte(secret), at, body))
}

// errStuck says a subscription did not reach the state its events imply.
var errStuck = errors.New("stuck")
