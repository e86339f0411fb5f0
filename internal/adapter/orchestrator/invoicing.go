package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cspmarket/orchestrator/internal/domain/billing"
	"github.com/cspmarket/orchestrator/workflows"
)

// EnsureInvoicingSchedule creates the Temporal Schedule that invoices each
// month once it has ended, unless it exists: every starter calls it at
// start-up, and the first one creates it.
func EnsureInvoicingSchedule(ctx context.Context, c client.Client) error {
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   workflows.InvoicingScheduleID,
		Spec: client.ScheduleSpec{CronExpressions: []string{workflows.InvoicingCron}},
		Action: &client.ScheduleWorkflowAction{
			ID: workflows.InvoicingScheduleID, Workflow: workflows.InvoicingWorkflow,
			Args: []any{workflows.InvoicingInput{}}, TaskQueue: workflows.TaskQueue,
		},
		// A month-end missed while Temporal was down is invoiced when it
		// comes back, up to the next month-end.
		CatchupWindow: 28 * 24 * time.Hour,
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Note:          "Invoices the month that just ended (CONTRACT.md, Money). On demand: go run ./starter invoices run --month YYYY-MM",
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", workflows.InvoicingScheduleID, err)
	}
	return nil
}

// RunInvoicing invoices a month on demand and waits for the result. A
// month's run has one workflow ID, so running it again returns the first
// run's result and issues nothing. An early close (a month not ended yet)
// gets an ID of its own each time: invoices are still issued once each,
// by their derived ids, and what is recorded later waits for the next.
func RunInvoicing(ctx context.Context, c client.Client, month string, closeEarly bool, now time.Time) (workflows.InvoicingResult, error) {
	var result workflows.InvoicingResult
	_, end, _, err := billing.InvoicingPeriod(month, now, closeEarly)
	if errors.Is(err, billing.ErrMonthNotEnded) {
		return result, fmt.Errorf("%w (add --close-early to invoice it up to now)", err)
	}
	if err != nil {
		return result, err
	}
	id := workflows.InvoicingWorkflowID(month)
	if now.Before(end) {
		// closed early: a run of its own each time
		id += "-early-" + now.UTC().Format("20060102T150405.000000000")
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, workflows.InvoicingWorkflow, workflows.InvoicingInput{Month: month, CloseEarly: closeEarly})
	if err != nil {
		if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			run = c.GetWorkflow(ctx, id, "")
			result.AlreadyRun = true
		} else {
			return result, fmt.Errorf("start %s: %w", id, err)
		}
	}
	already := result.AlreadyRun
	if err := run.Get(ctx, &result); err != nil {
		return result, fmt.Errorf("%s: %w", id, err)
	}
	result.AlreadyRun = result.AlreadyRun || already
	return result, nil
}
