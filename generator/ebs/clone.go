package ebs

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
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
		return res, fmt.Errorf("interrupted: %d of %d members finished; what was created is tagged and recorded, re-run graft clone to resume: %w", len(inv.Members)-len(failed), len(inv.Members), ctx.Err())
	}
	if len(failed) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d of %d members stopped (the others finished", len(failed), len(inv.Members))
		if opts.Phase == spec.PhaseFinal {
			b.WriteString(" and are in the record")
		}
		b.WriteString("); re-run graft clone to resume:")
		for _, f := range failed {
			fmt.Fprintf(&b, "\n  - %s: %v", f.Member, f.Err)
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
	d := e.decide(mb, r.x, r.opts.Phase)
	for _, w := range d.warnings {
		e.log.Warn(w)
	}
	// A volume clone would refuse stops the member before anything is
	// made for it (no hook, no snapshot).
	for _, v := range d.vols {
		if len(v.refuse) > 0 {
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
	copied, err := r.copySnapshots(ctx, d, snaps)
	if err != nil {
		return err
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
		dev := v.d
		prog.Update(mb.Key(), fmt.Sprintf("volume %d/%d", i+1, len(d.vols)), 100*i/len(d.vols))
		vol, err := r.volume(ctx, d, v, origin[dev.VolumeID])
		if err != nil {
			return err
		}
		ent := record.Volume{
			StatefulSet: mb.StatefulSet, Ordinal: mb.Ordinal, ClaimTemplate: dev.ClaimTemplate,
			SourceInstance: mb.Instance, SourceDevice: dev.Device, SourceVolume: dev.VolumeID, SourceZone: mb.Zone,
			Snapshots:      map[string]string{spec.PhaseFinal: snaps[dev.VolumeID]},
			CopiedSnapshot: copies[dev.VolumeID],
			TargetVolume:   aws.ToString(vol.VolumeId), TargetZone: aws.ToString(vol.AvailabilityZone),
			SizeGiB: aws.ToInt32(vol.Size), VolumeType: string(vol.VolumeType), IOPS: aws.ToInt32(vol.Iops),
			Throughput: aws.ToInt32(vol.Throughput), Encrypted: aws.ToBool(vol.Encrypted), KMSKeyID: aws.ToString(vol.KmsKeyId),
			FSType: dev.FSType,
		}
		if pre, ok := r.x.snap(snapKey(RoleSnapshot, mb.Key(), spec.PhasePrecopy, dev.VolumeID)); ok {
			ent.Snapshots[spec.PhasePrecopy] = aws.ToString(pre.SnapshotId)
		}
		entries = append(entries, ent)
	}
	return r.writeRecord(entries)
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
		return fmt.Errorf("write %s: %w", r.opts.RecordPath, err)
	}
	return nil
}

// snapshots returns the phase's snapshot of every data volume of the
// member, creating the missing ones as decided (after the beforeFinal
// hook in the final phase), settling each key with any other run's
// (settleSnapshots), and waiting for them to complete.
func (r *cloneRun) snapshots(ctx context.Context, d *memberDecision) (map[string]string, error) {
	e, phase, mb := r.e, d.phase, d.mb
	out := map[string]string{}
	completed := map[string]bool{}
	mine := map[string]types.Snapshot{} // key -> the snapshot this run created
	for _, st := range d.snaps {
		if st.exists != nil {
			out[st.d.VolumeID] = aws.ToString(st.exists.SnapshotId)
			completed[st.d.VolumeID] = st.exists.State == types.SnapshotStateCompleted
			continue
		}
		if err := r.deleteFailed(ctx, e.src, st.failed); err != nil {
			return nil, err
		}
	}
	if len(out) < len(d.snaps) {
		if d.hook {
			e.opts.Progress.Update(mb.Key(), "hook beforeFinal", 0)
			if err := r.hook(ctx, mb); err != nil {
				return nil, err
			}
		}
		e.opts.Progress.Update(mb.Key(), phase+" snapshot", 0)
		created, err := r.createSnapshots(ctx, d)
		if err != nil {
			return nil, err
		}
		for _, st := range d.snaps {
			if s, ok := created[st.d.VolumeID]; ok {
				mine[st.key] = s
			}
		}
		won, err := r.settleSnapshots(ctx, e.src, mb, RoleSnapshot, phase, mine, true)
		if err != nil {
			return nil, err
		}
		for _, st := range d.snaps {
			if w, ok := won[st.key]; ok {
				out[st.d.VolumeID] = aws.ToString(w.SnapshotId)
				completed[st.d.VolumeID] = w.State == types.SnapshotStateCompleted
			}
		}
	}
	// Wait for all of them.
	progress := map[string]int{}
	var pmu sync.Mutex
	report := func(vol string, pct int) {
		pmu.Lock()
		progress[vol] = pct
		sum := 0
		for _, dev := range mb.Devices {
			sum += progress[dev.VolumeID]
		}
		pmu.Unlock()
		e.opts.Progress.Update(mb.Key(), phase+" snapshot", sum/len(mb.Devices))
	}
	wait := func(st snapStep) error {
		if completed[st.d.VolumeID] {
			report(st.d.VolumeID, 100)
			return nil
		}
		if err := r.waitSnapshot(ctx, r.srcPol, mb, st.d, out[st.d.VolumeID], "snapshot", func(p int) { report(st.d.VolumeID, p) }); err != nil {
			return err
		}
		completed[st.d.VolumeID] = true
		report(st.d.VolumeID, 100)
		return nil
	}
	for _, st := range d.snaps {
		if err := wait(st); err != nil {
			return nil, err
		}
	}
	if len(mine) == 0 {
		return out, nil
	}
	// Settle once more: by now (a snapshot takes minutes) EC2 lists every
	// run's snapshot, so an older one hidden by EC2's eventual consistency
	// right after the create is seen, adopted, and this run's deleted
	// before anything is made from it.
	for k, s := range mine {
		if aws.ToString(s.SnapshotId) != out[s2vol(d, k)] {
			delete(mine, k) // already lost, and deleted
		}
	}
	won, err := r.settleSnapshots(ctx, e.src, mb, RoleSnapshot, phase, mine, false)
	if err != nil {
		return nil, err
	}
	for _, st := range d.snaps {
		if w, ok := won[st.key]; ok && aws.ToString(w.SnapshotId) != out[st.d.VolumeID] {
			out[st.d.VolumeID] = aws.ToString(w.SnapshotId)
			completed[st.d.VolumeID] = w.State == types.SnapshotStateCompleted
			if err := wait(st); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// s2vol is the source volume of a snapshot key of the decision.
func s2vol(d *memberDecision, key string) string {
	for _, st := range d.snaps {
		if st.key == key {
			return st.d.VolumeID
		}
	}
	return ""
}

// deleteFailed deletes graft's own snapshot that EC2 put in state error,
// so that a re-run makes a fresh one instead of leaking it.
func (r *cloneRun) deleteFailed(ctx context.Context, c *api, s *types.Snapshot) error {
	if s == nil {
		return nil
	}
	id := aws.ToString(s.SnapshotId)
	r.x.mu.Lock()
	_, pending := r.x.failed[snapKeyOf(*s)]
	delete(r.x.failed, snapKeyOf(*s))
	r.x.mu.Unlock()
	if !pending || tagMap(s.Tags)[TagMigration] != r.e.m.Metadata.Name {
		return nil
	}
	r.e.log.Info("deleting graft's failed snapshot before retrying", "snapshot", id, "message", aws.ToString(s.StateMessage))
	if _, err := c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)}); err != nil && !strings.HasPrefix(errorCode(err), "InvalidSnapshot.NotFound") {
		return fmt.Errorf("delete failed snapshot %s: %w", id, err)
	}
	return nil
}

// createSnapshots makes the decided calls: CreateSnapshots for all of the
// member's devices, or CreateSnapshot per missing device. It returns the
// snapshots made, by source volume.
func (r *cloneRun) createSnapshots(ctx context.Context, d *memberDecision) (map[string]types.Snapshot, error) {
	e, mb := r.e, d.mb
	out := map[string]types.Snapshot{}
	if d.multi != nil {
		res, err := e.src.CreateSnapshots(ctx, d.multi)
		if err != nil {
			return nil, createError("CreateSnapshots", mb, mb.Instance, err)
		}
		want := map[string]bool{}
		for _, st := range d.snaps {
			want[st.d.VolumeID] = true
		}
		for _, s := range res.Snapshots {
			v := aws.ToString(s.VolumeId)
			if want[v] {
				out[v] = types.Snapshot{SnapshotId: s.SnapshotId, VolumeId: s.VolumeId, StartTime: s.StartTime, State: types.SnapshotState(s.State), Tags: s.Tags}
				r.count(RoleSnapshot)
			}
		}
		for _, st := range d.snaps {
			if _, ok := out[st.d.VolumeID]; !ok {
				return nil, fmt.Errorf("CreateSnapshots on %s returned no snapshot of %s; re-run graft clone", mb.Instance, st.d.VolumeID)
			}
		}
		return out, nil
	}
	for _, st := range d.snaps {
		if st.create == nil {
			continue
		}
		res, err := e.src.CreateSnapshot(ctx, st.create)
		if err != nil {
			return nil, createError("CreateSnapshot", mb, st.d.VolumeID, err)
		}
		out[st.d.VolumeID] = types.Snapshot{SnapshotId: res.SnapshotId, VolumeId: res.VolumeId, StartTime: res.StartTime, State: res.State, Tags: res.Tags}
		r.count(RoleSnapshot)
	}
	return out, nil
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

// settleSnapshots applies the single rule (snapshotWins) to the keys this
// run just created snapshots (or copies) for: it lists the member's
// snapshots of that role and phase — when waitVisible, again until every
// one in mine is listed, at most settleRounds times — and returns each
// key's winner. Where another run's snapshot wins, this run adopts it and
// deletes its own (only ever one it created, tagged with this migration).
func (r *cloneRun) settleSnapshots(ctx context.Context, c *api, mb Member, role, phase string, mine map[string]types.Snapshot, waitVisible bool) (map[string]types.Snapshot, error) {
	e := r.e
	var live map[string][]types.Snapshot
	for round := 1; ; round++ {
		snaps, err := e.listSnapshots(ctx, c, tagFilter(TagMember, mb.Key()), tagFilter(TagRole, role), tagFilter(TagPhase, phase))
		if err != nil {
			return nil, fmt.Errorf("%s: re-check after creating: %w", mb.Key(), err)
		}
		live, _ = groupSnapshots(snaps)
		seen := true
		for k, m := range mine {
			if !slices.ContainsFunc(live[k], func(s types.Snapshot) bool { return aws.ToString(s.SnapshotId) == aws.ToString(m.SnapshotId) }) {
				seen = false
			}
		}
		if seen || !waitVisible || round >= settleRounds {
			if !seen && waitVisible {
				e.log.Warn("EC2 does not list this run's new snapshots yet; settling with what it lists", "member", mb.Key(), "role", role, "phase", phase, "rechecks", round)
			}
			break
		}
		if err := e.clock.Sleep(ctx, settleInterval); err != nil {
			return nil, err
		}
	}
	out := map[string]types.Snapshot{}
	for _, k := range slices.Sorted(maps.Keys(mine)) {
		m := mine[k]
		cands := live[k]
		if i := slices.IndexFunc(cands, func(s types.Snapshot) bool { return aws.ToString(s.SnapshotId) == aws.ToString(m.SnapshotId) }); i >= 0 {
			m = cands[i] // as EC2 lists it, with its tags and start time
		} else {
			cands = append(cands, m)
			sort.Slice(cands, func(i, j int) bool { return snapshotWins(cands[i], cands[j]) })
		}
		w := cands[0]
		out[k] = w
		r.x.setSnap(k, w)
		if id := aws.ToString(m.SnapshotId); aws.ToString(w.SnapshotId) != id {
			e.log.Warn("another graft run made this snapshot first; adopting it and deleting this run's", "member", mb.Key(), "key", k, "adopted", aws.ToString(w.SnapshotId), "deleted", id)
			if err := r.deleteOwnSnapshot(ctx, c, m); err != nil {
				e.log.Warn("could not delete this run's duplicate snapshot; graft cleanup deletes it", "snapshot", id, "error", err)
			}
		}
	}
	return out, nil
}

// deleteOwnSnapshot deletes a snapshot this run created and lost.
func (r *cloneRun) deleteOwnSnapshot(ctx context.Context, c *api, s types.Snapshot) error {
	t := tagMap(s.Tags)
	if t[TagMigration] != r.e.m.Metadata.Name || (t[TagRole] != RoleSnapshot && t[TagRole] != RoleCopy) {
		return fmt.Errorf("snapshot %s is not one of graft's of %s; not deleted", aws.ToString(s.SnapshotId), r.e.m.Metadata.Name)
	}
	_, err := c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: s.SnapshotId})
	if strings.HasPrefix(errorCode(err), "InvalidSnapshot.NotFound") {
		return nil
	}
	return err
}

// createError words a failed create. An API error is EC2's answer: nothing
// was created. Any other error (a lost connection, a crash) leaves it
// unknown, and the tags let the next run find whatever was created.
func createError(op string, mb Member, on string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s on %s for %s: %w", op, on, mb.Key(), err)
	}
	return fmt.Errorf("%s on %s for %s did not complete (%w); whatever EC2 created is tagged: re-run graft clone to resume", op, on, mb.Key(), err)
}

