package ebs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/graftctl/graft/generator/spec"
)

// instance is what discovery needs of an EC2 instance.
type instance struct {
	id, name, ip, zone, root string
	state                    types.InstanceStateName
	launch                   time.Time
	tags                     map[string]string
	// devices maps device name to (volume id, attachment status).
	devices map[string]bdm
}

type bdm struct {
	volume string
	status types.AttachmentStatus
}

// Discover selects the legacy instances with the spec's filters (and
// instance-state-name=running), maps each to a StatefulSet ordinal and reads
// its data volumes. It changes nothing. Every problem found is reported at
// once in a *DiscoveryError. It runs on read-only clients: a mutating call
// from it is an error, never a change.
func (e *Engine) Discover(ctx context.Context) (*Inventory, error) {
	return e.readOnly().discover(ctx)
}

func (e *Engine) discover(ctx context.Context) (*Inventory, error) {
	src := e.m.Spec.Source
	srcZones, err := e.zones(ctx, e.src, src.Region)
	if err != nil {
		return nil, err
	}
	dstZones := srcZones
	if e.crossRegion() {
		if dstZones, err = e.zones(ctx, e.dst, e.m.Spec.Target.Region); err != nil {
			return nil, err
		}
	}
	insts, err := e.instances(ctx)
	if err != nil {
		return nil, err
	}
	derr := &DiscoveryError{Region: src.Region}
	add := func(kind, format string, args ...any) {
		derr.Problems = append(derr.Problems, Problem{Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
	if len(insts) == 0 {
		add(ProblemNoInstances, "no running instance in %s matches spec.source.filters (%s); check the filters and the region", src.Region, describeFilters(src.Filters))
		return nil, derr
	}
	// graft asks EC2 for running instances only, but a filter is not a
	// check: EC2 documents filters as ANDed, not what two filters of one
	// name do, and moto keeps only the last one, so a spec filter on
	// instance-state-name can bring back a stopped instance (of another
	// cluster, or an old node). Every instance that comes back is checked.
	var running []instance
	for _, in := range insts {
		if in.state != types.InstanceStateNameRunning {
			state := cmp.Or(string(in.state), "in no reported state")
			add(ProblemNotRunning, "instance %s (Name=%q) is %s, not running; graft migrates only running instances: %s", in.id, in.name, state, stateFilterHint(src.Filters))
			continue
		}
		running = append(running, in)
	}
	insts = running
	for _, in := range insts {
		if !srcZones[in.zone] {
			add(ProblemZoneNotInRegion, "instance %s is in zone %q, which is not an availability zone of the source region %s", in.id, in.zone, src.Region)
		}
	}
	members := e.mapInstances(insts, add)

	volIDs := e.dataDevices(members, insts, add)
	vols, err := e.describeVolumes(ctx, e.src, volIDs)
	if err != nil {
		return nil, err
	}
	e.volumeFacts(members, vols, dstZones, add)
	if len(derr.Problems) > 0 {
		return nil, derr
	}
	inv := &Inventory{Migration: e.m.Metadata.Name, SourceRegion: src.Region, TargetRegion: e.m.Spec.Target.Region, Members: members}
	inv.Sort()
	for _, p := range e.volumeProblems(inv) {
		derr.Problems = append(derr.Problems, p)
	}
	if len(derr.Problems) > 0 {
		return nil, derr
	}
	return inv, nil
}

// dataDevices finds each member's spec.source.devices on its instance and
// returns their volume ids; the instance's other volumes, but the root, go
// to OtherVolumes.
func (e *Engine) dataDevices(members []Member, insts []instance, add problemFunc) []string {
	src := e.m.Spec.Source
	var volIDs []string
	for i := range members {
		mb := &members[i]
		in := findInstance(insts, mb.Instance)
		used := map[string]bool{}
		for _, d := range src.Devices {
			name, b, ok := lookupDevice(in.devices, d.Name)
			if !ok {
				add(ProblemMissingDevice, "instance %s (%s) has no EBS device %s (spec.source.devices, claim template %s); it has %s. Name the device as EC2 reports its attachment; data on an instance store volume (not EBS) cannot be snapshotted", in.id, mb.Key(), d.Name, d.ClaimTemplate, strings.Join(slices.Sorted(maps.Keys(in.devices)), ", "))
				continue
			}
			used[name] = true
			if b.status != types.AttachmentStatusAttached {
				add(ProblemUnattached, "device %s of instance %s is %s, not attached; wait for the attachment to settle", name, in.id, b.status)
			}
			mb.Devices = append(mb.Devices, Device{Device: name, ClaimTemplate: d.ClaimTemplate, FSType: d.FSType, Partition: d.Partition, VolumeID: b.volume})
			volIDs = append(volIDs, b.volume)
		}
		for _, name := range slices.Sorted(maps.Keys(in.devices)) {
			// The root volume is excluded by ExcludeBootVolume, never by id.
			if !used[name] && name != in.root {
				mb.OtherVolumes = append(mb.OtherVolumes, in.devices[name].volume)
			}
		}
	}
	return volIDs
}

// volumeFacts checks each data volume's attachment and copies its size,
// type, performance and encryption into the member's device, and sets the
// member's target zone.
func (e *Engine) volumeFacts(members []Member, vols map[string]types.Volume, dstZones map[string]bool, add problemFunc) {
	for i := range members {
		mb := &members[i]
		for j := range mb.Devices {
			d := &mb.Devices[j]
			v, ok := vols[d.VolumeID]
			if !ok {
				add(ProblemUnattached, "volume %s (device %s of %s) was not found by DescribeVolumes", d.VolumeID, d.Device, mb.Instance)
				continue
			}
			attached := 0
			for _, a := range v.Attachments {
				if aws.ToString(a.InstanceId) == mb.Instance && a.State == types.VolumeAttachmentStateAttached {
					attached++
				}
			}
			switch {
			case len(v.Attachments) > 1:
				var who []string
				for _, a := range v.Attachments {
					who = append(who, aws.ToString(a.InstanceId))
				}
				add(ProblemMultiAttached, "volume %s (device %s of %s) is attached to %d instances (%s); graft cannot tell which node owns its data", d.VolumeID, d.Device, mb.Instance, len(v.Attachments), strings.Join(who, ", "))
			case attached == 0:
				add(ProblemUnattached, "volume %s (device %s of %s) is not attached to %s (state %s)", d.VolumeID, d.Device, mb.Instance, mb.Instance, v.State)
			}
			d.VolumeAttrs = volumeAttrs(v)
		}
		mb.TargetZone = e.m.Spec.TargetZone(mb.StatefulSet, mb.Zone)
		if !dstZones[mb.TargetZone] {
			add(ProblemTargetZone, "member %s would go to zone %q, which is not an availability zone of the target region %s (zones: %s)", mb.Key(), mb.TargetZone, e.m.Spec.Target.Region, strings.Join(slices.Sorted(maps.Keys(dstZones)), ", "))
		}
	}
}

// zones lists the availability zones of a region: graft's first EC2 call.
// An error here is almost always a wrong region (or one not enabled for the
// account), a client that answers for another region, or no way to EC2.
func (e *Engine) zones(ctx context.Context, c *api, region string) (map[string]bool, error) {
	out, err := c.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if sendErr := (*smithyhttp.RequestSendError)(nil); errors.As(err, &sendErr) {
		return nil, fmt.Errorf("%w in region %s (the SDK's retries included): %w", ErrUnreachable, region, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: region %s: cannot list its availability zones (is the region right, and enabled for this account?): %w", ErrInput, region, err)
	}
	zones := map[string]bool{}
	for _, z := range out.AvailabilityZones {
		name := aws.ToString(z.ZoneName)
		if !spec.ZoneInRegion(name, region) {
			return nil, fmt.Errorf("%w: region %s: EC2 answered with zone %q of another region; check AWS_REGION, the profile and AWS_ENDPOINT_URL_EC2", ErrInput, region, name)
		}
		zones[name] = true
	}
	if len(zones) == 0 {
		return nil, fmt.Errorf("%w: region %s has no availability zone; is the region right?", ErrInput, region)
	}
	return zones, nil
}

// instances pages through DescribeInstances with the spec's filters.
func (e *Engine) instances(ctx context.Context) ([]instance, error) {
	filters := []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}}
	for _, f := range e.m.Spec.Source.Filters {
		filters = append(filters, types.Filter{Name: aws.String(f.Name), Values: f.Values})
	}
	p := ec2.NewDescribeInstancesPaginator(e.src, &ec2.DescribeInstancesInput{Filters: filters, MaxResults: aws.Int32(1000)})
	var out []instance
	err := paginate(ctx, "DescribeInstances in "+e.m.Spec.Source.Region, p,
		func(page *ec2.DescribeInstancesOutput) {
			for _, r := range page.Reservations {
				for _, i := range r.Instances {
					out = append(out, instanceOf(i))
				}
			}
		})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// instanceOf is what discovery reads of an EC2 instance.
func instanceOf(i types.Instance) instance {
	in := instance{
		id:      aws.ToString(i.InstanceId),
		ip:      aws.ToString(i.PrivateIpAddress),
		root:    aws.ToString(i.RootDeviceName),
		launch:  aws.ToTime(i.LaunchTime),
		tags:    tagMap(i.Tags),
		devices: map[string]bdm{},
	}
	in.name = in.tags["Name"]
	if i.State != nil {
		in.state = i.State.Name
	}
	if i.Placement != nil {
		in.zone = aws.ToString(i.Placement.AvailabilityZone)
	}
	for _, b := range i.BlockDeviceMappings {
		if b.Ebs == nil {
			continue
		}
		in.devices[aws.ToString(b.DeviceName)] = bdm{volume: aws.ToString(b.Ebs.VolumeId), status: b.Ebs.Status}
	}
	return in
}

func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func findInstance(insts []instance, id string) *instance {
	for i := range insts {
		if insts[i].id == id {
			return &insts[i]
		}
	}
	return nil
}

// lookupDevice finds a device by name, in either spelling of its slot
// (spec.DeviceSlot): EC2 reports the name given at attach time, so /dev/sdf
// in the spec matches /dev/xvdf on the instance, and the other way round.
func lookupDevice(devs map[string]bdm, name string) (string, bdm, bool) {
	if b, ok := devs[name]; ok {
		return name, b, true
	}
	for n, b := range devs {
		if spec.DeviceSlot(n) == spec.DeviceSlot(name) {
			return n, b, true
		}
	}
	return "", bdm{}, false
}

// stateFilterHint says which filter to fix when a non-running instance
// came back.
func stateFilterHint(fs []spec.Filter) string {
	for i, f := range fs {
		if f.Name == "instance-state-name" || f.Name == "instance-state-code" {
			return fmt.Sprintf("remove spec.source.filters[%d] (%s=%s): graft selects instance-state-name=running itself", i, f.Name, strings.Join(f.Values, ","))
		}
	}
	return "narrow spec.source.filters (" + describeFilters(fs) + ") so that they match only the application's running instances"
}

func describeFilters(fs []spec.Filter) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.Name+"="+strings.Join(f.Values, ","))
	}
	return strings.Join(parts, " ")
}

