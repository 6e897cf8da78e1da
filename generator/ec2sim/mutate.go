package ec2sim

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

type tokenEntry struct {
	op, fingerprint, id string
	out                 *ec2.CreateVolumeOutput
}

// DefaultKMSKey returns the ARN standing for the region's aws/ebs key.
func (s *Sim) DefaultKMSKey() string {
	return defaultKMSKey(s.opt.Region, s.opt.AccountID)
}

func missing(name string) error {
	return apiErr("MissingParameter", "The request must contain the parameter %s", name)
}

func (s *Sim) checkSnapRate(vol string, now time.Time) error {
	iv := s.opt.SnapshotRatePerVolume
	if iv <= 0 {
		return nil
	}
	if last, ok := s.lastSnap[vol]; ok && now.Sub(last) < iv {
		return apiErr("SnapshotCreationPerVolumeRateExceeded", "The maximum per volume CreateSnapshot request rate has been exceeded. Use an increasing or variable sleep interval between requests.")
	}
	return nil
}

func (s *Sim) incremental(vol string, now time.Time) bool {
	for _, sn := range s.snapshots {
		if sn.volumeID == vol {
			if st, _ := sn.state(now); st == types.SnapshotStateCompleted {
				return true
			}
		}
	}
	return false
}

// newSnapshot creates a pending snapshot of v (v's id may be a copy source).
func (s *Sim) newSnapshot(c *call, volID string, size int32, enc bool, kms, desc string, tags map[string]string, info SnapInfo, fateKeys ...string) *snapshot {
	sn := &snapshot{
		id: s.newID("snap"), volumeID: volID, description: desc, size: size, encrypted: enc, kms: kms,
		start: c.At, dur: s.opt.SnapshotDuration(info), tags: tags, seq: s.nextSeq(),
	}
	for _, k := range fateKeys {
		if f, ok := s.snapFate[k]; ok {
			sn.fate, sn.message = f.fate, f.message
		}
	}
	s.snapshots[sn.id] = sn
	s.created[sn.id] = true
	c.Writes = append(c.Writes, sn.id)
	c.Mutated = true
	return sn
}

// CreateSnapshot starts a snapshot of one volume. (EC2 takes no ClientToken
// here; retries create duplicates, so tag and look up.)
func (s *Sim) CreateSnapshot(ctx context.Context, in *ec2.CreateSnapshotInput, _ ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error) {
	if in == nil {
		in = &ec2.CreateSnapshotInput{}
	}
	return run(s, ctx, OpCreateSnapshot, in.DryRun, []string{aws.ToString(in.VolumeId)}, nil, func(c *call) (*ec2.CreateSnapshotOutput, error) {
		id := aws.ToString(in.VolumeId)
		if id == "" {
			return nil, missing("VolumeId")
		}
		if err := checkID(volumeIDs, id, s.volumes); err != nil {
			return nil, err
		}
		v := s.volumes[id]
		if st := v.state(c.At); st == types.VolumeStateCreating {
			return nil, apiErr("IncorrectState", "Volume '%s' is in the '%s' state.", id, st)
		}
		tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeSnapshot)
		if err != nil {
			return nil, err
		}
		if err := s.checkSnapRate(id, c.At); err != nil {
			return nil, err
		}
		if err := s.authorize(c); err != nil {
			return nil, err
		}
		info := SnapInfo{VolumeID: id, SizeGiB: v.size, Incremental: s.incremental(id, c.At)}
		sn := s.newSnapshot(c, id, v.size, v.encrypted, v.kms, aws.ToString(in.Description), tags, info, id)
		s.lastSnap[id] = c.At
		d := s.describeSnapshot(sn, c.At)
		return &ec2.CreateSnapshotOutput{
			SnapshotId: d.SnapshotId, VolumeId: d.VolumeId, VolumeSize: d.VolumeSize, Description: d.Description,
			Encrypted: d.Encrypted, KmsKeyId: d.KmsKeyId, OwnerId: d.OwnerId, StartTime: d.StartTime,
			State: d.State, Progress: d.Progress, StorageTier: d.StorageTier, Tags: d.Tags,
		}, nil
	})
}

