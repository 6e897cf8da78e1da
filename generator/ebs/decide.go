package ebs

import (
	"cmp"
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

// memberDecision is what one phase of clone does for one member, decided
// from the inventory, the spec and what earlier runs created: which
// snapshots it creates and with which call, which copies, which volumes it
// creates, reuses or refuses, and the exact EC2 input of every call. Plan
// renders it, the dry run proves its calls, and clone carries it out: they
// cannot disagree, because there is only this one decision (decide).
type memberDecision struct {
	mb    Member
	phase string
	// snaps has one step per device, in device order.
	snaps []snapStep
	// multi is the CreateSnapshots call taking every missing snapshot at
	// one point in time; nil when the snapshots are taken one by one.
	multi *ec2.CreateSnapshotsInput
	// hook: the beforeFinal hook runs before the snapshots are taken.
	hook bool
	// shareCopies has one step per device whose snapshot is encrypted
	// with the AWS-managed aws/ebs key, in a cross-account migration: it is
	// copied in the source account under spec.target.account.shareKmsKeyId
	// before it is shared (xaccount.go).
	shareCopies []copyStep
	// copies has one step per device whose snapshot is copied (into the
	// target region, key or account).
	copies []copyStep
	// vols has one step per device (final phase only).
	vols []volStep
	// warnings about this member's run.
	warnings []string
}

type snapStep struct {
	d   Device
	key string
	// exists is the snapshot an earlier run made (the key's winner).
	exists *types.Snapshot
	// failed is graft's snapshot of this key in state error, deleted
	// before a new one is made.
	failed *types.Snapshot
	// create is the CreateSnapshot call; nil when the snapshot exists or
	// multi takes it.
	create *ec2.CreateSnapshotInput
}

// op is the call that makes the step's snapshot.
func (s snapStep) op(d *memberDecision) string {
	if d.multi != nil {
		return "CreateSnapshots"
	}
	return "CreateSnapshot"
}

// stops reports whether clone refuses one of the member's volumes, and
// so stops the member before making anything.
func (d *memberDecision) stops() bool {
	for _, v := range d.vols {
		if v.refused() {
			return true
		}
	}
	return false
}

// allExist reports whether every snapshot of the phase exists already.
func (d *memberDecision) allExist() bool {
	for _, s := range d.snaps {
		if s.exists == nil {
			return false
		}
	}
	return true
}

type copyStep struct {
	d      Device
	key    string
	exists *types.Snapshot
	failed *types.Snapshot
	// create is the CopySnapshot call; its SourceSnapshotId is set when
	// the snapshot it copies exists already, else when clone has it.
	create *ec2.CopySnapshotInput
}

type volStep struct {
	d      Device
	key    string
	params VolumeParams
	// exists is the volume an earlier run made (the key's winner).
	exists *types.Volume
	// refuse lists how exists differs from the spec: clone refuses it.
	refuse []string
	// source: exists is a source volume carrying graft's tags; clone
	// refuses it (graft never reuses, tags or changes a source volume).
	source bool
	// foreign says why exists carries cluster tags that do not match
	// spec.target.cluster (clusterTagDiff): clone refuses it.
	foreign string
	// tag is the CreateTags call adding the cluster tags exists lacks
	// (decideClusterTags); nil when it has them all.
	tag *ec2.CreateTagsInput
	// create is the CreateVolume call (when exists is nil); its
	// SnapshotId is set when the snapshot it is made from exists, and its
	// ClientToken by clone.
	create *ec2.CreateVolumeInput
	// origin is the snapshot (or copy) the volume is made from, when known.
	origin string
}

// decide is the single decision of one member's phase.
func (e *Engine) decide(inv *Inventory, mb Member, x *existing, phase string) *memberDecision {
	s := &e.m.Spec
	d := &memberDecision{mb: mb, phase: phase}
	var missing []Device
	x.mu.Lock()
	for _, dev := range mb.Devices {
		st := snapStep{d: dev, key: snapKey(ownership.RoleSnapshot, mb.Key(), phase, dev.VolumeID)}
		if sn, ok := x.snaps[st.key]; ok {
			st.exists = &sn
		} else {
			if f, ok := x.failed[st.key]; ok {
				st.failed = &f
			}
			missing = append(missing, dev)
		}
		d.snaps = append(d.snaps, st)
	}
	x.mu.Unlock()

	// The single rule for CreateSnapshots: it snapshots every data device
	// of the instance at one point in time (crash-consistent), so it is
	// used when a member has several devices and none of them has this
	// phase's snapshot yet. When some exist already (a device's snapshot
	// failed), the missing ones are taken one by one with CreateSnapshot:
	// CreateSnapshots would duplicate the existing ones, and no call can
	// make new snapshots consistent with old ones.
	if len(missing) > 1 && len(missing) == len(mb.Devices) {
		d.multi = e.createSnapshotsInput(mb, phase, missing)
	} else {
		if len(missing) > 0 && len(mb.Devices) > 1 {
			d.warnings = append(d.warnings, fmt.Sprintf("%s: the %s snapshots of %s are taken one by one: the member's other %s snapshots already exist, so these are not crash-consistent with them", mb.Key(), phase, deviceList(missing), phase))
		}
		for i := range d.snaps {
			if d.snaps[i].exists == nil {
				d.snaps[i].create = e.createSnapshotInput(mb, phase, d.snaps[i].d)
			}
		}
	}
	d.hook = len(missing) > 0 && phase == spec.PhaseFinal && len(s.Hooks.BeforeFinal) > 0

	origin := map[string]string{}
	for _, st := range d.snaps {
		if st.exists != nil {
			origin[st.d.VolumeID] = aws.ToString(st.exists.SnapshotId)
		}
	}
	e.decideShareCopies(d, x, origin)
	e.decideCopies(d, x, origin)
	if phase != spec.PhaseFinal {
		return d
	}
	for _, dev := range mb.Devices {
		p := volumeParams(s, mb, dev)
		vs := volStep{d: dev, key: volKey(mb.Key(), dev.ClaimTemplate), params: p, origin: origin[dev.VolumeID]}
		if v, ok := x.vol(vs.key); ok {
			vs.exists = &v
			vs.refuse = mismatch(v, p)
			vs.source = inv.isSource(aws.ToString(v.VolumeId))
			e.decideClusterTags(&vs)
		} else {
			vs.create = e.createVolumeInput(mb, dev, p, phase, vs.origin)
		}
		d.vols = append(d.vols, vs)
	}
	return d
}

// decideCopies decides the member's copies (needsCopy) and updates origin,
// the snapshot each source volume's new volume is made from: an existing
// copy, or none yet while its copy is still to be made.
func (e *Engine) decideCopies(d *memberDecision, x *existing, origin map[string]string) {
	mb, phase := d.mb, d.phase
	for _, dev := range mb.Devices {
		if !e.needsCopy(dev) {
			continue
		}
		d.copies = append(d.copies, decideCopy(x, origin, dev, snapKey(ownership.RoleCopy, mb.Key(), phase, dev.VolumeID),
			func(snap string) *ec2.CopySnapshotInput { return e.copySnapshotInput(mb, phase, dev, snap) }))
	}
}

// decideCopy decides one copy of dev's snapshot (tagged with key) and
// updates origin: the existing copy becomes the origin of what follows
// it; a copy still to make (input, of the origin so far) leaves no origin
// until it is made. A copy that failed earlier is kept in the step.
func decideCopy(x *existing, origin map[string]string, dev Device, key string, input func(snap string) *ec2.CopySnapshotInput) copyStep {
	cs := copyStep{d: dev, key: key}
	if sn, ok := x.snap(key); ok {
		cs.exists = &sn
		origin[dev.VolumeID] = aws.ToString(sn.SnapshotId)
		return cs
	}
	x.mu.Lock()
	if f, ok := x.failed[key]; ok {
		cs.failed = &f
	}
	x.mu.Unlock()
	cs.create = input(origin[dev.VolumeID])
	delete(origin, dev.VolumeID) // the copy, not yet made, is the origin
	return cs
}

func deviceList(ds []Device) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ClaimTemplate+" ("+d.VolumeID+")")
	}
	return strings.Join(out, ", ")
}

