package openapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SaaSSpec is the path of Microsoft's SaaS Fulfillment API v2, unchanged
// (../shared/data/saasapi.v2.json beside the repository).
func SaaSSpec() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "..", "..", "shared", "data", "saasapi.v2.json")
}

var (
	saasOnce     sync.Once
	saasCompiler *jsonschema.Compiler
	saasErr      error
)

// ValidateSaaS checks a JSON body against a component schema of
// Microsoft's spec, such as "Subscription" or "SaaSOperation".
func ValidateSaaS(schemaName string, body []byte) error {
	saasOnce.Do(func() {
		b, err := os.ReadFile(SaaSSpec())
		if err != nil {
			saasErr = err
			return
		}
		var doc any
		if saasErr = json.Unmarshal(b, &doc); saasErr != nil {
			return
		}
		saasCompiler = jsonschema.NewCompiler()
		saasCompiler.AssertFormat()
		saasErr = saasCompiler.AddResource("https://marketplaceapi.microsoft.com/saasapi.v2.json", doc)
	})
	if saasErr != nil {
		return saasErr
	}
	s, err := saasCompiler.Compile("https://marketplaceapi.microsoft.com/saasapi.v2.json#/components/schemas/" + schemaName)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}