// CreateSnapshots starts crash-consistent snapshots of the volumes attached
// to one instance (all with the same start time).
func (s *Sim) CreateSnapshots(ctx context.Context, in *ec2.CreateSnapshotsInput, _ ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error) {
	if in == nil {
		in = &ec2.CreateSnapshotsInput{}
	}
	var reads []string
	if in.InstanceSpecification != nil {
		reads = append(reads, aws.ToString(in.InstanceSpecification.InstanceId))
	}
	return run(s, ctx, OpCreateSnapshots, in.DryRun, reads, nil, func(c *call) (*ec2.CreateSnapshotsOutput, error) {
		spec := in.InstanceSpecification
		if spec == nil || aws.ToString(spec.InstanceId) == "" {
			return nil, missing("InstanceSpecification.InstanceId")
		}
		iid := aws.ToString(spec.InstanceId)
		inst, ok := s.instances[iid]
		if !ok {
			return nil, apiErr("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", iid)
		}
		attached := s.attachedTo(iid)
		isAttached := map[string]*volume{}
		for _, v := range attached {
			isAttached[v.id] = v
			c.Reads = append(c.Reads, v.id)
		}
		for _, x := range spec.ExcludeDataVolumeIds {
			v, ok := isAttached[x]
			if !ok {
				return nil, apiErr("InvalidParameterValue", "Volume %s is not attached to instance %s", x, iid)
			}
			if v.attach.device == inst.rootDevice {
				return nil, apiErr("InvalidParameterValue", "The root volume %s cannot be excluded with ExcludeDataVolumeIds; use ExcludeBootVolume", x)
			}
		}
		tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeSnapshot)
		if err != nil {
			return nil, err
		}
		if in.CopyTagsFromSource != "" && in.CopyTagsFromSource != types.CopyTagsFromSourceVolume {
			return nil, apiErr("InvalidParameterValue", "Value (%s) for parameter CopyTagsFromSource is invalid", in.CopyTagsFromSource)
		}
		var vols []*volume
		for _, v := range attached {
			if aws.ToBool(spec.ExcludeBootVolume) && v.attach.device == inst.rootDevice {
				continue
			}
			if contains(spec.ExcludeDataVolumeIds, v.id) {
				continue
			}
			if err := s.checkSnapRate(v.id, c.At); err != nil {
				return nil, err
			}
			vols = append(vols, v)
		}
		if len(vols) == 0 {
			return nil, apiErr("InvalidParameterValue", "No volumes of instance %s are left to snapshot", iid)
		}
		if err := s.authorize(c); err != nil {
			return nil, err
		}
		out := &ec2.CreateSnapshotsOutput{}
		for _, v := range vols {
			t := map[string]string{}
			if in.CopyTagsFromSource == types.CopyTagsFromSourceVolume {
				for k, val := range v.tags {
					if !strings.HasPrefix(k, "aws:") {
						t[k] = val
					}
				}
			}
			for k, val := range tags {
				t[k] = val
			}
			info := SnapInfo{VolumeID: v.id, SizeGiB: v.size, Incremental: s.incremental(v.id, c.At)}
			sn := s.newSnapshot(c, v.id, v.size, v.encrypted, v.kms, aws.ToString(in.Description), t, info, v.id)
			s.lastSnap[v.id] = c.At
			d := s.describeSnapshot(sn, c.At)
			out.Snapshots = append(out.Snapshots, types.SnapshotInfo{
				SnapshotId: d.SnapshotId, VolumeId: d.VolumeId, VolumeSize: d.VolumeSize, Description: d.Description,
				Encrypted: d.Encrypted, OwnerId: d.OwnerId, StartTime: d.StartTime, State: d.State,
				Progress: d.Progress, Tags: d.Tags,
			})
		}
		return out, nil
	})
}

