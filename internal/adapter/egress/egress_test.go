package egress

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckURLRefusesNonPublicTargets(t *testing.T) {
	strict, dev := Policy{}, Policy{AllowLoopback: true}
	for _, raw := range []string{
		"http://169.254.169.254/latest/meta-data/", // cloud metadata
		"http://[fe80::1]/", "http://10.0.0.7/", "http://172.16.0.1/", "http://192.168.1.1/",
		"http://100.64.0.1/", "http://0.0.0.0:8080/", "http://0/", "http://[::]/", "http://[fc00::1]/",
		"http://[::ffff:10.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::a00:1]/", "http://[2002:a00:1::]/",
		"http://224.0.0.1/", "http://255.255.255.255/", "http://198.18.0.1/",
		"http://intranet/", "https://user:pass@example.com/hook", "ftp://example.com/", "file:///etc/passwd",
		"http:///nohost", "https://example.com/hook#frag", "https://" + strings.Repeat("a", URLMax) + ".com/",
		"http://127.1/", "http://0x7f.1/", "http://0251.0376.0251.0376/", "http://2130706433/", "http://017700000001/",
		"http://①②⑦.0.0.1/", "http://169.254.169.254。/", "http://example.com:0/", "http://example.com:99999/", "http://exa_mple.com/", "http://[::127.0.0.1]/",
	} {
		assert.Error(t, strict.CheckURL(raw), raw)
		assert.Error(t, dev.CheckURL(raw), "%s is refused even where loopback is allowed", raw)
	}
	for _, raw := range []string{"http://127.0.0.1:9000/hook", "http://[::1]/", "http://localhost:8080/", "http://api.localhost/", "http://[::ffff:127.0.0.1]/"} {
		assert.ErrorIs(t, strict.CheckURL(raw), ErrTargetNotAllowed, raw)
		assert.NoError(t, dev.CheckURL(raw), raw)
	}
	for _, raw := range []string{"https://partner.example.com/hooks/marketplace", "http://93.184.216.34/hook", "https://[2606:4700::1111]/"} {
		assert.NoError(t, strict.CheckURL(raw), raw)
	}
}

func TestCheckAddrEdges(t *testing.T) {
	p := Policy{}
	assert.NoError(t, p.CheckAddr(netip.MustParseAddr("8.8.8.8")))
	assert.NoError(t, p.CheckAddr(netip.MustParseAddr("100.63.255.255")), "just below carrier-grade NAT")
	assert.Error(t, p.CheckAddr(netip.MustParseAddr("100.127.255.255")), "top of carrier-grade NAT")
	assert.NoError(t, p.CheckAddr(netip.MustParseAddr("100.128.0.0")), "just above carrier-grade NAT")
	assert.Error(t, p.CheckAddr(netip.MustParseAddr("fe80::1%eth0")))
}

// The client checks the address it connects to, after resolution: a name
// that resolves to the host itself is refused at dial time even though it
// passed as a name (DNS rebinding).
func TestClientChecksResolvedAddressesAndFollowsNoRedirect(t *testing.T) {
	var hits int
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	t.Cleanup(target.Close)
	redirecting := httptest.NewServer(http.RedirectHandler(target.URL+"/internal", http.StatusFound))
	t.Cleanup(redirecting.Close)
	port := target.URL[strings.LastIndex(target.URL, ":"):]

	_, err := Policy{}.Client(time.Second).Get("http://localhost" + port + "/")
	require.Error(t, err)
	assert.Equal(t, FailureTargetNotAllowed, Category(err))
	_, err = Policy{}.Client(time.Second).Get(target.URL)
	assert.Equal(t, FailureTargetNotAllowed, Category(err))
	assert.Zero(t, hits)

	dev := Policy{AllowLoopback: true}.Client(time.Second)
	resp, err := dev.Get(redirecting.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode, "the redirect is the answer")
	assert.Equal(t, FailureRedirect, StatusCategory(resp.StatusCode))
	assert.Zero(t, hits, "the redirect's target was never called")

	target.Close()
	_, err = dev.Get(target.URL)
	require.Error(t, err)
	assert.Equal(t, FailureConnection, Category(err), "a closed port is only 'connection failed'")
}
