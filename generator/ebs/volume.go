// The volume step of a member: create, settle, wait, and fast snapshot restore around it.

package ebs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/graftctl/graft/generator/ownership"
)

// volume returns the member's new volume for one device: the one an
// earlier run made, or a new one (with Fast Snapshot Restore around it if
// the spec asks), once it is available, settled with any other run's
// (settleVolume) and checked against the spec (mismatch). Fast Snapshot
// Restore is billed per hour: once enabled, it is turned off again however
// volume returns (see disableFSRAtExit). The volume then gets the cluster
// tags it lacks (ensureClusterTags).
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
			return types.Volume{}, fmt.Errorf("%s %s: graft's new volume %s does not match the spec: %s; EC2 did not apply what graft asked for (with kmsKeyId: the key expected is spec.target.volume.kmsKeyId, else the source volume's); graft does not record it: delete it (graft cleanup --volume %[3]s) before the next run", mb.Key(), v.d.ClaimTemplate, aws.ToString(vol.VolumeId), strings.Join(diffs, "; "))
		}
		v.refuse = diffs
		return types.Volume{}, errors.New(v.refusal(mb))
	}
	return r.ensureClusterTags(ctx, mb, v, vol)
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
			return false, fmt.Errorf("volume %s (%s %s, from %s) failed in EC2: state error; this member stopped; delete it with graft cleanup before the next run", id, mb.Key(), d.ClaimTemplate, snap)
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
		vols, err := e.listVolumes(ctx, e.dst, tagFilter(ownership.TagMember, mb.Key()), tagFilter(ownership.TagClaimTemplate, v.d.ClaimTemplate), tagFilter(ownership.TagRole, ownership.RoleVolume))
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
	case t[ownership.TagMigration] != r.e.m.Metadata.Name || t[ownership.TagRole] != ownership.RoleVolume:
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
	base := strings.Join([]string{e.m.Metadata.Name, mb.Key(), v.d.ClaimTemplate, ownership.RoleVolume}, "|")
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
		r.count(ownership.RoleVolume)
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
		return fmt.Errorf("DisableFastSnapshotRestores on %s in %s for %s (it stays enabled and billed until disabled; the next run disables it): %w", snap, zone, mb.Key(), err)
	}
	return nil
}