// CopySnapshot copies a completed snapshot within the region, or from a
// region linked with NewRegion (SourceRegion). EC2 takes no ClientToken here.
func (s *Sim) CopySnapshot(ctx context.Context, in *ec2.CopySnapshotInput, _ ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error) {
	if in == nil {
		in = &ec2.CopySnapshotInput{}
	}
	return run(s, ctx, OpCopySnapshot, in.DryRun, []string{aws.ToString(in.SourceSnapshotId)}, nil, func(c *call) (*ec2.CopySnapshotOutput, error) {
		srcID, region := aws.ToString(in.SourceSnapshotId), aws.ToString(in.SourceRegion)
		if srcID == "" {
			return nil, missing("SourceSnapshotId")
		}
		if region == "" {
			return nil, missing("SourceRegion")
		}
		if err := snapshotIDs.malformed(srcID); err != nil {
			return nil, err
		}
		// The source: a snapshot of this account in region, or one another
		// account shares with this one (NewAccount).
		peer := s.peers[region]
		var src *snapshot
		if peer != nil {
			src = peer.snapshots[srcID]
		}
		if src == nil {
			src, peer = s.sharedSnapshot(srcID, region)
		}
		if src == nil {
			return nil, apiErr("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist in region %s.", srcID, region)
		}
		if st, _ := src.state(c.At); st != types.SnapshotStateCompleted {
			return nil, apiErr("IncorrectState", "Snapshot %s is in invalid state - %s", srcID, st)
		}
		if aws.ToString(in.KmsKeyId) != "" && !aws.ToBool(in.Encrypted) {
			return nil, apiErr("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.")
		}
		if dz := aws.ToString(in.DestinationAvailabilityZone); dz != "" {
			if _, ok := s.zoneByName(dz); !ok {
				return nil, apiErr("InvalidZone.NotFound", "The zone '%s' does not exist.", dz)
			}
		}
		tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeSnapshot)
		if err != nil {
			return nil, err
		}
		enc := src.encrypted || aws.ToBool(in.Encrypted)
		kms := ""
		if enc {
			kms = aws.ToString(in.KmsKeyId)
			if kms == "" && src.encrypted && peer == s {
				kms = src.kms
			}
			if kms == "" {
				kms = s.DefaultKMSKey()
			}
		}
		srcKey := ""
		if src.encrypted {
			srcKey = src.kms
		}
		if err := s.authorize(c, srcKey, kms); err != nil {
			return nil, err
		}
		if err := s.keysUsable(srcKey, kms); err != nil {
			return nil, err
		}
		desc := aws.ToString(in.Description)
		desc = cmp.Or(desc, fmt.Sprintf("[Copied %s from %s]", srcID, region))
		info := SnapInfo{VolumeID: src.volumeID, SizeGiB: src.size, Copy: true, CrossRegion: peer.opt.Region != s.opt.Region}
		sn := s.newSnapshot(c, "vol-ffffffff", src.size, enc, kms, desc, tags, info, src.volumeID, srcID)
		return &ec2.CopySnapshotOutput{SnapshotId: aws.String(sn.id), Tags: tagList(sn.tags)}, nil
	})
}

// volumeRules: size range, IOPS range, IOPS per GiB, required IOPS.
type volumeRule struct {
	minSize, maxSize int32
	minIops, maxIops int32
	iopsPerGiB       int32
	iops             string // "required", "optional", "none"
}

var volumeRules = map[types.VolumeType]volumeRule{
	types.VolumeTypeGp2:      {1, 16384, 0, 0, 0, "none"},
	types.VolumeTypeGp3:      {1, 65536, 3000, 80000, 500, "optional"},
	types.VolumeTypeIo1:      {4, 16384, 100, 64000, 50, "required"},
	types.VolumeTypeIo2:      {4, 65536, 100, 256000, 1000, "required"},
	types.VolumeTypeSt1:      {125, 16384, 0, 0, 0, "none"},
	types.VolumeTypeSc1:      {125, 16384, 0, 0, 0, "none"},
	types.VolumeTypeStandard: {1, 1024, 0, 0, 0, "none"},
}