// describeVolumes reads volumes by id, volumeIDBatch per call.
func (e *Engine) describeVolumes(ctx context.Context, c *api, ids []string) (map[string]types.Volume, error) {
	out := map[string]types.Volume{}
	for chunk := range slices.Chunk(ids, volumeIDBatch) {
		res, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: chunk})
		if err != nil {
			return nil, fmt.Errorf("DescribeVolumes: %w", err)
		}
		for _, v := range res.Volumes {
			out[aws.ToString(v.VolumeId)] = v
		}
	}
	return out, nil
}

// mapInstances applies spec.mapping: every instance gets exactly one
// (StatefulSet, ordinal), and every ordinal of every StatefulSet exactly
// one instance.
func (e *Engine) mapInstances(insts []instance, add problemFunc) []Member {
	assigned := map[slotKey][]*instance{}
	mp := e.m.Spec.Mapping
	switch {
	case mp.TagRegex != nil:
		e.mapByTagRegex(insts, assigned, add)
	case len(mp.Table) > 0:
		e.mapByTable(insts, assigned, add)
	case mp.Sort != nil:
		e.mapBySort(insts, assigned, add)
	}
	return e.membersOf(assigned, add)
}

// problemFunc records one problem of discovery.
type problemFunc = func(kind, format string, args ...any)

