package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
)

// DeliveryRetry is how notification deliveries are retried: quickly at
// first, then at most every ten minutes, for three days.
var DeliveryRetry = struct {
	Initial, Max, GiveUpAfter time.Duration
}{Initial: time.Second, Max: 10 * time.Minute, GiveUpAfter: 72 * time.Hour}

// NotificationDeliveryWorkflow delivers one notification to its recipient's
// endpoint, retried with backoff by Temporal; each attempt is logged by the
// activity. When retries run out the notification is marked failed and
// stays readable in the outbox.
func NotificationDeliveryWorkflow(ctx workflow.Context, notificationID int64) error {
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: DeliveryRetry.GiveUpAfter,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: DeliveryRetry.Initial, BackoffCoefficient: 2, MaximumInterval: DeliveryRetry.Max,
		},
	})
	err := workflow.ExecuteActivity(actx, a.DeliverNotification, notificationID).Get(ctx, nil)
	if err == nil {
		return nil
	}
	// The reason is the last attempt's coarse category, never a raw
	// transport error (the outbox is shown to the endpoint's owner).
	reason := "gave_up_after_retries"
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		reason = appErr.Message()
	}
	fctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	return workflow.ExecuteActivity(fctx, a.FailNotification, notificationID, reason).Get(ctx, nil)
}
