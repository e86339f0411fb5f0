package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/tests/openapitest"
)

// TestOpenAPIDescribesExactlyTheRoutes: every route the server registers is
// in openapi.yaml, and the document has no route the server lacks.
func TestOpenAPIDescribesExactlyTheRoutes(t *testing.T) {
	doc, err := openapitest.Document()
	require.NoError(t, err)
	assert.Equal(t, "3.1.0", doc["openapi"])
	documented := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{}
	for _, rt := range (&Server{}).Routes() {
		registered[rt.Method+" "+rt.Pattern] = true
	}
	assert.Equal(t, keys(registered), keys(documented))
}

// TestOpenAPIExamplesValidate: every example in the document validates
// against the schema next to it.
func TestOpenAPIExamplesValidate(t *testing.T) {
	doc, err := openapitest.Document()
	require.NoError(t, err)
	checked := 0
	var walk func(pointer string, node any)
	walk = func(pointer string, node any) {
		m, ok := node.(map[string]any)
		if !ok {
			return
		}
		if schema, ok := m["schema"]; ok {
			schemaPointer := pointer + "/schema"
			if ref, ok := schema.(map[string]any)["$ref"].(string); ok {
				schemaPointer = ref
			}
			var examples []any
			if ex, ok := m["example"]; ok {
				examples = append(examples, ex)
			}
			if exs, ok := m["examples"].(map[string]any); ok {
				for _, ex := range exs {
					examples = append(examples, ex.(map[string]any)["value"])
				}
			}
			for _, ex := range examples {
				b, _ := json.Marshal(ex)
				assert.NoError(t, openapitest.ValidatePointer(schemaPointer, b), "example at %s", pointer)
				checked++
			}
		}
		for k, v := range m {
			walk(pointer+"/"+escape(k), v)
		}
	}
	walk("#", doc)
	assert.GreaterOrEqual(t, checked, 8, "examples were not found")
}

func TestOpenAPIIsServed(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, err := http.Get(srv.URL + "/openapi.yaml")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/yaml", resp.Header.Get("Content-Type"))
}

func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIDeclaresTheStatusesEveryOperationCanAnswer: what the server's
// middleware and helpers answer on any route is declared on each
// operation, with Retry-After where the server sends it.
func TestOpenAPIDeclaresTheStatusesEveryOperationCanAnswer(t *testing.T) {
	doc, err := openapitest.Document()
	require.NoError(t, err)
	paths := doc["paths"].(map[string]any)
	for _, rt := range (&Server{}).Routes() {
		op := paths[rt.Pattern].(map[string]any)[strings.ToLower(rt.Method)].(map[string]any)
		responses := op["responses"].(map[string]any)
		want := []string{"400", "500"} // bad bytes in the path or query; a bug
		if rt.Pattern != "/openapi.yaml" {
			want = append(want, "503") // the database or Temporal unavailable
		}
		switch rt.Auth {
		case "bearer":
			want = append(want, "401", "403", "429")
		case "signature":
			want = append(want, "401", "429")
		}
		if rt.Method != http.MethodGet {
			want = append(want, "413", "415", "422")
		}
		if strings.Contains(rt.Pattern, "{") {
			want = append(want, "404")
		}
		for _, code := range want {
			resp, ok := responses[code].(map[string]any)
			if !assert.True(t, ok, "%s %s does not declare %s", rt.Method, rt.Pattern, code) {
				continue
			}
			if code == "429" || code == "503" {
				assert.Equal(t, "#/components/responses/RetryLater", resp["$ref"], "%s %s %s has Retry-After", rt.Method, rt.Pattern, code)
			}
		}
	}
}

// TestOpenAPIHasNoKeysMadeByFlowStyleCommas: an unquoted comma in a flow
// mapping's description makes a stray key ("positive for both kinds:
// null"); schema keywords and property names never hold a space.
func TestOpenAPIHasNoKeysMadeByFlowStyleCommas(t *testing.T) {
	doc, err := openapitest.Document()
	require.NoError(t, err)
	var walk func(pointer string, node any)
	walk = func(pointer string, node any) {
		switch n := node.(type) {
		case map[string]any:
			for k, v := range n {
				if k == "example" || k == "examples" || k == "paths" && pointer == "#" {
					if k == "paths" {
						for p, item := range v.(map[string]any) {
							walk(pointer+"/paths/"+escape(p), item)
						}
					}
					continue
				}
				assert.NotContains(t, k, " ", "stray key at %s", pointer)
				walk(pointer+"/"+escape(k), v)
			}
		case []any:
			for _, v := range n {
				walk(pointer, v)
			}
		}
	}
	walk("#", doc)
}