func validateVolume(t types.VolumeType, size, iops, tput int32, iopsSet, tputSet bool) (int32, int32, error) {
	r, ok := volumeRules[t]
	if !ok {
		return 0, 0, apiErr("InvalidParameterValue", "Value (%s) for parameter volumeType is invalid. Valid values: gp2, gp3, io1, io2, st1, sc1, standard", t)
	}
	if size < r.minSize || size > r.maxSize {
		return 0, 0, apiErr("InvalidParameterValue", "Volume size %d GiB is out of range for %s: %d to %d GiB.", size, t, r.minSize, r.maxSize)
	}
	switch r.iops {
	case "none":
		if iopsSet {
			return 0, 0, apiErr("InvalidParameterCombination", "The parameter iops is not supported for %s volumes.", t)
		}
		if t == types.VolumeTypeGp2 {
			iops = max(100, min(16000, 3*size))
		}
	case "required":
		if !iopsSet {
			return 0, 0, apiErr("InvalidParameterCombination", "The parameter iops must be specified for %s volumes.", t)
		}
	case "optional":
		if !iopsSet {
			iops = r.minIops
		}
	}
	if r.iops != "none" {
		if iops < r.minIops || iops > r.maxIops {
			return 0, 0, apiErr("InvalidParameterValue", "Volume iops of %d is out of range for %s: %d to %d.", iops, t, r.minIops, r.maxIops)
		}
		if iops > r.minIops && int64(iops) > int64(r.iopsPerGiB)*int64(size) {
			return 0, 0, apiErr("InvalidParameterValue", "Iops to volume size ratio of %.1f is too high; maximum is %d.", float64(iops)/float64(size), r.iopsPerGiB)
		}
	}
	if t != types.VolumeTypeGp3 {
		if tputSet {
			return 0, 0, apiErr("InvalidParameterCombination", "The parameter throughput is not supported for %s volumes.", t)
		}
		return iops, 0, nil
	}
	if !tputSet {
		tput = 125
	}
	if tput < 125 || tput > 2000 {
		return 0, 0, apiErr("InvalidParameterValue", "Volume throughput of %d MiB/s is out of range for gp3: 125 to 2000.", tput)
	}
	if tput > 125 && float64(tput) > float64(iops)*0.25 {
		return 0, 0, apiErr("InvalidParameterValue", "Throughput (MiBps) to iops ratio of %.3f is too high; maximum is 0.25 MiBps per iops.", float64(tput)/float64(iops))
	}
	return iops, tput, nil
}

func volumeFingerprint(in *ec2.CreateVolumeInput) string {
	var tags []string
	for _, sp := range in.TagSpecifications {
		for _, t := range sp.Tags {
			tags = append(tags, string(sp.ResourceType)+"/"+aws.ToString(t.Key)+"="+aws.ToString(t.Value))
		}
	}
	return fmt.Sprintf("%q|%q|%v|%d|%q|%v|%d|%q|%d|%d|%q|%v", aws.ToString(in.AvailabilityZone), aws.ToString(in.AvailabilityZoneId),
		aws.ToBool(in.Encrypted), aws.ToInt32(in.Iops), aws.ToString(in.KmsKeyId), aws.ToBool(in.MultiAttachEnabled),
		aws.ToInt32(in.Size), aws.ToString(in.SnapshotId), aws.ToInt32(in.Throughput), aws.ToInt32(in.VolumeInitializationRate),
		in.VolumeType, tags)
}

