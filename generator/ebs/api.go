package ebs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"golang.org/x/time/rate"
)

// Limits are the client-side token buckets graft paces its calls with. The
// defaults match EC2's documented request-token buckets, so a run spends
// its burst and then proceeds at the refill rate instead of provoking
// RequestLimitExceeded.
type Limits struct {
	MutatingBurst int
	MutatingRate  float64 // tokens per second
	DescribeBurst int
	DescribeRate  float64
	// MaxThrottleRetries bounds the retries of one throttled call (default 12).
	MaxThrottleRetries int
	// BaseBackoff and MaxBackoff shape the exponential backoff with full
	// jitter after a throttling error (defaults 1s and 20s).
	BaseBackoff, MaxBackoff time.Duration
}

// DefaultLimits are EC2's buckets: mutating burst 100 refill 5/s, describe
// burst 100 refill 20/s.
func DefaultLimits() Limits {
	return Limits{MutatingBurst: 100, MutatingRate: 5, DescribeBurst: 100, DescribeRate: 20, MaxThrottleRetries: 12, BaseBackoff: time.Second, MaxBackoff: 20 * time.Second}
}

// Stats is what the engine counted: its logical EC2 calls and the
// throttling errors it absorbed (a CallCounter fed by graft's own retry
// loop, one count per attempt), and the Describe calls of each poll round.
type Stats struct {
	counts *CallCounter

	mu sync.Mutex
	// maxSnapRound and maxVolRound are the most DescribeSnapshots /
	// DescribeVolumes calls one poll round made.
	maxSnapRound, maxVolRound, rounds int
}

func newStats() *Stats { return &Stats{counts: NewCallCounter()} }

func (s *Stats) add(op string, throttled bool) { s.counts.add(op, throttled) }

func (s *Stats) round(snaps, vols int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rounds++
	s.maxSnapRound = max(s.maxSnapRound, snaps)
	s.maxVolRound = max(s.maxVolRound, vols)
}

// Calls returns the calls per operation that EC2 answered other than with
// a throttling error (successes and other errors).
func (s *Stats) Calls() map[string]int { return s.counts.Calls() }

// Throttles returns the throttling errors absorbed per operation.
func (s *Stats) Throttles() map[string]int { return s.counts.Throttles() }

// PollRounds returns the number of poll rounds and the most
// DescribeSnapshots and DescribeVolumes calls any one round made.
func (s *Stats) PollRounds() (rounds, maxSnapshotCalls, maxVolumeCalls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rounds, s.maxSnapRound, s.maxVolRound
}

// api wraps an EC2 with graft's token buckets and throttling retries, both
// on the Clock, so that the simulator's virtual clock drives them too. It
// implements EC2, so the SDK's paginators take it.
type api struct {
	*pacer
	// readOnly makes every mutating call an error before it reaches EC2.
	// Discover, Plan and PlanCleanup run on read-only views (see
	// Engine.readOnly), so "they change nothing" is enforced, not promised.
	readOnly bool
}

// pacer is what every view of one region's api shares: the client, its
// token buckets and the throttling backoff.
type pacer struct {
	ec2     EC2
	clock   Clock
	limits  Limits
	mut     *rate.Limiter
	desc    *rate.Limiter
	stats   *Stats
	rngMu   sync.Mutex
	rng     *rand.Rand
	limMu   sync.Mutex
	limLast time.Time
}

// errReadOnly is wrapped by a mutating call made through a read-only api.
var errReadOnly = errors.New("mutating call in a read-only stage")

func newAPI(c EC2, clock Clock, l Limits, stats *Stats, mut, desc *rate.Limiter) *api {
	l.MaxThrottleRetries = cmp.Or(l.MaxThrottleRetries, 12)
	l.BaseBackoff = cmp.Or(l.BaseBackoff, time.Second)
	l.MaxBackoff = cmp.Or(l.MaxBackoff, 20*time.Second)
	return &api{pacer: &pacer{ec2: c, clock: clock, limits: l, mut: mut, desc: desc, stats: stats, rng: rand.New(rand.NewPCG(1, 2))}}
}

// readOnlyView returns an api on the same client and buckets that refuses
// every mutating call.
func (a *api) readOnlyView() *api { return &api{pacer: a.pacer, readOnly: true} }

