package ebs

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The poller is hand-written rather than built on the SDK's waiters
// (NewSnapshotCompletedWaiter, NewVolumeAvailableWaiter) for two reasons:
// a waiter polls one request's ids on its own schedule, so N members would
// make N DescribeSnapshots calls per round where EC2's Describe bucket
// (burst 100, 20/s) wants one call for all; and a waiter sleeps in real
// time, so it cannot run on the simulator's virtual clock. This poller makes
// one round for every member: DescribeSnapshots with up to snapshotIDBatch
// (1000) ids per call and DescribeVolumes with up to volumeIDBatch (500),
// i.e. ceil(snapshots/1000) and ceil(volumes/500) calls per round. With
// two devices per member that is ceil(members/500) DescribeSnapshots and
// ceil(members/250) DescribeVolumes calls; with one device, at most
// ceil(members/500) of each. It sleeps on the engine's Clock, and each wait
// has an explicit limit (Options.SnapshotTimeout, VolumeTimeout, FSRTimeout).

// maxFailedRounds is how many consecutive failed poll rounds a wait
// tolerates.
const maxFailedRounds = 5

// EC2's limits on one Describe call.
const (
	// snapshotIDBatch is the most ids one DescribeSnapshots call names:
	// DescribeSnapshots' largest page (MaxResults 5-1000). EC2 documents no
	// limit on SnapshotIds itself; the EBS CSI driver batches as many.
	snapshotIDBatch = 1000
	// volumeIDBatch is the most ids one DescribeVolumes call names:
	// DescribeVolumes' largest page (MaxResults 5-500), as the EBS CSI
	// driver batches them.
	volumeIDBatch = 500
	// filterValuesMax is the most values one call's filters may hold: EC2
	// answers more with FilterLimitExceeded ("The maximum number of filter
	// values specified on a single call is 200").
	filterValuesMax = 200
)

type watchKind int

const (
	watchSnapshot watchKind = iota
	watchVolume
	watchFSR
)

func (k watchKind) String() string {
	return [...]string{"snapshot", "volume", "fast snapshot restore"}[k]
}

type watchKey struct {
	kind watchKind
	id   string
	zone string // FSR only
}

// status is what one poll round saw of one resource.
type status struct {
	found    bool
	state    string
	progress int
	message  string
	volume   *types.Volume // the volume as this round saw it
	err      error         // the round's Describe failed
}

type poller struct {
	c        *api
	clock    Clock
	interval time.Duration // snapshots and FSR
	volEvery time.Duration // volumes
	stats    *Stats

	mu       sync.Mutex
	watches  map[watchKey]map[chan status]struct{}
	wake     chan struct{}
	lastSnap time.Time
}

func newPoller(c *api, clock Clock, interval time.Duration, stats *Stats) *poller {
	return &poller{c: c, clock: clock, interval: interval, volEvery: min(interval, 2*time.Second), stats: stats,
		watches: map[watchKey]map[chan status]struct{}{}, wake: make(chan struct{}, 1)}
}

// run polls until ctx is done: every interval, or every volEvery while a
// volume is watched (volumes become available within seconds).
func (p *poller) run(ctx context.Context) {
	for ctx.Err() == nil {
		p.mu.Lock()
		n := len(p.watches)
		volumes := false
		for k := range p.watches {
			if k.kind == watchVolume {
				volumes = true
			}
		}
		p.mu.Unlock()
		if n == 0 {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
				continue
			}
		}
		d := p.interval
		if volumes {
			d = p.volEvery
		}
		if err := p.clock.Sleep(ctx, d); err != nil {
			return
		}
		p.round(ctx)
	}
}

// wait blocks until see reports done, ctx ends, or timeout passes on the
// clock. see gets every status of the resource, one per round.
func (p *poller) wait(ctx context.Context, key watchKey, timeout time.Duration, see func(status) (bool, error)) error {
	ch := make(chan status, 1)
	p.mu.Lock()
	if p.watches[key] == nil {
		p.watches[key] = map[chan status]struct{}{}
	}
	p.watches[key][ch] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.watches[key], ch)
		if len(p.watches[key]) == 0 {
			delete(p.watches, key)
		}
		p.mu.Unlock()
	}()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	deadline := p.clock.Now().Add(timeout)
	failedRounds := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case st := <-ch:
			// A Describe that failed after the SDK's own retries: retry
			// it for a few rounds, then give up on this wait.
			if st.err != nil {
				if failedRounds++; failedRounds >= maxFailedRounds {
					return fmt.Errorf("waiting for %s %s: %d poll rounds failed: %w", key.kind, key.id, failedRounds, st.err)
				}
			} else {
				failedRounds = 0
			}
			done, err := see(st)
			if done || err != nil {
				return err
			}
			if !p.clock.Now().Before(deadline) {
				return &timeoutError{key: key, after: timeout, last: st}
			}
		}
	}
}

// timeoutError is a wait that passed its limit.
type timeoutError struct {
	key   watchKey
	after time.Duration
	last  status
}

