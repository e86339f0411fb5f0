//go:build unix

package temporalserver

import (
	"os"
	"syscall"
	"time"
)

// lockMachineWide takes an exclusive flock on path, for at most a minute
// (a holder that hangs must not stop every other start), and returns its
// release. Without a lock file it returns at once: the in-process lock
// still holds.
func lockMachineWide(path string) func() {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return func() {}
	}
	deadline := time.Now().Add(time.Minute)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			return func() { _ = f.Close() }
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
}
