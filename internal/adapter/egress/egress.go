// Package egress decides where the product may send HTTP requests of its
// own (notifications to partners' and ISVs' endpoints), so that an
// endpoint URL cannot turn the product into a proxy to internal services
// (SSRF): cloud metadata, private networks, the host itself. A URL is
// checked when it is registered, and every address is checked again when a
// delivery connects, after DNS resolution, so a name that later resolves
// elsewhere (DNS rebinding) gains nothing. Redirects are never followed.
package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Policy says which targets are allowed: public addresses always,
// loopback only when AllowLoopback is set (the embedded default, for the
// ISV simulator on the same machine), anything else never.
type Policy struct {
	AllowLoopback bool
}

// ErrTargetNotAllowed is a target outside the policy.
var ErrTargetNotAllowed = errors.New("target not allowed")

// URLMax is the longest endpoint URL taken.
const URLMax = 2000

// CheckURL checks an endpoint URL before it is stored: an absolute http(s)
// URL without credentials, whose host is not a non-public address (a name
// is checked again, resolved, at each delivery).
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || len(raw) > URLMax:
		return fmt.Errorf("must be an absolute http(s) URL of at most %d characters", URLMax)
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("must use http or https")
	case u.Host == "" || u.Hostname() == "" || u.Opaque != "":
		return errors.New("must name a host")
	case u.User != nil:
		return errors.New("must not carry credentials")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not carry a fragment")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("must have a port from 1 to 65535")
		}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(ip)
	}
	if !hostnamePattern.MatchString(host) {
		// Non-ASCII names (IDNA folds some to digits and dots) and
		// anything else a resolver might read differently.
		return fmt.Errorf("host %q must be an IP address or an ASCII host name (punycode for international names)", host)
	}
	if numericHost.MatchString(host) {
		// 127.1, 0x7f.1, 0251.0376.0251.0376: IPv4 in the spellings
		// inet_aton accepts, which resolvers and proxies may honour.
		return fmt.Errorf("host %q is an IPv4 address in a non-standard spelling: %w", host, ErrTargetNotAllowed)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return p.CheckAddr(netip.IPv6Loopback())
	}
	if !strings.Contains(host, ".") {
		// A single-label name resolves through search domains to
		// whatever the local network calls it.
		return fmt.Errorf("host %q is not a public name: %w", host, ErrTargetNotAllowed)
	}
	return nil
}

var (
	hostnamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	// numericHost is a name whose labels are all numbers (decimal, octal
	// or hex): no registrable name looks like that.
	numericHost = regexp.MustCompile(`^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*$`)
)

// nonPublic are the ranges no notification may reach besides those netip
// classifies (loopback, private, link-local, multicast, unspecified).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated): an IPv4 address inside
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: an IPv4 address inside
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments, Teredo
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: an IPv4 address inside
}

// CheckAddr checks one address.
func (p Policy) CheckAddr(ip netip.Addr) error {
	ip = ip.Unmap().WithZone("")
	if ip.IsLoopback() {
		if p.AllowLoopback {
			return nil
		}
		return fmt.Errorf("loopback address %s: %w", ip, ErrTargetNotAllowed)
	}
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return fmt.Errorf("non-public address %s: %w", ip, ErrTargetNotAllowed)
	}
	for _, prefix := range nonPublic {
		if prefix.Contains(ip) {
			return fmt.Errorf("non-public address %s: %w", ip, ErrTargetNotAllowed)
		}
	}
	return nil
}

// Client is an HTTP client that connects only to addresses the policy
// allows (checked on the resolved address of every connection), ignores
// proxy settings (a proxy would hide the real target) and follows no
// redirect (the 3xx is the answer).
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("address %q: %w", address, ErrTargetNotAllowed)
			}
			return p.CheckAddr(ap.Addr())
		},
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Failure categories of a delivery: coarse on purpose, since the outbox
// shows them to the endpoint's owner, and the raw error of a connection
// (refused, reset, which port) would map the product's network for anyone
// who can set an endpoint. Operators find the raw error in the logs.
const (
	FailureTargetNotAllowed = "target_not_allowed"
	FailureTimeout          = "timeout"
	FailureDNS              = "name_not_resolved"
	FailureTLS              = "tls_failed"
	FailureConnection       = "connection_failed"
	FailureRedirect         = "redirect_not_followed"
	FailureHTTPStatus       = "http_status"
)

// Category is the coarse category of a failed request.
func Category(err error) string {
	var dnsErr *net.DNSError
	var tlsErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.Is(err, ErrTargetNotAllowed):
		return FailureTargetNotAllowed
	case errors.As(err, &dnsErr):
		return FailureDNS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return FailureTimeout
	case errors.As(err, &tlsErr), errors.As(err, &recordErr):
		return FailureTLS
	default:
		return FailureConnection
	}
}

// StatusCategory is the category of an answer outside 2xx.
func StatusCategory(code int) string {
	if code >= 300 && code < 400 {
		return FailureRedirect
	}
	return FailureHTTPStatus
}