// mapByTagRegex assigns each instance the slot its tag names
// (spec.mapping.tagRegex).
func (e *Engine) mapByTagRegex(insts []instance, assigned map[slotKey][]*instance, add problemFunc) {
	s := &e.m.Spec
	mp := s.Mapping
	re := regexp.MustCompile(mp.TagRegex.Pattern) // validated by spec
	for i := range insts {
		in := &insts[i]
		val, ok := in.tags[mp.TagRegex.Tag]
		if !ok {
			add(ProblemUnmapped, "instance %s matches spec.source.filters but has no tag %q for spec.mapping.tagRegex; the filters may select another application's instances", in.id, mp.TagRegex.Tag)
			continue
		}
		sm := re.FindStringSubmatch(val)
		if sm == nil {
			add(ProblemUnmapped, "instance %s: tag %s=%q does not match spec.mapping.tagRegex.pattern %q; the filters may select another application's instances", in.id, mp.TagRegex.Tag, val, mp.TagRegex.Pattern)
			continue
		}
		ord, err := strconv.Atoi(sm[re.SubexpIndex("ordinal")])
		if err != nil {
			add(ProblemAmbiguousMapping, "instance %s: tag %s=%q: the ordinal group %q is not a number", in.id, mp.TagRegex.Tag, val, sm[re.SubexpIndex("ordinal")])
			continue
		}
		sts := ""
		if idx := re.SubexpIndex("statefulset"); idx >= 0 {
			sts = sm[idx]
		} else if len(s.Target.StatefulSets) == 1 {
			sts = s.Target.StatefulSets[0].Name
		}
		if _, ok := s.StatefulSet(sts); !ok {
			add(ProblemUnmapped, "instance %s: tag %s=%q names StatefulSet %q, which is not in spec.target.statefulSets", in.id, mp.TagRegex.Tag, val, sts)
			continue
		}
		assigned[slotKey{sts, ord}] = append(assigned[slotKey{sts, ord}], in)
	}
}

