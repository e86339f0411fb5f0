package meteringclient

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/tests/openapitest"
)

// specSHA256 is the spec's digest as ../shared/data/SOURCES.md records it:
// Microsoft's file, byte for byte.
const specSHA256 = "1c431b39d9a975bb86109dab27f3f717f3c0434320541c88dcfa041dd14cc047"

// TestTheClientIsGeneratedFromTheUnmodifiedSpec: the spec is Microsoft's
// unchanged, and oapi-codegen makes client.gen.go from it again byte for
// byte (run in a module of its own, as an ISV would).
func TestTheClientIsGeneratedFromTheUnmodifiedSpec(t *testing.T) {
	t.Parallel()
	spec, err := os.ReadFile(openapitest.MeteringSpec())
	require.NoError(t, err)
	sum := sha256.Sum256(spec)
	require.Equal(t, specSHA256, hex.EncodeToString(sum[:]), "meteringapi.v1.json is not Microsoft's file")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module regenerate\n\ngo 1.26\n"), 0o644))
	out := filepath.Join(dir, "client.gen.go")
	args := append([]string{"run"}, Generator...)
	cmd := exec.Command("go", append(args, "-o", out, openapitest.MeteringSpec())...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", output)
	want, err := os.ReadFile(out)
	require.NoError(t, err)
	got, err := os.ReadFile("client.gen.go")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "client.gen.go is not what oapi-codegen makes from the spec: regenerate it")
}
