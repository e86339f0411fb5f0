// Package caller hands the partner API, in process, the agent or person
// the console has already authenticated: a signed-in person has no token
// the API could check again. Only code in this process can put a caller
// in a request's context (a request from the network starts with none),
// so the API trusts it as it trusts its own checks.
package caller

import (
	"context"

	"github.com/cspmarket/orchestrator/internal/domain/auth"
)

type key struct{}

// With is ctx carrying the authenticated caller.
func With(ctx context.Context, a auth.Agent) context.Context {
	return context.WithValue(ctx, key{}, a)
}

// From is the caller ctx carries, if any.
func From(ctx context.Context) (auth.Agent, bool) {
	a, ok := ctx.Value(key{}).(auth.Agent)
	return a, ok
}
