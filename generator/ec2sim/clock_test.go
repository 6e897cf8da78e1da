package ec2sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestManualClock(t *testing.T) {
	c := NewManualClock(t0)
	if err := c.Sleep(ctx, 0); err != nil || c.Now() != t0 {
		t.Fatalf("Sleep(0): %v", err)
	}
	woke := make(chan time.Duration, 3)
	for _, d := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
		go func() {
			if err := c.Sleep(ctx, d); err == nil {
				woke <- d
			}
		}()
	}
	if err := c.WaitForSleepers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	c.Advance(1500 * time.Millisecond)
	if d := <-woke; d != time.Second {
		t.Fatalf("woke %v first", d)
	}
	select {
	case d := <-woke:
		t.Fatalf("%v woke early", d)
	case <-time.After(5 * time.Millisecond):
	}
	c.AdvanceTo(t0.Add(time.Hour))
	<-woke
	<-woke
	if c.Elapsed() != time.Hour || c.Sleepers() != 0 {
		t.Fatalf("elapsed %v sleepers %d", c.Elapsed(), c.Sleepers())
	}
	c.AdvanceTo(t0) // never backwards
	if c.Elapsed() != time.Hour {
		t.Fatal("clock went backwards")
	}
	// ctx cancellation returns ctx.Err and drops the sleeper.
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error)
	go func() { errc <- c.Sleep(cctx, time.Minute) }()
	if err := c.WaitForSleepers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || c.Sleepers() != 0 {
		t.Fatalf("cancel: %v, %d sleepers", err, c.Sleepers())
	}
}

// The property the benchmarks rely on: concurrent sleepers overlap, so
// virtual elapsed time is the critical path, and each wakes at its time.
func TestAutoClockCriticalPath(t *testing.T) {
	tests := []struct {
		name       string
		goroutines int
		sleeps     func(g int) []time.Duration
		want       time.Duration
	}{
		{"100 pollers x 10 x 15s", 100, func(int) []time.Duration {
			return []time.Duration{15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second,
				15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second}
		}, 150 * time.Second},
		{"staggered", 50, func(g int) []time.Duration {
			return []time.Duration{time.Duration(g) * time.Second, time.Hour}
		}, time.Hour + 49*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// An idle window well above a loaded machine's scheduling
			// delay: a goroutine that wakes and has not yet slept again
			// when the window passes sees time pass under it (see Clock),
			// which is not the property under test.
			c := NewClock(t0, 10*time.Millisecond)
			// Hold the clock, as a simulator call in progress would, until
			// every goroutine sleeps: all start at t0, however late the
			// scheduler runs them.
			c.enter()
			var wg sync.WaitGroup
			var mu sync.Mutex
			late := []string{}
			for g := range tt.goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					want := c.Now()
					for _, d := range tt.sleeps(g) {
						want = want.Add(d)
						if err := c.Sleep(ctx, d); err != nil {
							t.Error(err)
							return
						}
						if got := c.Now(); !got.Equal(want) {
							mu.Lock()
							late = append(late, got.Sub(want).String())
							mu.Unlock()
							want = got
						}
					}
				}()
			}
			if err := c.WaitForSleepers(ctx, tt.goroutines); err != nil {
				t.Fatal(err)
			}
			c.exit()
			wg.Wait()
			if c.Elapsed() != tt.want {
				t.Fatalf("elapsed %v, want %v (late wake-ups: %s)", c.Elapsed(), tt.want, strings.Join(late, " "))
			}
		})
	}
}