// CreateVolume creates a volume (from a snapshot or empty) in a zone of the
// region. ClientToken makes it idempotent: the same token with the same
// parameters returns the same volume; with others, IdempotentParameterMismatch.
func (s *Sim) CreateVolume(ctx context.Context, in *ec2.CreateVolumeInput, _ ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error) {
	if in == nil {
		in = &ec2.CreateVolumeInput{}
	}
	var reads []string
	if id := aws.ToString(in.SnapshotId); id != "" {
		reads = append(reads, id)
	}
	return run(s, ctx, OpCreateVolume, in.DryRun, reads, nil, func(c *call) (*ec2.CreateVolumeOutput, error) {
		token := aws.ToString(in.ClientToken)
		if len(token) > 64 {
			return nil, apiErr("InvalidParameterValue", "The client token must be at most 64 characters.")
		}
		fp := volumeFingerprint(in)
		if token != "" && !c.DryRun {
			if e, ok := s.tokens[token]; ok {
				if e.fingerprint != fp {
					return nil, apiErr("IdempotentParameterMismatch", "The client token '%s' was already used with different parameters.", token)
				}
				c.Writes = append(c.Writes, e.id)
				if v, ok := s.volumes[e.id]; ok {
					return volumeOutput(s.describeVolume(v)), nil
				}
				out := *e.out
				out.State = types.VolumeStateDeleted
				return &out, nil
			}
		}
		zn, zid := aws.ToString(in.AvailabilityZone), aws.ToString(in.AvailabilityZoneId)
		var z zone
		switch {
		case zn == "" && zid == "":
			return nil, missing("AvailabilityZone")
		case zn != "" && zid != "":
			return nil, apiErr("InvalidParameterCombination", "Only one of AvailabilityZone and AvailabilityZoneId may be given.")
		case zn != "":
			var ok bool
			if z, ok = s.zoneByName(zn); !ok {
				return nil, apiErr("InvalidZone.NotFound", "The zone '%s' does not exist.", zn)
			}
		default:
			var ok bool
			if z, ok = s.zoneByID(zid); !ok {
				return nil, apiErr("InvalidZone.NotFound", "The zone ID '%s' does not exist.", zid)
			}
		}
		var sn *snapshot
		foreign := false // sn is another account's, shared with this one
		if id := aws.ToString(in.SnapshotId); id != "" {
			// A snapshot of this account, or one another account shares
			// with it.
			sn, _ = s.sharedSnapshot(id, s.opt.Region)
			foreign = sn != nil
			if sn == nil {
				if err := checkID(snapshotIDs, id, s.snapshots); err != nil {
					return nil, err
				}
				sn = s.snapshots[id]
			}
			if st, _ := sn.state(c.At); st != types.SnapshotStateCompleted {
				return nil, apiErr("IncorrectState", "Snapshot is in invalid state - %s", st)
			}
		}
		size := aws.ToInt32(in.Size)
		switch {
		case in.Size == nil && sn == nil:
			return nil, missing("Size")
		case in.Size == nil:
			size = sn.size
		case sn != nil && size < sn.size:
			return nil, apiErr("InvalidParameterValue", "Volume of %dGiB is too small; minimum is %dGiB.", size, sn.size)
		}
		vt := in.VolumeType
		vt = cmp.Or(vt, types.VolumeTypeGp2)
		iops, tput, err := validateVolume(vt, size, aws.ToInt32(in.Iops), aws.ToInt32(in.Throughput), in.Iops != nil, in.Throughput != nil)
		if err != nil {
			return nil, err
		}
		if r := in.VolumeInitializationRate; r != nil {
			if sn == nil {
				return nil, apiErr("InvalidParameterCombination", "VolumeInitializationRate can be specified only when creating a volume from a snapshot.")
			}
			if *r < 100 || *r > 300 {
				return nil, apiErr("InvalidParameterValue", "Volume initialization rate of %d MiB/s is out of range: 100 to 300.", *r)
			}
		}
		if aws.ToBool(in.MultiAttachEnabled) && vt != types.VolumeTypeIo1 && vt != types.VolumeTypeIo2 {
			return nil, apiErr("InvalidParameterCombination", "Multi-Attach is supported only for io1 and io2 volumes.")
		}
		if aws.ToString(in.KmsKeyId) != "" && !aws.ToBool(in.Encrypted) {
			return nil, apiErr("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.")
		}
		tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeVolume)
		if err != nil {
			return nil, err
		}
		enc := aws.ToBool(in.Encrypted) || (sn != nil && sn.encrypted)
		kms := ""
		if enc {
			kms = aws.ToString(in.KmsKeyId)
			if kms == "" && sn != nil && sn.encrypted && !foreign {
				kms = sn.kms
			}
			if kms == "" {
				kms = s.DefaultKMSKey()
			}
		}
		srcKey := ""
		if sn != nil && sn.encrypted {
			srcKey = sn.kms
		}
		if err := s.authorize(c, srcKey, kms); err != nil {
			return nil, err
		}
		if err := s.keysUsable(srcKey, kms); err != nil {
			return nil, err
		}
		v := &volume{
			id: s.newID("vol"), zone: z.name, size: size, iops: iops, throughput: tput, vtype: vt,
			encrypted: enc, kms: kms, created: c.At, ready: c.At.Add(s.opt.VolumeCreateDuration),
			tags: tags, seq: s.nextSeq(), initRate: aws.ToInt32(in.VolumeInitializationRate),
		}
		if sn != nil {
			v.snapshotID = sn.id
			if f := s.fsr[fsrKey{sn.id, z.name}]; f != nil && f.state(c.At) == types.FastSnapshotRestoreStateCodeEnabled && f.credits.take(c.At) {
				v.fastRestored = true
			}
		}
		s.volumes[v.id] = v
		s.created[v.id] = true
		c.Writes = append(c.Writes, v.id)
		c.Mutated = true
		out := volumeOutput(s.describeVolume(v))
		if token != "" && !c.DryRun {
			s.tokens[token] = tokenEntry{op: OpCreateVolume, fingerprint: fp, id: v.id, out: out}
		}
		return out, nil
	})
}

