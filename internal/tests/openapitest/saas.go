package openapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SaaSSpec is the path of Microsoft's SaaS Fulfillment API v2, unchanged
// (../shared/data/saasapi.v2.json beside the repository).
func SaaSSpec() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "..", "..", "shared", "data", "saasapi.v2.json")
}

// MeteringSpec is the path of Microsoft's marketplace metering API,
// unchanged (../shared/data/meteringapi.v1.json beside the repository).
func MeteringSpec() string {
	return filepath.Join(filepath.Dir(SaaSSpec()), "meteringapi.v1.json")
}

var (
	saasOnce     sync.Once
	saasCompiler *jsonschema.Compiler
	saasErr      error
)

// ValidateSaaS checks a JSON body against a component schema of
// Microsoft's spec, such as "Subscription" or "SaaSOperation"; schemas of
// the metering API are named "metering:UsageEventOkResponse".
func ValidateSaaS(schemaName string, body []byte) error {
	saasOnce.Do(func() {
		saasCompiler = jsonschema.NewCompiler()
		saasCompiler.AssertFormat()
		for url, path := range map[string]string{saasURL: SaaSSpec(), meteringURL: MeteringSpec()} {
			b, err := os.ReadFile(path)
			if err != nil {
				saasErr = err
				return
			}
			var doc any
			if saasErr = json.Unmarshal(b, &doc); saasErr != nil {
				return
			}
			if saasErr = saasCompiler.AddResource(url, doc); saasErr != nil {
				return
			}
		}
	})
	if saasErr != nil {
		return saasErr
	}
	url := saasURL
	if name, ok := strings.CutPrefix(schemaName, "metering:"); ok {
		url, schemaName = meteringURL, name
	}
	s, err := saasCompiler.Compile(url + "#/components/schemas/" + schemaName)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}

const (
	saasURL     = "https://marketplaceapi.microsoft.com/saasapi.v2.json"
	meteringURL = "https://marketplaceapi.microsoft.com/meteringapi.v1.json"
)
