package ec2sim

import (
	"context"
	"errors"
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
			c := NewClock(t0, 0)
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
