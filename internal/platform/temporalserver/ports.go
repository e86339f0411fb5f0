package temporalserver

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// The embedded server's ports are chosen by this process and bound later
// by the Temporal server, whose failure to bind ends the process (it logs
// fatally). A port taken from the kernel's ephemeral range (by listening
// on port 0) can meanwhile become the source port of any outgoing
// connection, of this process or another: that killed a CI run ("bind:
// address already in use"). So ports are drawn below that range, where
// the kernel never puts outgoing connections, and never twice in one
// process.
const (
	// lowestPort is the bottom of the range drawn from.
	lowestPort = 20000
	// portSpan is how many ports the range has at least; fewer, and
	// ports come from the ephemeral range as before.
	portSpan = 2000
)

var (
	portsMu sync.Mutex
	claimed = map[int]bool{}
)

// portRange is where ports are drawn from: [lowestPort, the ephemeral
// range's bottom), or ok false when that is too narrow.
func portRange() (lo, hi int, ok bool) {
	// Without /proc the range is not read: Linux's default bottom is
	// assumed, right for macOS and Windows (49152 up), not for FreeBSD
	// (10000 up), where a port may come from the range as before.
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				hi = n
			}
		}
	}
	return lowestPort, hi, hi-lowestPort >= portSpan
}

// freePort finds a port free on ip now, below the ephemeral range.
func freePort(ip string) (int, error) { return freePortWith(ip, 0) }

// freePortPair finds a free port p whose p+10 (the frontend's HTTP port by
// convention) is free too.
func freePortPair(ip string) (int, error) { return freePortWith(ip, 10) }

func freePortWith(ip string, alsoPlus int) (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	lo, hi, ok := portRange()
	if ok {
		for range 200 {
			p := lo + rand.IntN(hi-lo-alsoPlus)
			if claimed[p] || (alsoPlus > 0 && claimed[p+alsoPlus]) {
				continue
			}
			if checkPortFree(ip, p) != nil || (alsoPlus > 0 && checkPortFree(ip, p+alsoPlus) != nil) {
				continue
			}
			claimed[p] = true
			if alsoPlus > 0 {
				claimed[p+alsoPlus] = true
			}
			return p, nil
		}
	}
	// No room below the ephemeral range (or all of it taken): the
	// kernel's choice, as before.
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if claimed[p] || (alsoPlus > 0 && claimed[p+alsoPlus]) {
			continue
		}
		if alsoPlus == 0 || (p+alsoPlus <= 65535 && checkPortFree(ip, p+alsoPlus) == nil) {
			claimed[p] = true
			if alsoPlus > 0 {
				claimed[p+alsoPlus] = true
			}
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free pair of ports p and p+%d on %s", alsoPlus, ip)
}

func checkPortFree(ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}
