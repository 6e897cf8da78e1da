package ec2sim

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// fieldFunc returns the values of a filter name for one resource, and
// whether the filter name is known.
type fieldFunc func(name string) ([]string, bool)

func tagField(tags map[string]string, name string) ([]string, bool) {
	switch {
	case strings.HasPrefix(name, "tag:"):
		if v, ok := tags[name[4:]]; ok {
			return []string{v}, true
		}
		return nil, true
	case name == "tag-key":
		out := []string{}
		for k := range tags {
			out = append(out, k)
		}
		return out, true
	case name == "tag-value":
		out := []string{}
		for _, v := range tags {
			out = append(out, v)
		}
		return out, true
	}
	return nil, false
}

// checkFilters rejects unknown filter names, like EC2, using a probe
// resource's field function.
func checkFilters(filters []types.Filter, probe fieldFunc) error {
	for _, f := range filters {
		name := aws.ToString(f.Name)
		if _, ok := probe(name); !ok {
			return apiErr("InvalidParameterValue", "The filter '%s' is invalid", name)
		}
		if len(f.Values) == 0 {
			return apiErr("InvalidParameterValue", "The filter '%s' has no values", name)
		}
	}
	return nil
}

func matches(filters []types.Filter, field fieldFunc) bool {
	for _, f := range filters {
		vals, _ := field(aws.ToString(f.Name))
		ok := false
		for _, want := range f.Values {
			for _, have := range vals {
				if glob(want, have) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// glob matches EC2 filter wildcards: * (any run), ? (one char), \ escapes.
func glob(pattern, s string) bool {
	if !strings.ContainsAny(pattern, `*?\`) {
		return pattern == s
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch ch := pattern[i]; ch {
		case '*':
			b.WriteString("(?s:.*)")
		case '?':
			b.WriteString("(?s:.)")
		case '\\':
			if i+1 < len(pattern) {
				i++
				b.WriteString(regexp.QuoteMeta(string(pattern[i])))
			} else {
				b.WriteString(`\\`)
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	b.WriteString("$")
	re, ok := globCache.Load(pattern)
	if !ok {
		re, _ = globCache.LoadOrStore(pattern, regexp.MustCompile(b.String()))
	}
	return re.(*regexp.Regexp).MatchString(s)
}

var globCache sync.Map

// page slices items by NextToken/MaxResults; the token is opaque.
func page[T any](op string, items []T, max *int32, token *string, lo, hi int32) ([]T, *string, error) {
	start := 0
	if t := aws.ToString(token); t != "" {
		raw, err := base64.RawURLEncoding.DecodeString(t)
		parts := strings.SplitN(string(raw), ":", 2)
		if err != nil || len(parts) != 2 || parts[0] != op {
			return nil, nil, apiErr("InvalidParameterValue", "Invalid value '%s' for NextToken", t)
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil || n < 0 {
			return nil, nil, apiErr("InvalidParameterValue", "Invalid value '%s' for NextToken", t)
		}
		start = n
	}
	if start > len(items) {
		start = len(items)
	}
	if max == nil {
		return items[start:], nil, nil
	}
	m := *max
	if m == 0 && lo == 0 {
		return items[start:], nil, nil
	}
	if m < lo || m > hi {
		return nil, nil, apiErr("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", m, lo, hi)
	}
	end := start + int(m)
	if end >= len(items) {
		return items[start:], nil, nil
	}
	next := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%d", op, end)))
	return items[start:end], aws.String(next), nil
}

var (
	reInstanceID = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)
	reVolumeID   = regexp.MustCompile(`^vol-[0-9a-f]{8}([0-9a-f]{9})?$`)
	reSnapshotID = regexp.MustCompile(`^snap-[0-9a-f]{8}([0-9a-f]{9})?$`)
)

// idKind is how EC2 checks and words the ids of one resource type.
type idKind struct {
	re       *regexp.Regexp
	prefix   string // "vol"
	noun     string // "volume"
	notFound string // the error code of an unknown id
}

var (
	volumeIDs   = idKind{reVolumeID, "vol", "volume", "InvalidVolume.NotFound"}
	snapshotIDs = idKind{reSnapshotID, "snap", "snapshot", "InvalidSnapshot.NotFound"}
)

// malformed is EC2's error for an id not of the kind's form, or nil.
func (k idKind) malformed(id string) error {
	if k.re.MatchString(id) {
		return nil
	}
	return apiErr("InvalidParameterValue", "Invalid id: \"%s\" (expecting \"%s-...\")", id, k.prefix)
}

// unknown is EC2's error for a well-formed id it does not know.
func (k idKind) unknown(id string) error {
	return apiErr(k.notFound, "The %s '%s' does not exist.", k.noun, id)
}

// checkIDs checks the ids of a Describe call (checkID), the first bad one
// failing the call.
func checkIDs[V any](k idKind, ids []string, known map[string]V) error {
	for _, id := range ids {
		if err := checkID(k, id, known); err != nil {
			return err
		}
	}
	return nil
}

// selected is what a Describe call lists of m (keyed by id), in creation
// order: the resources named by ids, or when ids is empty all of them but
// those lagging (EC2 lists a new resource only after a while; nil: none
// lag), that match.
func selected[T sequenced](m map[string]T, ids []string, lagging, match func(T) bool) []T {
	var list []T
	for id, x := range m {
		if len(ids) > 0 && !contains(ids, id) {
			continue
		}
		if len(ids) == 0 && lagging != nil && lagging(x) {
			continue
		}
		if match(x) {
			list = append(list, x)
		}
	}
	slices.SortFunc(list, bySeq)
	return list
}

// checkID checks an id as EC2 does: first its form, then that it exists.
func checkID[V any](k idKind, id string, known map[string]V) error {
	if err := k.malformed(id); err != nil {
		return err
	}
	if _, ok := known[id]; !ok {
		return k.unknown(id)
	}
	return nil
}

// query is what a DescribeInstances, DescribeVolumes or DescribeSnapshots
// call asks of the resources it lists.
type query struct {
	op      string
	filters []types.Filter
	ids     []string
	max     *int32
	token   *string
	hi      int32 // the most results a page may hold
}

// list is how those calls answer, in EC2's order of checks: the filters
// (against probe, a zero resource), then the ids (checkIDs), then the
// caller's permission; then one page of known's resources selected (the
// named ones, or all but the lagging ones, that match the filters).
func list[T sequenced](s *Sim, c *call, q query, known map[string]T, probe T, field func(T) fieldFunc, checkIDs func() error, lagging func(T) bool) ([]T, *string, error) {
	if err := checkFilters(q.filters, field(probe)); err != nil {
		return nil, nil, err
	}
	if err := checkIDs(); err != nil {
		return nil, nil, err
	}
	if err := s.authorize(c); err != nil {
		return nil, nil, err
	}
	items := selected(known, q.ids, lagging, func(x T) bool { return matches(q.filters, field(x)) })
	return page(q.op, items, q.max, q.token, 5, q.hi)
}

// DescribeAvailabilityZones lists the region's zones.
func (s *Sim) DescribeAvailabilityZones(ctx context.Context, in *ec2.DescribeAvailabilityZonesInput, _ ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error) {
	if in == nil {
		in = &ec2.DescribeAvailabilityZonesInput{}
	}
	return run(s, ctx, OpDescribeAvailabilityZones, in.DryRun, nil, nil, func(c *call) (*ec2.DescribeAvailabilityZonesOutput, error) {
		field := func(z zone) fieldFunc {
			return func(name string) ([]string, bool) {
				switch name {
				case "zone-name":
					return []string{z.name}, true
				case "zone-id":
					return []string{z.id}, true
				case "region-name":
					return []string{s.opt.Region}, true
				case "state":
					return []string{"available"}, true
				case "zone-type":
					return []string{"availability-zone"}, true
				case "opt-in-status":
					return []string{"opt-in-not-required"}, true
				case "group-name":
					return []string{s.opt.Region}, true
				}
				return nil, false
			}
		}
		if err := checkFilters(in.Filters, field(zone{})); err != nil {
			return nil, err
		}
		for _, n := range in.ZoneNames {
			if _, ok := s.zoneByName(n); !ok {
				return nil, apiErr("InvalidParameterValue", "Invalid availability zone: [%s]", n)
			}
		}
		for _, id := range in.ZoneIds {
			if _, ok := s.zoneByID(id); !ok {
				return nil, apiErr("InvalidParameterValue", "Invalid availability zone ID: [%s]", id)
			}
		}
		if err := s.authorize(c); err != nil {
			return nil, err
		}
		out := &ec2.DescribeAvailabilityZonesOutput{}
		for _, z := range s.zones {
			if len(in.ZoneNames) > 0 && !contains(in.ZoneNames, z.name) {
				continue
			}
			if len(in.ZoneIds) > 0 && !contains(in.ZoneIds, z.id) {
				continue
			}
			if !matches(in.Filters, field(z)) {
				continue
			}
			out.AvailabilityZones = append(out.AvailabilityZones, types.AvailabilityZone{
				ZoneName: aws.String(z.name), ZoneId: aws.String(z.id), RegionName: aws.String(s.opt.Region),
				State: types.AvailabilityZoneStateAvailable, ZoneType: aws.String("availability-zone"),
				OptInStatus: types.AvailabilityZoneOptInStatusOptInNotRequired, GroupName: aws.String(s.opt.Region),
				NetworkBorderGroup: aws.String(s.opt.Region),
			})
		}
		return out, nil
	})
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Sim) instanceField(in *instance) fieldFunc {
	return func(name string) ([]string, bool) {
		if v, ok := tagField(in.tags, name); ok {
			return v, true
		}
		switch name {
		case "instance-id":
			return []string{in.id}, true
		case "availability-zone", "placement-availability-zone":
			return []string{in.zone}, true
		case "instance-state-name":
			return []string{string(in.state)}, true
		case "instance-state-code":
			return []string{strconv.Itoa(int(stateCode(in.state)))}, true
		case "instance-type":
			return []string{in.instanceType}, true
		case "private-ip-address", "network-interface.addresses.private-ip-address":
			return []string{in.privateIP}, true
		case "private-dns-name":
			return []string{privateDNS(in.privateIP, s.opt.Region)}, true
		case "owner-id":
			return []string{s.opt.AccountID}, true
		case "block-device-mapping.volume-id", "block-device-mapping.device-name", "block-device-mapping.status":
			var out []string
			for _, v := range s.attachedTo(in.id) {
				switch name {
				case "block-device-mapping.volume-id":
					out = append(out, v.id)
				case "block-device-mapping.device-name":
					out = append(out, v.attach.device)
				default:
					out = append(out, "attached")
				}
			}
			return out, true
		case "root-device-name":
			return []string{in.rootDevice}, true
		case "root-device-type":
			return []string{"ebs"}, true
		}
		return nil, false
	}
}

func privateDNS(ip, region string) string {
	d := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if region == "us-east-1" {
		return d + ".ec2.internal"
	}
	return d + "." + region + ".compute.internal"
}

func stateCode(st types.InstanceStateName) int32 {
	switch st {
	case types.InstanceStateNamePending:
		return 0
	case types.InstanceStateNameRunning:
		return 16
	case types.InstanceStateNameShuttingDown:
		return 32
	case types.InstanceStateNameTerminated:
		return 48
	case types.InstanceStateNameStopping:
		return 64
	case types.InstanceStateNameStopped:
		return 80
	}
	return 0
}

// attachedTo returns the volumes attached to an instance, by device name.
func (s *Sim) attachedTo(id string) []*volume {
	var out []*volume
	for _, v := range s.volumes {
		if v.attach != nil && v.attach.instance == id {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].attach.device < out[j].attach.device })
	return out
}

func (s *Sim) describeInstance(in *instance) types.Instance {
	out := types.Instance{
		InstanceId:       aws.String(in.id),
		InstanceType:     types.InstanceType(in.instanceType),
		ImageId:          aws.String("ami-0abcdef1234567890"),
		Placement:        &types.Placement{AvailabilityZone: aws.String(in.zone), Tenancy: types.TenancyDefault},
		PrivateIpAddress: aws.String(in.privateIP),
		PrivateDnsName:   aws.String(privateDNS(in.privateIP, s.opt.Region)),
		LaunchTime:       aws.Time(in.launch),
		State:            &types.InstanceState{Name: in.state, Code: aws.Int32(stateCode(in.state))},
		Tags:             tagList(in.tags),
		RootDeviceName:   aws.String(in.rootDevice),
		RootDeviceType:   types.DeviceTypeEbs,
		Architecture:     types.ArchitectureValuesX8664,
	}
	for _, v := range s.attachedTo(in.id) {
		out.BlockDeviceMappings = append(out.BlockDeviceMappings, types.InstanceBlockDeviceMapping{
			DeviceName: aws.String(v.attach.device),
			Ebs: &types.EbsInstanceBlockDevice{VolumeId: aws.String(v.id), Status: types.AttachmentStatusAttached,
				AttachTime: aws.Time(v.attach.at), DeleteOnTermination: aws.Bool(v.attach.deleteOnTerm)},
		})
	}
	return out
}

// DescribeInstances lists instances, one per reservation; paginated.
func (s *Sim) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	if in == nil {
		in = &ec2.DescribeInstancesInput{}
	}
	return run(s, ctx, OpDescribeInstances, in.DryRun, in.InstanceIds, nil, func(c *call) (*ec2.DescribeInstancesOutput, error) {
		q := query{OpDescribeInstances, in.Filters, in.InstanceIds, in.MaxResults, in.NextToken, 1000}
		pg, next, err := list(s, c, q, s.instances, &instance{}, s.instanceField, func() error {
			if len(in.InstanceIds) > 0 && in.MaxResults != nil {
				return apiErr("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
			}
			// EC2 words instance ids its own way, not as idKind does.
			for _, id := range in.InstanceIds {
				if !reInstanceID.MatchString(id) {
					return apiErr("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
				}
				if _, ok := s.instances[id]; !ok {
					return apiErr("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
				}
			}
			return nil
		}, nil)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeInstancesOutput{NextToken: next}
		for _, x := range pg {
			out.Reservations = append(out.Reservations, types.Reservation{
				ReservationId: aws.String("r-" + x.id[2:]), OwnerId: aws.String(s.opt.AccountID),
				Instances: []types.Instance{s.describeInstance(x)},
			})
		}
		return out, nil
	})
}

func (s *Sim) volumeField(v *volume) fieldFunc {
	now := s.clock.Now()
	return func(name string) ([]string, bool) {
		if out, ok := tagField(v.tags, name); ok {
			return out, true
		}
		switch name {
		case "volume-id":
			return []string{v.id}, true
		case "availability-zone":
			return []string{v.zone}, true
		case "status":
			return []string{string(v.state(now))}, true
		case "size":
			return []string{strconv.Itoa(int(v.size))}, true
		case "snapshot-id":
			return []string{v.snapshotID}, true
		case "volume-type":
			return []string{string(v.vtype)}, true
		case "encrypted":
			return []string{strconv.FormatBool(v.encrypted)}, true
		case "fast-restored":
			return []string{strconv.FormatBool(v.fastRestored)}, true
		case "multi-attach-enabled":
			return []string{"false"}, true
		case "create-time":
			return []string{v.created.UTC().Format("2006-01-02T15:04:05.000Z")}, true
		case "attachment.instance-id", "attachment.device", "attachment.status", "attachment.delete-on-termination", "attachment.attach-time":
			if v.attach == nil {
				return nil, true
			}
			switch name {
			case "attachment.instance-id":
				return []string{v.attach.instance}, true
			case "attachment.device":
				return []string{v.attach.device}, true
			case "attachment.status":
				return []string{"attached"}, true
			case "attachment.delete-on-termination":
				return []string{strconv.FormatBool(v.attach.deleteOnTerm)}, true
			default:
				return []string{v.attach.at.UTC().Format("2006-01-02T15:04:05.000Z")}, true
			}
		}
		return nil, false
	}
}

func (s *Sim) describeVolume(v *volume) types.Volume {
	now := s.clock.Now()
	z, _ := s.zoneByName(v.zone)
	out := types.Volume{
		VolumeId: aws.String(v.id), AvailabilityZone: aws.String(v.zone), AvailabilityZoneId: aws.String(z.id),
		Size: aws.Int32(v.size), VolumeType: v.vtype, Encrypted: aws.Bool(v.encrypted),
		State: v.state(now), SnapshotId: aws.String(v.snapshotID), CreateTime: aws.Time(v.created),
		MultiAttachEnabled: aws.Bool(false), FastRestored: aws.Bool(v.fastRestored), Tags: tagList(v.tags),
	}
	if v.iops > 0 {
		out.Iops = aws.Int32(v.iops)
	}
	if v.throughput > 0 {
		out.Throughput = aws.Int32(v.throughput)
	}
	if v.encrypted {
		out.KmsKeyId = aws.String(v.kms)
	}
	if v.initRate > 0 {
		out.VolumeInitializationRate = aws.Int32(v.initRate)
	}
	if v.attach != nil {
		out.Attachments = []types.VolumeAttachment{{
			VolumeId: aws.String(v.id), InstanceId: aws.String(v.attach.instance), Device: aws.String(v.attach.device),
			State: types.VolumeAttachmentStateAttached, AttachTime: aws.Time(v.attach.at),
			DeleteOnTermination: aws.Bool(v.attach.deleteOnTerm),
		}}
	} else {
		out.Attachments = []types.VolumeAttachment{}
	}
	return out
}

// DescribeVolumes lists volumes; paginated.
func (s *Sim) DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, _ ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	if in == nil {
		in = &ec2.DescribeVolumesInput{}
	}
	return run(s, ctx, OpDescribeVolumes, in.DryRun, in.VolumeIds, nil, func(c *call) (*ec2.DescribeVolumesOutput, error) {
		q := query{OpDescribeVolumes, in.Filters, in.VolumeIds, in.MaxResults, in.NextToken, 500}
		pg, next, err := list(s, c, q, s.volumes, &volume{}, s.volumeField,
			func() error { return checkIDs(volumeIDs, in.VolumeIds, s.volumes) },
			func(v *volume) bool { return s.lagging(v.created, c.At) })
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeVolumesOutput{NextToken: next, Volumes: []types.Volume{}}
		for _, v := range pg {
			out.Volumes = append(out.Volumes, s.describeVolume(v))
		}
		return out, nil
	})
}

func (s *Sim) snapshotField(sn *snapshot) fieldFunc {
	now := s.clock.Now()
	return func(name string) ([]string, bool) {
		if out, ok := tagField(sn.tags, name); ok {
			return out, true
		}
		st, p := sn.state(now)
		switch name {
		case "snapshot-id":
			return []string{sn.id}, true
		case "volume-id":
			return []string{sn.volumeID}, true
		case "status":
			return []string{string(st)}, true
		case "progress":
			return []string{fmt.Sprintf("%d%%", p)}, true
		case "owner-id":
			return []string{s.opt.AccountID}, true
		case "owner-alias":
			return nil, true
		case "description":
			return []string{sn.description}, true
		case "encrypted":
			return []string{strconv.FormatBool(sn.encrypted)}, true
		case "volume-size":
			return []string{strconv.Itoa(int(sn.size))}, true
		case "start-time":
			return []string{sn.start.UTC().Format("2006-01-02T15:04:05.000Z")}, true
		case "storage-tier":
			return []string{"standard"}, true
		}
		return nil, false
	}
}

// foreignSnapshotField is snapshotField for another account's view of a
// snapshot shared with it: without the owner's tags.
func (s *Sim) foreignSnapshotField(sn *snapshot) fieldFunc {
	f := s.snapshotField(sn)
	return func(name string) ([]string, bool) {
		if _, ok := tagField(nil, name); ok {
			return nil, true
		}
		return f(name)
	}
}

// DescribeSnapshots lists the account's snapshots; paginated.
func (s *Sim) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	if in == nil {
		in = &ec2.DescribeSnapshotsInput{}
	}
	return run(s, ctx, OpDescribeSnapshots, in.DryRun, in.SnapshotIds, nil, func(c *call) (*ec2.DescribeSnapshotsOutput, error) {
		// The account's own snapshots (OwnerIds self or its id, or none
		// given), and those other accounts share with it (OwnerIds naming
		// them, or RestorableByUserIds self or its id), as EC2 lists them.
		self := func(o string) bool { return o == "self" || o == s.opt.AccountID }
		listed := s.snapshots
		if len(in.OwnerIds) > 0 && !slices.ContainsFunc(in.OwnerIds, self) {
			listed = map[string]*snapshot{}
		}
		var others []string
		for _, o := range in.OwnerIds {
			if !self(o) {
				others = append(others, o)
			}
		}
		// Every id EC2 knows for this caller: its own and those shared with it.
		shared, owners := s.sharedWithMe(nil)
		known := maps.Clone(s.snapshots)
		maps.Copy(known, shared)
		if len(others) > 0 || slices.ContainsFunc(in.RestorableByUserIds, self) || (len(in.SnapshotIds) > 0 && len(in.OwnerIds) == 0) {
			sel, _ := s.sharedWithMe(others)
			all := maps.Clone(listed)
			maps.Copy(all, sel)
			listed = all
		}
		field := func(sn *snapshot) fieldFunc {
			if o := owners[sn.id]; o != nil {
				return o.foreignSnapshotField(sn)
			}
			return s.snapshotField(sn)
		}
		q := query{OpDescribeSnapshots, in.Filters, in.SnapshotIds, in.MaxResults, in.NextToken, 1000}
		pg, next, err := list(s, c, q, listed, &snapshot{}, field,
			func() error { return checkIDs(snapshotIDs, in.SnapshotIds, known) },
			func(sn *snapshot) bool { return s.lagging(sn.start, c.At) })
		if err != nil {
			return nil, err
		}
		now := s.clock.Now()
		out := &ec2.DescribeSnapshotsOutput{NextToken: next, Snapshots: []types.Snapshot{}}
		for _, sn := range pg {
			if o := owners[sn.id]; o != nil {
				d := o.describeSnapshot(sn, now)
				d.Tags = nil // tags are the owner's: another account does not see them
				out.Snapshots = append(out.Snapshots, d)
				continue
			}
			out.Snapshots = append(out.Snapshots, s.describeSnapshot(sn, now))
		}
		return out, nil
	})
}

func (s *Sim) fsrItem(k fsrKey, f *fsrState, now time.Time) types.DescribeFastSnapshotRestoreSuccessItem {
	z, _ := s.zoneByName(k.zone)
	st := f.state(now)
	it := types.DescribeFastSnapshotRestoreSuccessItem{
		SnapshotId: aws.String(k.snap), AvailabilityZone: aws.String(k.zone), AvailabilityZoneId: aws.String(z.id),
		State: st, OwnerId: aws.String(s.opt.AccountID), EnablingTime: aws.Time(f.enabling),
		StateTransitionReason: aws.String("Client.UserInitiated"),
	}
	if !now.Before(f.optimizing) && (f.disabling.IsZero() || f.disabling.After(f.optimizing)) {
		it.OptimizingTime = aws.Time(f.optimizing)
	}
	if !now.Before(f.enabled) && (f.disabling.IsZero() || f.disabling.After(f.enabled)) {
		it.EnabledTime = aws.Time(f.enabled)
		it.StateTransitionReason = aws.String("Client.UserInitiated - Lifecycle state transition")
	}
	if !f.disabling.IsZero() {
		it.DisablingTime = aws.Time(f.disabling)
		if !now.Before(f.disabled) {
			it.DisabledTime = aws.Time(f.disabled)
		}
	}
	return it
}

// DescribeFastSnapshotRestores lists FSR states per snapshot and zone.
func (s *Sim) DescribeFastSnapshotRestores(ctx context.Context, in *ec2.DescribeFastSnapshotRestoresInput, _ ...func(*ec2.Options)) (*ec2.DescribeFastSnapshotRestoresOutput, error) {
	if in == nil {
		in = &ec2.DescribeFastSnapshotRestoresInput{}
	}
	return run(s, ctx, OpDescribeFastSnapshotRestores, in.DryRun, nil, nil, func(c *call) (*ec2.DescribeFastSnapshotRestoresOutput, error) {
		now := s.clock.Now()
		field := func(k fsrKey, f *fsrState) fieldFunc {
			return func(name string) ([]string, bool) {
				switch name {
				case "snapshot-id":
					return []string{k.snap}, true
				case "availability-zone":
					return []string{k.zone}, true
				case "state":
					if f == nil {
						return nil, true
					}
					return []string{string(f.state(now))}, true
				case "owner-id":
					return []string{s.opt.AccountID}, true
				}
				return nil, false
			}
		}
		if err := checkFilters(in.Filters, field(fsrKey{}, nil)); err != nil {
			return nil, err
		}
		if err := s.authorize(c); err != nil {
			return nil, err
		}
		keys := make([]fsrKey, 0, len(s.fsr))
		for k, f := range s.fsr {
			if matches(in.Filters, field(k, f)) {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b fsrKey) int {
			return cmp.Or(strings.Compare(a.snap, b.snap), strings.Compare(a.zone, b.zone))
		})
		pg, next, err := page(OpDescribeFastSnapshotRestores, keys, in.MaxResults, in.NextToken, 0, 200)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeFastSnapshotRestoresOutput{NextToken: next}
		for _, k := range pg {
			out.FastSnapshotRestores = append(out.FastSnapshotRestores, s.fsrItem(k, s.fsr[k], now))
		}
		return out, nil
	})
}
