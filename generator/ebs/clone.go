package ebs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// ErrMembersFailed is wrapped when some members stopped; the others went
// on and the record holds them.
var ErrMembersFailed = errors.New("some members did not finish")

// ErrDryRun is wrapped when a DryRun call shows that clone would fail.
var ErrDryRun = errors.New("dry run: clone would fail")

// CloneOptions are one clone run's choices.
type CloneOptions struct {
	// Phase is spec.PhasePrecopy (snapshots, and copies, while the
	// application runs) or spec.PhaseFinal (hook, final incremental
	// snapshot, copy, volumes, record).
	Phase string
	// Record is the record to update (loaded, or record.New); RecordPath
	// is where it is rewritten, atomically, as each member finishes.
	Record     *record.Record
	RecordPath string
	// RunHook runs one beforeFinal command; nil runs it with os/exec.
	RunHook func(ctx context.Context, argv []string) ([]byte, error)
}

// MemberResult is how one member's run ended.
type MemberResult struct {
	Member string
	Err    error
}

// CloneResult is the outcome of a clone run.
type CloneResult struct {
	Members []MemberResult
	// Created counts the resources this run created, by role.
	Created map[string]int
}

// Failed returns the members that stopped.
func (r *CloneResult) Failed() []MemberResult {
	var out []MemberResult
	for _, m := range r.Members {
		if m.Err != nil {
			out = append(out, m)
		}
	}
	return out
}

type cloneRun struct {
	e      *Engine
	inv    *Inventory
	opts   CloneOptions
	x      *existing
	srcPol *poller
	dstPol *poller
	recMu  sync.Mutex

	mu      sync.Mutex
	created map[string]int
}

// Clone snapshots every member's data volumes and, in the final phase,
// creates the new volumes and records them. It first proves every kind of
// call it will make with EC2 DryRun, so a missing permission or an
// unusable KMS key stops it before anything is created. Members run
// concurrently; one member's failure leaves the others going. Re-running
// after any interruption resumes: every create is preceded by a look-up
// by tag, and CreateVolume carries a deterministic ClientToken. Two runs at
// once (two machines) converge: every create is followed by a re-check of
// its key, the oldest resource wins (snapshotWins, volumeWins), and each
// run adopts the winner and deletes only its own losers. What each member
// does is decided once, by decide, which Plan and DryRun render too.
func (e *Engine) Clone(ctx context.Context, inv *Inventory, opts CloneOptions) (*CloneResult, error) {
	if opts.Phase != spec.PhasePrecopy && opts.Phase != spec.PhaseFinal {
		return nil, fmt.Errorf("%w: phase %q, expected %s or %s", ErrInput, opts.Phase, spec.PhasePrecopy, spec.PhaseFinal)
	}
	if opts.Phase == spec.PhaseFinal && opts.Record == nil {
		opts.Record = record.New(e.m)
	}
	if err := e.checkShareKeys(ctx, inv); err != nil {
		return nil, err
	}
	x, err := e.lookup(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range x.dups {
		e.log.Warn("graft resource found twice; using the oldest (this run deletes only duplicates it makes itself; graft cleanup lists the others)", "key", d)
	}
	if err := e.preflight(ctx, inv, x, opts.Phase); err != nil {
		return nil, err
	}
	pctx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	r := &cloneRun{e: e, inv: inv, opts: opts, x: x, created: map[string]int{}}
	r.srcPol = newPoller(e.src, e.clock, e.opts.PollInterval, e.stats)
	go r.srcPol.run(pctx)
	r.dstPol = r.srcPol
	if e.dst != e.src {
		r.dstPol = newPoller(e.dst, e.clock, e.opts.PollInterval, e.stats)
		go r.dstPol.run(pctx)
	}

	res := &CloneResult{Members: make([]MemberResult, len(inv.Members))}
	n := len(inv.Members)
	if e.opts.Concurrency > 0 {
		n = e.opts.Concurrency
	}
	sem := make(chan struct{}, max(n, 1))
	var wg sync.WaitGroup
	for i, mb := range inv.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				res.Members[i] = MemberResult{Member: mb.Key(), Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			err := r.member(ctx, mb)
			e.opts.Progress.Done(mb.Key(), err)
			res.Members[i] = MemberResult{Member: mb.Key(), Err: err}
		}()
	}
	wg.Wait()
	stopPoll()
	res.Created = r.created
	failed := res.Failed()
	if ctx.Err() != nil {
		return res, fmt.Errorf("interrupted: %d of %d members finished; what was created is tagged and recorded, and the next run resumes from it: %w", len(inv.Members)-len(failed), len(inv.Members), ctx.Err())
	}
	if len(failed) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d of %d members stopped (the others finished", len(failed), len(inv.Members))
		if opts.Phase == spec.PhaseFinal {
			b.WriteString(" and are in the record")
		}
		b.WriteString("); the next run resumes them:")
		for _, f := range failed {
			// One line a member: its error may end in a hook's or
			// EC2's words.
			fmt.Fprintf(&b, "\n  - %s", termtext.Line(fmt.Sprintf("%s: %v", f.Member, f.Err)))
		}
		return res, fmt.Errorf("%w: %s", ErrMembersFailed, b.String())
	}
	return res, nil
}

func (r *cloneRun) count(role string) {
	r.mu.Lock()
	r.created[role]++
	r.mu.Unlock()
}

