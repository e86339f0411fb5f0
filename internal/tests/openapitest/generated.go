package openapitest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// AssertGeneratedFromSpec checks that spec is the file whose sha256 is
// specSHA256 (Microsoft's, as ../shared/data/SOURCES.md records it) and
// that generator (`go run` arguments, the spec's path added last) makes
// generated from it again byte for byte, in a module of its own, as an
// ISV would run it.
func AssertGeneratedFromSpec(t *testing.T, spec, specSHA256 string, generator []string, generated string) {
	t.Helper()
	b, err := os.ReadFile(spec)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	require.Equal(t, specSHA256, hex.EncodeToString(sum[:]), "%s is not Microsoft's file", filepath.Base(spec))

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module regenerate\n\ngo 1.26\n"), 0o644))
	out := filepath.Join(dir, "client.gen.go")
	args := append([]string{"run"}, generator...)
	cmd := exec.Command("go", append(args, "-o", out, spec)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", output)
	want, err := os.ReadFile(out)
	require.NoError(t, err)
	got, err := os.ReadFile(generated)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "%s is not what the generator makes from the spec: regenerate it", generated)
}