// waitSnapshot waits for a snapshot or copy to complete.
func (r *cloneRun) waitSnapshot(ctx context.Context, p *poller, mb Member, d Device, id, what string, progress func(int)) error {
	notFound := 0
	err := p.wait(ctx, watchKey{kind: watchSnapshot, id: id}, r.e.opts.SnapshotTimeout, func(st status) (bool, error) {
		switch {
		case st.err != nil:
			r.e.log.Warn("poll failed; retrying next round", "snapshot", id, "error", st.err)
			return false, nil
		case !st.found:
			notFound++
			if notFound > 20 {
				return false, fmt.Errorf("%s %s of %s (%s %s) is gone: EC2 no longer lists it; re-run graft clone to make a new one", what, id, d.VolumeID, mb.Key(), d.ClaimTemplate)
			}
			return false, nil
		case st.state == string(types.SnapshotStateCompleted):
			return true, nil
		case st.state == string(types.SnapshotStateError):
			msg := st.message
			msg = cmp.Or(msg, "EC2 gave no reason")
			return false, fmt.Errorf("%s %s of %s (%s %s) failed in EC2: state error: %s; this member stopped, the others go on; re-run graft clone to retry it (graft deletes the failed snapshot first)", what, id, d.VolumeID, mb.Key(), d.ClaimTemplate, msg)
		}
		progress(st.progress)
		return false, nil
	})
	var te *timeoutError
	if errors.As(err, &te) {
		return fmt.Errorf("%s of %s (%s %s): %w", what, d.VolumeID, mb.Key(), d.ClaimTemplate, err)
	}
	return err
}

