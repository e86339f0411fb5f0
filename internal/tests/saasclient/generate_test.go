package saasclient

import (
	"testing"

	"github.com/cspmarket/orchestrator/internal/tests/openapitest"
)

// specSHA256 is the spec's digest as ../shared/data/SOURCES.md records it:
// Microsoft's file, byte for byte.
const specSHA256 = "8a50259e1be653608d51002059de80ba072a7e45daaf969c349ced934931e019"

// TestTheClientIsGeneratedFromTheUnmodifiedSpec: saasapi.v2.json is Microsoft's
// unchanged, and oapi-codegen makes client.gen.go from it again byte for
// byte.
func TestTheClientIsGeneratedFromTheUnmodifiedSpec(t *testing.T) {
	t.Parallel()
	openapitest.AssertGeneratedFromSpec(t, openapitest.SaaSSpec(), specSHA256, Generator, "client.gen.go")
}
