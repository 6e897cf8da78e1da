package ebs

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/termtext"
)

// CleanupItem is one resource cleanup would delete, or keeps and why.
type CleanupItem struct {
	Kind   string `json:"kind"` // snapshot, volume, or share (the target account's createVolumePermission on a source snapshot)
	ID     string `json:"id"`
	Region string `json:"region"`
	// Side is "source" or "target" in a cross-account migration (the
	// account the item is in), else "".
	Side   string `json:"side,omitempty"`
	Member string `json:"member"`
	Role   string `json:"role"`
	Phase  string `json:"phase,omitempty"`
	State  string `json:"state"`
	// Keep, when set, says why the resource is not deleted.
	Keep string `json:"keep,omitempty"`
}

// CleanupPlan lists graft's resources of the migration: Delete holds the
// ones cleanup deletes, Keep the ones it leaves, with the reason.
type CleanupPlan struct {
	Delete []CleanupItem `json:"delete"`
	Keep   []CleanupItem `json:"keep"`
	Notes  []string      `json:"notes,omitempty"`
}

// PlanCleanup finds graft's intermediate resources of this migration:
// every snapshot and copy tagged graft:migration=<name> (both regions), and
// every graft volume of the migration that no clone adopts: a duplicate
// that lost to the volume the record references, or one in the error
// state (planVolumeCleanup). Anything without the tag is never listed;
// volumes the record references or cannot account for, attached volumes
// and source volumes are kept. rec may be nil (no
// graft.lock): then no volume is deleted at all. It changes nothing (it runs
// on read-only clients).
//
// named are volumes the user names for deletion (graft cleanup --volume)
// although the record cannot account for them: each is deleted still only
// if it is this migration's, unattached, available (or in error), not a
// source volume and not recorded; else it is in Keep, with the reason.
func (e *Engine) PlanCleanup(ctx context.Context, rec *record.Record, named ...string) (*CleanupPlan, error) {
	return e.readOnly().planCleanup(ctx, rec, named)
}

func (e *Engine) planCleanup(ctx context.Context, rec *record.Record, named []string) (*CleanupPlan, error) {
	cp := &CleanupPlan{}
	sides := e.cleanupSides()
	shares, err := e.planSnapshotCleanup(ctx, cp, sides)
	if err != nil {
		return nil, err
	}
	cp.Delete = append(cp.sharesToRemove(shares), cp.Delete...)
	if err := e.planVolumeCleanup(ctx, cp, rec, sides[len(sides)-1].side, named); err != nil {
		return nil, err
	}
	if rec == nil {
		cp.Notes = append(cp.Notes, "no graft.lock: only snapshots are considered; volumes are kept")
	}
	for _, it := range cp.Delete {
		if it.Kind == "snapshot" && it.Phase == "precopy" {
			cp.Notes = append(cp.Notes, "deleting precopy snapshots before the final phase makes the final snapshots full ones")
			break
		}
	}
	return cp, nil
}

// cleanupSide is one region (and, across accounts, one account) whose
// snapshots cleanup lists.
type cleanupSide struct {
	c            *api
	region, side string
}

// cleanupSides are the source region and, when it differs, the target's;
// across accounts they are named "source" and "target".
func (e *Engine) cleanupSides() []cleanupSide {
	sides := []cleanupSide{{e.src, e.m.Spec.Source.Region, ""}}
	if e.dst != e.src {
		sides = append(sides, cleanupSide{e.dst, e.m.Spec.Target.Region, ""})
	}
	if e.crossAccount() {
		sides[0].side = "source"
		if len(sides) > 1 {
			sides[1].side = "target"
		}
	}
	return sides
}