// copySnapshots makes the member's decided copies (to the target region
// and/or KMS key) of its snapshots (by source volume), settles them with
// any other run's in one listing (settleSnapshots), and waits for them to
// complete. It returns the copies by source volume.
func (r *cloneRun) copySnapshots(ctx context.Context, d *memberDecision, snaps map[string]string) (map[string]string, error) {
	e, phase, mb := r.e, d.phase, d.mb
	out := map[string]string{}
	mine := map[string]types.Snapshot{} // key -> the copy this run made
	byKey := map[string]copyStep{}
	for _, c := range d.copies {
		byKey[c.key] = c
		if c.exists != nil {
			out[c.d.VolumeID] = aws.ToString(c.exists.SnapshotId)
			continue
		}
		if err := r.deleteFailed(ctx, e.dst, c.failed); err != nil {
			return nil, err
		}
		snap := snaps[c.d.VolumeID]
		in := *c.create
		e.setCopySource(&in, mb, phase, c.d, snap)
		e.opts.Progress.Update(mb.Key(), phase+" copy", 0)
		res, err := e.dst.CopySnapshot(ctx, &in)
		if err != nil {
			return nil, createError("CopySnapshot", mb, snap, err)
		}
		r.count(RoleCopy)
		now := e.clock.Now()
		mine[c.key] = types.Snapshot{SnapshotId: res.SnapshotId, StartTime: &now, State: types.SnapshotStatePending, Tags: res.Tags}
	}
	if len(mine) > 0 {
		won, err := r.settleSnapshots(ctx, e.dst, mb, RoleCopy, phase, mine, true)
		if err != nil {
			return nil, err
		}
		for k, w := range won {
			out[byKey[k].d.VolumeID] = aws.ToString(w.SnapshotId)
		}
	}
	wait := func() error {
		for _, c := range d.copies {
			id := out[c.d.VolumeID]
			if c.exists != nil && c.exists.State == types.SnapshotStateCompleted && id == aws.ToString(c.exists.SnapshotId) {
				continue
			}
			if err := r.waitSnapshot(ctx, r.dstPol, mb, c.d, id, "copy", func(p int) { e.opts.Progress.Update(mb.Key(), phase+" copy", p) }); err != nil {
				return err
			}
		}
		return nil
	}
	if err := wait(); err != nil {
		return nil, err
	}
	// Settle once more after the wait, as snapshots does: an older copy
	// hidden by eventual consistency is seen by now.
	for k, m := range mine {
		if aws.ToString(m.SnapshotId) != out[byKey[k].d.VolumeID] {
			delete(mine, k) // already lost, and deleted
		}
	}
	if len(mine) == 0 {
		return out, nil
	}
	won, err := r.settleSnapshots(ctx, e.dst, mb, RoleCopy, phase, mine, false)
	if err != nil {
		return nil, err
	}
	changed := false
	for k, w := range won {
		if v := byKey[k].d.VolumeID; out[v] != aws.ToString(w.SnapshotId) {
			out[v], changed = aws.ToString(w.SnapshotId), true
		}
	}
	if changed {
		if err := wait(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// volume returns the member's new volume for one device: the one an
// earlier run made, or a new one (with Fast Snapshot Restore around it if
// the spec asks), once it is available, settled with any other run's
// (settleVolume) and checked against the spec (mismatch). Fast Snapshot
// Restore is billed per hour: once enabled, it is turned off again however
// volume returns (see disableFSRAtExit).
func (r *cloneRun) volume(ctx context.Context, d *memberDecision, v volStep, snap string) (_ types.Volume, err error) {
	mb, p := d.mb, v.params
	var id string
	created := false
	if v.exists != nil {
		id = aws.ToString(v.exists.VolumeId)
		if p.FSR {
			// An earlier run that stopped after creating the volume may
			// have left fast snapshot restore on.
			defer r.disableFSRAtExit(ctx, mb, snap, p.Zone, &err)
		}
	} else {
		if p.FSR {
			var enabled bool
			enabled, err = r.enableFSR(ctx, mb, snap, p.Zone)
			if enabled {
				defer r.disableFSRAtExit(ctx, mb, snap, p.Zone, &err)
			}
			if err != nil {
				return types.Volume{}, err
			}
		}
		id, err = r.createVolume(ctx, d, v, snap)
		if err != nil {
			return types.Volume{}, err
		}
		created = true
	}
	vol, err := r.waitVolume(ctx, mb, v.d, id, snap)
	if err != nil {
		return types.Volume{}, err
	}
	if created {
		if vol, err = r.settleVolume(ctx, mb, v, vol, snap); err != nil {
			return types.Volume{}, err
		}
	}
	if diffs := mismatch(vol, p); len(diffs) > 0 {
		if created {
			return types.Volume{}, fmt.Errorf("%s %s: graft's new volume %s does not match the spec: %s; EC2 did not apply what graft asked for (with kmsKeyId: the key expected is spec.target.volume.kmsKeyId, else the source volume's); graft does not record it: delete it (graft cleanup) and re-run graft clone", mb.Key(), v.d.ClaimTemplate, aws.ToString(vol.VolumeId), strings.Join(diffs, "; "))
		}
		v.refuse = diffs
		return types.Volume{}, errors.New(v.refusal(mb))
	}
	return vol, nil
}

// waitVolume waits until a volume is available (or in use).
func (r *cloneRun) waitVolume(ctx context.Context, mb Member, d Device, id, snap string) (types.Volume, error) {
	e := r.e
	var last types.Volume
	err := r.dstPol.wait(ctx, watchKey{kind: watchVolume, id: id}, e.opts.VolumeTimeout, func(st status) (bool, error) {
		switch {
		case st.err != nil:
			e.log.Warn("poll failed; retrying next round", "volume", id, "error", st.err)
			return false, nil
		case st.state == string(types.VolumeStateAvailable) || st.state == string(types.VolumeStateInUse):
			last = *st.volume
			return true, nil
		case st.state == string(types.VolumeStateError):
			return false, fmt.Errorf("volume %s (%s %s, from %s) failed in EC2: state error; this member stopped; delete it with graft cleanup and re-run graft clone", id, mb.Key(), d.ClaimTemplate, snap)
		}
		e.opts.Progress.Update(mb.Key(), "volume "+st.state, 50)
		return false, nil
	})
	if err != nil {
		var te *timeoutError
		if errors.As(err, &te) {
			return types.Volume{}, fmt.Errorf("%s %s: %w", mb.Key(), d.ClaimTemplate, err)
		}
		return types.Volume{}, err
	}
	return last, nil
}

// settleVolume applies the single rule (volumeWins) to a volume this run
// obtained from CreateVolume: it lists the key's volumes until this one is
// listed (at most settleRounds times) and, when another wins, adopts the
// winner and deletes this one (only when it is tagged with this migration
// and key, unattached, and not a source volume).
func (r *cloneRun) settleVolume(ctx context.Context, mb Member, v volStep, mine types.Volume, snap string) (types.Volume, error) {
	e := r.e
	myID := aws.ToString(mine.VolumeId)
	var cands []types.Volume
	for round := 1; ; round++ {
		vols, err := e.listVolumes(ctx, e.dst, tagFilter(TagMember, mb.Key()), tagFilter(TagClaimTemplate, v.d.ClaimTemplate), tagFilter(TagRole, RoleVolume))
		if err != nil {
			return types.Volume{}, fmt.Errorf("%s %s: re-check after creating: %w", mb.Key(), v.d.ClaimTemplate, err)
		}
		cands = groupVolumes(vols)[v.key]
		seen := slices.ContainsFunc(cands, func(c types.Volume) bool { return aws.ToString(c.VolumeId) == myID })
		if seen || round >= settleRounds {
			if !seen {
				e.log.Warn("EC2 does not list this run's new volume yet; settling with what it lists", "member", mb.Key(), "claimTemplate", v.d.ClaimTemplate, "rechecks", round)
				cands = append(cands, mine)
				sort.Slice(cands, func(i, j int) bool { return volumeWins(cands[i], cands[j]) })
			}
			break
		}
		if err := e.clock.Sleep(ctx, settleInterval); err != nil {
			return types.Volume{}, err
		}
	}
	w := cands[0]
	r.x.setVol(v.key, w)
	if aws.ToString(w.VolumeId) == myID {
		return mine, nil
	}
	wid := aws.ToString(w.VolumeId)
	e.log.Warn("another graft run made this volume first; adopting it and deleting this run's", "member", mb.Key(), "claimTemplate", v.d.ClaimTemplate, "adopted", wid, "deleted", myID)
	if err := r.deleteOwnVolume(ctx, mine); err != nil {
		e.log.Warn("could not delete this run's duplicate volume; graft cleanup deletes it", "volume", myID, "error", err)
	}
	return r.waitVolume(ctx, mb, v.d, wid, snap)
}

// deleteOwnVolume deletes a volume this run created and lost.
func (r *cloneRun) deleteOwnVolume(ctx context.Context, v types.Volume) error {
	id := aws.ToString(v.VolumeId)
	t := tagMap(v.Tags)
	switch {
	case t[TagMigration] != r.e.m.Metadata.Name || t[TagRole] != RoleVolume:
		return fmt.Errorf("volume %s is not one of graft's of %s; not deleted", id, r.e.m.Metadata.Name)
	case r.inv.isSource(id):
		return fmt.Errorf("volume %s is a source volume; not deleted", id)
	case len(v.Attachments) > 0 || v.State != types.VolumeStateAvailable:
		return fmt.Errorf("volume %s is %s; not deleted", id, v.State)
	}
	_, err := r.e.dst.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(id)})
	if strings.HasPrefix(errorCode(err), "InvalidVolume.NotFound") {
		return nil
	}
	return err
}

// fsrDisableTimeout bounds turning fast snapshot restore off when volume
// returns, also after the run was interrupted.
const fsrDisableTimeout = 2 * time.Minute

// disableFSRAtExit turns fast snapshot restore off when volume returns,
// on every path: success, a failed CreateVolume or wait, or an interrupted
// run. It uses a context that survives the run's cancellation, bounded by
// fsrDisableTimeout. A failure to disable becomes volume's error, or is
// added to it.
func (r *cloneRun) disableFSRAtExit(ctx context.Context, mb Member, snap, zone string, err *error) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fsrDisableTimeout)
	defer cancel()
	derr := r.disableFSR(dctx, mb, snap, zone)
	switch {
	case derr == nil:
	case *err == nil:
		*err = derr
	default:
		*err = fmt.Errorf("%w; and %v", *err, derr)
	}
}

