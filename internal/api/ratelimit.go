package api

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// failureLimiter counts failed authentications per client address in a
// sliding minute: past the limit, the client is answered 429 until the
// window that filled up has passed, whatever it sends. It keeps guessing
// tokens or signatures slow; correct credentials are never counted.
type failureLimiter struct {
	limit int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string][]time.Time // failure times, oldest first
	swept   time.Time
}

const failureWindow = time.Minute

func newFailureLimiter(limit int, now func() time.Time) *failureLimiter {
	if limit <= 0 {
		limit = 30
	}
	return &failureLimiter{limit: limit, now: now, clients: map[string][]time.Time{}}
}

// clientAddress is the peer's IP: proxies' headers are not trusted, since
// anyone can set them.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether the client must wait, and how long.
func (l *failureLimiter) blocked(r *http.Request) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	times := l.recent(clientAddress(r), now)
	if len(times) < l.limit {
		return 0, false
	}
	return times[0].Add(failureWindow).Sub(now), true
}

// failed records a failed authentication.
func (l *failureLimiter) failed(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	addr := clientAddress(r)
	l.clients[addr] = append(l.recent(addr, now), now)
	if now.Sub(l.swept) > failureWindow {
		for a := range l.clients {
			l.recent(a, now)
		}
		l.swept = now
	}
}

// recent drops failures older than the window; the caller holds mu.
func (l *failureLimiter) recent(addr string, now time.Time) []time.Time {
	times := l.clients[addr]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= failureWindow {
		i++
	}
	times = times[i:]
	if len(times) == 0 {
		delete(l.clients, addr)
		return nil
	}
	l.clients[addr] = times
	return times
}

// refuseWhileBlocked answers 429 when the client has failed too often.
func (s *Server) refuseWhileBlocked(w http.ResponseWriter, r *http.Request) bool {
	wait, blocked := s.authFailures.blocked(r)
	if !blocked {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	writeProblem(w, r, http.StatusTooManyRequests, "too_many_failed_authentications",
		"Too many failed authentications from this address; retry later.")
	return true
}
