//go:build !unix

package temporalserver

// lockMachineWide is a no-op where flock does not exist: starts are still
// serialised within the process.
func lockMachineWide(string) func() { return func() {} }
