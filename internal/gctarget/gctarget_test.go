package gctarget

import (
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	restore := Apply()
	if got := debug.SetGCPercent(Percent); got != Percent {
		t.Errorf("with GOGC unset, the target is %d, expected %d", got, Percent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after restore, the target is %d, expected the previous 100", got)
	}

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	restore = Apply()
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("with GOGC=50 set by the user, the target is %d, expected 50 left alone", got)
	}
	restore()
}
