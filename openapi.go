// Package orchestrator is the module root; it only carries the files that
// live at the top of the repository and are needed at run time.
package orchestrator

import _ "embed"

// OpenAPI is openapi.yaml, the API's description, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
