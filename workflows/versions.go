package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// Behaviour changes, newest last; docs/generations.md tells each one and
// how a run knows which it has. A change ID stays here as long as a
// history recorded before it may still replay (workflows/replay_test.go).
const (
	versionLifecycleTimers = "lifecycle-timers" // the run's timers
	versionDurableCommit   = "durable-commit"   // steps commit by a scheduled activity
	versionLotWindows      = "lot-windows"      // lifecycle.Rules.LotWindows
	versionStatusOnChange  = "status-on-change" // the status attribute upserted only when it changes
	// versionGeneration1: every change above at once, by one marker whose
	// version is the run's generation (up to generationMarkerNewest).
	versionGeneration1 = "generation-1"
)

// Generations: each has every change of the one before.
const (
	generationChanges           = 1 // the four changes above
	generationLocalCommit       = 2 // steps on events in the history commit by a fenced local activity
	generationStatusAfterEvents = 3 // a step leaves the status to the ISV events waiting behind it
	generationExactLines        = 4 // lifecycle.Rules.ExactLines and NoOpChangesRecordNothing (issue 25)
	generationPlanChanges       = 5 // lifecycle.Rules.PlanChanges: changes of plan, and changes that wait for the publisher (issue 27)
	generationMetering          = 6 // lifecycle.Rules.Metering: usage closed and charged per billing period (issue 28)
	// generationMarkerNewest is the newest generation a marker may say;
	// later ones come by workflow type only.
	generationMarkerNewest = generationStatusAfterEvents
)

// Workflow types SubscriptionWorkflow is registered under: a run's type
// says its generation (GetVersion would record a marker and a visibility
// write per run). A run continuing as new takes the newest.
const (
	// SubscriptionWorkflowType runs generationMetering.
	SubscriptionWorkflowType = "SubscriptionGeneration6"
	// subscriptionWorkflowGeneration5: runs started before generation 6.
	subscriptionWorkflowGeneration5 = "SubscriptionGeneration5"
	// subscriptionWorkflowGeneration4: runs started before generation 5.
	subscriptionWorkflowGeneration4 = "SubscriptionGeneration4"
	// subscriptionWorkflowGeneration3: runs started before generation 4.
	subscriptionWorkflowGeneration3 = "SubscriptionGeneration3"
	// subscriptionWorkflowByMarker: runs started before the types said
	// their generation; their markers say it.
	subscriptionWorkflowByMarker = "SubscriptionWorkflow"
)

// generationOfType is the generation a workflow type stands for; false
// for the type whose runs choose by their marker.
func generationOfType(workflowType string) (workflow.Version, bool) {
	switch workflowType {
	case SubscriptionWorkflowType:
		return generationMetering, true
	case subscriptionWorkflowGeneration5:
		return generationPlanChanges, true
	case subscriptionWorkflowGeneration4:
		return generationExactLines, true
	case subscriptionWorkflowGeneration3:
		return generationStatusAfterEvents, true
	}
	return 0, false
}

// RegisterSubscriptionWorkflow registers SubscriptionWorkflow under every
// type its runs may have (a worker's, a replayer's, a test's registry).
func RegisterSubscriptionWorkflow(r worker.WorkflowRegistry) {
	for _, name := range []string{SubscriptionWorkflowType, subscriptionWorkflowGeneration5, subscriptionWorkflowGeneration4, subscriptionWorkflowGeneration3, subscriptionWorkflowByMarker} {
		r.RegisterWorkflowWithOptions(SubscriptionWorkflow, workflow.RegisterOptions{Name: name})
	}
}

// generationInputFlags is the PurchaseInput.Generation of the runs of one
// release that took generation 1 by their input (docs/generations.md).
const generationInputFlags = 1

// generation is the set of behaviour changes a run has. The shell's own
// are here; the business rules' are the run's lifecycle.Rules. Nothing
// outside this file asks which generation a run is.
type generation struct {
	timers bool // lifecycle timers (versionLifecycleTimers)
	// durableCommit: steps commit through an activity (versionDurableCommit).
	durableCommit bool
	// localCommit: steps on events in the history commit by a fenced
	// local activity (generationLocalCommit).
	localCommit bool
	// statusOnChange: the status search attribute is upserted only when
	// it changes (versionStatusOnChange).
	statusOnChange bool
	// statusAfterEvents: a step leaves the status to the ISV events
	// waiting behind it (generationStatusAfterEvents).
	statusAfterEvents bool
}

// versions decides the run's behaviour changes: all of them by the
// workflow type for a run started now, by one marker or one by one as
// recorded for a run started before. The order of the calls is part of
// the histories.
func (w *subscriptionRun) versions(ctx workflow.Context) {
	g, byType := generationOfType(workflow.GetInfo(ctx).WorkflowType.Name)
	switch {
	case byType:
	case w.in.Generation >= generationInputFlags:
		g = generationChanges
	default:
		g = workflow.GetVersion(ctx, versionGeneration1, workflow.DefaultVersion, generationMarkerNewest)
	}
	if g >= generationChanges {
		w.generation = generation{timers: true, durableCommit: true, statusOnChange: true,
			localCommit: g >= generationLocalCommit, statusAfterEvents: g >= generationStatusAfterEvents}
		w.rules = lifecycle.Rules{LotWindows: true, ExactLines: g >= generationExactLines, NoOpChangesRecordNothing: g >= generationExactLines,
			PlanChanges: g >= generationPlanChanges, Metering: g >= generationMetering}
	} else {
		w.generation.timers = workflow.GetVersion(ctx, versionLifecycleTimers, workflow.DefaultVersion, 1) >= 1
		w.generation.durableCommit = workflow.GetVersion(ctx, versionDurableCommit, workflow.DefaultVersion, 1) >= 1
		w.rules.LotWindows = workflow.GetVersion(ctx, versionLotWindows, workflow.DefaultVersion, 1) >= 1
		w.generation.statusOnChange = workflow.GetVersion(ctx, versionStatusOnChange, workflow.DefaultVersion, 1) >= 1
	}
	if w.generation.statusOnChange {
		// What operators see now: set at start, carried over by continue-as-new.
		w.publishedStatus, _ = workflow.GetTypedSearchAttributes(ctx).GetKeyword(payload.StatusKey)
	}
}
