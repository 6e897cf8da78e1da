package ebs_test

import (
	"context"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/spec"
)

// perfResult is one measured clone on the simulator's virtual clock.
type perfResult struct {
	virtual      time.Duration // the Clone call, virtual time
	wall         time.Duration
	createVolume time.Duration // first to last CreateVolume call
	toAvailable  time.Duration // first CreateVolume call to the end of the clone
	floor        time.Duration // EC2's mutating bucket for the run's mutating calls
	mutating     int
	calls        map[string]int
	simThrottles int // RequestLimitExceeded the simulator's buckets answered
	engThrottles int // throttling errors the engine absorbed
	maxSnapRound int
	maxVolRound  int
	rounds       int
}

// measureClone seeds members nodes in 3 zones whose snapshots each take T
// of virtual time and runs one final-phase clone of all of them. With
// snapshotsFirst, a first run takes the snapshots and stops at its first
// CreateVolume (a crash), the snapshots complete and EC2's buckets refill,
// and the measured run is the CreateVolume phase alone.
func measureClone(tb testing.TB, members, devices int, T time.Duration, snapshotsFirst bool) perfResult {
	e := newSim(tb, simCase{Nodes: members, Devices: devices, Snapshot: T, NoHook: true, IdleWindow: 5 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if snapshotsFirst {
		e.sim.CrashWhen(func(c ec2sim.Call) bool { return c.Op == ec2sim.OpCreateVolume && !c.DryRun })
		if _, err := e.clone(ctx, spec.PhaseFinal); err == nil || !e.sim.Crashed() {
			tb.Fatalf("the snapshot run did not stop at CreateVolume: %v", err)
		}
		e.sim.Revive()
		if err := e.sim.Clock().Sleep(ctx, 2*T); err != nil {
			tb.Fatal(err)
		}
	}
	eng := e.engine()
	inv := discover(tb, ctx, eng)
	e.sim.ResetAudit()
	start, wall := e.sim.Now(), time.Now()
	if _, err := eng.Clone(ctx, inv, ebs.CloneOptions{Phase: spec.PhaseFinal, RecordPath: e.lock}); err != nil {
		tb.Fatalf("clone (an error here is a throttle or fault that surfaced to the user): %v", err)
	}
	r := perfResult{virtual: e.sim.Now().Sub(start), wall: time.Since(wall), calls: e.sim.Stats().Calls}
	var cv []time.Time
	for _, c := range e.sim.Calls() {
		if c.Mutating && c.Code != "RequestLimitExceeded" {
			r.mutating++
		}
		if c.Op == ec2sim.OpCreateVolume && !c.DryRun && c.Code == "" {
			cv = append(cv, c.At)
		}
	}
	sort.Slice(cv, func(i, j int) bool { return cv[i].Before(cv[j]) })
	if len(cv) > 0 {
		r.createVolume = cv[len(cv)-1].Sub(cv[0])
		r.toAvailable = start.Add(r.virtual).Sub(cv[0])
	}
	r.floor = time.Duration(float64(max(r.mutating-100, 0)) / 5 * float64(time.Second))
	st := e.sim.Stats()
	r.simThrottles = st.BucketThrottles + st.InjectedThrottles
	for _, n := range eng.Stats().Throttles() {
		r.engThrottles += n
	}
	r.rounds, r.maxSnapRound, r.maxVolRound = eng.Stats().PollRounds()
	return r
}

func (r perfResult) report(b *testing.B) {
	b.ReportMetric(r.virtual.Seconds(), "virtual-s")
	b.ReportMetric(float64(r.wall.Milliseconds()), "wall-ms")
	b.ReportMetric(r.floor.Seconds(), "floor-s")
	b.ReportMetric(r.createVolume.Seconds(), "createvolume-s")
	b.ReportMetric(float64(r.simThrottles), "throttles")
	b.ReportMetric(float64(r.maxSnapRound), "snapdescribes/round")
	b.ReportMetric(float64(r.maxVolRound), "voldescribes/round")
	b.Logf("virtual %s (floor %s), wall %s, CreateVolume calls span %s (until all available %s), %d poll rounds (max %d DescribeSnapshots, %d DescribeVolumes per round), throttles: %d from EC2's buckets, %d absorbed; calls: %s",
		r.virtual, r.floor, r.wall.Round(time.Millisecond), r.createVolume, r.toAvailable, r.rounds, r.maxSnapRound, r.maxVolRound, r.simThrottles, r.engThrottles, ebs.FormatCounts(r.calls))
}

func checkDescribesPerRound(tb testing.TB, r perfResult, members int) {
	tb.Helper()
	limit := int(math.Ceil(float64(members) / 500))
	if r.maxSnapRound > limit || r.maxVolRound > limit {
		tb.Errorf("a poll round made %d DescribeSnapshots and %d DescribeVolumes calls, want at most %d each", r.maxSnapRound, r.maxVolRound, limit)
	}
}

// 100 members (two devices each) in 3 zones, every snapshot taking T: the
// clone takes at most 1.2 T plus the token-bucket floor (one at a time it
// would take 100 T).
func BenchmarkClone100Members(b *testing.B) {
	const T = 30 * time.Minute
	for i := 0; i < b.N; i++ {
		r := measureClone(b, 100, 2, T, false)
		r.report(b)
		if bound := time.Duration(1.2*float64(T)) + r.floor; r.virtual > bound {
			b.Errorf("clone took %s, more than 1.2 T + floor = %s", r.virtual, bound)
		}
		checkDescribesPerRound(b, r, 100)
	}
}

// 300 members: the CreateVolume phase (all final snapshots complete, the
// buckets full) finishes within 1.1 x the floor of EC2's mutating bucket
// ((300 - 100) / 5 = 40 s), and no throttling error reaches the user.
func BenchmarkCreateVolume300Members(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r := measureClone(b, 300, 1, 30*time.Minute, true)
		r.report(b)
		const floor = 40 * time.Second
		if r.createVolume > floor*11/10 {
			b.Errorf("CreateVolume phase took %s, more than 1.1 x %s", r.createVolume, floor)
		}
		checkDescribesPerRound(b, r, 300)
	}
}

// TestPerformance100Members runs the 100-member benchmark's scenario once as
// a test, so that its bounds are checked on every test run.
func TestPerformance100Members(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const T = 30 * time.Minute
	r := measureClone(t, 100, 2, T, false)
	if bound := time.Duration(1.2*float64(T)) + r.floor; r.virtual > bound {
		t.Errorf("clone took %s, more than 1.2 T + floor = %s", r.virtual, bound)
	}
	checkDescribesPerRound(t, r, 100)
	if r.simThrottles != 0 {
		t.Errorf("%d calls were throttled by EC2's buckets: the client-side limiter should prevent that", r.simThrottles)
	}
	t.Logf("virtual %s (floor %s), wall %s", r.virtual, r.floor, r.wall)
}
