// Package signature signs and verifies marketplace webhooks: the header
// X-Marketplace-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>.
// Binding the timestamp into the MAC and bounding its age stops replays;
// MACs are compared in constant time.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of the contract.
const (
	Header          = "X-Marketplace-Signature"
	PublisherHeader = "X-Marketplace-Publisher"
)

// Tolerance is how far a signature's timestamp may be from now, either way.
const Tolerance = 300 * time.Second

// Verification failures. All of them answer 401; the distinction is for logs.
var (
	ErrMalformed = errors.New("signature header malformed")
	ErrStale     = errors.New("signature timestamp outside the tolerance")
	ErrMismatch  = errors.New("signature does not match")
	ErrNoSecret  = errors.New("no secret for this sender")
)

// MAC is the hex HMAC-SHA256 of "<t>.<body>" under secret.
func MAC(secret []byte, unix int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(unix, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign returns the header value for body at time t.
func Sign(secret []byte, t time.Time, body []byte) string {
	unix := t.Unix()
	return fmt.Sprintf("t=%d,v1=%s", unix, MAC(secret, unix, body))
}

// Verify checks a header against the body with any of the sender's active
// secrets (two during a rotation). Several v1 entries are allowed, so a
// sender can sign with its old and new secret at once.
func Verify(header string, secrets [][]byte, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secrets) == 0 {
		return ErrNoSecret
	}
	var (
		unix   int64
		haveT  bool
		macs   [][]byte
		fields = strings.Split(header, ",")
	)
	if len(fields) > 8 {
		return ErrMalformed
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return ErrMalformed
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || haveT {
				return ErrMalformed
			}
			unix, haveT = n, true
		case "v1":
			mac, err := hex.DecodeString(v)
			if err != nil || len(mac) != sha256.Size {
				return ErrMalformed
			}
			macs = append(macs, mac)
		}
	}
	if !haveT || len(macs) == 0 {
		return ErrMalformed
	}
	age := now.Sub(time.Unix(unix, 0))
	if age > tolerance || age < -tolerance {
		return ErrStale
	}
	for _, secret := range secrets {
		want, _ := hex.DecodeString(MAC(secret, unix, body))
		for _, got := range macs {
			if hmac.Equal(want, got) {
				return nil
			}
		}
	}
	return ErrMismatch
}
