// Package snaptime is graft's one model of how long EBS takes to make a
// snapshot or a snapshot copy. ebs's plan estimates phase durations with
// it, and ec2sim completes snapshots on its schedule by default. It is
// rough (EBS gives no guarantee) and the plan says so.
package snaptime

import (
	"fmt"
	"strconv"
	"time"
)

// rate is a fixed start-up time plus a time per GiB.
type rate struct{ base, perGiB time.Duration }

func (r rate) of(gib int32) time.Duration { return r.base + r.perGiB*time.Duration(gib) }

var (
	full        = rate{2 * time.Minute, 6 * time.Second}
	incremental = rate{time.Minute, 300 * time.Millisecond}
	copying     = rate{time.Minute, 3 * time.Second}
)

// crossRegionFactor is how much longer a copy to another region takes
// (Summary says "twice").
const crossRegionFactor = 2

// Full is the time of a volume's first (full) snapshot.
func Full(gib int32) time.Duration { return full.of(gib) }

// Incremental is the time of a snapshot of a volume that has an earlier one.
func Incremental(gib int32) time.Duration { return incremental.of(gib) }

// Copy is the time of a CopySnapshot, within a region or across regions.
func Copy(gib int32, crossRegion bool) time.Duration {
	d := copying.of(gib)
	if crossRegion {
		d *= crossRegionFactor
	}
	return d
}

// Work is one snapshot being made.
type Work struct {
	SizeGiB     int32
	Incremental bool // an earlier snapshot of the same volume exists
	Copy        bool // made by CopySnapshot
	CrossRegion bool // a copy to another region
}

// Duration is the time the model gives w.
func Duration(w Work) time.Duration {
	switch {
	case w.Copy:
		return Copy(w.SizeGiB, w.CrossRegion)
	case w.Incremental:
		return Incremental(w.SizeGiB)
	default:
		return Full(w.SizeGiB)
	}
}

// Summary states the model in words, for the plan's assumptions.
func Summary() string {
	return fmt.Sprintf("a first (full) snapshot takes about %s; an incremental one %s; a copy %s, twice that across regions",
		full, incremental, copying)
}

func (r rate) String() string { return words(r.base) + " + " + words(r.perGiB) + " per GiB" }

// words writes whole minutes as "2 min" and anything else in seconds,
// "0.3 s".
func words(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}
