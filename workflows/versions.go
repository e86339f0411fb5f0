package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// Behaviour changes guarded by workflow.GetVersion, newest last. A change ID
// stays here as long as a history recorded before it may still replay.
//
// A run started now runs under the workflow type SubscriptionWorkflowType,
// whose name says its generation (generationOfType): it records no marker
// at all. A run of the type SubscriptionWorkflow was started before that
// type existed: it records one marker, versionGeneration1, and has every
// change below from its first task: each GetVersion records a marker and
// upserts the TemporalChangeVersion search attribute (a visibility write
// on the server), and asking for the four changes one by one made four of
// a purchase's seven visibility writes (docs/performance.md). A history
// without that marker was recorded by a worker of before (or, for the
// changes it predates, before those): it asks for each change as it did.
// A change made from now on gets a GetVersion of its own, as before.
//
// Runs whose input has Generation >= 1 were started by the code of one
// release (6c6aa71..ff) that chose by the input instead of a marker; they
// have no marker and keep that choice. No code starts such runs any more:
// an input cannot say which worker will execute it, and a worker of before
// would have ignored it (then a new worker replaying that history would
// not match it).
const (
	// versionLifecycleTimers: activation deadline, cancellation approval
	// timeout, installments, renewal notice and term end. Runs recorded
	// before it (the walking skeleton) waited only for ISV signals.
	versionLifecycleTimers = "lifecycle-timers"

	// versionDurableCommit: a step is made durable by the CommitTransition
	// activity, scheduled in the workflow task that records the step, instead
	// of a local activity run inside that task. A local activity's write
	// survives a workflow task that is later discarded (its updates are then
	// delivered again, maybe in another order), so the database could hold a
	// version N that the history never recorded. An activity's input is in the
	// history before anything is written, so every row is a pure function of
	// the recorded history. It also retries without limit: a database outage
	// delays a step, never fails the subscription.
	versionDurableCommit = "durable-commit"

	// versionLotWindows: each batch of licences (the purchase, each
	// increase) has its own cancellation window from the moment it was
	// added; a decrease is accepted only for the newest licences still
	// inside theirs (Partner Center's refundableQuantity). Runs recorded
	// before it accept a decrease while the subscription's one window is
	// open.
	versionLotWindows = "lot-windows"

	// versionStatusOnChange: the SubscriptionStatus search attribute is
	// upserted only when a step changes it. Each upsert is a visibility
	// write on the server; the start already sets pending_fulfillment and
	// many steps (a change, an installment) keep the status. Runs recorded
	// before it upserted after every commit.
	versionStatusOnChange = "status-on-change"
)

// versionGeneration1: every change above at once, by one marker. Its
// version is the run's generation (later generations come by workflow
// type only):
//
//   - 1: every change above.
//   - 2 (generationLocalCommit): also, a step taken on an event already in
//     the history (the start, an ISV signal, a timer) is committed by a
//     local activity inside the task that takes it, one workflow task per
//     step instead of two and an activity: a purchase is answered after one
//     task. It is fenced (activities.StepFence): a discarded task's retry
//     takes the same event again and its commit replaces what the
//     discarded attempt wrote, a late write of that attempt is refused, and
//     a notification is sent only once its step is in the history. An
//     Update's step is still committed by a scheduled activity: an Update
//     accepted in a discarded task may never be delivered again, and
//     nothing would replace what it wrote. A local commit that fails (the
//     database is down) hands over to that activity, retried until it lands.
//   - 3 (generationStatusAfterEvents): also, a step whose task holds more
//     ISV events leaves the SubscriptionStatus search attribute to the last
//     of them: the status is upserted once no event waits. An ISV's
//     `provisioned` and `activated` often reach the workflow together, in
//     one task; each upsert is a visibility write on the server (on the
//     embedded default about 6 % of the CPU of a lifecycle under load, on
//     Postgres an entry in each of the visibility table's indexes), and
//     operators only ever see the task's last status anyway. Also, a run
//     continuing as new takes the ISV events that come while it waits for
//     an update to finish; a run of before continued without them, and
//     they were lost with it.
const versionGeneration1 = "generation-1"