func volumeOutput(d types.Volume) *ec2.CreateVolumeOutput {
	return &ec2.CreateVolumeOutput{
		VolumeId: d.VolumeId, AvailabilityZone: d.AvailabilityZone, AvailabilityZoneId: d.AvailabilityZoneId,
		Size: d.Size, VolumeType: d.VolumeType, Iops: d.Iops, Throughput: d.Throughput, Encrypted: d.Encrypted,
		KmsKeyId: d.KmsKeyId, State: d.State, SnapshotId: d.SnapshotId, CreateTime: d.CreateTime,
		MultiAttachEnabled: d.MultiAttachEnabled, FastRestored: d.FastRestored, Tags: d.Tags,
		VolumeInitializationRate: d.VolumeInitializationRate, Attachments: d.Attachments,
	}
}

func (s *Sim) fsrZones(names, ids []string) ([]string, error) {
	if len(names) == 0 && len(ids) == 0 {
		return nil, missing("AvailabilityZones")
	}
	var out []string
	for _, n := range names {
		if _, ok := s.zoneByName(n); !ok {
			return nil, apiErr("InvalidZone.NotFound", "The zone '%s' does not exist.", n)
		}
		out = append(out, n)
	}
	for _, id := range ids {
		z, ok := s.zoneByID(id)
		if !ok {
			return nil, apiErr("InvalidZone.NotFound", "The zone ID '%s' does not exist.", id)
		}
		out = append(out, z.name)
	}
	return out, nil
}

func (s *Sim) fsrActiveSnapshots(now time.Time) map[string]bool {
	out := map[string]bool{}
	for k, f := range s.fsr {
		if f.state(now) != types.FastSnapshotRestoreStateCodeDisabled {
			out[k.snap] = true
		}
	}
	return out
}

// fsrRequest validates an Enable/DisableFastSnapshotRestores request, in
// EC2's order (parameters, then authorization), and returns its zones.
func (s *Sim) fsrRequest(c *call, snapIDs, zones, zoneIDs []string) ([]string, error) {
	if len(snapIDs) == 0 {
		return nil, missing("SourceSnapshotIds")
	}
	out, err := s.fsrZones(zones, zoneIDs)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c); err != nil {
		return nil, err
	}
	return out, nil
}