// mapByTable assigns each instance its row of spec.mapping.table.
func (e *Engine) mapByTable(insts []instance, assigned map[slotKey][]*instance, add problemFunc) {
	mp := e.m.Spec.Mapping
	byInstance := map[string]spec.TableEntry{}
	for _, t := range mp.Table {
		byInstance[t.Instance] = t
	}
	for i := range insts {
		in := &insts[i]
		t, ok := byInstance[in.id]
		if !ok {
			add(ProblemUnmapped, "instance %s (Name=%q) matches spec.source.filters but is not in spec.mapping.table; the filters may select another application's instances", in.id, in.name)
			continue
		}
		assigned[slotKey{t.StatefulSet, t.Ordinal}] = append(assigned[slotKey{t.StatefulSet, t.Ordinal}], in)
	}
	for _, t := range mp.Table {
		if findInstance(insts, t.Instance) == nil {
			add(ProblemOrdinalGap, "%s ordinal %d: table instance %s is not among the running instances matched by spec.source.filters", t.StatefulSet, t.Ordinal, t.Instance)
		}
	}
}

// mapBySort assigns each StatefulSet's instances its ordinals in the order
// of spec.mapping.sort.
func (e *Engine) mapBySort(insts []instance, assigned map[slotKey][]*instance, add problemFunc) {
	s := &e.m.Spec
	mp := s.Mapping
	groups := map[string][]*instance{}
	for i := range insts {
		in := &insts[i]
		sts := ""
		if len(s.Target.StatefulSets) == 1 && s.Target.StatefulSets[0].SourceZone == "" {
			sts = s.Target.StatefulSets[0].Name
		} else {
			for _, t := range s.Target.StatefulSets {
				if t.SourceZone == in.zone {
					sts = t.Name
				}
			}
		}
		if sts == "" {
			add(ProblemUnmapped, "instance %s is in zone %s, from which no StatefulSet draws (spec.target.statefulSets[].sourceZone)", in.id, in.zone)
			continue
		}
		groups[sts] = append(groups[sts], in)
	}
	for _, sts := range s.Target.StatefulSets {
		g := groups[sts.Name]
		keys := make(map[*instance]sortKey, len(g))
		bad := false
		for _, in := range g {
			k, err := sortKeyOf(in, mp.Sort.By)
			if err != nil {
				add(ProblemAmbiguousMapping, "instance %s: %v", in.id, err)
				bad = true
			}
			keys[in] = k
		}
		if bad {
			continue
		}
		sort.SliceStable(g, func(i, j int) bool { return keys[g[i]].less(keys[g[j]]) })
		for i := 1; i < len(g); i++ {
			if !keys[g[i-1]].less(keys[g[i]]) {
				add(ProblemAmbiguousMapping, "instances %s and %s of %s have the same %s (%s); the sort cannot order them, use spec.mapping.table", g[i-1].id, g[i].id, sts.Name, mp.Sort.By, keys[g[i]])
			}
		}
		for i, in := range g {
			sl := slotKey{sts.Name, sts.Ordinals.Start + i}
			assigned[sl] = append(assigned[sl], in)
		}
	}
}

