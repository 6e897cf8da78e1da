// The snapshot step of a member: create, settle with other runs, wait.

package ebs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/graftctl/graft/generator/ownership"
)

// snapshots returns the phase's snapshot of every data volume of the
// member, creating the missing ones as decided (after the beforeFinal
// hook in the final phase), settling each key with any other run's
// (settleSnapshots), and waiting for them to complete.
func (r *cloneRun) snapshots(ctx context.Context, d *memberDecision) (map[string]string, error) {
	e, phase, mb := r.e, d.phase, d.mb
	out := map[string]string{}
	completed := map[string]bool{}
	var mine map[string]types.Snapshot // key -> the snapshot this run created
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
		var err error
		if mine, err = r.makeSnapshots(ctx, d, out, completed); err != nil {
			return nil, err
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
	won, err := r.settleSnapshots(ctx, e.src, mb, ownership.RoleSnapshot, phase, mine, false)
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

// makeSnapshots runs the beforeFinal hook (when decided) and creates the
// member's missing snapshots, then settles them with any other run's
// (settleSnapshots): it records each key's winner in out and completed, and
// returns the snapshots this run created, by key.
func (r *cloneRun) makeSnapshots(ctx context.Context, d *memberDecision, out map[string]string, completed map[string]bool) (map[string]types.Snapshot, error) {
	e, phase, mb := r.e, d.phase, d.mb
	mine := map[string]types.Snapshot{}
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
	won, err := r.settleSnapshots(ctx, e.src, mb, ownership.RoleSnapshot, phase, mine, true)
	if err != nil {
		return nil, err
	}
	for _, st := range d.snaps {
		if w, ok := won[st.key]; ok {
			out[st.d.VolumeID] = aws.ToString(w.SnapshotId)
			completed[st.d.VolumeID] = w.State == types.SnapshotStateCompleted
		}
	}
	return mine, nil
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
	if !pending || tagMap(s.Tags)[ownership.TagMigration] != r.e.m.Metadata.Name {
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
				r.count(ownership.RoleSnapshot)
			}
		}
		for _, st := range d.snaps {
			if _, ok := out[st.d.VolumeID]; !ok {
				return nil, fmt.Errorf("CreateSnapshots on %s returned no snapshot of %s; the next run makes one", mb.Instance, st.d.VolumeID)
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
		r.count(ownership.RoleSnapshot)
	}
	return out, nil
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
		snaps, err := e.listSnapshots(ctx, c, tagFilter(ownership.TagMember, mb.Key()), tagFilter(ownership.TagRole, role), tagFilter(ownership.TagPhase, phase))
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
	if t[ownership.TagMigration] != r.e.m.Metadata.Name || !snapshotRole(t[ownership.TagRole]) {
		return fmt.Errorf("snapshot %s is not one of graft's of %s; not deleted", aws.ToString(s.SnapshotId), r.e.m.Metadata.Name)
	}
	_, err := c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: s.SnapshotId})
	if strings.HasPrefix(errorCode(err), "InvalidSnapshot.NotFound") {
		return nil
	}
	return err
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
				return false, fmt.Errorf("%s %s of %s (%s %s) is gone: EC2 no longer lists it; the next run makes a new one", what, id, d.VolumeID, mb.Key(), d.ClaimTemplate)
			}
			return false, nil
		case st.state == string(types.SnapshotStateCompleted):
			return true, nil
		case st.state == string(types.SnapshotStateError):
			msg := st.message
			msg = cmp.Or(msg, "EC2 gave no reason")
			return false, fmt.Errorf("%s %s of %s (%s %s) failed in EC2: state error: %s; this member stopped, the others go on; the next run retries it (graft deletes the failed snapshot first)", what, id, d.VolumeID, mb.Key(), d.ClaimTemplate, msg)
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
