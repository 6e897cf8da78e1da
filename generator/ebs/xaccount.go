// Cross-account migrations (spec.target.account): the steps between the
// source account's snapshot and the target account's copy.
//
// The flow of one device, every step decided from what exists (tags, and
// the snapshot's createVolumePermission), so a re-run after any
// interruption resumes it:
//
//  1. snapshot in the source account (snapshot.go, as within one account);
//  2. if that snapshot is encrypted with the AWS-managed aws/ebs key, whose
//     key policy cannot admit another account: a share copy in the source
//     account under spec.target.account.shareKmsKeyId (role share-copy);
//  3. share the snapshot (or its share copy) with the target account:
//     ModifySnapshotAttribute createVolumePermission add, after
//     DescribeSnapshotAttribute shows it is not yet there, and only while
//     the target copy is still to be made or completed;
//  4. in the target account, CopySnapshot of the shared snapshot under the
//     target account's key (spec.Target.CopyKMSKeyID; copy.go). EC2 would
//     let the target create volumes straight from the shared snapshot, but
//     the copy is what makes the target account own the snapshot its
//     volumes come from, under its own key: the volumes, a re-run and a
//     rollback then depend neither on the share, which graft removes, nor
//     on the source account's key, whose owner may revoke it;
//  5. remove the share once the target copy is completed (and graft
//     cleanup removes any share a stopped run left);
//  6. the volumes in the target account, from the target copy (volume.go).
//
// The key checks before anything is created are in xaccount_kms.go.

package ebs

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/kmskey"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/spec"
)

// roleShare counts the shares clone adds (CloneResult.Created, plan).
const roleShare = "share"

// snapshotRole reports whether role is one of graft's snapshot roles (the
// ones cleanup deletes and a run deletes its own duplicates of).
func snapshotRole(role string) bool {
	return role == ownership.RoleSnapshot || role == ownership.RoleCopy || role == ownership.RoleShareCopy
}

// targetAccount is the target account's id ("" within one account).
func (e *Engine) targetAccount() string {
	if a := e.m.Spec.Target.Account; a != nil {
		return a.ID
	}
	return ""
}

// needsShareCopy reports whether a device's snapshot must be copied in the
// source account before it can be shared: it is encrypted with the
// AWS-managed aws/ebs key (checkShareKeys found out with DescribeKey).
// Without a source KMS client graft goes by the spec: a device encrypted
// with a key other than shareKmsKeyId is copied under it.
func (e *Engine) needsShareCopy(d Device) bool {
	if !e.crossAccount() || !d.Encrypted {
		return false
	}
	if k, ok := e.xkeys[d.KMSKeyID]; ok {
		return k.awsManaged
	}
	share := e.m.Spec.Target.Account.ShareKMSKeyID
	return e.opts.SourceKMS == nil && share != "" && !kmskey.Same(share, d.KMSKeyID)
}

// decideShareCopies decides the member's share copies and updates origin
// as decideCopies does: the snapshot the target copies is the share copy.
// A device whose target copy exists and is completed needs none.
func (e *Engine) decideShareCopies(d *memberDecision, x *existing, origin map[string]string) {
	mb, phase := d.mb, d.phase
	for _, dev := range mb.Devices {
		if !e.needsShareCopy(dev) {
			continue
		}
		if c, ok := x.snap(snapKey(ownership.RoleCopy, mb.Key(), phase, dev.VolumeID)); ok && c.State == types.SnapshotStateCompleted {
			continue
		}
		d.shareCopies = append(d.shareCopies, decideCopy(x, origin, dev, snapKey(ownership.RoleShareCopy, mb.Key(), phase, dev.VolumeID),
			func(snap string) *ec2.CopySnapshotInput { return e.shareCopyInput(mb, phase, dev, snap) }))
	}
}