const (
	generationChanges           = 1
	generationLocalCommit       = 2
	generationStatusAfterEvents = 3
	// generationExactLines (issue 25; by its workflow type only, no run
	// records it in a marker):
	//   - every ledger line of a term that starts under it is exact:
	//     quantity x unitPrice = amount. Licences added are charged their
	//     installment price prorated per licence; a removal credits each
	//     batch it takes, and a refund each batch still held, what that
	//     batch was charged per licence, over the batch's own service
	//     period (billing.Lots). Terms started before keep the lines of
	//     before to their end (Carried.ExactLines): the ledger check tells
	//     them apart by the billing.started or renewed line of the term.
	//   - a change that changes nothing (every field at its value) records
	//     nothing: no new version, no audit line, no notification. Its
	//     validator refuses it before the history; one found to change
	//     nothing only once it holds the lock (a change just like it was
	//     applied meanwhile) answers the subscription as it is.
	generationExactLines = 4
	// generationMarkerNewest is the newest generation a marker may say.
	generationMarkerNewest = generationStatusAfterEvents
)

// Workflow types SubscriptionWorkflow is registered under
// (RegisterSubscriptionWorkflow). A new run, and every run continuing as
// new, takes SubscriptionWorkflowType, so that its generation comes from
// its type: GetVersion would record a marker and upsert the
// TemporalChangeVersion search attribute, two history events and one
// visibility task per run. (Not a row written: that upsert comes in the
// first workflow task, whose completion also sets the server's BuildIds
// attribute, and the visibility store writes a row only for a newer
// version of it; measured on Postgres, docs/performance.md.) A later
// generation gets a type of its own; the types of before stay registered
// as long as runs of theirs may be open.
const (
	// SubscriptionWorkflowType runs generationExactLines.
	SubscriptionWorkflowType = "SubscriptionGeneration4"
	// subscriptionWorkflowGeneration3 is the type of the runs started
	// before generationExactLines (and of none since): they run
	// generationStatusAfterEvents until they continue as new.
	subscriptionWorkflowGeneration3 = "SubscriptionGeneration3"
	// subscriptionWorkflowByMarker is the type of the runs started before
	// the types said their generation: their markers say it.
	subscriptionWorkflowByMarker = "SubscriptionWorkflow"
)

// generationOfType is the generation a workflow type stands for; false
// for the type whose runs choose by their marker.
func generationOfType(workflowType string) (workflow.Version, bool) {
	switch workflowType {
	case SubscriptionWorkflowType:
		return generationExactLines, true
	case subscriptionWorkflowGeneration3:
		return generationStatusAfterEvents, true
	}
	return 0, false
}

// RegisterSubscriptionWorkflow registers SubscriptionWorkflow under every
// type its runs may have (a worker's, a replayer's, a test's registry).
func RegisterSubscriptionWorkflow(r worker.WorkflowRegistry) {
	for _, name := range []string{SubscriptionWorkflowType, subscriptionWorkflowGeneration3, subscriptionWorkflowByMarker} {
		r.RegisterWorkflowWithOptions(SubscriptionWorkflow, workflow.RegisterOptions{Name: name})
	}
}

// generationInputFlags is the PurchaseInput.Generation of the runs that
// took every change above by their input (see the top of this file).
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
		w.rules = lifecycle.Rules{LotWindows: true, ExactLines: g >= generationExactLines, NoOpChangesRecordNothing: g >= generationExactLines}
	} else {
		w.generation.timers = workflow.GetVersion(ctx, versionLifecycleTimers, workflow.DefaultVersion, 1) >= 1
		w.generation.durableCommit = workflow.GetVersion(ctx, versionDurableCommit, workflow.DefaultVersion, 1) >= 1
		w.rules.LotWindows = workflow.GetVersion(ctx, versionLotWindows, workflow.DefaultVersion, 1) >= 1
		w.generation.statusOnChange = workflow.GetVersion(ctx, versionStatusOnChange, workflow.DefaultVersion, 1) >= 1
	}
	if w.generation.statusOnChange {
		// What operators see now: set at start, carried over by continue-as-new.
		w.publishedStatus, _ = workflow.GetTypedSearchAttributes(ctx).GetKeyword(StatusKey)
	}
}