func (e *Engine) snapshotTags(mb Member, phase string, devs []Device) map[string]string {
	var vols, templates []string
	for _, d := range devs {
		vols = append(vols, d.VolumeID)
		templates = append(templates, d.ClaimTemplate)
	}
	return map[string]string{
		ownership.TagMember: mb.Key(), ownership.TagRole: ownership.RoleSnapshot, ownership.TagPhase: phase, ownership.TagSourceInstance: mb.Instance,
		// One CreateSnapshots call tags all its snapshots alike, so these
		// two list every volume; each snapshot's VolumeId says which one
		// it is, and the look-up keys on that.
		ownership.TagSourceVolume: strings.Join(vols, ","), ownership.TagClaimTemplate: strings.Join(templates, ","),
	}
}

func (e *Engine) createSnapshotsInput(mb Member, phase string, devs []Device) *ec2.CreateSnapshotsInput {
	rootIsData := false
	var templates []string
	for _, d := range mb.Devices {
		if d.Device == mb.RootDevice {
			rootIsData = true
		}
	}
	for _, d := range devs {
		templates = append(templates, d.ClaimTemplate)
	}
	return &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{
			InstanceId:           aws.String(mb.Instance),
			ExcludeBootVolume:    aws.Bool(!rootIsData),
			ExcludeDataVolumeIds: mb.OtherVolumes,
		},
		Description:       aws.String(fmt.Sprintf("graft %s %s %s snapshot of %s (%s)", e.m.Metadata.Name, mb.Key(), phase, mb.Instance, strings.Join(templates, ", "))),
		TagSpecifications: e.tagSpec(types.ResourceTypeSnapshot, e.snapshotTags(mb, phase, devs)),
	}
}

