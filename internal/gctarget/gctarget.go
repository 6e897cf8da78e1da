// Package gctarget holds the garbage-collector target the graft command
// runs with, so that the command and the benchmarks that measure it set
// the same one.
package gctarget

import (
	"os"
	"runtime/debug"
)

// Percent is graft's GOGC. A graft run is short and allocates mostly
// short-lived values (rendered and decoded YAML, kustomize's nodes, Rego
// terms) over a small live heap, so collecting less often than Go's
// default of 100 trades a bounded amount of memory for time: the heap may
// grow to five times what is live before a collection, against two. The
// README's performance table has the figures (BenchmarkRender,
// BenchmarkCheck and their peak memory).
const Percent = 400

// Apply sets Percent, unless the user has set GOGC, and returns the
// function that restores the previous target.
func Apply() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(Percent)
	return func() { debug.SetGCPercent(old) }
}