func TestSDKWaiters(t *testing.T) {
	s := New(Options{Limits: RateLimits{Off: true}}) // auto clock
	cl := seed(t, s, ClusterSpec{Nodes: 2, Devices: []DeviceSpec{{Device: "/dev/xvdf", VolumeSpec: VolumeSpec{SizeGiB: 1000}}}})
	good := mustSnapshot(t, s, cl.Nodes[0].DataVolumes["/dev/xvdf"])
	fast := func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 2*time.Millisecond, 4*time.Millisecond
	}
	w := ec2.NewSnapshotCompletedWaiter(s, fast)
	start := time.Now()
	if err := w.Wait(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{good}}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	want := DefaultSnapshotDuration(SnapInfo{SizeGiB: 1000})
	if s.Elapsed() < want || s.Elapsed() > want+time.Minute {
		t.Fatalf("snapshot completed after %v virtual, want about %v", s.Elapsed(), want)
	}
	t.Logf("%v of snapshotting in %v wall", s.Elapsed(), time.Since(start))

	s.FailSnapshotsOf(cl.Nodes[1].DataVolumes["/dev/xvdf"], "boom")
	bad := mustSnapshot(t, s, cl.Nodes[1].DataVolumes["/dev/xvdf"])
	if err := w.Wait(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{bad}}, 10*time.Second); err == nil || !strings.Contains(err.Error(), "Failure") {
		t.Fatalf("waiter on a failing snapshot: %v", err)
	}
	s.StallSnapshotsOf(cl.Nodes[1].DataVolumes["/dev/xvdf"])
	stuck := mustSnapshot(t, s, cl.Nodes[1].DataVolumes["/dev/xvdf"])
	if err := w.Wait(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{stuck}}, 50*time.Millisecond); err == nil || !(strings.Contains(err.Error(), "exceeded max wait") || strings.Contains(err.Error(), "deadline exceeded")) {
		t.Fatalf("waiter on a stalled snapshot: %v", err)
	}

	v, err := s.CreateVolume(ctx, &ec2.CreateVolumeInput{SnapshotId: aws.String(good), AvailabilityZone: aws.String("us-east-1c"), VolumeType: types.VolumeTypeGp3})
	if err != nil {
		t.Fatal(err)
	}
	vw := ec2.NewVolumeAvailableWaiter(s, func(o *ec2.VolumeAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 2*time.Millisecond, 4*time.Millisecond
	})
	out, err := vw.WaitForOutput(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{*v.VolumeId}}, 10*time.Second)
	if err != nil || out.Volumes[0].State != types.VolumeStateAvailable {
		t.Fatalf("volume waiter: %v", err)
	}
}

// These scenarios stand in for the engine: concurrent members that wait
// only through the simulator's clock, a client-side token bucket matching
// EC2's, and retries on throttling. They show that the benchmarks
// are meaningful on this clock: elapsed virtual time is the critical path
// plus the bucket floor, not the sum over members.

// vlimiter is a reservation token bucket on the virtual clock.
type vlimiter struct {
	mu          sync.Mutex
	clock       *Clock
	burst, rate float64
	tokens      float64
	last        time.Time
}

func newLimiter(c *Clock, burst, rate float64) *vlimiter {
	return &vlimiter{clock: c, burst: burst, rate: rate, tokens: burst, last: c.Now()}
}

func (l *vlimiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := l.clock.Now()
	if now.After(l.last) {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
	}
	l.tokens--
	var d time.Duration
	if l.tokens < 0 {
		d = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	return l.clock.Sleep(ctx, d)
}

// retry calls f until it does not return RequestLimitExceeded.
func retry(ctx context.Context, c *Clock, lim *vlimiter, f func() error) (int, error) {
	for attempt := 0; ; attempt++ {
		if err := lim.wait(ctx); err != nil {
			return attempt, err
		}
		err := f()
		if ErrorCode(err) != "RequestLimitExceeded" {
			return attempt, err
		}
		if err := c.Sleep(ctx, min(time.Second<<attempt, 8*time.Second)); err != nil {
			return attempt, err
		}
	}
}

type result struct {
	elapsed   time.Duration // virtual, until the last member finished
	retries   int           // throttles absorbed by retrying
	surfaced  []error       // errors a user would see
	stats     Stats
	wall      time.Duration
	createEnd time.Duration // virtual time of the last CreateVolume success
}

// clone runs members concurrently: CreateSnapshot, poll until completed,
// CreateVolume, poll until available.
func clone(tb testing.TB, members int, snapTime time.Duration, throttle float64, volumesOnly bool) result {
	tb.Helper()
	s := New(Options{SnapshotDuration: func(SnapInfo) time.Duration { return snapTime }})
	cl := seed(tb, s, ClusterSpec{Nodes: members, NoBootVolume: true})
	c := s.Clock()
	var snaps []string
	if volumesOnly {
		for _, n := range cl.Nodes {
			id, err := s.AddSnapshot(n.DataVolumes["/dev/xvdf"], nil)
			if err != nil {
				tb.Fatal(err)
			}
			snaps = append(snaps, id)
		}
	}
	s.Throttle(throttle)
	mut, desc := newLimiter(c, 100, 5), newLimiter(c, 100, 20)
	var mu sync.Mutex
	var res result
	var wg sync.WaitGroup
	start := time.Now()
	for i, n := range cl.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(err error) {
				mu.Lock()
				res.surfaced = append(res.surfaced, fmt.Errorf("%s: %w", n.Name, err))
				mu.Unlock()
			}
			call := func(lim *vlimiter, f func() error) bool {
				r, err := retry(ctx, c, lim, f)
				mu.Lock()
				res.retries += r
				mu.Unlock()
				if err != nil {
					fail(err)
					return false
				}
				return true
			}
			// until polls every interval (a Describe call through desc)
			// until check says done; false when the member gave up.
			until := func(every time.Duration, check func() (bool, error)) bool {
				for done := false; !done; {
					if err := c.Sleep(ctx, every); err != nil {
						fail(err)
						return false
					}
					if !call(desc, func() error {
						var err error
						done, err = check()
						return err
					}) {
						return false
					}
				}
				return true
			}
			var snap string
			if volumesOnly {
				snap = snaps[i]
			} else {
				if !call(mut, func() error {
					out, err := s.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(n.DataVolumes["/dev/xvdf"])})
					if err == nil {
						snap = *out.SnapshotId
					}
					return err
				}) {
					return
				}
				if !until(30*time.Second, func() (bool, error) {
					out, err := s.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
					return err == nil && out.Snapshots[0].State == types.SnapshotStateCompleted, err
				}) {
					return
				}
			}
			var vol string
			if !call(mut, func() error {
				out, err := s.CreateVolume(ctx, &ec2.CreateVolumeInput{SnapshotId: aws.String(snap), AvailabilityZone: aws.String(n.Zone),
					VolumeType: types.VolumeTypeGp3, ClientToken: aws.String("graft-" + n.Name)})
				if err == nil {
					vol = *out.VolumeId
					mu.Lock()
					res.createEnd = max(res.createEnd, s.Elapsed())
					mu.Unlock()
				}
				return err
			}) || volumesOnly {
				return
			}
			until(5*time.Second, func() (bool, error) {
				out, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vol}})
				return err == nil && out.Volumes[0].State == types.VolumeStateAvailable, err
			})
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	res.elapsed = s.Elapsed()
	res.stats = s.Stats()
	if calls := s.MutatingCallsOn(cl.SourceIDs()...); len(calls) != 0 {
		tb.Fatalf("mutating calls on sources: %v", calls)
	}
	return res
}

