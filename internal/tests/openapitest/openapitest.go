// Package openapitest checks JSON against the schemas of openapi.yaml, so
// tests can prove that what the server really answers is what the document
// promises a generated client.
package openapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	orchestrator "github.com/cspmarket/orchestrator"
)

// Document is openapi.yaml as generic JSON values.
func Document() (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(orchestrator.OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	// Round-trip through JSON so every value has a JSON type.
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

var (
	once     sync.Once
	compiler *jsonschema.Compiler
	loadErr  error
	cache    sync.Map
)

// Schema compiles a JSON pointer into the document, such as
// "#/components/schemas/Subscription".
func Schema(pointer string) (*jsonschema.Schema, error) {
	once.Do(func() {
		doc, err := Document()
		if err != nil {
			loadErr = err
			return
		}
		compiler = jsonschema.NewCompiler()
		compiler.AssertFormat()
		loadErr = compiler.AddResource("https://cspmarket.example/openapi.json", doc)
	})
	if loadErr != nil {
		return nil, loadErr
	}
	if s, ok := cache.Load(pointer); ok {
		return s.(*jsonschema.Schema), nil
	}
	s, err := compiler.Compile("https://cspmarket.example/openapi.json" + pointer)
	if err != nil {
		return nil, err
	}
	cache.Store(pointer, s)
	return s, nil
}

// Validate checks a JSON body against a component schema by name.
func Validate(schemaName string, body []byte) error {
	return ValidatePointer("#/components/schemas/"+schemaName, body)
}

// ValidatePointer checks a JSON body against the schema at pointer.
func ValidatePointer(pointer string, body []byte) error {
	s, err := Schema(pointer)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}
