package meteringclient

import (
	"testing"

	"github.com/cspmarket/orchestrator/internal/tests/openapitest"
)

// specSHA256 is the spec's digest as ../shared/data/SOURCES.md records it:
// Microsoft's file, byte for byte.
const specSHA256 = "1c431b39d9a975bb86109dab27f3f717f3c0434320541c88dcfa041dd14cc047"

// TestTheClientIsGeneratedFromTheUnmodifiedSpec: meteringapi.v1.json is Microsoft's
// unchanged, and oapi-codegen makes client.gen.go from it again byte for
// byte.
func TestTheClientIsGeneratedFromTheUnmodifiedSpec(t *testing.T) {
	t.Parallel()
	openapitest.AssertGeneratedFromSpec(t, openapitest.MeteringSpec(), specSHA256, Generator, "client.gen.go")
}
