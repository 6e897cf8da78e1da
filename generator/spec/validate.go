package spec

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/graftctl/graft/generator/termtext"
	"github.com/graftctl/graft/generator/workload"
)

// Default fills every optional field with its documented default.
func (m *Migration) Default() {
	s := &m.Spec
	if s.Target.Region == "" {
		s.Target.Region = s.Source.Region
	}
	if s.Target.TopologyKey == "" {
		s.Target.TopologyKey = TopologyKeyKubernetes
	}
	s.Target.Binding.setDefaults()
	if w := s.Target.Workload; w != nil {
		w.setDefaults(&s.Target)
	}
	if c := s.Target.Cluster; c != nil && c.StorageDriver == "" {
		c.StorageDriver = StorageDriverEBSCSI
	}
	for i := range s.Source.Devices {
		if s.Source.Devices[i].FSType == "" {
			s.Source.Devices[i].FSType = "ext4"
		}
	}
	if s.Target.Volume.KMSKeyID != "" {
		s.Target.Volume.Encrypted = true
	}
	if s.GitOps.Engine == "" {
		s.GitOps.Engine = EngineNone
	}
	if s.GitOps.Provider == "" {
		s.GitOps.Provider = ProviderNone
	}
	if s.GitOps.BaseBranch == "" {
		s.GitOps.BaseBranch = "main"
	}
	if s.GitOps.OverlayPath == "" && m.Metadata.Name != "" {
		s.GitOps.OverlayPath = "overlays/" + m.Metadata.Name
	}
	if s.GitOps.SourceRef == "" {
		if s.GitOps.Engine == EngineArgoCD {
			// The repository URL goes into a committed manifest: never
			// with the credentials a URL may carry.
			s.GitOps.SourceRef = withoutUserinfo(s.GitOps.Repo)
		} else {
			s.GitOps.SourceRef = "flux-system"
		}
	}
}

// withoutUserinfo drops the user and password of a scheme://user:pw@host
// URL; anything else is returned as it is.
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Host == "" {
		return raw
	}
	u.User = nil
	return u.String()
}

// FieldError is one problem in the spec: where, what was found, and what
// was expected.
type FieldError struct {
	Field    string
	Value    any
	Expected string
}

// Error is one line, whatever the field (a map key from the document),
// the value or the expected text (which may name other values of the
// document) hold: the value is quoted, and every rune a terminal would act
// on (a newline, ESC, a bidi override) is escaped in place (termtext.Line),
// so that a value cannot forge a line of the list of problems.
func (e FieldError) Error() string {
	return termtext.Line(fmt.Sprintf("%s: %s, expected %s", e.Field, formatValue(e.Value), e.Expected))
}

func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "missing"
	default:
		return fmt.Sprintf("%v", v)
	}
}

// ValidationError lists every problem found in a spec.
type ValidationError []FieldError

func (v ValidationError) Error() string { return FormatProblems("the migration spec", v) }

// Add records the problem at field: its value and what was expected.
func (v *ValidationError) Add(field string, value any, expected string) {
	*v = append(*v, FieldError{Field: field, Value: value, Expected: expected})
}

