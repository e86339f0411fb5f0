package workflows

import (
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/domain/billing"
)

// InvoicingScheduleID is the Temporal Schedule that invoices each month
// just after it ends (CONTRACT.md; the Web UI lists it under Schedules).
const InvoicingScheduleID = "invoicing-monthly"

// InvoicingCron is when the schedule fires: five minutes past midnight UTC
// on the first of each month, once the month's last steps have committed.
const InvoicingCron = "5 0 1 * *"

// InvoicingWorkflowID is the one invoicing run of a month: starting it
// again finds the run that already happened.
func InvoicingWorkflowID(month string) string { return "invoicing-" + month }

// The invoicing workflow's payloads.
type (
	InvoicingInput  = payload.InvoicingInput
	InvoicingResult = payload.InvoicingResult
)

// ErrMonthNotEnded refuses to invoice a month before it ends without
// CloseEarly; ErrMonthNotStarted a month that has not begun, even with it.
const (
	ErrMonthNotEnded   = "month_not_ended"
	ErrMonthNotStarted = "month_not_started"
)

// InvoicingWorkflow issues the invoices of a month: one per partner,
// customer and currency that has lines posted before the month's end (or
// now, with CloseEarly) not yet invoiced. Each invoice is issued once, by
// its derived id, so a retried activity or a repeated run changes nothing.
func InvoicingWorkflow(ctx workflow.Context, in InvoicingInput) (InvoicingResult, error) {
	now := workflow.Now(ctx).UTC()
	if in.Month == "" {
		// Started by the schedule: hand the month that just ended to its
		// own run, which exists once per month.
		month := billing.PreviousMonth(now)
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            InvoicingWorkflowID(month),
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		})
		var result InvoicingResult
		err := workflow.ExecuteChildWorkflow(cctx, InvoicingWorkflow, InvoicingInput{Month: month}).Get(ctx, &result)
		if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			return InvoicingResult{Month: month, AlreadyRun: true}, nil
		}
		return result, err
	}
	start, end, cutoff, err := billing.InvoicingPeriod(in.Month, now, in.CloseEarly)
	switch {
	case errors.Is(err, billing.ErrMonthNotStarted):
		return InvoicingResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrMonthNotStarted, nil)
	case errors.Is(err, billing.ErrMonthNotEnded):
		return InvoicingResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrMonthNotEnded, nil)
	case err != nil:
		return InvoicingResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "bad_month", err)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	result := InvoicingResult{Month: in.Month}
	var a *activities.Activities
	page := activities.IssueInvoicesInput{PeriodStart: start, PeriodEnd: end, Cutoff: cutoff, RunID: workflow.GetInfo(ctx).WorkflowExecution.ID}
	for {
		var out activities.IssueInvoicesResult
		if err := workflow.ExecuteActivity(actx, a.IssueInvoices, page).Get(ctx, &out); err != nil {
			return result, err
		}
		result.Issued += out.Issued
		result.AlreadyIssued += out.AlreadyIssued
		if out.Next == nil {
			return result, nil
		}
		page.After = out.Next
	}
}