// planSnapshotCleanup sorts the migration's snapshots on every side into
// cp's Delete and Keep (a pending one is kept), and returns the source
// snapshots still shared with the target account.
func (e *Engine) planSnapshotCleanup(ctx context.Context, cp *CleanupPlan, sides []cleanupSide) ([]CleanupItem, error) {
	var shares []CleanupItem
	for _, r := range sides {
		snaps, err := e.listSnapshots(ctx, r.c)
		if err != nil {
			return nil, err
		}
		for _, s := range snaps {
			t := tagMap(s.Tags)
			if t[ownership.TagMigration] != e.m.Metadata.Name || !snapshotRole(t[ownership.TagRole]) {
				continue
			}
			it := CleanupItem{Kind: "snapshot", ID: aws.ToString(s.SnapshotId), Region: r.region, Side: r.side, Member: t[ownership.TagMember], Role: t[ownership.TagRole], Phase: t[ownership.TagPhase], State: string(s.State)}
			if r.side == "source" {
				shared, err := e.sharedWithTarget(ctx, r.c, it.ID)
				if err != nil {
					return nil, fmt.Errorf("DescribeSnapshotAttribute of %s: %w", it.ID, err)
				}
				if shared {
					sh := it
					sh.Kind = "share"
					shares = append(shares, sh)
				}
			}
			if s.State == types.SnapshotStatePending {
				it.Keep = "still pending (a clone may be running); run cleanup again when it completes"
				cp.Keep = append(cp.Keep, it)
				continue
			}
			cp.Delete = append(cp.Delete, it)
		}
	}
	return shares, nil
}

// sharesToRemove are the shares cleanup removes, first of all: the target
// account loses access before the snapshot is deleted (and also when the
// snapshot is kept). A share whose target copy is still pending stays, in
// Keep: a clone may be copying it.
func (cp *CleanupPlan) sharesToRemove(shares []CleanupItem) []CleanupItem {
	pending := map[string]bool{}
	for _, it := range cp.Keep {
		if it.Side == "target" && it.Role == ownership.RoleCopy {
			pending[it.Member+"|"+it.Phase] = true
		}
	}
	var remove []CleanupItem
	for _, sh := range shares {
		if pending[sh.Member+"|"+sh.Phase] {
			sh.Keep = "its copy in the target account is still pending (a clone may be running); run cleanup again when it completes"
			cp.Keep = append(cp.Keep, sh)
			continue
		}
		remove = append(remove, sh)
	}
	return remove
}

// planVolumeCleanup sorts the migration's volumes in the target region
// into cp's Delete and Keep. A volume is deleted only when graft's own
// rule would never adopt it: the key's winner (volumeWins, the rule every
// clone applies) is the volume the record references, so this one is a
// duplicate that lost, or it is in the error state. Kept, with the reason:
// every volume without a record, a source volume, one the record
// references, one attached or not available, and one the record cannot
// account for: of a member and claim template the record holds no volume
// of, or of a key whose winner is not the recorded volume. Those may be
// another clone's, whose graft.lock this is not (an older checkout's, a
// lost one), and in use by the cluster while its pod is down; graft
// cannot tell, so it keeps them unless the user names them.
func (e *Engine) planVolumeCleanup(ctx context.Context, cp *CleanupPlan, rec *record.Record, side string, named []string) error {
	referenced := map[string]string{}
	sources := map[string]bool{}
	if rec != nil {
		for _, v := range rec.Volumes {
			referenced[v.TargetVolume] = v.ClaimName()
			sources[v.SourceVolume] = true
		}
	}
	vols, err := e.listVolumes(ctx, e.dst)
	if err != nil {
		return err
	}
	owned := slices.DeleteFunc(vols, func(v types.Volume) bool {
		t := tagMap(v.Tags)
		return t[ownership.TagMigration] != e.m.Metadata.Name || t[ownership.TagRole] != ownership.RoleVolume
	})
	recorded := map[string]string{} // the recorded volume's id, by key
	for _, v := range owned {
		if k, ok := volKeyOf(v); ok && referenced[aws.ToString(v.VolumeId)] != "" {
			recorded[k] = aws.ToString(v.VolumeId)
		}
	}
	winners := groupVolumes(owned)
	for _, v := range owned {
		t := tagMap(v.Tags)
		id := aws.ToString(v.VolumeId)
		it := CleanupItem{Kind: "volume", ID: id, Region: e.m.Spec.Target.Region, Side: side, Member: t[ownership.TagMember], Role: t[ownership.TagRole], Phase: t[ownership.TagPhase], State: string(v.State)}
		switch {
		case rec == nil:
			it.Keep = "there is no graft.lock to tell which volumes are in use"
		case sources[id]:
			it.Keep = "it is a source volume"
		case referenced[id] != "":
			it.Keep = "the record references it (PVC " + referenced[id] + ")"
		default:
			it.Keep = stateKeepReason(v)
			if it.Keep == "" && !slices.Contains(named, id) {
				it.Keep = unaccountedReason(v, recorded, winners)
			}
		}
		if it.Keep != "" {
			cp.Keep = append(cp.Keep, it)
		} else {
			cp.Delete = append(cp.Delete, it)
		}
	}
	return nil
}