// FormatProblems is the message of the problems found in a document (what,
// such as "the migration spec"): their count, then one line each.
func FormatProblems(what string, errs []FieldError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s) in %s:", len(errs), what)
	for _, e := range errs {
		b.WriteString("\n  - ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (v ValidationError) Unwrap() error { return ErrInvalid }

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	devicePattern    = regexp.MustCompile(`^/dev/[a-z0-9]+$`)
	instancePattern  = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	kmsKeyPattern    = regexp.MustCompile(`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+|alias/[A-Za-z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	branchPattern    = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	zoneSuffix       = regexp.MustCompile(`^([a-z]|-[a-z]+-[0-9][a-z])$`)
)

// ZoneInRegion reports whether zone is an availability zone (or a local
// zone) of region: us-east-1a and us-west-2-lax-1a belong to their regions.
func ZoneInRegion(zone, region string) bool {
	rest, ok := strings.CutPrefix(zone, region)
	if !ok || rest == "" {
		return false
	}
	return zoneSuffix.MatchString(rest)
}

// FSTypes are the filesystems graft accepts on a data device.
var FSTypes = []string{"ext3", "ext4", "xfs", "btrfs"}

// MaxDevicePartition is the highest partition number a device's partition may
// have: a GPT disk holds at most 128 partitions.
const MaxDevicePartition = 128

// DevicePartitionExpected says what a partition may be, for the errors about it.
var DevicePartitionExpected = fmt.Sprintf("a partition number from 1 to %d, or 0 (or no partition) for the whole device", MaxDevicePartition)

// nvmeExpected explains why an NVMe name is refused: the OS of a Nitro
// instance names its EBS volumes /dev/nvmeXn1, in the order it finds them,
// while EC2 (DescribeInstances' BlockDeviceMappings, which discover reads)
// reports only the name the volume was attached as.
const nvmeExpected = "the name EC2 reports for the attachment, such as /dev/sdf or /dev/xvdf (aws ec2 describe-instances --query 'Reservations[].Instances[].BlockDeviceMappings'); /dev/nvme* is the operating system's name on Nitro instances, which EC2 does not know (lsblk -o NAME,SERIAL shows the volume id of each)"

// DeviceSlot is the attachment slot a device name names: EC2 takes
// /dev/sdf and /dev/xvdf for the same slot, and reports the name the volume
// was attached as, so both spellings name one device.
func DeviceSlot(name string) string {
	if rest, ok := strings.CutPrefix(name, "/dev/sd"); ok {
		return "/dev/xvd" + rest
	}
	return name
}

// ValidDevicePartition reports whether p is a partition number graft accepts: 0
// for the whole device, or 1 to MaxDevicePartition.
func ValidDevicePartition(p int) bool { return p >= 0 && p <= MaxDevicePartition }

// VolumeTypes are the EBS volume types graft can create.
var VolumeTypes = []string{"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"}

// Ranges EC2 enforces on volume performance, kept here so that a bad value
// fails before any API call.
var (
	iopsRange = map[string][2]int32{
		"gp3": {3000, 80000},
		"io1": {100, 64000},
		"io2": {100, 256000},
	}
	throughputRange = [2]int32{125, 2000}
	initRateRange   = [2]int32{100, 300}
)

// APIVersionExpected is what an apiVersion other than graft's is
// expected to be: graft's, and when it is another version of graft's
// group (a file of a newer or older graft), that this graft reads only
// its own.
func APIVersionExpected(got string) string {
	want := strconv.Quote(APIVersion)
	if strings.HasPrefix(got, Group+"/") {
		return want + " (another version of graft wrote it, and this one reads only " + APIVersion + ": run the graft that wrote it)"
	}
	return want
}

// MaxReplicas bounds a StatefulSet's size, and so every loop over members.
const MaxReplicas = 10000

// MaxMembers bounds the members of a migration, all StatefulSets together,
// and MaxClaims its claims (members × devices): the sizes graft is built
// and measured for (README, Performance), and the bound of every loop over
// them. 3,000 StatefulSets of 10,000 replicas each fit in a spec of 130 KB.
const (
	MaxMembers = 10000
	MaxClaims  = 2 * MaxMembers
)

// members is the number of members of t's StatefulSets, each counted up to
// MaxReplicas.
func (t *Target) members() int {
	n := 0
	for _, sts := range t.StatefulSets {
		n += min(max(sts.Replicas, 0), MaxReplicas)
	}
	return n
}

// size refuses a migration over MaxMembers or MaxClaims, before any check
// that loops over its members.
func (v *validator) size(s *Spec) {
	n := s.Target.members()
	if n > MaxMembers {
		v.add("spec.target.statefulSets", n, fmt.Sprintf("at most %d members in all (the sum of their replicas)", MaxMembers))
	} else if c := n * len(s.Source.Devices); c > MaxClaims {
		v.add("spec.source.devices", len(s.Source.Devices), fmt.Sprintf("at most %d claims in all (%d members × %d devices is %d)", MaxClaims, n, len(s.Source.Devices), c))
	}
}

// MaxOrdinal is the highest ordinal a StatefulSet's pod can have:
// apps/v1 spec.ordinals.start is an int32, and the StatefulSet controller
// reads a pod's ordinal from its name as an int32 (getParentNameAndOrdinal
// in kubernetes pkg/controller/statefulset/stateful_set_utils.go).
const MaxOrdinal = math.MaxInt32

// SortKeys are the documented orders of the sort mapping (besides tag:<key>).
var SortKeys = []string{"launchTime", "privateIp", "instanceId"}

type validator struct{ errs ValidationError }

func (v *validator) add(field string, value any, expected string) { v.errs.Add(field, value, expected) }

// unique reports value at field when an earlier entry, whose index seen
// holds, has it too (expected names that index with %d); then it records
// index i. An empty value, reported elsewhere, is left alone.
func (v *validator) unique(seen map[string]int, i int, field, value, expected string) {
	if j, dup := seen[value]; dup && value != "" {
		v.add(field, value, fmt.Sprintf(expected, j))
	}
	seen[value] = i
}

// has reports whether a problem was found under one of the field prefixes.
func (v *validator) has(prefixes ...string) bool {
	for _, e := range v.errs {
		for _, p := range prefixes {
			if strings.HasPrefix(e.Field, p) {
				return true
			}
		}
	}
	return false
}

func (v *validator) dnsLabel(field, value string) {
	switch {
	case value == "":
		v.add(field, nil, "a name")
	case len(value) > 63 || !dns1123Label.MatchString(value):
		v.add(field, value, "a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)")
	}
}

func (v *validator) oneOf(field, value string, allowed []string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.add(field, value, "one of "+strings.Join(allowed, ", "))
}

// Validate reports every problem in the (defaulted) spec at once.
func (m *Migration) Validate() error {
	v := &validator{}
	if m.APIVersion != APIVersion {
		v.add("apiVersion", m.APIVersion, APIVersionExpected(m.APIVersion))
	}
	if m.Kind != Kind {
		v.add("kind", m.Kind, strconv.Quote(Kind))
	}
	v.dnsLabel("metadata.name", m.Metadata.Name)
	s := &m.Spec
	v.source(&s.Source)
	v.workload(s)
	v.target(&s.Target, s.Source.Region)
	v.size(s)
	v.binding(s)
	v.mapping(&s.Mapping, &s.Target)
	// PVC names are derived from device and StatefulSet names: check them
	// only once those are valid, so one typo is reported once.
	if !v.has("spec.source.devices", "spec.target.statefulSets", "spec.target.workload") {
		v.claimNames(s)
	}
	v.gitops(&s.GitOps, s.Target.WorkloadKind())
	for i, arg := range s.Hooks.BeforeFinal {
		if i == 0 && strings.TrimSpace(arg) == "" {
			v.add("spec.hooks.beforeFinal[0]", arg, "a command name")
		}
	}
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

func (v *validator) source(src *Source) {
	if !regionPattern.MatchString(src.Region) {
		v.add("spec.source.region", src.Region, "an AWS region such as us-east-1")
	}
	if len(src.Filters) == 0 {
		v.add("spec.source.filters", nil, "at least one EC2 filter (for example tag:app=cassandra), so that graft never selects every instance in the region")
	}
	for i, f := range src.Filters {
		field := fmt.Sprintf("spec.source.filters[%d]", i)
		if f.Name == "" {
			v.add(field+".name", nil, "an EC2 filter name such as tag:app")
		}
		if len(f.Values) == 0 {
			v.add(field+".values", nil, "at least one value")
		}
	}
	if len(src.Devices) == 0 {
		v.add("spec.source.devices", nil, "at least one data device")
	}
	devices := map[string]int{}
	templates := map[string]int{}
	for i, d := range src.Devices {
		field := fmt.Sprintf("spec.source.devices[%d]", i)
		switch {
		case !devicePattern.MatchString(d.Name):
			v.add(field+".name", d.Name, "a device name such as /dev/xvdf")
		case strings.HasPrefix(d.Name, "/dev/nvme"):
			v.add(field+".name", d.Name, nvmeExpected)
		default:
			slot := DeviceSlot(d.Name)
			if j, dup := devices[slot]; dup && src.Devices[j].Name == d.Name {
				v.add(field+".name", d.Name, fmt.Sprintf("a device not already listed (it is spec.source.devices[%d])", j))
			} else if dup {
				v.add(field+".name", d.Name, fmt.Sprintf("a device not already listed (spec.source.devices[%d] is %s, the same attachment: EC2 takes /dev/sdX and /dev/xvdX for one slot)", j, src.Devices[j].Name))
			}
			devices[slot] = i
		}
		v.dnsLabel(field+".claimTemplate", d.ClaimTemplate)
		v.unique(templates, i, field+".claimTemplate", d.ClaimTemplate, "a claim template not already used (spec.source.devices[%d] uses it)")
		v.oneOf(field+".fsType", d.FSType, FSTypes)
		if !ValidDevicePartition(d.Partition) {
			v.add(field+".partition", d.Partition, DevicePartitionExpected)
		}
	}
}

func (v *validator) target(t *Target, sourceRegion string) {
	// A target region defaulted from a bad source region was reported there.
	if !regionPattern.MatchString(t.Region) && t.Region != sourceRegion {
		v.add("spec.target.region", t.Region, "an AWS region such as us-east-1")
	}
	v.dnsLabel("spec.target.namespace", t.Namespace)
	if len(t.StatefulSets) == 0 && !t.Derives() && !v.has("spec.target.workload.kind") {
		v.add("spec.target.statefulSets", nil, "at least one StatefulSet")
	}
	names := map[string]int{}
	sourceZones := map[string]int{}
	// For the workload kinds that derive the StatefulSets, each problem is
	// reported at the rack or nodeSet it comes from.
	field := t.statefulSetField
	for i, sts := range t.StatefulSets {
		replicasOK := sts.Replicas >= 1 && sts.Replicas <= MaxReplicas
		if !replicasOK && !v.has(field(i, "replicas")) { // a datacenter's size is reported once
			v.add(field(i, "replicas"), sts.Replicas, fmt.Sprintf("1 to %d", MaxReplicas))
		}
		n := max(1, min(sts.Replicas, MaxReplicas))
		if top := MaxOrdinal - n + 1; sts.Ordinals.Start < 0 {
			v.add(field(i, "ordinals.start"), sts.Ordinals.Start, "0 or more")
		} else if sts.Ordinals.Start > top {
			v.add(field(i, "ordinals.start"), sts.Ordinals.Start, fmt.Sprintf("at most %d, so that the last of its %d ordinals is at most %d", top, n, MaxOrdinal))
		}
		last := min(max(0, sts.Ordinals.Start), MaxOrdinal)
		if replicasOK {
			last += sts.Replicas - 1
		}
		if t.Derives() && v.has(t.namingFields(i)...) {
			// The rack's or nodeSet's name, or what all names derive
			// from, is reported already.
		} else if problem := workload.StatefulSetNameProblem(sts.Name, last); problem != "" {
			value := any(sts.Name)
			if sts.Name == "" {
				value = nil
			}
			v.add(field(i, "name"), value, problem+t.statefulSetNote())
		} else {
			if j, dup := names[sts.Name]; dup {
				v.add(field(i, "name"), sts.Name, fmt.Sprintf("a StatefulSet not already listed (it is %s)", strings.TrimSuffix(field(j, "name"), ".name"))+t.statefulSetNote())
			}
			names[sts.Name] = i
		}
		if sts.Zone != "" && !ZoneInRegion(sts.Zone, t.Region) {
			v.add(field(i, "zone"), sts.Zone, fmt.Sprintf("a zone of the target region %s", t.Region))
		}
		if sts.SourceZone != "" {
			if !ZoneInRegion(sts.SourceZone, sourceRegion) {
				v.add(field(i, "sourceZone"), sts.SourceZone, fmt.Sprintf("a zone of the source region %s", sourceRegion))
			} else {
				if j, dup := sourceZones[sts.SourceZone]; dup {
					v.add(field(i, "sourceZone"), sts.SourceZone, fmt.Sprintf("a zone no other StatefulSet draws from (%s does)", strings.TrimSuffix(field(j, "sourceZone"), ".sourceZone")))
				}
				sourceZones[sts.SourceZone] = i
			}
		}
	}
	v.oneOf("spec.target.topologyKey", t.TopologyKey, []string{TopologyKeyKubernetes, TopologyKeyEBSCSI})
	for _, from := range slices.Sorted(maps.Keys(t.Zones)) {
		to := t.Zones[from]
		field := "spec.target.zones[" + from + "]"
		if !ZoneInRegion(from, sourceRegion) {
			v.add(field, from, fmt.Sprintf("a key that is a zone of the source region %s", sourceRegion))
		}
		if !ZoneInRegion(to, t.Region) {
			v.add(field, to, fmt.Sprintf("a zone of the target region %s", t.Region))
		}
	}
	v.volume(&t.Volume, t.Region)
	v.cluster(t)
	v.account(t, sourceRegion)
}

func (v *validator) volume(vol *Volume, region string) {
	const f = "spec.target.volume"
	if vol.Type != "" {
		v.oneOf(f+".type", vol.Type, VolumeTypes)
	}
	if vol.IOPS != 0 {
		if r, ok := iopsRange[vol.Type]; ok {
			if vol.IOPS < r[0] || vol.IOPS > r[1] {
				v.add(f+".iops", vol.IOPS, fmt.Sprintf("%d to %d for %s", r[0], r[1], vol.Type))
			}
		} else if vol.Type != "" {
			v.add(f+".iops", vol.IOPS, fmt.Sprintf("no IOPS for type %s (only gp3, io1 and io2 take IOPS)", vol.Type))
		} else if vol.IOPS < 100 || vol.IOPS > 256000 {
			v.add(f+".iops", vol.IOPS, "100 to 256000")
		}
	}
	if vol.Throughput != 0 {
		if vol.Type != "" && vol.Type != "gp3" {
			v.add(f+".throughput", vol.Throughput, fmt.Sprintf("no throughput for type %s (only gp3 takes throughput)", vol.Type))
		} else if vol.Throughput < throughputRange[0] || vol.Throughput > throughputRange[1] {
			v.add(f+".throughput", vol.Throughput, fmt.Sprintf("%d to %d MiB/s", throughputRange[0], throughputRange[1]))
		}
	}
	if vol.KMSKeyID != "" && !kmsKeyPattern.MatchString(vol.KMSKeyID) {
		v.add(f+".kmsKeyId", vol.KMSKeyID, "a KMS key id, key ARN, alias/<name> or alias ARN")
	} else if p, r, ok := arnPlace(vol.KMSKeyID); ok && regionPattern.MatchString(region) && (r != region || p != Partition(region)) {
		// The new volumes and copies are encrypted in the target region,
		// with a key of that region (a multi-region key by its replica's
		// ARN there). A bare key id or alias name is looked up in it.
		v.add(f+".kmsKeyId", vol.KMSKeyID, fmt.Sprintf("a key of the target region %s (an ARN arn:%s:kms:%s:…), or a key id or alias/<name>, which are looked up there", region, Partition(region), region))
	}
	init := vol.Initialization
	if init.RateMiBps != 0 && (init.RateMiBps < initRateRange[0] || init.RateMiBps > initRateRange[1]) {
		v.add(f+".initialization.rateMiBps", init.RateMiBps, fmt.Sprintf("%d to %d MiB/s", initRateRange[0], initRateRange[1]))
	}
	if init.RateMiBps != 0 && init.FastSnapshotRestore {
		v.add(f+".initialization", "rateMiBps and fastSnapshotRestore", "one of the two: EC2 takes no initialization rate for a volume restored with Fast Snapshot Restore")
	}
	for _, k := range slices.Sorted(maps.Keys(vol.Tags)) {
		if k == "" || strings.HasPrefix(k, "aws:") || strings.HasPrefix(k, "graft:") {
			v.add(f+".tags", k, "a tag key that is not empty and does not start with aws: or graft: (graft: tags are graft's own)")
		}
	}
}

func (v *validator) mapping(mp *Mapping, t *Target) {
	const f = "spec.mapping"
	sets := t.StatefulSets
	set := 0
	for _, present := range []bool{mp.TagRegex != nil, len(mp.Table) > 0, mp.Sort != nil} {
		if present {
			set++
		}
	}
	if set != 1 {
		v.add(f, fmt.Sprintf("%d methods", set), "exactly one of tagRegex, table or sort")
	}
	byName := map[string]StatefulSet{}
	for _, s := range sets {
		byName[s.Name] = s
	}
	if r := mp.TagRegex; r != nil {
		if r.Tag == "" {
			v.add(f+".tagRegex.tag", nil, "a tag key such as Name")
		}
		re, err := regexp.Compile(r.Pattern)
		switch {
		case err != nil:
			v.add(f+".tagRegex.pattern", r.Pattern, "a valid regular expression ("+err.Error()+")")
		case re.SubexpIndex("ordinal") < 0:
			v.add(f+".tagRegex.pattern", r.Pattern, "a named group (?P<ordinal>[0-9]+)")
		case len(sets) > 1 && re.SubexpIndex("statefulset") < 0:
			v.add(f+".tagRegex.pattern", r.Pattern, "a named group (?P<statefulset>...) since there are several StatefulSets")
		}
	}
	if len(mp.Table) > 0 {
		instances := map[string]int{}
		slots := map[string]int{}
		for i, e := range mp.Table {
			field := fmt.Sprintf("%s.table[%d]", f, i)
			if !instancePattern.MatchString(e.Instance) {
				v.add(field+".instance", e.Instance, "an instance id such as i-0123456789abcdef0")
			} else {
				v.unique(instances, i, field+".instance", e.Instance, "an instance mapped once (spec.mapping.table[%d] maps it too)")
			}
			sts, ok := byName[e.StatefulSet]
			if !ok {
				v.add(field+".statefulSet", e.StatefulSet, "one of spec.target.statefulSets")
				continue
			}
			if e.Ordinal < sts.Ordinals.Start || e.Ordinal >= sts.Ordinals.Start+sts.Replicas {
				v.add(field+".ordinal", e.Ordinal, fmt.Sprintf("an ordinal of %s in [%d, %d)", sts.Name, sts.Ordinals.Start, sts.Ordinals.Start+sts.Replicas))
				continue
			}
			slot := fmt.Sprintf("%s/%d", e.StatefulSet, e.Ordinal)
			if j, dup := slots[slot]; dup {
				v.add(field+".ordinal", e.Ordinal, fmt.Sprintf("an ordinal not already taken (duplicate of spec.mapping.table[%d], %s)", j, slot))
			}
			slots[slot] = i
		}
		for _, sts := range sets {
			if sts.Replicas > MaxReplicas || t.members() > MaxMembers {
				continue
			}
			for o := sts.Ordinals.Start; o < sts.Ordinals.Start+sts.Replicas; o++ {
				if _, ok := slots[fmt.Sprintf("%s/%d", sts.Name, o)]; !ok {
					v.add(f+".table", fmt.Sprintf("%s ordinal %d", sts.Name, o), "an entry for every ordinal of every StatefulSet (this one is missing)")
				}
			}
		}
	}
	if s := mp.Sort; s != nil {
		if !strings.HasPrefix(s.By, "tag:") || len(s.By) == len("tag:") {
			v.oneOf(f+".sort.by", s.By, append(slices.Clone(SortKeys), "tag:<key>"))
		}
		if len(sets) > 1 {
			for i, sts := range sets {
				if sts.SourceZone == "" {
					v.add(t.statefulSetField(i, "sourceZone"), nil, "a source zone: the sort mapping assigns instances to StatefulSets by zone when there are several")
				}
			}
		}
	}
}

// claimNames rejects specs in which two (template, StatefulSet, ordinal)
// triples spell the same PVC name, e.g. data/x-1/0 and data-x/1/0.
func (v *validator) claimNames(s *Spec) {
	seen := map[string]string{}
	for _, sts := range s.Target.StatefulSets {
		if sts.Replicas > MaxReplicas {
			continue
		}
		for o := sts.Ordinals.Start; o < sts.Ordinals.Start+sts.Replicas; o++ {
			for _, d := range s.Source.Devices {
				name := ClaimName(d.ClaimTemplate, sts.Name, o)
				who := fmt.Sprintf("template %s of %s ordinal %d", d.ClaimTemplate, sts.Name, o)
				if other, dup := seen[name]; dup {
					v.add("spec.target.statefulSets", name, fmt.Sprintf("one member per PVC name, but %s and %s both map to it", other, who))
				} else if len(name) > 253 || !dns1123Subdomain.MatchString(name) {
					v.add("spec.target.statefulSets", name, "PVC names that are DNS-1123 subdomains of at most 253 characters")
				}
				seen[name] = who
			}
		}
	}
}

func (v *validator) gitops(g *GitOps, kind string) {
	const f = "spec.gitops"
	v.oneOf(f+".engine", g.Engine, []string{EngineFlux, EngineArgoCD, EngineNone})
	v.oneOf(f+".provider", g.Provider, []string{ProviderGitHub, ProviderGitea, ProviderNone})
	baseOK := false
	switch {
	case g.Base == "" && kind == WorkloadClaimsOnly:
		// The overlay holds only the claims; there is nothing to patch.
	case g.Base == "":
		v.add(f+".base", nil, "the kustomize base, relative to the overlay directory (for example ../../base/cassandra)")
	case hasControl(g.Base):
		v.add(f+".base", g.Base, "a path without control characters (newlines, tabs, NUL)")
	case path.IsAbs(g.Base) || strings.Contains(g.Base, "://") || strings.Contains(g.Base, "\\"):
		v.add(f+".base", g.Base, "a relative path, as kustomization.yaml resources take it")
	default:
		baseOK = true
	}
	// An empty overlayPath means metadata.name, its default, is missing:
	// that is reported there.
	overlayOK := false
	switch {
	case g.OverlayPath == "":
	case hasControl(g.OverlayPath):
		v.add(f+".overlayPath", g.OverlayPath, "a path without control characters (newlines, tabs, NUL)")
	case path.IsAbs(g.OverlayPath) || path.Clean(g.OverlayPath) != g.OverlayPath || outside(g.OverlayPath) || g.OverlayPath == "." || strings.Contains(g.OverlayPath, "\\"):
		v.add(f+".overlayPath", g.OverlayPath, "a clean relative directory inside the repository, such as overlays/cassandra")
	case InGitDir(g.OverlayPath):
		v.add(f+".overlayPath", g.OverlayPath, "a directory outside .git (git does not commit what is under .git)")
	default:
		overlayOK = true
	}
	if baseOK && overlayOK {
		// The base as the repository sees it: relative to the overlay.
		base := path.Join(g.OverlayPath, g.Base)
		switch {
		case outside(base):
			v.add(f+".base", g.Base, fmt.Sprintf("a directory inside the repository (from overlayPath %s it resolves to %s, outside it)", g.OverlayPath, base))
		case InGitDir(base):
			v.add(f+".base", g.Base, fmt.Sprintf("a directory outside .git (from overlayPath %s it resolves to %s)", g.OverlayPath, base))
		case Within(base, g.OverlayPath):
			v.add(f+".base", g.Base, fmt.Sprintf("a directory apart from the overlay (from overlayPath %s it resolves to %s, which is the overlay or inside it)", g.OverlayPath, base))
		case Within(g.OverlayPath, base):
			v.add(f+".overlayPath", g.OverlayPath, fmt.Sprintf("a directory apart from the base (the base %s resolves to %s, which holds the overlay)", g.Base, base))
		}
	}
	if !branchPattern.MatchString(g.BaseBranch) || strings.Contains(g.BaseBranch, "..") {
		v.add(f+".baseBranch", g.BaseBranch, "a git branch name such as main")
	}
	if g.EngineObject {
		v.sourceRef(g)
	}
	if g.EngineObject && g.Engine == EngineNone {
		v.add(f+".engineObject", true, "false when engine is none (there is no Flux Kustomization or Argo CD Application to render)")
	}
	for i, d := range g.DependsOn {
		v.dnsLabel(fmt.Sprintf("%s.dependsOn[%d]", f, i), d)
	}
	if len(g.DependsOn) > 0 && g.Engine != EngineFlux {
		v.add(f+".dependsOn", strings.Join(g.DependsOn, ","), "no dependsOn unless engine is flux (Argo CD orders by sync waves)")
	}
	if (g.Provider == ProviderGitHub || g.Provider == ProviderGitea) && g.Repo == "" {
		v.add(f+".repo", nil, "the repository URL when a pull-request provider is set")
	}
}

// sourceRef checks what the engine object will point at: a Flux
// GitRepository name, or an Argo CD repoURL without credentials.
func (v *validator) sourceRef(g *GitOps) {
	const f = "spec.gitops.sourceRef"
	switch g.Engine {
	case EngineFlux:
		v.dnsLabel(f, g.SourceRef)
	case EngineArgoCD:
		u, err := url.Parse(g.SourceRef)
		switch {
		case g.SourceRef == "":
			v.add(f, nil, "the repository URL Argo CD reads (set it, or spec.gitops.repo)")
		case strings.HasPrefix(g.SourceRef, "git@") && !strings.ContainsAny(g.SourceRef, " \t\n\"'\\"):
			// scp-like ssh syntax: git@host:org/repo.git
		case err != nil || u.Host == "" || strings.ContainsAny(g.SourceRef, " \t\n\"'\\"):
			v.add(f, g.SourceRef, "a repository URL such as https://github.com/org/gitops.git or git@github.com:org/gitops.git")
		case u.User != nil:
			v.add(f, withoutUserinfo(g.SourceRef)+" (with credentials)", "a URL without user or password: it is committed in the Argo CD Application; Argo CD takes credentials from its repository secrets")
		}
	}
}

// ClaimName is the name the StatefulSet controller gives the claim of a
// volumeClaimTemplate for one ordinal: <template>-<statefulset>-<ordinal>.
func ClaimName(template, statefulSet string, ordinal int) string {
	return template + "-" + statefulSet + "-" + strconv.Itoa(ordinal)
}

// PVName is the cluster-wide name of the PersistentVolume graft binds a
// claim to: <namespace>-<claim>.
func PVName(namespace, claim string) string { return namespace + "-" + claim }

// TargetZone is the zone a member's volumes go to: its StatefulSet's zone,
// else spec.target.zones[sourceZone], else the source zone.
func (s *Spec) TargetZone(statefulSet, sourceZone string) string {
	for _, sts := range s.Target.StatefulSets {
		if sts.Name == statefulSet && sts.Zone != "" {
			return sts.Zone
		}
	}
	if z, ok := s.Target.Zones[sourceZone]; ok {
		return z
	}
	return sourceZone
}

// StatefulSet returns the target StatefulSet with that name.
func (s *Spec) StatefulSet(name string) (StatefulSet, bool) {
	for _, sts := range s.Target.StatefulSets {
		if sts.Name == name {
			return sts, true
		}
	}
	return StatefulSet{}, false
}

// DeviceForTemplate returns the source device whose claim template is name.
func (s *Spec) DeviceForTemplate(name string) (Device, bool) {
	for _, d := range s.Source.Devices {
		if d.ClaimTemplate == name {
			return d, true
		}
	}
	return Device{}, false
}

// outside reports whether a clean slash path climbs out of its root.
func outside(p string) bool { return p == ".." || strings.HasPrefix(p, "../") }

// InGitDir reports whether a slash-separated relative path has an element
// that is .git, that is lies in a repository's git directory or is one, as
// git itself tells (verify_path, core.protectHFS and core.protectNTFS): in
// any case; with the code points macOS's HFS+ ignores removed (.g\u200cit);
// with trailing dots and spaces, which Windows drops (".git.", ".git ");
// as NTFS's short name git~1; or with an NTFS stream (.git::$INDEX_ALLOCATION).
// git refuses to commit such a path, so graft refuses it up front.
func InGitDir(p string) bool {
	for _, el := range strings.Split(path.Clean(p), "/") {
		if isDotGit(el) {
			return true
		}
	}
	return false
}

func isDotGit(el string) bool {
	el = strings.Map(func(r rune) rune {
		if hfsIgnored(r) {
			return -1
		}
		return r
	}, el)
	el = strings.ToLower(el)
	if name, _, ok := strings.Cut(el, ":"); ok {
		el = name
	}
	el = strings.TrimRight(el, ". ")
	return el == ".git" || el == "git~1"
}

// hfsIgnored: the code points HFS+ drops from file names (git's
// next_hfs_char).
func hfsIgnored(r rune) bool {
	switch {
	case r >= 0x200c && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x206a && r <= 0x206f, r == 0xfeff:
		return true
	}
	return false
}

// hasControl reports whether s holds a control character (a newline, a
// tab, NUL): no directory name graft writes or commits should.
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// Within reports whether the clean slash path p is dir or lies inside it
// ("." holds every relative path).
func Within(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return dir == "." || p == dir || strings.HasPrefix(p, dir+"/")
}

// Partition is the AWS partition of a region: aws-cn for China, aws-us-gov
// for GovCloud, aws-iso, aws-iso-b, aws-iso-e and aws-iso-f for the
// isolated regions (us-iso-east-1, us-isob-east-1, eu-isoe-west-1,
// us-isof-south-1), aws elsewhere.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	if _, rest, ok := strings.Cut(region, "-iso"); ok {
		if letter, _, ok := strings.Cut(rest, "-"); ok && len(letter) <= 1 {
			if letter == "" {
				return "aws-iso"
			}
			return "aws-iso-" + letter
		}
	}
	return "aws"
}

// arnPlace returns the partition and region of an ARN (arn:partition:
// service:region:account:resource); ok is false for anything else.
func arnPlace(s string) (partition, region string, ok bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return "", "", false
	}
	return parts[1], parts[3], true
}