// shareCopyInput is the CopySnapshot call of a share copy: in the source
// region and account, under spec.target.account.shareKmsKeyId.
func (e *Engine) shareCopyInput(mb Member, phase string, d Device, snap string) *ec2.CopySnapshotInput {
	in := &ec2.CopySnapshotInput{
		SourceRegion: aws.String(e.m.Spec.Source.Region),
		Encrypted:    aws.Bool(true),
		TagSpecifications: e.tagSpec(types.ResourceTypeSnapshot, map[string]string{
			ownership.TagMember: mb.Key(), ownership.TagRole: ownership.RoleShareCopy, ownership.TagPhase: phase, ownership.TagSourceInstance: mb.Instance,
			ownership.TagSourceVolume: d.VolumeID, ownership.TagClaimTemplate: d.ClaimTemplate,
		}),
	}
	if k := e.shareKMSKey(); k != "" {
		in.KmsKeyId = aws.String(k)
	}
	e.setCopySource(in, mb, phase, d, snap)
	return in
}

// shareKMSKey is the key share copies are made under: shareKmsKeyId as
// DescribeKey resolved it (an alias to its key ARN), else as the spec has it.
func (e *Engine) shareKMSKey() string {
	a := e.m.Spec.Target.Account
	if a == nil || a.ShareKMSKeyID == "" {
		return ""
	}
	for _, k := range e.xkeys {
		if k.awsManaged && k.shared != "" {
			return k.shared
		}
	}
	return a.ShareKMSKeyID
}

// shareSnapshots makes the member's share copies (copyStage, in the source
// account) and shares, with the target account, the snapshot each target
// copy still to be made (or still pending) is made from. It returns that
// snapshot by source volume.
func (r *cloneRun) shareSnapshots(ctx context.Context, d *memberDecision, snaps map[string]string) (map[string]string, error) {
	shared := maps.Clone(snaps)
	if len(d.shareCopies) > 0 {
		cp, err := r.copyStage(ctx, d, d.shareCopies, r.e.src, r.srcPol, ownership.RoleShareCopy, "share copy", snaps)
		if err != nil {
			return nil, err
		}
		maps.Copy(shared, cp)
	}
	for _, c := range d.copies {
		if c.exists != nil && c.exists.State == types.SnapshotStateCompleted {
			continue
		}
		if err := r.setShare(ctx, d.mb, c.d, shared[c.d.VolumeID], true); err != nil {
			return nil, err
		}
	}
	return shared, nil
}