// stateKeepReason says why cleanup keeps graft volume v, whatever the
// record says, or "": it is attached, or neither available nor in error.
func stateKeepReason(v types.Volume) string {
	switch {
	case len(v.Attachments) > 0 || v.State == types.VolumeStateInUse:
		return "it is attached"
	case v.State != types.VolumeStateAvailable && v.State != types.VolumeStateError:
		return "it is " + string(v.State)
	}
	return ""
}

// unaccountedReason says why cleanup keeps graft volume v, unattached and
// not recorded, because the record cannot account for it ("" when it can:
// v is in error, or a duplicate that lost to the recorded volume, and no
// clone adopts it); see planVolumeCleanup.
func unaccountedReason(v types.Volume, recorded map[string]string, winners map[string][]types.Volume) string {
	const another = "a clone whose graft.lock this is not may have made it, and the cluster may use it; run cleanup with that graft.lock, or name it with --volume once you know it is unused"
	t := tagMap(v.Tags)
	key := volKey(t[ownership.TagMember], t[ownership.TagClaimTemplate])
	switch {
	case v.State == types.VolumeStateError:
		return ""
	case recorded[key] == "":
		return fmt.Sprintf("graft.lock records no volume of its member %s and claim template %s: %s", t[ownership.TagMember], t[ownership.TagClaimTemplate], another)
	case aws.ToString(winners[key][0].VolumeId) != recorded[key]:
		return fmt.Sprintf("graft.lock records %s for its member, but a clone now would adopt %s (the oldest): %s", recorded[key], aws.ToString(winners[key][0].VolumeId), another)
	}
	return ""
}

// Cleanup deletes the plan's Delete items. Time passes between the plan
// and the deletion (the user reads it and confirms), so right before
// deleting each item it describes it again and skips it, keeping it, when
// it is gone, no longer carries this migration's graft:migration tag and a
// graft:role cleanup deletes, is now attached or in use, or is in a state
// that is not deletable (a snapshot pending again, a volume creating or
// deleting). Skipped items are logged and appended to cp.Keep with the
// reason. It returns the ids deleted.
func (e *Engine) Cleanup(ctx context.Context, cp *CleanupPlan) ([]string, error) {
	var deleted, failed []string
	for _, it := range cp.Delete {
		c := e.src
		if it.Side == "target" || (it.Side == "" && it.Region != e.m.Spec.Source.Region) {
			c = e.dst
		}
		why, err := e.recheck(ctx, c, it)
		if err != nil {
			if ctx.Err() != nil {
				return deleted, ctx.Err()
			}
			failed = append(failed, termtext.Line(fmt.Sprintf("%s %s: describe before deleting: %v", it.Kind, it.ID, err)))
			continue
		}
		if why != "" {
			it.Keep = "changed since the plan: " + why + "; not deleted"
			e.log.Warn("cleanup: skipped", "kind", it.Kind, "id", it.ID, "member", it.Member, "reason", it.Keep)
			cp.Keep = append(cp.Keep, it)
			continue
		}
		switch it.Kind {
		case "share":
			_, err = c.ModifySnapshotAttribute(ctx, shareInput(it.ID, e.targetAccount(), false))
		case "snapshot":
			_, err = c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(it.ID)})
		case "volume":
			_, err = c.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(it.ID)})
		}
		if err != nil {
			if ctx.Err() != nil {
				return deleted, ctx.Err()
			}
			failed = append(failed, termtext.Line(fmt.Sprintf("%s %s: %v", it.Kind, it.ID, err)))
			continue
		}
		e.log.Info("deleted", "kind", it.Kind, "id", it.ID, "member", it.Member)
		deleted = append(deleted, it.ID)
	}
	if len(failed) > 0 {
		return deleted, fmt.Errorf("%d deletion(s) failed:\n  - %s", len(failed), strings.Join(failed, "\n  - "))
	}
	return deleted, nil
}