// EnableFastSnapshotRestores enables FSR per (snapshot, zone):
// enabling → optimizing → enabled.
func (s *Sim) EnableFastSnapshotRestores(ctx context.Context, in *ec2.EnableFastSnapshotRestoresInput, _ ...func(*ec2.Options)) (*ec2.EnableFastSnapshotRestoresOutput, error) {
	if in == nil {
		in = &ec2.EnableFastSnapshotRestoresInput{}
	}
	return run(s, ctx, OpEnableFastSnapshotRestores, in.DryRun, nil, in.SourceSnapshotIds, func(c *call) (*ec2.EnableFastSnapshotRestoresOutput, error) {
		zones, err := s.fsrRequest(c, in.SourceSnapshotIds, in.AvailabilityZones, in.AvailabilityZoneIds)
		if err != nil {
			return nil, err
		}
		out := &ec2.EnableFastSnapshotRestoresOutput{}
		fail := func(id, z, code, msg string) {
			out.Unsuccessful = append(out.Unsuccessful, types.EnableFastSnapshotRestoreErrorItem{
				SnapshotId: aws.String(id),
				FastSnapshotRestoreStateErrors: []types.EnableFastSnapshotRestoreStateErrorItem{{
					AvailabilityZone: aws.String(z),
					Error:            &types.EnableFastSnapshotRestoreStateError{Code: aws.String(code), Message: aws.String(msg)},
				}},
			})
		}
		for _, id := range in.SourceSnapshotIds {
			sn := s.snapshots[id]
			for _, z := range zones {
				switch {
				case sn == nil:
					fail(id, z, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
					continue
				case func() bool { st, _ := sn.state(c.At); return st != types.SnapshotStateCompleted }():
					fail(id, z, "IncorrectState", fmt.Sprintf("Snapshot %s is not completed.", id))
					continue
				}
				k := fsrKey{id, z}
				f := s.fsr[k]
				if f == nil || f.state(c.At) == types.FastSnapshotRestoreStateCodeDisabled {
					active := s.fsrActiveSnapshots(c.At)
					if lim := s.opt.FSRSnapshotLimit; lim > 0 && !active[id] && len(active) >= lim {
						fail(id, z, "ResourceLimitExceeded", fmt.Sprintf("Fast snapshot restore can be enabled for at most %d snapshots.", lim))
						continue
					}
					opt := time.Duration(float64(s.opt.FSROptimizingPerTiB) * float64(sn.size) / 1024)
					if opt < time.Minute {
						opt = time.Minute
					}
					credits := float64(max(1, 1024/sn.size))
					f = &fsrState{enabling: c.At, optimizing: c.At.Add(s.opt.FSREnabling)}
					f.enabled = f.optimizing.Add(opt)
					f.credits = bucket{cap: credits, rate: credits / 3600, tokens: credits, last: c.At}
					s.fsr[k] = f
					c.Mutated = true
				}
				it := s.fsrItem(k, f, c.At)
				out.Successful = append(out.Successful, types.EnableFastSnapshotRestoreSuccessItem{
					SnapshotId: it.SnapshotId, AvailabilityZone: it.AvailabilityZone, AvailabilityZoneId: it.AvailabilityZoneId,
					State: it.State, StateTransitionReason: it.StateTransitionReason, OwnerId: it.OwnerId,
					EnablingTime: it.EnablingTime, OptimizingTime: it.OptimizingTime, EnabledTime: it.EnabledTime,
				})
			}
		}
		return out, nil
	})
}

// DisableFastSnapshotRestores disables FSR per (snapshot, zone):
// disabling → disabled.
func (s *Sim) DisableFastSnapshotRestores(ctx context.Context, in *ec2.DisableFastSnapshotRestoresInput, _ ...func(*ec2.Options)) (*ec2.DisableFastSnapshotRestoresOutput, error) {
	if in == nil {
		in = &ec2.DisableFastSnapshotRestoresInput{}
	}
	return run(s, ctx, OpDisableFastSnapshotRestores, in.DryRun, nil, in.SourceSnapshotIds, func(c *call) (*ec2.DisableFastSnapshotRestoresOutput, error) {
		zones, err := s.fsrRequest(c, in.SourceSnapshotIds, in.AvailabilityZones, in.AvailabilityZoneIds)
		if err != nil {
			return nil, err
		}
		out := &ec2.DisableFastSnapshotRestoresOutput{}
		for _, id := range in.SourceSnapshotIds {
			for _, z := range zones {
				if s.snapshots[id] == nil {
					out.Unsuccessful = append(out.Unsuccessful, types.DisableFastSnapshotRestoreErrorItem{
						SnapshotId: aws.String(id),
						FastSnapshotRestoreStateErrors: []types.DisableFastSnapshotRestoreStateErrorItem{{
							AvailabilityZone: aws.String(z),
							Error: &types.DisableFastSnapshotRestoreStateError{Code: aws.String("InvalidSnapshot.NotFound"),
								Message: aws.String(fmt.Sprintf("The snapshot '%s' does not exist.", id))},
						}},
					})
					continue
				}
				k := fsrKey{id, z}
				f := s.fsr[k]
				if f == nil {
					// never enabled: report "disabled" without keeping a state
					f = &fsrState{enabling: c.At, optimizing: c.At, enabled: c.At, disabling: c.At, disabled: c.At}
				} else if f.disabling.IsZero() {
					f.disabling, f.disabled = c.At, c.At.Add(s.opt.FSRDisabling)
					c.Mutated = true
				}
				it := s.fsrItem(k, f, c.At)
				out.Successful = append(out.Successful, types.DisableFastSnapshotRestoreSuccessItem{
					SnapshotId: it.SnapshotId, AvailabilityZone: it.AvailabilityZone, AvailabilityZoneId: it.AvailabilityZoneId,
					State: it.State, StateTransitionReason: it.StateTransitionReason, OwnerId: it.OwnerId,
					EnablingTime: it.EnablingTime, OptimizingTime: it.OptimizingTime, EnabledTime: it.EnabledTime,
					DisablingTime: it.DisablingTime, DisabledTime: it.DisabledTime,
				})
			}
		}
		return out, nil
	})
}

// DeleteSnapshot deletes a snapshot (and its FSR states).
func (s *Sim) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, _ ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	if in == nil {
		in = &ec2.DeleteSnapshotInput{}
	}
	id := aws.ToString(in.SnapshotId)
	return run(s, ctx, OpDeleteSnapshot, in.DryRun, nil, []string{id}, func(c *call) (*ec2.DeleteSnapshotOutput, error) {
		if id == "" {
			return nil, missing("SnapshotId")
		}
		if err := checkID(snapshotIDs, id, s.snapshots); err != nil {
			return nil, err
		}
		if err := s.authorize(c); err != nil {
			return nil, err
		}
		delete(s.snapshots, id)
		for k := range s.fsr {
			if k.snap == id {
				delete(s.fsr, k)
			}
		}
		c.Mutated = true
		return &ec2.DeleteSnapshotOutput{}, nil
	})
}

