// Package isvsim plays an ISV against a running product, over HTTP only,
// as a real publisher would: it registers its notification endpoint,
// receives purchase notifications, resolves the authorization code, assigns
// licences (subscription.provisioned) and confirms fulfillment
// (subscription.activated) after configurable delays, and approves or
// rejects cancellation requests. `go run ./starter isv-sim` runs it.
package isvsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// Config describes the simulated publisher.
type Config struct {
	API            string // the product's base URL, e.g. http://127.0.0.1:8080
	Listen         string // where notifications are received, e.g. 127.0.0.1:8090
	PublisherID    string
	Secret         []byte
	ProvisionAfter time.Duration
	ActivateAfter  time.Duration
	// Cancellations and Changes (of plan or quantity): "approve",
	// "reject" or "ignore" (let them lapse); default approve.
	Cancellations, Changes string
	// Hold, when set, keeps every purchase waiting for its ISV until it
	// is closed: a test that must see "Action needed" first holds the
	// ISV instead of racing its ProvisionAfter.
	Hold   <-chan struct{}
	Logger *slog.Logger
}

// Simulator is a running simulated ISV.
type Simulator struct {
	cfg    Config
	srv    *http.Server
	addr   string
	client *http.Client
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	seen map[string]bool
}

// Start listens for notifications and registers the endpoint with the product.
func Start(ctx context.Context, cfg Config) (*Simulator, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for name, answer := range map[string]*string{"cancellations": &cfg.Cancellations, "changes": &cfg.Changes} {
		if *answer == "" {
			*answer = "approve"
		}
		switch *answer {
		case "approve", "reject", "ignore":
		default:
			return nil, fmt.Errorf("%s %q: want approve, reject or ignore", name, *answer)
		}
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	s := &Simulator{cfg: cfg, addr: l.Addr().String(), client: &http.Client{Timeout: 15 * time.Second}, seen: map[string]bool{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /notifications", s.receive)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	var resp struct{ URL string }
	if err := s.call(ctx, http.MethodPut, "/isv/v1/notification-endpoint", map[string]string{"url": "http://" + s.addr + "/notifications"}, &resp); err != nil {
		s.Stop()
		return nil, fmt.Errorf("register the notification endpoint: %w", err)
	}
	cfg.Logger.Info("ISV simulator ready", "publisher", cfg.PublisherID, "notifications", resp.URL)
	return s, nil
}

// Addr is where the simulator receives notifications.
func (s *Simulator) Addr() string { return s.addr }

// Stop ends the simulator and waits for its pending actions.
func (s *Simulator) Stop() {
	s.cancel()
	_ = s.srv.Shutdown(context.Background())
	s.wg.Wait()
}

// receive takes one notification: checks its signature, drops repeats,
// and acts on it in the background (the product wants a quick 2xx).
func (s *Simulator) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable", http.StatusBadRequest)
		return
	}
	if err := signature.Verify(r.Header.Get(signature.Header), [][]byte{s.cfg.Secret}, body, time.Now(), signature.Tolerance); err != nil {
		s.cfg.Logger.Warn("ISV simulator refused a notification", "reason", err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var n wire.OutgoingNotification
	if err := json.Unmarshal(body, &n); err != nil {
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	dup := s.seen[n.ID]
	s.seen[n.ID] = true
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	if dup {
		return
	}
	s.cfg.Logger.Info("ISV simulator received", "type", n.Type, "subscription", n.SubscriptionID, "notification", n.ID)
	switch n.Type {
	case "subscription.purchased":
		s.later(func() error { return s.fulfill(n) })
	case "subscription.cancellation_requested":
		s.later(func() error {
			return s.answer(n, s.cfg.Cancellations, lifecycle.EventCancellationApproved, lifecycle.EventCancellationRejected)
		})
	case "subscription.change_requested":
		s.later(func() error {
			return s.answer(n, s.cfg.Changes, lifecycle.EventChangeApproved, lifecycle.EventChangeRejected)
		})
	}
}

func (s *Simulator) later(fn func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, context.Canceled) {
			s.cfg.Logger.Error("ISV simulator action failed", "error", err)
		}
	}()
}

// fulfill is what an ISV does with a purchase: resolve the code, assign
// licences, confirm fulfillment.
func (s *Simulator) fulfill(n wire.OutgoingNotification) error {
	if n.PublisherLink == nil || n.PublisherLink.AuthorizationCode == "" {
		return fmt.Errorf("purchase %s came without an authorization code", n.SubscriptionID)
	}
	var resolved wire.Resolved
	if err := s.call(s.ctx, http.MethodPost, "/isv/v1/subscriptions/resolve", map[string]string{"authorizationCode": n.PublisherLink.AuthorizationCode}, &resolved); err != nil {
		return fmt.Errorf("resolve %s: %w", n.SubscriptionID, err)
	}
	if s.cfg.Hold != nil {
		select {
		case <-s.cfg.Hold:
		case <-s.ctx.Done():
			return context.Canceled
		}
	}
	if !s.sleep(s.cfg.ProvisionAfter) {
		return context.Canceled
	}
	if err := s.event("prov-"+resolved.ID, lifecycle.EventProvisioned, resolved.ID, wire.ISVEventData{}); err != nil {
		return err
	}
	if !s.sleep(s.cfg.ActivateAfter) {
		return context.Canceled
	}
	// The activation confirms what the partner has now: resolved again,
	// since the partner may have changed the quantity meanwhile (naming
	// another one is refused, 409 activation_mismatch).
	if err := s.call(s.ctx, http.MethodPost, "/isv/v1/subscriptions/resolve", map[string]string{"authorizationCode": n.PublisherLink.AuthorizationCode}, &resolved); err != nil {
		return fmt.Errorf("resolve %s again: %w", n.SubscriptionID, err)
	}
	return s.event("act-"+resolved.ID, lifecycle.EventActivated, resolved.ID, wire.ISVEventData{PlanID: resolved.PlanID, Quantity: resolved.Quantity})
}

// answer approves or rejects what a notification asks (a cancellation,
// a change), naming the operation it is about, as configured.
func (s *Simulator) answer(n wire.OutgoingNotification, how, approved, rejected string) error {
	if !s.sleep(s.cfg.ProvisionAfter) {
		return context.Canceled
	}
	var about struct {
		Operation struct {
			ID string `json:"id"`
		} `json:"operation"`
	}
	_ = json.Unmarshal(n.Data, &about)
	data := wire.ISVEventData{OperationID: about.Operation.ID}
	switch how {
	case "approve":
		return s.event("ok-"+n.ID, approved, n.SubscriptionID, data)
	case "reject":
		return s.event("no-"+n.ID, rejected, n.SubscriptionID, data)
	}
	return nil
}

func (s *Simulator) event(id, typ, subscriptionID string, data wire.ISVEventData) error {
	body := wire.ISVEvent{ID: id, Type: typ, SubscriptionID: subscriptionID, Data: data}
	if err := s.call(s.ctx, http.MethodPost, "/isv/v1/webhook", body, nil); err != nil {
		return fmt.Errorf("%s for %s: %w", typ, subscriptionID, err)
	}
	s.cfg.Logger.Info("ISV simulator sent", "type", typ, "subscription", subscriptionID)
	return nil
}

func (s *Simulator) sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-s.ctx.Done():
		return false
	}
}

// call sends a signed request to the ISV API, retrying 503s and network
// errors a few times as a well-behaved ISV would.
func (s *Simulator) call(ctx context.Context, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, s.cfg.API+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(signature.PublisherHeader, s.cfg.PublisherID)
		req.Header.Set(signature.Header, signature.Sign(s.cfg.Secret, time.Now(), b))
		resp, err := s.client.Do(req)
		if err != nil {
			last = err
			continue
		}
		respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			last = fmt.Errorf("%s %s: %s", method, path, resp.Status)
			continue
		}
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, respBody)
		}
		if out != nil {
			return json.Unmarshal(respBody, out)
		}
		return nil
	}
	return last
}