func (e *timeoutError) Error() string {
	what := fmt.Sprintf("%s %s", e.key.kind, e.key.id)
	if e.key.zone != "" {
		what += " in " + e.key.zone
	}
	state := e.last.state
	if e.key.kind == watchSnapshot {
		state = fmt.Sprintf("%s at %d%%", state, e.last.progress)
	}
	return fmt.Sprintf("timed out: %s is still %s after %s (the wait limit); EC2 keeps working on it, and the next run waits again", what, state, e.after)
}

func (p *poller) snapshot() (snaps, vols []string, fsr map[string][]string, subs map[watchKey][]chan status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fsr = map[string][]string{}
	subs = map[watchKey][]chan status{}
	for k, chans := range p.watches {
		switch k.kind {
		case watchSnapshot:
			snaps = append(snaps, k.id)
		case watchVolume:
			vols = append(vols, k.id)
		case watchFSR:
			fsr[k.id] = append(fsr[k.id], k.zone)
		}
		for ch := range chans {
			subs[k] = append(subs[k], ch)
		}
	}
	return
}

// round makes one poll round: one DescribeSnapshots per snapshotIDBatch
// pending snapshot ids (at most every interval), one DescribeVolumes per
// volumeIDBatch pending volume ids, and the fast snapshot restore states.
func (p *poller) round(ctx context.Context) {
	snapIDs, volIDs, fsr, subs := p.snapshot()
	seen := map[watchKey]status{}
	now := p.clock.Now()
	snapCalls := 0
	if len(snapIDs) > 0 && (now.Sub(p.lastSnap) >= p.interval || p.lastSnap.IsZero() || len(volIDs) == 0) {
		p.lastSnap = now
		snapCalls = pollByID(ctx, p.c, snapshotKind, snapIDs, snapshotIDBatch, watchSnapshot, seen, func(s types.Snapshot) status {
			return status{found: true, state: string(s.State), progress: parseProgress(s.Progress), message: aws.ToString(s.StateMessage)}
		})
	}
	volCalls := pollByID(ctx, p.c, volumeKind, volIDs, volumeIDBatch, watchVolume, seen, func(v types.Volume) status {
		return status{found: true, state: string(v.State), volume: &v}
	})
	if len(fsr) > 0 {
		ids := slices.Sorted(maps.Keys(fsr))
		states, err := describeFSR(ctx, p.c, ids)
		for _, id := range ids {
			for _, z := range fsr[id] {
				st := status{err: err}
				if s, ok := states[id+" "+z]; ok {
					st = status{found: true, state: s.state, message: s.reason}
				}
				seen[watchKey{kind: watchFSR, id: id, zone: z}] = st
			}
		}
	}
	p.stats.round(snapCalls, volCalls)
	for k, chans := range subs {
		st, ok := seen[k]
		if !ok {
			continue
		}
		for _, ch := range chans {
			select {
			case <-ch: // drop a stale status nobody read
			default:
			}
			select {
			case ch <- st:
			default:
			}
		}
	}
}

func parseProgress(s *string) int {
	v := strings.TrimSuffix(aws.ToString(s), "%")
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0
	}
	return n
}

// pollByID reads the resources of kind k named by ids, batch ids a call
// (describeByID), and puts each id's status in seen under watch: of the
// resource found (found), or the call's error, or not found. It returns
// the number of calls.
func pollByID[O, R any](ctx context.Context, c EC2, k kind[O, R], ids []string, batch int, watch watchKind, seen map[watchKey]status, found func(R) status) int {
	calls := 0
	for chunk := range slices.Chunk(ids, batch) {
		calls++
		got, err := describeByID(ctx, c, k, chunk)
		for _, id := range chunk {
			st := status{err: err}
			if r, ok := got[id]; ok {
				st = found(r)
			}
			seen[watchKey{kind: watch, id: id}] = st
		}
	}
	return calls
}

type fsrStatus struct{ state, reason string }

// describeFSR returns the FSR state per "snapshot zone", filtering by
// snapshot-id with at most filterValuesMax ids per call.
func describeFSR(ctx context.Context, c EC2, snapIDs []string) (map[string]fsrStatus, error) {
	out := map[string]fsrStatus{}
	for chunk := range slices.Chunk(snapIDs, filterValuesMax) {
		pg := ec2.NewDescribeFastSnapshotRestoresPaginator(c, &ec2.DescribeFastSnapshotRestoresInput{
			Filters: []types.Filter{{Name: aws.String("snapshot-id"), Values: chunk}}, MaxResults: aws.Int32(200)})
		err := paginate(ctx, "DescribeFastSnapshotRestores", pg,
			func(page *ec2.DescribeFastSnapshotRestoresOutput) {
				for _, f := range page.FastSnapshotRestores {
					out[aws.ToString(f.SnapshotId)+" "+aws.ToString(f.AvailabilityZone)] = fsrStatus{state: string(f.State), reason: aws.ToString(f.StateTransitionReason)}
				}
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