func newLimiters(l Limits) (mut, desc *rate.Limiter) {
	return rate.NewLimiter(rate.Limit(l.MutatingRate), l.MutatingBurst), rate.NewLimiter(rate.Limit(l.DescribeRate), l.DescribeBurst)
}

// wait takes one token from lim, sleeping on the clock as long as needed.
// Reservations are made in time order under a lock: rate.Limiter moves its
// notion of "last" back when handed an earlier time, which would mint
// tokens twice when goroutines race between Now and ReserveN.
func (a *pacer) wait(ctx context.Context, lim *rate.Limiter) error {
	a.limMu.Lock()
	now := a.clock.Now()
	if now.Before(a.limLast) {
		now = a.limLast
	}
	a.limLast = now
	r := lim.ReserveN(now, 1)
	a.limMu.Unlock()
	if !r.OK() {
		return fmt.Errorf("rate limiter: burst too small")
	}
	if d := r.DelayFrom(a.clock.Now()); d > 0 {
		// A millisecond of margin: EC2's bucket refills by the same rule,
		// but its arithmetic need not round as ours does.
		if err := a.clock.Sleep(ctx, d+time.Millisecond); err != nil {
			r.CancelAt(a.clock.Now())
			return err
		}
	}
	return nil
}

func (a *pacer) backoff(attempt int) time.Duration {
	d := a.limits.BaseBackoff << min(attempt, 16)
	if d <= 0 || d > a.limits.MaxBackoff {
		d = a.limits.MaxBackoff
	}
	a.rngMu.Lock()
	defer a.rngMu.Unlock()
	return time.Duration(a.rng.Int64N(int64(d))) + time.Millisecond
}

func do[O any](ctx context.Context, a *api, op string, mutating bool, fn func(context.Context) (O, error)) (O, error) {
	var zero O
	if mutating && a.readOnly {
		return zero, fmt.Errorf("internal error: %s: %w (discover, plan and the cleanup plan change nothing)", op, errReadOnly)
	}
	lim := a.desc
	if mutating {
		lim = a.mut
	}
	for attempt := 0; ; attempt++ {
		if err := a.wait(ctx, lim); err != nil {
			return zero, err
		}
		out, err := fn(ctx)
		if !isThrottle(err) {
			a.stats.add(op, false)
			return out, err
		}
		a.stats.add(op, true)
		if attempt >= a.limits.MaxThrottleRetries {
			return zero, fmt.Errorf("%s: EC2 kept throttling after %d attempts: %w", op, attempt+1, err)
		}
		if err := a.clock.Sleep(ctx, a.backoff(attempt)); err != nil {
			return zero, err
		}
	}
}

func (a *api) DescribeAvailabilityZones(ctx context.Context, in *ec2.DescribeAvailabilityZonesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error) {
	return do(ctx, a, "DescribeAvailabilityZones", false, func(ctx context.Context) (*ec2.DescribeAvailabilityZonesOutput, error) {
		return a.ec2.DescribeAvailabilityZones(ctx, in, optFns...)
	})
}

func (a *api) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return do(ctx, a, "DescribeInstances", false, func(ctx context.Context) (*ec2.DescribeInstancesOutput, error) {
		return a.ec2.DescribeInstances(ctx, in, optFns...)
	})
}

func (a *api) DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	return do(ctx, a, "DescribeVolumes", false, func(ctx context.Context) (*ec2.DescribeVolumesOutput, error) {
		return a.ec2.DescribeVolumes(ctx, in, optFns...)
	})
}

func (a *api) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	return do(ctx, a, "DescribeSnapshots", false, func(ctx context.Context) (*ec2.DescribeSnapshotsOutput, error) {
		return a.ec2.DescribeSnapshots(ctx, in, optFns...)
	})
}

func (a *api) DescribeFastSnapshotRestores(ctx context.Context, in *ec2.DescribeFastSnapshotRestoresInput, optFns ...func(*ec2.Options)) (*ec2.DescribeFastSnapshotRestoresOutput, error) {
	return do(ctx, a, "DescribeFastSnapshotRestores", false, func(ctx context.Context) (*ec2.DescribeFastSnapshotRestoresOutput, error) {
		return a.ec2.DescribeFastSnapshotRestores(ctx, in, optFns...)
	})
}

