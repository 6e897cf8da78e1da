//go:build !unix

package testkit

import "time"

// CPUTime is 0 where getrusage does not exist: the benchmarks' cpu-s/op
// is then 0.
func CPUTime() time.Duration { return 0 }