// recheck describes a planned item again and says why it must not be
// deleted now, or "".
func (e *Engine) recheck(ctx context.Context, c *api, it CleanupItem) (string, error) {
	owned := func(tags []types.Tag, roles ...string) string {
		t := tagMap(tags)
		if t[ownership.TagMigration] != e.m.Metadata.Name {
			return fmt.Sprintf("its %s tag is %q, not %q", ownership.TagMigration, t[ownership.TagMigration], e.m.Metadata.Name)
		}
		for _, r := range roles {
			if t[ownership.TagRole] == r {
				return ""
			}
		}
		return fmt.Sprintf("its %s tag is %q, not %s", ownership.TagRole, t[ownership.TagRole], strings.Join(roles, " or "))
	}
	switch it.Kind {
	case "share":
		s, ok, err := describeOne(ctx, c, snapshotKind, it.ID)
		if why := gone(ok, err); why != "" || err != nil {
			return why, err
		}
		if why := owned(s.Tags, ownership.RoleSnapshot, ownership.RoleShareCopy); why != "" {
			return why, nil
		}
		if shared, err := e.sharedWithTarget(ctx, c, it.ID); err != nil || !shared {
			return "it is no longer shared", err
		}
	case "snapshot":
		s, ok, err := describeOne(ctx, c, snapshotKind, it.ID)
		if why := gone(ok, err); why != "" || err != nil {
			return why, err
		}
		if why := owned(s.Tags, ownership.RoleSnapshot, ownership.RoleCopy, ownership.RoleShareCopy); why != "" {
			return why, nil
		}
		if s.State != types.SnapshotStateCompleted && s.State != types.SnapshotStateError {
			return "it is " + string(s.State), nil
		}
	case "volume":
		v, ok, err := describeOne(ctx, c, volumeKind, it.ID)
		if why := gone(ok, err); why != "" || err != nil {
			return why, err
		}
		if why := owned(v.Tags, ownership.RoleVolume); why != "" {
			return why, nil
		}
		if len(v.Attachments) > 0 || v.State == types.VolumeStateInUse {
			return "it is attached", nil
		}
		if v.State != types.VolumeStateAvailable && v.State != types.VolumeStateError {
			return "it is " + string(v.State), nil
		}
	default:
		return "unknown kind " + it.Kind, nil
	}
	return "", nil
}

// gone is recheck's reason when describeOne did not find the item; "" when
// it did, or failed.
func gone(found bool, err error) string {
	if found || err != nil {
		return ""
	}
	return "it no longer exists"
}

// WriteText lists the plan. Its cells are EC2's ids and graft's tags as
// EC2 returns them (anyone who may tag may write them): each is written
// as it is when safe, else quoted (termtext.Value); a reason or note that
// names them has every rune a terminal would act on escaped
// (termtext.Line).
func (cp *CleanupPlan) WriteText(w io.Writer) error {
	v, line := termtext.Value, termtext.Line
	if len(cp.Delete) == 0 {
		fmt.Fprintln(w, "Nothing to delete.")
	} else {
		fmt.Fprintf(w, "graft cleanup will delete %d resource(s):\n", len(cp.Delete))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  KIND\tID\tREGION\tMEMBER\tROLE\tPHASE\tSTATE")
		for _, it := range cp.Delete {
			region := v(it.Region)
			if it.Side != "" {
				region += " (" + v(it.Side) + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", v(it.Kind), v(it.ID), region, v(it.Member), v(it.Role), v(it.Phase), v(it.State))
		}
		tw.Flush()
		for _, it := range cp.Delete {
			if it.Kind == "share" {
				fmt.Fprintln(w, "  (a share is removed, not deleted: the target account's createVolumePermission on the source snapshot)")
				break
			}
		}
	}
	if len(cp.Keep) > 0 {
		fmt.Fprintf(w, "Kept (%d):\n", len(cp.Keep))
		for _, it := range cp.Keep {
			fmt.Fprintf(w, "  %s %s (%s): %s\n", v(it.Kind), v(it.ID), v(it.Member), line(it.Keep))
		}
	}
	for _, n := range cp.Notes {
		fmt.Fprintf(w, "Note: %s\n", line(n))
	}
	return nil
}
