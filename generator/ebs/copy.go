// The copy step of a member: copy each snapshot to the target region or key.

package ebs

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/graftctl/graft/generator/ownership"
)

// copySnapshots makes the member's decided copies (to the target region
// and/or KMS key) of its snapshots (by source volume), settles them with
// any other run's in one listing (settleSnapshots), and waits for them to
// complete. It returns the copies by source volume.
func (r *cloneRun) copySnapshots(ctx context.Context, d *memberDecision, snaps map[string]string) (map[string]string, error) {
	return r.copyStage(ctx, d, d.copies, r.e.dst, r.dstPol, ownership.RoleCopy, "copy", snaps)
}

// copyStage makes the copies steps (of role, by client c, polled by pol)
// of the snapshots (by source volume), settles and waits for them: the
// target copies (copySnapshots) and, in a cross-account migration, the
// source account's share copies (shareSnapshots).
func (r *cloneRun) copyStage(ctx context.Context, d *memberDecision, steps []copyStep, client *api, pol *poller, role, what string, snaps map[string]string) (map[string]string, error) {
	phase, mb := d.phase, d.mb
	out, mine, err := r.startCopies(ctx, d, steps, client, role, what, snaps)
	if err != nil {
		return nil, err
	}
	byKey := map[string]copyStep{}
	for _, c := range steps {
		byKey[c.key] = c
	}
	if len(mine) > 0 {
		won, err := r.settleSnapshots(ctx, client, mb, role, phase, mine, true)
		if err != nil {
			return nil, err
		}
		for k, w := range won {
			out[byKey[k].d.VolumeID] = aws.ToString(w.SnapshotId)
		}
	}
	if err := r.waitCopies(ctx, d, steps, out, pol, what); err != nil {
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
	won, err := r.settleSnapshots(ctx, client, mb, role, phase, mine, false)
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
		if err := r.waitCopies(ctx, d, steps, out, pol, what); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// startCopies makes the copies steps still need (of snaps, by source
// volume) and returns every device's copy so far (out, by source volume)
// and the copies this run made (mine, by key), still to settle.
func (r *cloneRun) startCopies(ctx context.Context, d *memberDecision, steps []copyStep, client *api, role, what string, snaps map[string]string) (out map[string]string, mine map[string]types.Snapshot, err error) {
	e, phase, mb := r.e, d.phase, d.mb
	out, mine = map[string]string{}, map[string]types.Snapshot{}
	for _, c := range steps {
		if c.exists != nil {
			out[c.d.VolumeID] = aws.ToString(c.exists.SnapshotId)
			continue
		}
		if err := r.deleteFailed(ctx, client, c.failed); err != nil {
			return nil, nil, err
		}
		snap := snaps[c.d.VolumeID]
		in := *c.create
		e.setCopySource(&in, mb, phase, c.d, snap)
		e.opts.Progress.Update(mb.Key(), phase+" "+what, 0)
		res, err := client.CopySnapshot(ctx, &in)
		if err != nil && role == ownership.RoleCopy && e.crossAccount() && strings.HasPrefix(errorCode(err), "InvalidSnapshot.NotFound") {
			// Another run removed the share after its copy completed.
			var adopted *types.Snapshot
			if res, adopted, err = r.copyUnshared(ctx, d, c, &in); adopted != nil {
				out[c.d.VolumeID] = aws.ToString(adopted.SnapshotId)
				continue
			}
		}
		if err != nil {
			return nil, nil, createError("CopySnapshot", mb, snap, err)
		}
		r.count(role)
		now := e.clock.Now()
		mine[c.key] = types.Snapshot{SnapshotId: res.SnapshotId, StartTime: &now, State: types.SnapshotStatePending, Tags: res.Tags}
	}
	return out, mine, nil
}

// waitCopies waits until every step's copy in out has completed (an
// existing one that had, and is still the copy, is not polled).
func (r *cloneRun) waitCopies(ctx context.Context, d *memberDecision, steps []copyStep, out map[string]string, pol *poller, what string) error {
	e, phase, mb := r.e, d.phase, d.mb
	for _, c := range steps {
		id := out[c.d.VolumeID]
		if c.exists != nil && c.exists.State == types.SnapshotStateCompleted && id == aws.ToString(c.exists.SnapshotId) {
			continue
		}
		if err := r.waitSnapshot(ctx, pol, mb, c.d, id, what, func(p int) { e.opts.Progress.Update(mb.Key(), phase+" "+what, p) }); err != nil {
			return err
		}
	}
	return nil
}
