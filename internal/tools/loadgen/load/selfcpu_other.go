//go:build !unix

package load

import "time"

// SelfCPU is not measured here (no getrusage): it counts nothing.
func SelfCPU() time.Duration { return 0 }