// DeleteVolume deletes an unattached volume.
func (s *Sim) DeleteVolume(ctx context.Context, in *ec2.DeleteVolumeInput, _ ...func(*ec2.Options)) (*ec2.DeleteVolumeOutput, error) {
	if in == nil {
		in = &ec2.DeleteVolumeInput{}
	}
	id := aws.ToString(in.VolumeId)
	return run(s, ctx, OpDeleteVolume, in.DryRun, nil, []string{id}, func(c *call) (*ec2.DeleteVolumeOutput, error) {
		if id == "" {
			return nil, missing("VolumeId")
		}
		if err := checkID(volumeIDs, id, s.volumes); err != nil {
			return nil, err
		}
		v := s.volumes[id]
		if v.attach != nil {
			return nil, apiErr("VolumeInUse", "Volume %s is currently attached to %s", id, v.attach.instance)
		}
		if err := s.authorize(c); err != nil {
			return nil, err
		}
		delete(s.volumes, id)
		c.Mutated = true
		return &ec2.DeleteVolumeOutput{}, nil
	})
}

// CreateTags adds or overwrites tags on volumes and snapshots, as EC2
// does: every resource must exist, the tags are checked as at create, and
// a resource may carry at most 50. Either every resource is tagged or none.
func (s *Sim) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	if in == nil {
		in = &ec2.CreateTagsInput{}
	}
	return run(s, ctx, OpCreateTags, in.DryRun, nil, in.Resources, func(c *call) (*ec2.CreateTagsOutput, error) {
		if len(in.Resources) == 0 {
			return nil, missing("ResourceId")
		}
		if len(in.Tags) == 0 {
			return nil, missing("Tag")
		}
		targets := make([]*map[string]string, 0, len(in.Resources))
		for _, id := range in.Resources {
			var rt types.ResourceType
			switch {
			case strings.HasPrefix(id, "vol-"):
				if err := checkID(volumeIDs, id, s.volumes); err != nil {
					return nil, err
				}
				rt, targets = types.ResourceTypeVolume, append(targets, &s.volumes[id].tags)
			case strings.HasPrefix(id, "snap-"):
				if err := checkID(snapshotIDs, id, s.snapshots); err != nil {
					return nil, err
				}
				rt, targets = types.ResourceTypeSnapshot, append(targets, &s.snapshots[id].tags)
			default:
				return nil, apiErr("InvalidID", "The ID '%s' is not valid", id)
			}
			add, err := tagsFromSpecs([]types.TagSpecification{{ResourceType: rt, Tags: in.Tags}}, rt)
			if err != nil {
				return nil, err
			}
			merged := copyTags(*targets[len(targets)-1])
			maps.Copy(merged, add)
			if len(merged) > 50 {
				return nil, apiErr("TagLimitExceeded", "The maximum number of tags (50) is exceeded on %s", id)
			}
		}
		if err := s.authorize(c); err != nil {
			return nil, err
		}
		for _, tags := range targets {
			if *tags == nil {
				*tags = map[string]string{}
			}
			for _, t := range in.Tags {
				(*tags)[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
		c.Mutated = true
		return &ec2.CreateTagsOutput{}, nil
	})
}