// membersOf turns the assigned slots into members: exactly one instance
// for every ordinal of every StatefulSet, and no instance outside them.
func (e *Engine) membersOf(assigned map[slotKey][]*instance, add problemFunc) []Member {
	s := &e.m.Spec
	type slot = slotKey
	var members []Member
	seen := map[string]bool{}
	for _, sts := range s.Target.StatefulSets {
		end := sts.Ordinals.Start + sts.Replicas
		for o := sts.Ordinals.Start; o < end; o++ {
			got := assigned[slot{sts.Name, o}]
			switch len(got) {
			case 0:
				add(ProblemOrdinalGap, "%s ordinal %d has no instance (replicas %d, ordinals %d..%d)", sts.Name, o, sts.Replicas, sts.Ordinals.Start, end-1)
			case 1:
				in := got[0]
				members = append(members, Member{StatefulSet: sts.Name, Ordinal: o, Instance: in.id, Name: in.name, PrivateIP: in.ip, LaunchTime: in.launch, Zone: in.zone, RootDevice: in.root})
			default:
				var ids []string
				for _, in := range got {
					ids = append(ids, in.id)
				}
				add(ProblemOrdinalDuplicate, "%s ordinal %d is claimed by %d instances: %s", sts.Name, o, len(got), strings.Join(ids, ", "))
			}
			seen[fmt.Sprintf("%s/%d", sts.Name, o)] = true
		}
	}
	for _, sl := range slices.SortedFunc(maps.Keys(assigned), slotKey.compare) {
		key := fmt.Sprintf("%s/%d", sl.sts, sl.ord)
		if seen[key] {
			continue
		}
		sts, _ := s.StatefulSet(sl.sts)
		for _, in := range assigned[slot{sl.sts, sl.ord}] {
			add(ProblemOrdinalRange, "instance %s maps to %s ordinal %d, outside [%d, %d) (replicas %d); is the spec's replica count right?", in.id, sl.sts, sl.ord, sts.Ordinals.Start, sts.Ordinals.Start+sts.Replicas, sts.Replicas)
		}
	}
	return members
}

type slotKey struct {
	sts string
	ord int
}

// compare orders slots by StatefulSet, then ordinal.
func (a slotKey) compare(b slotKey) int {
	return cmp.Or(strings.Compare(a.sts, b.sts), cmp.Compare(a.ord, b.ord))
}

// sortKey is one instance's value of the sort mapping's key.
type sortKey struct {
	t   time.Time
	ip  netip.Addr
	s   string
	str string
}

func (k sortKey) less(o sortKey) bool {
	switch {
	case !k.t.IsZero() || !o.t.IsZero():
		return k.t.Before(o.t)
	case k.ip.IsValid() || o.ip.IsValid():
		return k.ip.Less(o.ip)
	}
	return k.s < o.s
}

func (k sortKey) String() string { return k.str }

func sortKeyOf(in *instance, by string) (sortKey, error) {
	switch {
	case by == "launchTime":
		if in.launch.IsZero() {
			return sortKey{}, fmt.Errorf("no launch time to sort by")
		}
		return sortKey{t: in.launch, str: in.launch.Format(time.RFC3339)}, nil
	case by == "privateIp":
		ip, err := netip.ParseAddr(in.ip)
		if err != nil {
			return sortKey{}, fmt.Errorf("no private IP to sort by (%q)", in.ip)
		}
		return sortKey{ip: ip, str: in.ip}, nil
	case by == "instanceId":
		return sortKey{s: in.id, str: in.id}, nil
	case strings.HasPrefix(by, "tag:"):
		k := strings.TrimPrefix(by, "tag:")
		v, ok := in.tags[k]
		if !ok {
			return sortKey{}, fmt.Errorf("no tag %q to sort by", k)
		}
		return sortKey{s: v, str: v}, nil
	}
	return sortKey{}, fmt.Errorf("unknown sort key %q", by)
}