// unshareSnapshots removes the target account's createVolumePermission from
// every snapshot of the member's phase graft may have shared: the snapshot
// and its share copy (also one an earlier run shared and this run did not
// need again).
func (r *cloneRun) unshareSnapshots(ctx context.Context, d *memberDecision, shared map[string]string) error {
	for _, dev := range d.mb.Devices {
		ids := []string{shared[dev.VolumeID]}
		for _, role := range []string{ownership.RoleSnapshot, ownership.RoleShareCopy} {
			if s, ok := r.x.snap(snapKey(role, d.mb.Key(), d.phase, dev.VolumeID)); ok {
				ids = append(ids, aws.ToString(s.SnapshotId))
			}
		}
		slices.Sort(ids)
		for _, id := range slices.Compact(ids) {
			if id == "" {
				continue
			}
			if err := r.setShare(ctx, d.mb, dev, id, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// setShare adds (on) or removes the target account's createVolumePermission
// on one of graft's source-account snapshots, unless
// DescribeSnapshotAttribute shows it is already so. It is the only change
// graft makes to a snapshot in the source account after creating it.
func (r *cloneRun) setShare(ctx context.Context, mb Member, d Device, snap string, on bool) error {
	e, acct := r.e, r.e.targetAccount()
	has, err := e.sharedWithTarget(ctx, e.src, snap)
	if err != nil {
		if !on && strings.HasPrefix(errorCode(err), "InvalidSnapshot.NotFound") {
			return nil
		}
		return fmt.Errorf("%s %s: DescribeSnapshotAttribute of %s: %w", mb.Key(), d.ClaimTemplate, snap, err)
	}
	if has == on {
		return nil
	}
	verb := "unshare"
	if on {
		verb = "share"
		e.opts.Progress.Update(mb.Key(), d.ClaimTemplate+" share", 0)
	}
	if _, err := e.src.ModifySnapshotAttribute(ctx, shareInput(snap, acct, on)); err != nil {
		if on {
			return createError("ModifySnapshotAttribute (share with account "+acct+")", mb, snap, err)
		}
		return fmt.Errorf("%s %s: remove the share of %s with account %s (graft cleanup removes it): %w", mb.Key(), d.ClaimTemplate, snap, acct, err)
	}
	if on {
		r.count(roleShare)
	}
	e.log.Info(verb+"d snapshot with the target account", "member", mb.Key(), "claimTemplate", d.ClaimTemplate, "snapshot", snap, "account", acct)
	return nil
}

// shareInput is the ModifySnapshotAttribute call adding (on) or removing
// account's createVolumePermission, in the OperationType and UserIds form
// (which EC2 and moto both take).
func shareInput(snap, account string, on bool) *ec2.ModifySnapshotAttributeInput {
	op := types.OperationTypeRemove
	if on {
		op = types.OperationTypeAdd
	}
	return &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snap), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		OperationType: op, UserIds: []string{account}}
}

// unsharedRetries bounds copyUnshared.
const unsharedRetries = 3

// copyUnshared handles a target copy refused with InvalidSnapshot.NotFound:
// another run (another machine) made the copy of this key and removed the
// share once it completed, between this run's share and its copy. It
// adopts a copy of the key that the target account now lists, else shares
// the snapshot again and retries, at most unsharedRetries times.
func (r *cloneRun) copyUnshared(ctx context.Context, d *memberDecision, c copyStep, in *ec2.CopySnapshotInput) (*ec2.CopySnapshotOutput, *types.Snapshot, error) {
	e, mb := r.e, d.mb
	var err error
	for range unsharedRetries {
		snaps, lerr := e.listSnapshots(ctx, e.dst, tagFilter(ownership.TagMember, mb.Key()), tagFilter(ownership.TagRole, ownership.RoleCopy), tagFilter(ownership.TagPhase, d.phase))
		if lerr != nil {
			return nil, nil, lerr
		}
		if live, _ := groupSnapshots(snaps); len(live[c.key]) > 0 {
			w := live[c.key][0]
			r.x.setSnap(c.key, w)
			e.log.Warn("another graft run copied this snapshot into the target account first; adopting its copy", "member", mb.Key(), "key", c.key, "adopted", aws.ToString(w.SnapshotId))
			return nil, &w, nil
		}
		if err := r.setShare(ctx, mb, c.d, aws.ToString(in.SourceSnapshotId), true); err != nil {
			return nil, nil, err
		}
		var res *ec2.CopySnapshotOutput
		if res, err = e.dst.CopySnapshot(ctx, in); err == nil || !strings.HasPrefix(errorCode(err), "InvalidSnapshot.NotFound") {
			return res, nil, err
		}
	}
	return nil, nil, err
}

// shareDryRuns proves the share (ModifySnapshotAttribute with DryRun) on a
// completed snapshot of the member that graft would share, of the phase or
// the precopy one: the final phase is proved before it creates anything;
// a first precopy has nothing to name yet.
func (e *Engine) shareDryRuns(r *dryRuns, mb Member, x *existing, phase string) {
	acct := e.targetAccount()
	for _, dev := range mb.Devices {
		role := ownership.RoleSnapshot
		if e.needsShareCopy(dev) {
			role = ownership.RoleShareCopy
		}
		for _, ph := range []string{phase, spec.PhasePrecopy} {
			s, ok := x.snap(snapKey(role, mb.Key(), ph, dev.VolumeID))
			if !ok || s.State != types.SnapshotStateCompleted {
				continue
			}
			id := aws.ToString(s.SnapshotId)
			in := shareInput(id, acct, true)
			in.DryRun = aws.Bool(true)
			r.add("ModifySnapshotAttribute", "ModifySnapshotAttribute (share) of "+id+" with account "+acct, func(ctx context.Context) error {
				_, err := e.src.ModifySnapshotAttribute(ctx, in)
				return err
			})
			return
		}
	}
}

// sharedWithTarget reports whether a snapshot of c's account carries the
// target account's createVolumePermission.
func (e *Engine) sharedWithTarget(ctx context.Context, c *api, snap string) (bool, error) {
	out, err := c.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(snap), Attribute: types.SnapshotAttributeNameCreateVolumePermission})
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(out.CreateVolumePermissions, func(p types.CreateVolumePermission) bool {
		return aws.ToString(p.UserId) == e.targetAccount()
	}), nil
}
