package activities

import (
	"context"
	"errors"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
)

// localActivityMarker is the name the SDK gives the history marker of a
// local activity; its "result" detail is the activity's answer.
const localActivityMarker = "LocalActivity"

// stepConfirmed says whether the step that wrote a notification is in its
// workflow's history, so that sending it can never be undone by a retry.
// A step committed inside a workflow task (fenced) is in the history once
// that task completed; until then the task may be discarded and its retry
// replace the step. It is, when:
//   - the notification is unfenced (its step was an activity scheduled in
//     the history before it wrote anything);
//   - a later task has committed since (the subscription's fence is larger):
//     had this task been discarded, that later commit would have replaced
//     this notification;
//   - the run's history holds the commit's receipt (the local activity's
//     marker, or the completion of the commit activity that took over).
func (a *Activities) stepConfirmed(ctx context.Context, n store.Notification) (bool, error) {
	if n.Fence == "" {
		return true, nil
	}
	sub, err := a.Store.SubscriptionByID(ctx, n.SubscriptionID)
	if err != nil {
		return false, err
	}
	if sub.Fence > n.Fence {
		// Read after the subscription: a retry that replaced this
		// notification raised the fence in the same transaction, so a
		// notification still there now was not replaced.
		again, err := a.Store.Notification(ctx, n.ID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil && again.Fence == n.Fence, err
	}
	if a.Temporal == nil || n.WorkflowID == "" {
		return false, nil
	}
	namespace := "default"
	if activity.IsActivity(ctx) {
		namespace = activity.GetInfo(ctx).Namespace
	}
	dc := converter.GetDefaultDataConverter()
	var token []byte
	for {
		page, err := a.Temporal.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
			Namespace: namespace, Execution: &commonpb.WorkflowExecution{WorkflowId: n.WorkflowID, RunId: n.RunID},
			MaximumPageSize: 100, NextPageToken: token,
		})
		if err != nil {
			return false, err
		}
		for _, e := range page.GetHistory().GetEvents() {
			var result *commonpb.Payloads
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_MARKER_RECORDED:
				if m := e.GetMarkerRecordedEventAttributes(); m.GetMarkerName() == localActivityMarker {
					result = m.GetDetails()["result"]
				}
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
				result = e.GetActivityTaskCompletedEventAttributes().GetResult()
			}
			if len(result.GetPayloads()) != 1 {
				continue
			}
			var r CommitReceipt
			if dc.FromPayloads(result, &r) == nil && r.Fence == n.Fence && r.Version == n.StepVersion {
				return true, nil
			}
		}
		if token = page.GetNextPageToken(); len(token) == 0 {
			return false, nil
		}
	}
}