func (e *Engine) createSnapshotInput(mb Member, phase string, d Device) *ec2.CreateSnapshotInput {
	return &ec2.CreateSnapshotInput{
		VolumeId:          aws.String(d.VolumeID),
		Description:       aws.String(fmt.Sprintf("graft %s %s %s snapshot of %s (%s)", e.m.Metadata.Name, mb.Key(), phase, d.VolumeID, d.ClaimTemplate)),
		TagSpecifications: e.tagSpec(types.ResourceTypeSnapshot, e.snapshotTags(mb, phase, []Device{d})),
	}
}

// copySnapshotInput is the CopySnapshot call of a device: encrypted when
// the new volume is, with the key graft knows (spec.target.volume.kmsKeyId,
// else the source's in the same region) sent explicitly, never left to
// EC2's default.
func (e *Engine) copySnapshotInput(mb Member, phase string, d Device, snap string) *ec2.CopySnapshotInput {
	p := volumeParams(&e.m.Spec, mb, d)
	in := &ec2.CopySnapshotInput{
		SourceRegion: aws.String(e.m.Spec.Source.Region),
		TagSpecifications: e.tagSpec(types.ResourceTypeSnapshot, map[string]string{
			ownership.TagMember: mb.Key(), ownership.TagRole: ownership.RoleCopy, ownership.TagPhase: phase, ownership.TagSourceInstance: mb.Instance,
			ownership.TagSourceVolume: d.VolumeID, ownership.TagClaimTemplate: d.ClaimTemplate,
		}),
	}
	e.setCopySource(in, mb, phase, d, snap)
	if p.Encrypted {
		in.Encrypted = aws.Bool(true)
		if p.KMSKeyID != "" {
			in.KmsKeyId = aws.String(p.KMSKeyID)
		}
	}
	return in
}

// setCopySource names the snapshot a copy is made of.
func (e *Engine) setCopySource(in *ec2.CopySnapshotInput, mb Member, phase string, d Device, snap string) {
	in.SourceSnapshotId = nil
	if snap != "" {
		in.SourceSnapshotId = aws.String(snap)
	}
	in.Description = aws.String(fmt.Sprintf("graft %s %s %s copy of %s (%s %s)", e.m.Metadata.Name, mb.Key(), phase, snap, d.VolumeID, d.ClaimTemplate))
}

// volumeTags are the tags of a new volume: graft's own, and those the
// cluster's CSI driver and its IAM policy need to attach it
// (spec.Target.Storage).
func (e *Engine) volumeTags(mb Member, d Device, phase string) map[string]string {
	tags := map[string]string{
		ownership.TagMember: mb.Key(), ownership.TagRole: ownership.RoleVolume, ownership.TagPhase: phase, ownership.TagSourceInstance: mb.Instance,
		ownership.TagSourceVolume: d.VolumeID, ownership.TagClaimTemplate: d.ClaimTemplate,
	}
	maps.Copy(tags, e.m.Spec.Target.Storage().Tags)
	return tags
}