// createVolume makes the decided CreateVolume call with a deterministic
// ClientToken (two runs asking for the same volume from the same snapshot
// get the same one). After IdempotentParameterMismatch (the token was used
// before with other parameters: the spec changed after an interrupted run
// whose volume was since deleted) it bumps the token, as the EBS CSI
// driver does.
func (r *cloneRun) createVolume(ctx context.Context, d *memberDecision, v volStep, snap string) (string, error) {
	e, mb := r.e, d.mb
	base := strings.Join([]string{e.m.Metadata.Name, mb.Key(), v.d.ClaimTemplate, RoleVolume}, "|")
	in := *v.create
	in.SnapshotId = aws.String(snap)
	e.opts.Progress.Update(mb.Key(), "creating volume", 0)
	for gen := 0; gen < 5; gen++ {
		in.ClientToken = aws.String(clientToken(base, gen))
		res, err := e.dst.CreateVolume(ctx, &in)
		if errorCode(err) == "IdempotentParameterMismatch" {
			e.log.Warn("CreateVolume: ClientToken was used before with other parameters; retrying with a new token", "member", mb.Key(), "claimTemplate", v.d.ClaimTemplate, "generation", gen+1)
			continue
		}
		if err != nil {
			return "", createError("CreateVolume", mb, snap, err)
		}
		r.count(RoleVolume)
		return aws.ToString(res.VolumeId), nil
	}
	return "", fmt.Errorf("CreateVolume for %s %s: IdempotentParameterMismatch after 5 tokens", mb.Key(), v.d.ClaimTemplate)
}

