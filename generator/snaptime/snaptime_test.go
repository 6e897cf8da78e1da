package snaptime_test

import (
	"testing"
	"time"

	"github.com/graftctl/graft/generator/snaptime"
)

func TestDuration(t *testing.T) {
	cases := []struct {
		name string
		w    snaptime.Work
		want time.Duration
	}{
		{"full, empty volume", snaptime.Work{}, 2 * time.Minute},
		{"full 100 GiB", snaptime.Work{SizeGiB: 100}, 2*time.Minute + 600*time.Second},
		{"full 1 TiB", snaptime.Work{SizeGiB: 1024}, 2*time.Minute + 6144*time.Second},
		{"incremental 100 GiB", snaptime.Work{SizeGiB: 100, Incremental: true}, time.Minute + 30*time.Second},
		{"incremental 1 GiB", snaptime.Work{SizeGiB: 1, Incremental: true}, time.Minute + 300*time.Millisecond},
		{"copy 100 GiB", snaptime.Work{SizeGiB: 100, Copy: true}, time.Minute + 300*time.Second},
		{"cross-region copy 100 GiB", snaptime.Work{SizeGiB: 100, Copy: true, CrossRegion: true}, 2 * (time.Minute + 300*time.Second)},
		// A copy of an incremental snapshot is timed as a copy.
		{"copy of an incremental", snaptime.Work{SizeGiB: 10, Copy: true, Incremental: true}, time.Minute + 30*time.Second},
		// CrossRegion means nothing without Copy.
		{"cross-region, not a copy", snaptime.Work{SizeGiB: 10, CrossRegion: true}, 2*time.Minute + 60*time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := snaptime.Duration(c.w); got != c.want {
				t.Errorf("Duration(%+v) = %s, want %s", c.w, got, c.want)
			}
		})
	}
	// The per-kind functions are the same model.
	for _, gib := range []int32{0, 1, 500, 16384} {
		if a, b := snaptime.Full(gib), snaptime.Duration(snaptime.Work{SizeGiB: gib}); a != b {
			t.Errorf("Full(%d) = %s, Duration = %s", gib, a, b)
		}
		if a, b := snaptime.Incremental(gib), snaptime.Duration(snaptime.Work{SizeGiB: gib, Incremental: true}); a != b {
			t.Errorf("Incremental(%d) = %s, Duration = %s", gib, a, b)
		}
		for _, x := range []bool{false, true} {
			if a, b := snaptime.Copy(gib, x), snaptime.Duration(snaptime.Work{SizeGiB: gib, Copy: true, CrossRegion: x}); a != b {
				t.Errorf("Copy(%d, %v) = %s, Duration = %s", gib, x, a, b)
			}
		}
	}
}

func TestSummary(t *testing.T) {
	const want = "a first (full) snapshot takes about 2 min + 6 s per GiB; an incremental one 1 min + 0.3 s per GiB; a copy 1 min + 3 s per GiB, twice that across regions"
	if got := snaptime.Summary(); got != want {
		t.Errorf("Summary() =\n%s\nwant\n%s", got, want)
	}
}
