package signature

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestVerify(t *testing.T) {
	secret := []byte("dev-isv-secret")
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"e1","type":"subscription.activated"}`)
	good := Sign(secret, now, body)

	assert.NoError(t, Verify(good, [][]byte{secret}, body, now, Tolerance))
	assert.NoError(t, Verify(good, [][]byte{[]byte("new-secret"), secret}, body, now, Tolerance), "either active secret verifies")
	assert.NoError(t, Verify(good, [][]byte{secret}, body, now.Add(299*time.Second), Tolerance))

	assert.ErrorIs(t, Verify(good, [][]byte{[]byte("wrong")}, body, now, Tolerance), ErrMismatch)
	assert.ErrorIs(t, Verify(good, [][]byte{secret}, []byte(`{"id":"e1","type":"subscription.suspended"}`), now, Tolerance), ErrMismatch, "body altered after signing")
	assert.ErrorIs(t, Verify(good, [][]byte{secret}, body, now.Add(301*time.Second), Tolerance), ErrStale)
	assert.ErrorIs(t, Verify(Sign(secret, now.Add(10*time.Minute), body), [][]byte{secret}, body, now, Tolerance), ErrStale, "future timestamps too")
	assert.ErrorIs(t, Verify(good, nil, body, now, Tolerance), ErrNoSecret)
	// Every byte of the MAC counts, the last as much as the first.
	for _, i := range []int{len(good) - 1, len(good) - 33, len(good) - 64} {
		forged := []byte(good)
		if forged[i] == '0' {
			forged[i] = '1'
		} else {
			forged[i] = '0'
		}
		assert.ErrorIs(t, Verify(string(forged), [][]byte{secret}, body, now, Tolerance), ErrMismatch, "byte %d altered", i)
	}

	for _, bad := range []string{"", "t=1", "v1=00", "t=abc,v1=00", "t=1800000000,v1=zz", "garbage", "t=1800000000,v1=abcd"} {
		assert.ErrorIs(t, Verify(bad, [][]byte{secret}, body, now, Tolerance), ErrMalformed, bad)
	}
}

func TestSignMatchesTheContractFormula(t *testing.T) {
	// HMAC-SHA256("k", "1.x"), computed independently with openssl:
	// printf '1.x' | openssl dgst -sha256 -hmac k
	assert.Equal(t, "t=1,v1=976cb87e4f568d1c0f03f32859e90af8597cf00b978ba37c229c97d3a15b8449", Sign([]byte("k"), time.Unix(1, 0), []byte("x")))
}