// createVolumeInput is the CreateVolume call of a device: the spec's
// parameters, encrypted with the key graft knows sent explicitly.
func (e *Engine) createVolumeInput(mb Member, d Device, p VolumeParams, phase, snap string) *ec2.CreateVolumeInput {
	in := &ec2.CreateVolumeInput{
		AvailabilityZone:  aws.String(p.Zone),
		Size:              aws.Int32(p.SizeGiB),
		VolumeType:        types.VolumeType(p.Type),
		TagSpecifications: e.tagSpec(types.ResourceTypeVolume, e.volumeTags(mb, d, phase)),
	}
	if snap != "" {
		in.SnapshotId = aws.String(snap)
	}
	if p.IOPS > 0 {
		in.Iops = aws.Int32(p.IOPS)
	}
	if p.Throughput > 0 {
		in.Throughput = aws.Int32(p.Throughput)
	}
	if p.Encrypted {
		in.Encrypted = aws.Bool(true)
		if p.KMSKeyID != "" {
			in.KmsKeyId = aws.String(p.KMSKeyID)
		}
	}
	if p.InitRateMiBps > 0 {
		in.VolumeInitializationRate = aws.Int32(p.InitRateMiBps)
	}
	return in
}

// expectedKMSKey is the key a new volume must have: the spec's, else the
// source's (volumeParams), or "" when graft cannot know it without KMS (an
// alias, or EC2's default key).
func expectedKMSKey(p VolumeParams) string {
	if !p.Encrypted || p.KMSKeyID == "" || kmskey.Parse(p.KMSKeyID).Alias {
		return ""
	}
	return p.KMSKeyID
}

// mismatch lists how a volume differs from the parameters, one "field:
// found X, expected Y" each: zone, type, size (smaller), encryption, IOPS
// and throughput when the parameters set them, and the KMS key when graft
// knows which it must be (expectedKMSKey). It is the one check of a volume
// graft reuses or has just created.
func mismatch(v types.Volume, p VolumeParams) []string {
	var why []string
	diff := func(field string, found, expected any) {
		why = append(why, fmt.Sprintf("%s: found %v, expected %v", field, found, expected))
	}
	if z := aws.ToString(v.AvailabilityZone); z != p.Zone {
		diff("zone", z, p.Zone)
	}
	if t := string(v.VolumeType); t != p.Type {
		diff("type", t, p.Type)
	}
	if s := aws.ToInt32(v.Size); s < p.SizeGiB {
		diff("sizeGiB", s, fmt.Sprintf("at least %d", p.SizeGiB))
	}
	if p.Encrypted && !aws.ToBool(v.Encrypted) {
		diff("encrypted", false, true)
	}
	if i := aws.ToInt32(v.Iops); p.IOPS > 0 && i != p.IOPS {
		diff("iops", i, p.IOPS)
	}
	if t := aws.ToInt32(v.Throughput); p.Throughput > 0 && t != p.Throughput {
		diff("throughput", t, p.Throughput)
	}
	if want := expectedKMSKey(p); want != "" && !kmskey.Same(aws.ToString(v.KmsKeyId), want) {
		k := aws.ToString(v.KmsKeyId)
		k = cmp.Or(k, "none")
		diff("kmsKeyId", k, want)
	}
	return why
}

// refused reports whether clone refuses the volume an earlier run made.
func (v volStep) refused() bool { return v.source || len(v.refuse) > 0 || v.foreign != "" }

// refusal is the message of a volume clone refuses (plan shows the same).
func (v volStep) refusal(mb Member) string {
	id := aws.ToString(v.exists.VolumeId)
	var why []string
	if v.source {
		why = append(why, fmt.Sprintf("volume %s carries graft's tags of this member but is a source volume: graft never reuses, tags or changes a source volume; remove graft's tags (graft:*) from it", id))
	}
	if len(v.refuse) > 0 {
		why = append(why, fmt.Sprintf("graft's volume %s already exists but does not match the spec: %s; the spec changed since the volume was created: revert the spec, or delete the volume (graft cleanup --volume %[1]s, once no record references it)", id, strings.Join(v.refuse, "; ")))
	}
	if v.foreign != "" {
		why = append(why, v.foreign)
	}
	return fmt.Sprintf("%s %s: %s", mb.Key(), v.d.ClaimTemplate, strings.Join(why, "; and "))
}

// isSource reports whether id is a volume of a source instance.
func (inv *Inventory) isSource(id string) bool {
	for _, mb := range inv.Members {
		if slices.Contains(mb.OtherVolumes, id) {
			return true
		}
		for _, d := range mb.Devices {
			if d.VolumeID == id {
				return true
			}
		}
	}
	return false
}
