package workflows

// Behaviour changes guarded by workflow.GetVersion, newest last. A change ID
// stays here as long as a history recorded before it may still replay.
//
// A run started with PurchaseInput.Generation >= generationStatusOnChange
// (every run started or continued by this code) has all of the changes
// below from its first task, by its input, without calling GetVersion for
// them: each GetVersion records a marker and upserts the
// TemporalChangeVersion search attribute, a visibility write on the
// server, and four of them made a quarter of a purchase's visibility
// writes (docs/performance.md). Runs started before (Generation 0) still
// ask GetVersion, as their histories recorded. A change made from now on
// is guarded by GetVersion for the runs already started, as before.
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

// Generations of PurchaseInput.Generation, newest last.
const (
	// generationStatusOnChange: every change above is on.
	generationStatusOnChange = 1
)

// CurrentGeneration is the generation new runs are started with.
const CurrentGeneration = generationStatusOnChange