// member runs one member through the phase: the decision (decide), then
// its steps.
func (r *cloneRun) member(ctx context.Context, mb Member) error {
	e := r.e
	prog := e.opts.Progress
	prog.Update(mb.Key(), "starting", 0)
	d := e.decide(r.inv, mb, r.x, r.opts.Phase)
	for _, w := range d.warnings {
		e.log.Warn(w)
	}
	// A volume clone would refuse stops the member before anything is
	// made for it (no hook, no snapshot).
	for _, v := range d.vols {
		if v.refused() {
			if v.params.FSR && v.origin != "" {
				// An earlier run that stopped after creating the volume
				// may have left fast snapshot restore on.
				if err := r.disableFSR(ctx, mb, v.origin, v.params.Zone); err != nil {
					e.log.Warn("disable fast snapshot restore", "member", mb.Key(), "error", err)
				}
			}
			return errors.New(v.refusal(mb))
		}
	}
	snaps, err := r.snapshots(ctx, d)
	if err != nil {
		return err
	}
	origin := map[string]string{} // source volume -> snapshot the volume is made from
	copies := map[string]string{}
	for _, dev := range mb.Devices {
		origin[dev.VolumeID] = snaps[dev.VolumeID]
	}
	from := snaps // what the copies are made of
	if e.crossAccount() {
		if from, err = r.shareSnapshots(ctx, d, snaps); err != nil {
			return err
		}
	}
	copied, err := r.copySnapshots(ctx, d, from)
	if err != nil {
		return err
	}
	if e.crossAccount() {
		if err := r.unshareSnapshots(ctx, d, from); err != nil {
			return err
		}
	}
	for v, id := range copied {
		copies[v] = id
		origin[v] = id
	}
	if r.opts.Phase == spec.PhasePrecopy {
		return nil
	}
	var entries []record.Volume
	for i, v := range d.vols {
		prog.Update(mb.Key(), fmt.Sprintf("volume %d/%d", i+1, len(d.vols)), 100*i/len(d.vols))
		vol, err := r.volume(ctx, d, v, origin[v.d.VolumeID])
		if err != nil {
			return err
		}
		entries = append(entries, r.recordEntry(mb, v.d, vol, snaps[v.d.VolumeID], copies[v.d.VolumeID]))
	}
	return r.writeRecord(entries)
}

// recordEntry is graft.lock's entry for the volume vol made for dev of
// mb, from the final snapshot snap (through the copy copied, if any).
func (r *cloneRun) recordEntry(mb Member, dev Device, vol types.Volume, snap, copied string) record.Volume {
	ent := record.Volume{
		StatefulSet: mb.StatefulSet, Ordinal: mb.Ordinal, ClaimTemplate: dev.ClaimTemplate,
		SourceInstance: mb.Instance, SourceDevice: dev.Device, SourceVolume: dev.VolumeID, SourceZone: mb.Zone,
		Snapshots:      map[string]string{spec.PhaseFinal: snap},
		CopiedSnapshot: copied,
		TargetVolume:   aws.ToString(vol.VolumeId), TargetZone: aws.ToString(vol.AvailabilityZone),
		SizeGiB: aws.ToInt32(vol.Size), VolumeType: string(vol.VolumeType), IOPS: aws.ToInt32(vol.Iops),
		Throughput: aws.ToInt32(vol.Throughput), Encrypted: aws.ToBool(vol.Encrypted), KMSKeyID: aws.ToString(vol.KmsKeyId),
		FSType: dev.FSType, Partition: dev.Partition,
	}
	if r.e.m.Spec.Target.Cluster != nil {
		ent.CSIDriver = r.e.m.Spec.Target.Storage().CSIDriver
		ent.ClusterTags = clusterTags(vol.Tags, r.e.m.Spec.Target.Storage().Tags)
	}
	if pre, ok := r.x.snap(snapKey(ownership.RoleSnapshot, mb.Key(), spec.PhasePrecopy, dev.VolumeID)); ok {
		ent.Snapshots[spec.PhasePrecopy] = aws.ToString(pre.SnapshotId)
	}
	return ent
}

func (r *cloneRun) writeRecord(entries []record.Volume) error {
	r.recMu.Lock()
	defer r.recMu.Unlock()
	for _, v := range entries {
		r.opts.Record.Upsert(v)
	}
	if r.opts.RecordPath == "" {
		return nil
	}
	if err := r.opts.Record.Write(r.opts.RecordPath); err != nil {
		return err // atomic names the file and the cause
	}
	return nil
}

// settleRounds and settleInterval bound the re-listing after a create:
// EC2 is eventually consistent, so a resource just created may be listed
// only after a while.
const (
	settleRounds   = 6
	settleInterval = 2 * time.Second
)

func tagFilter(key, value string) types.Filter {
	return types.Filter{Name: aws.String("tag:" + key), Values: []string{value}}
}

// createError words a failed create. An API error is EC2's answer: nothing
// was created. Any other error (a lost connection, a crash) leaves it
// unknown, and the tags let the next run find whatever was created.
func createError(op string, mb Member, on string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s on %s for %s: %w", op, on, mb.Key(), err)
	}
	return fmt.Errorf("%s on %s for %s did not complete (%w); whatever EC2 created is tagged, and the next run resumes from it", op, on, mb.Key(), err)
}

// clusterTags are the tags of a volume, as EC2 reports them, that graft
// sets for the cluster's driver (want, spec.Target.Storage): the record
// holds what the volume carries, not what graft asked for. A volume that
// also carries another driver's tags for the same cluster (the spec's
// driver changed since it was made) records the spec's driver's alone.
func clusterTags(tags []types.Tag, want map[string]string) map[string]string {
	var out map[string]string
	for _, t := range tags {
		if k := aws.ToString(t.Key); slices.Contains(spec.ClusterTagKeys, k) && want[k] != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = aws.ToString(t.Value)
		}
	}
	return out
}
