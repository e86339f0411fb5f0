package api

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// failureLimiter counts failed authentications per client address in a
// sliding minute. Past the limit, that address's failing requests are
// answered 429 with Retry-After instead of 401, for as long as it keeps
// failing: guessing tokens or signatures stays slow and visible.
//
// It never refuses a request whose credentials are valid. Behind a load
// balancer every client may share one address, and one sender of bad
// credentials must not lock out the agents and ISVs that sign correctly
// (hostile pass, issue 25): what fails is throttled, not who shares its
// address.
type failureLimiter struct {
	limit int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string][]time.Time // the last failures, oldest first, at most limit
	swept   time.Time
}

const failureWindow = time.Minute

// maxTrackedAddresses bounds the limiter's memory under a flood from
// many addresses: past it, every address's old failures are swept at
// once, and if that frees nothing the oldest entries are dropped.
const maxTrackedAddresses = 100_000

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

// failed records a failed authentication of the request's address and
// says whether that address is now over the limit, and until when it
// stays so if it fails no more.
func (l *failureLimiter) failed(r *http.Request) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	addr := clientAddress(r)
	times := append(l.recent(addr, now), now)
	if len(times) > l.limit {
		// Only the last limit+1 failures decide; older ones are dropped
		// so that a flood costs bounded memory.
		times = append(times[:0:0], times[len(times)-l.limit-1:]...)
	}
	l.clients[addr] = times
	if now.Sub(l.swept) > failureWindow || len(l.clients) > maxTrackedAddresses {
		l.sweep(now)
	}
	if len(times) <= l.limit {
		return 0, false
	}
	// Blocked until the oldest failure that counts leaves the window.
	return times[0].Add(failureWindow).Sub(now), true
}

// sweep drops expired failures of every address; the caller holds mu.
func (l *failureLimiter) sweep(now time.Time) {
	for a := range l.clients {
		l.recent(a, now)
	}
	l.swept = now
	for a := range l.clients {
		if len(l.clients) <= maxTrackedAddresses {
			break
		}
		delete(l.clients, a)
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

// refuseFailedAuthentication answers a request whose credentials failed:
// 401 with the given problem, or 429 once its address has failed more
// than the limit in the last minute.
func (s *Server) refuseFailedAuthentication(w http.ResponseWriter, r *http.Request, code, detail string) {
	if wait, blocked := s.authFailures.failed(r); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		writeProblem(w, r, http.StatusTooManyRequests, "too_many_failed_authentications",
			"Too many failed authentications from this address; retry later with valid credentials.")
		return
	}
	writeProblem(w, r, http.StatusUnauthorized, code, detail)
}
