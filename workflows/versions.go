package workflows

// Behaviour changes guarded by workflow.GetVersion, newest last. A change ID
// stays here as long as a history recorded before it may still replay.
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
)