// enableFSR enables Fast Snapshot Restore for the snapshot in the zone and
// waits until it is enabled. enabled reports whether EC2 accepted the
// request, even when the wait then failed: FSR must then be disabled again.
func (r *cloneRun) enableFSR(ctx context.Context, mb Member, snap, zone string) (enabled bool, _ error) {
	e := r.e
	key := watchKey{kind: watchFSR, id: snap, zone: zone}
	// A failed run disables FSR on its way out; EC2 does not enable it
	// again until that has finished, so a quick re-run waits for it.
	states, err := describeFSR(ctx, e.dst, []string{snap})
	if err != nil {
		return false, fmt.Errorf("DescribeFastSnapshotRestores %s: %w", snap, err)
	}
	if states[snap+" "+zone].state == string(types.FastSnapshotRestoreStateCodeDisabling) {
		e.opts.Progress.Update(mb.Key(), "fast restore disabling", 0)
		err := r.dstPol.wait(ctx, key, e.opts.FSRTimeout, func(st status) (bool, error) {
			return st.err == nil && (!st.found || st.state == string(types.FastSnapshotRestoreStateCodeDisabled)), nil
		})
		if err != nil {
			return false, err
		}
	}
	e.opts.Progress.Update(mb.Key(), "enabling fast restore", 0)
	res, err := e.dst.EnableFastSnapshotRestores(ctx, &ec2.EnableFastSnapshotRestoresInput{SourceSnapshotIds: []string{snap}, AvailabilityZones: []string{zone}})
	if err != nil {
		return false, createError("EnableFastSnapshotRestores", mb, snap, err)
	}
	for _, u := range res.Unsuccessful {
		for _, fe := range u.FastSnapshotRestoreStateErrors {
			if fe.Error != nil {
				return false, fmt.Errorf("EnableFastSnapshotRestores on %s in %s for %s: %s: %s", snap, aws.ToString(fe.AvailabilityZone), mb.Key(), aws.ToString(fe.Error.Code), aws.ToString(fe.Error.Message))
			}
		}
	}
	r.count("fast-snapshot-restore")
	return true, r.dstPol.wait(ctx, key, e.opts.FSRTimeout, func(st status) (bool, error) {
		switch {
		case st.err != nil:
			return false, nil
		case st.state == string(types.FastSnapshotRestoreStateCodeEnabled):
			return true, nil
		case st.found && (st.state == string(types.FastSnapshotRestoreStateCodeDisabled) || st.state == string(types.FastSnapshotRestoreStateCodeDisabling)):
			return false, fmt.Errorf("fast snapshot restore of %s in %s for %s went to %s: %s", snap, zone, mb.Key(), st.state, st.message)
		}
		e.opts.Progress.Update(mb.Key(), "fast restore "+st.state, 0)
		return false, nil
	})
}

