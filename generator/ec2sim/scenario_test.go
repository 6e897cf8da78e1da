package ec2sim

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

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
				for done := false; !done; {
					if err := c.Sleep(ctx, 30*time.Second); err != nil {
						fail(err)
						return
					}
					if !call(desc, func() error {
						out, err := s.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
						if err == nil {
							done = out.Snapshots[0].State == types.SnapshotStateCompleted
						}
						return err
					}) {
						return
					}
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
			for done := false; !done; {
				if err := c.Sleep(ctx, 5*time.Second); err != nil {
					fail(err)
					return
				}
				if !call(desc, func() error {
					out, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vol}})
					if err == nil {
						done = out.Volumes[0].State == types.VolumeStateAvailable
					}
					return err
				}) {
					return
				}
			}
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
