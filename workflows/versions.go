package workflows

// Behaviour changes guarded by workflow.GetVersion, newest last. A change ID
// stays here as long as a history recorded before it may still replay.
const (
	// versionLifecycleTimers: activation deadline, cancellation approval
	// timeout, installments, renewal notice and term end. Runs recorded
	// before it (the walking skeleton) waited only for ISV signals.
	versionLifecycleTimers = "lifecycle-timers"
)