// disableFSR turns Fast Snapshot Restore off again (it is billed per hour)
// if it is on; a re-run after a crash finds it on and turns it off.
func (r *cloneRun) disableFSR(ctx context.Context, mb Member, snap, zone string) error {
	e := r.e
	states, err := describeFSR(ctx, e.dst, []string{snap})
	if err != nil {
		return fmt.Errorf("DescribeFastSnapshotRestores %s: %w", snap, err)
	}
	st, ok := states[snap+" "+zone]
	if !ok || st.state == string(types.FastSnapshotRestoreStateCodeDisabled) || st.state == string(types.FastSnapshotRestoreStateCodeDisabling) {
		return nil
	}
	if _, err := e.dst.DisableFastSnapshotRestores(ctx, &ec2.DisableFastSnapshotRestoresInput{SourceSnapshotIds: []string{snap}, AvailabilityZones: []string{zone}}); err != nil {
		return fmt.Errorf("DisableFastSnapshotRestores on %s in %s for %s (it stays enabled and billed until disabled; re-run graft clone): %w", snap, zone, mb.Key(), err)
	}
	return nil
}

// hook runs spec.hooks.beforeFinal for the member's instance and logs its
// output.
func (r *cloneRun) hook(ctx context.Context, mb Member) error {
	e := r.e
	repl := strings.NewReplacer("{instance}", mb.Instance, "{privateIp}", mb.PrivateIP, "{statefulset}", mb.StatefulSet, "{ordinal}", strconv.Itoa(mb.Ordinal))
	argv := make([]string, len(e.m.Spec.Hooks.BeforeFinal))
	for i, a := range e.m.Spec.Hooks.BeforeFinal {
		argv[i] = repl.Replace(a)
	}
	hctx, cancel := context.WithTimeout(ctx, e.opts.HookTimeout)
	defer cancel()
	run := r.opts.RunHook
	if run == nil {
		run = func(ctx context.Context, argv []string) ([]byte, error) {
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			return out.Bytes(), err
		}
	}
	e.log.Info("running beforeFinal hook", "member", mb.Key(), "instance", mb.Instance, "argv", argv)
	out, err := run(hctx, argv)
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			e.log.Info("hook output", "member", mb.Key(), "line", line)
		}
	}
	if err != nil {
		return fmt.Errorf("beforeFinal hook %q for %s (%s) failed: %w; no final snapshot was taken of this member", strings.Join(argv, " "), mb.Key(), mb.Instance, err)
	}
	return nil
}

