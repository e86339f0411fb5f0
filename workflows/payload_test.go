package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// Every payload of every recorded history decodes into today's payload
// types, unknown fields refused: a renamed JSON tag or a type in the wrong
// role (internal/adapter/payload) fails here, where the replay test alone
// would not notice a field quietly decoding as its zero value.
func TestEveryRecordedPayloadDecodes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	decoded := map[string]int{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			require.NoError(t, err)
			defer f.Close()
			history, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			require.NoError(t, err)
			updates := map[int64]string{}   // accepted event id: update name
			scheduled := map[int64]string{} // scheduled event id: activity type
			for _, e := range history.GetEvents() {
				var into any
				var p *commonpb.Payload
				switch e.GetEventType() {
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
					p, into = first(e.GetWorkflowExecutionStartedEventAttributes().GetInput()), &PurchaseInput{}
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
					p, into = first(e.GetWorkflowExecutionContinuedAsNewEventAttributes().GetInput()), &PurchaseInput{}
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
					p, into = first(e.GetWorkflowExecutionCompletedEventAttributes().GetResult()), &Subscription{}
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
					a := e.GetWorkflowExecutionSignaledEventAttributes()
					require.Equal(t, SignalISVEvent, a.GetSignalName())
					p, into = first(a.GetInput()), &ISVEvent{}
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
					req := e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput()
					updates[e.GetEventId()] = req.GetName()
					if req.GetName() == UpdateChange {
						p, into = first(req.GetArgs()), &ChangeRequest{}
					}
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
					a := e.GetWorkflowExecutionUpdateCompletedEventAttributes()
					p = first(a.GetOutcome().GetSuccess())
					switch updates[a.GetAcceptedEventId()] {
					case UpdateChange:
						into = &ChangeResult{}
					case UpdatePurchaseRecorded:
						into = &PurchaseResult{}
					}
				case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
					a := e.GetActivityTaskScheduledEventAttributes()
					scheduled[e.GetEventId()] = a.GetActivityType().GetName()
					if a.GetActivityType().GetName() == "CommitTransition" {
						p, into = first(a.GetInput()), &payload.Transition{}
					}
				case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
					a := e.GetActivityTaskCompletedEventAttributes()
					if scheduled[a.GetScheduledEventId()] == "CommitTransition" {
						p, into = first(a.GetResult()), &payload.CommitReceipt{}
					}
				case enumspb.EVENT_TYPE_MARKER_RECORDED:
					a := e.GetMarkerRecordedEventAttributes()
					if a.GetMarkerName() == "LocalActivity" {
						p, into = first(a.GetDetails()["result"]), &payload.CommitReceipt{}
					}
				}
				if p == nil || into == nil {
					continue
				}
				require.NoError(t, strictly(p, into), "event %d (%s): %s", e.GetEventId(), e.GetEventType(), p.GetData())
				decoded[fmt.Sprintf("%T", into)]++
			}
		})
	}
	for _, kind := range []string{"*payload.PurchaseInput", "*payload.ISVEvent", "*payload.ChangeRequest", "*payload.ChangeResult", "*payload.PurchaseResult",
		"*payload.Transition", "*payload.CommitReceipt", "*payload.Subscription"} {
		require.Positive(t, decoded[kind], "no recorded history holds a %s: the test reads nothing of it", kind)
	}
}

func first(p *commonpb.Payloads) *commonpb.Payload {
	if len(p.GetPayloads()) == 0 {
		return nil
	}
	return p.GetPayloads()[0]
}

// strictly decodes a JSON payload, refusing fields the type does not have.
func strictly(p *commonpb.Payload, into any) error {
	if enc := string(p.GetMetadata()["encoding"]); enc != "json/plain" {
		return fmt.Errorf("encoding %q", enc)
	}
	dec := json.NewDecoder(bytes.NewReader(p.GetData()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data")
	}
	return nil
}