func TestScenarioClone100(t *testing.T) {
	const T = time.Hour
	r := clone(t, 100, T, 0, false)
	if len(r.surfaced) > 0 {
		t.Fatal(r.surfaced)
	}
	if r.elapsed < T || r.elapsed > T*12/10 {
		t.Fatalf("100 members, T=%v: %v virtual, want within [T, 1.2T]", T, r.elapsed)
	}
	if r.stats.Calls[OpCreateVolume] != 100 || r.stats.Calls[OpCreateSnapshot] != 100 {
		t.Fatalf("calls %v", r.stats.Calls)
	}
	t.Logf("100 members: %v virtual, %v wall, %d throttles", r.elapsed, r.wall, r.stats.BucketThrottles)
}

func TestScenarioCreateVolume300(t *testing.T) {
	r := clone(t, 300, time.Hour, 0, true)
	if len(r.surfaced) > 0 {
		t.Fatal(r.surfaced)
	}
	floor := 40 * time.Second // (300-100)/5
	if r.createEnd < floor-time.Second || r.createEnd > floor*11/10 {
		t.Fatalf("300 CreateVolume: done at %v, want within [%v, 1.1×%v]", r.createEnd, floor, floor)
	}
	t.Logf("300 CreateVolume: %v virtual, %v wall, %d bucket throttles absorbed", r.createEnd, r.wall, r.stats.BucketThrottles)
}

func TestScenarioThrottled30(t *testing.T) {
	r := clone(t, 30, 20*time.Minute, 0.3, false)
	if len(r.surfaced) > 0 {
		t.Fatal(r.surfaced)
	}
	if r.stats.InjectedThrottles == 0 || r.retries < r.stats.InjectedThrottles {
		t.Fatalf("throttles %d, retries %d", r.stats.InjectedThrottles, r.retries)
	}
	if n := len(r.stats.Calls); n == 0 || r.elapsed > 30*time.Minute {
		t.Fatalf("elapsed %v", r.elapsed)
	}
	t.Logf("30%% throttled: %v virtual, %v wall, %d injected throttles retried", r.elapsed, r.wall, r.stats.InjectedThrottles)
}

func BenchmarkClone100(b *testing.B) {
	for b.Loop() {
		r := clone(b, 100, time.Hour, 0, false)
		b.ReportMetric(r.elapsed.Seconds(), "sim-s")
		b.ReportMetric(float64(r.stats.BucketThrottles), "throttles")
	}
}

func BenchmarkCreateVolume300(b *testing.B) {
	for b.Loop() {
		r := clone(b, 300, time.Hour, 0, true)
		b.ReportMetric(r.createEnd.Seconds(), "sim-s")
		b.ReportMetric(float64(r.stats.BucketThrottles), "throttles")
	}
}