// preflight proves, with EC2 DryRun, each kind of mutating call the phase
// will make, before anything is created: missing permissions, an unusable
// KMS key or a wrong zone stop the run here.
func (e *Engine) preflight(ctx context.Context, inv *Inventory, x *existing, phase string) error {
	checks := e.dryRunChecks(inv, x, phase)
	var fails []string
	for _, c := range checks {
		err := c.call(ctx)
		switch code := errorCode(err); {
		case code == "DryRunOperation":
			e.log.Debug("dry run ok", "call", c.what)
		case err == nil:
			fails = append(fails, fmt.Sprintf("%s: EC2 ignored DryRun and answered without error; not proven", c.what))
		default:
			fails = append(fails, fmt.Sprintf("%s: %s", c.what, dryRunHint(err)))
		}
	}
	if len(fails) > 0 {
		slices.Sort(fails)
		return fmt.Errorf("%w (nothing was created):\n  - %s", ErrDryRun, strings.Join(fails, "\n  - "))
	}
	return nil
}

// DryRun runs only the DryRun checks and reports what they proved.
func (e *Engine) DryRun(ctx context.Context, inv *Inventory, phase string) ([]string, error) {
	x, err := e.lookup(ctx)
	if err != nil {
		return nil, err
	}
	var proved []string
	for _, c := range e.dryRunChecks(inv, x, phase) {
		proved = append(proved, c.what)
	}
	if err := e.preflight(ctx, inv, x, phase); err != nil {
		return nil, err
	}
	return proved, nil
}

