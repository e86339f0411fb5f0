package temporalserver

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// A search attribute registered on a running cluster (the production
// shape's `starter temporal setup`, or a release that adds one) is
// usable when registering returns: a purchase started right after it
// used to fail for up to the namespace cache's refresh (2 s) with "no
// mapping defined for search attribute", which the API answered with
// 500 (seen on the production shape's first run).
func TestSearchAttributesAreUsableWhenRegisteringReturns(t *testing.T) {
	srv, err := Start(context.Background(), Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Logger: quietSDKLogger{}})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	for i, name := range []string{"ProbeOfferId", "ProbeStatus"} {
		added, err := RegisterSearchAttributes(ctx, c, "default", map[string]enumspb.IndexedValueType{name: enumspb.INDEXED_VALUE_TYPE_KEYWORD})
		require.NoError(t, err)
		require.True(t, added)
		_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                    "probe-" + name,
			TaskQueue:             "nobody-polls",
			TypedSearchAttributes: temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyKeyword(name).ValueSet("x")),
		}, "Probe")
		require.NoError(t, err, "start %d, right after %s was registered", i+1, name)
	}
}