func (a *api) CreateSnapshot(ctx context.Context, in *ec2.CreateSnapshotInput, optFns ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error) {
	return do(ctx, a, "CreateSnapshot", true, func(ctx context.Context) (*ec2.CreateSnapshotOutput, error) {
		return a.ec2.CreateSnapshot(ctx, in, optFns...)
	})
}

func (a *api) CreateSnapshots(ctx context.Context, in *ec2.CreateSnapshotsInput, optFns ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error) {
	return do(ctx, a, "CreateSnapshots", true, func(ctx context.Context) (*ec2.CreateSnapshotsOutput, error) {
		return a.ec2.CreateSnapshots(ctx, in, optFns...)
	})
}

func (a *api) CopySnapshot(ctx context.Context, in *ec2.CopySnapshotInput, optFns ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error) {
	return do(ctx, a, "CopySnapshot", true, func(ctx context.Context) (*ec2.CopySnapshotOutput, error) {
		return a.ec2.CopySnapshot(ctx, in, optFns...)
	})
}

func (a *api) CreateVolume(ctx context.Context, in *ec2.CreateVolumeInput, optFns ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error) {
	return do(ctx, a, "CreateVolume", true, func(ctx context.Context) (*ec2.CreateVolumeOutput, error) {
		return a.ec2.CreateVolume(ctx, in, optFns...)
	})
}

func (a *api) EnableFastSnapshotRestores(ctx context.Context, in *ec2.EnableFastSnapshotRestoresInput, optFns ...func(*ec2.Options)) (*ec2.EnableFastSnapshotRestoresOutput, error) {
	return do(ctx, a, "EnableFastSnapshotRestores", true, func(ctx context.Context) (*ec2.EnableFastSnapshotRestoresOutput, error) {
		return a.ec2.EnableFastSnapshotRestores(ctx, in, optFns...)
	})
}

func (a *api) DisableFastSnapshotRestores(ctx context.Context, in *ec2.DisableFastSnapshotRestoresInput, optFns ...func(*ec2.Options)) (*ec2.DisableFastSnapshotRestoresOutput, error) {
	return do(ctx, a, "DisableFastSnapshotRestores", true, func(ctx context.Context) (*ec2.DisableFastSnapshotRestoresOutput, error) {
		return a.ec2.DisableFastSnapshotRestores(ctx, in, optFns...)
	})
}

func (a *api) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, optFns ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	return do(ctx, a, "DeleteSnapshot", true, func(ctx context.Context) (*ec2.DeleteSnapshotOutput, error) {
		return a.ec2.DeleteSnapshot(ctx, in, optFns...)
	})
}

func (a *api) DeleteVolume(ctx context.Context, in *ec2.DeleteVolumeInput, optFns ...func(*ec2.Options)) (*ec2.DeleteVolumeOutput, error) {
	return do(ctx, a, "DeleteVolume", true, func(ctx context.Context) (*ec2.DeleteVolumeOutput, error) {
		return a.ec2.DeleteVolume(ctx, in, optFns...)
	})
}

func (a *api) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return do(ctx, a, "CreateTags", true, func(ctx context.Context) (*ec2.CreateTagsOutput, error) {
		return a.ec2.CreateTags(ctx, in, optFns...)
	})
}

func (a *api) ModifySnapshotAttribute(ctx context.Context, in *ec2.ModifySnapshotAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifySnapshotAttributeOutput, error) {
	return do(ctx, a, "ModifySnapshotAttribute", true, func(ctx context.Context) (*ec2.ModifySnapshotAttributeOutput, error) {
		return a.ec2.ModifySnapshotAttribute(ctx, in, optFns...)
	})
}

func (a *api) DescribeSnapshotAttribute(ctx context.Context, in *ec2.DescribeSnapshotAttributeInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSnapshotAttributeOutput, error) {
	return do(ctx, a, "DescribeSnapshotAttribute", false, func(ctx context.Context) (*ec2.DescribeSnapshotAttributeOutput, error) {
		return a.ec2.DescribeSnapshotAttribute(ctx, in, optFns...)
	})
}

var _ EC2 = (*api)(nil)