func dryRunHint(err error) string {
	code := errorCode(err)
	msg := err.Error()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg = ae.ErrorMessage()
	}
	switch {
	case strings.Contains(code, "KMS") || strings.Contains(code, "Kms") || strings.Contains(strings.ToLower(msg), "kms"):
		return fmt.Sprintf("%s: %s (check spec.target.volume.kmsKeyId: the key must exist in the target region, be enabled, and its policy must let this principal use it through EC2)", code, msg)
	case code == "UnauthorizedOperation" || code == "AccessDenied":
		return fmt.Sprintf("%s: %s (see graft iam-policy)", code, msg)
	case code != "":
		return code + ": " + msg
	}
	return msg
}

type dryRunCheck struct {
	what string
	call func(ctx context.Context) error
}

// dryRunChecks are the DryRun proofs of a phase: the calls the members'
// decisions (decide) will make, with the very inputs clone sends, one per
// kind (operation, and for copies and volumes their encryption and key,
// zone and parameters). A copy needs a completed snapshot to name: the
// phase's when it exists, else the precopy one (same key and encryption);
// a volume is proved without its snapshot, which may not exist yet.
func (e *Engine) dryRunChecks(inv *Inventory, x *existing, phase string) []dryRunCheck {
	var checks []dryRunCheck
	seen := map[string]bool{}
	add := func(kind, what string, call func(ctx context.Context) error) {
		if !seen[kind] {
			seen[kind] = true
			checks = append(checks, dryRunCheck{what, call})
		}
	}
	for _, mb := range inv.Members {
		d := e.decide(mb, x, phase)
		if d.multi != nil {
			in := *d.multi
			in.DryRun = aws.Bool(true)
			add("CreateSnapshots", "CreateSnapshots on "+mb.Instance, func(ctx context.Context) error {
				_, err := e.src.CreateSnapshots(ctx, &in)
				return err
			})
		}
		for _, st := range d.snaps {
			if st.create == nil {
				continue
			}
			in := *st.create
			in.DryRun = aws.Bool(true)
			add("CreateSnapshot", "CreateSnapshot of "+st.d.VolumeID, func(ctx context.Context) error {
				_, err := e.src.CreateSnapshot(ctx, &in)
				return err
			})
		}
		for _, c := range d.copies {
			if c.create == nil {
				continue
			}
			in := *c.create
			in.DryRun = aws.Bool(true)
			src := ""
			for _, k := range []string{snapKey(RoleSnapshot, mb.Key(), phase, c.d.VolumeID), snapKey(RoleSnapshot, mb.Key(), spec.PhasePrecopy, c.d.VolumeID)} {
				if s, ok := x.snap(k); ok && s.State == types.SnapshotStateCompleted {
					src = aws.ToString(s.SnapshotId)
					break
				}
			}
			if src == "" {
				continue
			}
			in.SourceSnapshotId = aws.String(src)
			kind := fmt.Sprintf("CopySnapshot %t %s", aws.ToBool(in.Encrypted), aws.ToString(in.KmsKeyId))
			what := "CopySnapshot of " + src + " to " + e.m.Spec.Target.Region
			if in.KmsKeyId != nil {
				what += " with KMS key " + aws.ToString(in.KmsKeyId)
			}
			add(kind, what, func(ctx context.Context) error {
				_, err := e.dst.CopySnapshot(ctx, &in)
				return err
			})
		}
		for _, v := range d.vols {
			if v.create == nil {
				continue
			}
			in := *v.create
			in.SnapshotId = nil
			in.VolumeInitializationRate = nil
			in.DryRun = aws.Bool(true)
			p := v.params
			kind := fmt.Sprintf("CreateVolume %s %s %d %d %t %s", p.Zone, p.Type, p.IOPS, p.Throughput, p.Encrypted, aws.ToString(in.KmsKeyId))
			what := fmt.Sprintf("CreateVolume %s in %s", p.Type, p.Zone)
			if in.KmsKeyId != nil {
				what += " with KMS key " + aws.ToString(in.KmsKeyId)
			}
			add(kind, what, func(ctx context.Context) error {
				_, err := e.dst.CreateVolume(ctx, &in)
				return err
			})
		}
	}
	return checks
}
