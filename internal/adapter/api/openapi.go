package api

import (
	"net/http"

	orchestrator "github.com/cspmarket/orchestrator"
)

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(orchestrator.OpenAPI)
}
