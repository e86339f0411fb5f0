package secretbox

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealOpenRoundTrip(t *testing.T) {
	box, err := New(bytes.Repeat([]byte{7}, KeySize))
	require.NoError(t, err)
	sealed, err := box.Seal([]byte("dev-isv-secret"))
	require.NoError(t, err)
	assert.NotContains(t, string(sealed), "dev-isv-secret")
	plain, err := box.Open(sealed)
	require.NoError(t, err)
	assert.Equal(t, "dev-isv-secret", string(plain))

	other, err := New(bytes.Repeat([]byte{8}, KeySize))
	require.NoError(t, err)
	_, err = other.Open(sealed)
	assert.Error(t, err, "another key must not open the secret")
}

func TestKeyFileIsCreatedOnceAndReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.key")
	first, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	second, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	assert.Equal(t, first, second)
	assert.Len(t, first, KeySize)
}

func TestParseKeyRejectsWrongLength(t *testing.T) {
	_, err := ParseKey("c2hvcnQ=")
	assert.Error(t, err)
	_, err = ParseKey("not base64 at all!")
	assert.Error(t, err)
}
