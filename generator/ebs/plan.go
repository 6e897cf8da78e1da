package ebs

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/snaptime"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// Plan is everything clone would create, per member, with the API-call
// budget, the expected duration and warnings. Making it changes nothing.
type Plan struct {
	Migration    string       `json:"migration"`
	SourceRegion string       `json:"sourceRegion"`
	TargetRegion string       `json:"targetRegion"`
	Members      []PlanMember `json:"members"`
	// ToCreate and Existing count resources by role ("snapshot", "copy",
	// "volume", "fast-snapshot-restore").
	ToCreate map[string]int `json:"toCreate"`
	Existing map[string]int `json:"existing"`
	// Refused counts the existing volumes clone will refuse.
	Refused int `json:"refused"`
	// Retag counts the existing volumes clone adds the cluster tags to
	// (CreateTags): graft made them before spec.target.cluster asked for
	// the tags.
	Retag int `json:"retag,omitempty"`
	// Budget is the API-call budget and the expected durations of the
	// phases.
	Budget
	// Assumptions behind the durations.
	Assumptions []string `json:"assumptions"`
	Warnings    []string `json:"warnings"`
	// Cluster is spec.target.cluster's storage: absent without one.
	Cluster *PlanCluster `json:"cluster,omitempty"`
	// Binding is spec.target.binding and what it means after the
	// cut-over (spec.Target.Explain).
	Binding PlanBinding `json:"binding"`
	// Accounts splits the steps, the call budget and the mutating-bucket
	// floor by account in a cross-account migration (absent otherwise).
	Accounts []PlanAccount `json:"accounts,omitempty"`
}

// Budget is the API calls and the time of a plan, or of one account's
// part of a cross-account plan.
type Budget struct {
	// Calls is the API-call budget of both phases, by operation.
	Calls map[string]int `json:"calls"`
	// MutatingFloor is the time EC2's mutating bucket (burst 100, refill
	// 5/s; one per account and region) alone imposes on the final phase.
	MutatingFloor Duration `json:"mutatingFloor"`
	// Precopy and Final are the expected durations of the phases (of an
	// account: of its own steps, the longest member's).
	Precopy Duration `json:"precopy"`
	Final   Duration `json:"final"`
}

// PlanBinding is how the claims will bind.
type PlanBinding struct {
	spec.Binding
	StorageClassName string `json:"storageClassName"`
	Explanation      string `json:"explanation"`
}

// PlanCluster says which driver the new volumes are for, the tags they get
// and the managed IAM policies those tags satisfy.
type PlanCluster struct {
	Name          string            `json:"name"`
	StorageDriver string            `json:"storageDriver"`
	CSIDriver     string            `json:"csiDriver"`
	Tags          map[string]string `json:"tags"`
	Policies      []string          `json:"policies"`
}

// Duration marshals as a Go duration string.
type Duration time.Duration

// MarshalJSON writes "1h2m3s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// PlanMember is one member's actions.
type PlanMember struct {
	Member     string   `json:"member"`
	Instance   string   `json:"instance"`
	SourceZone string   `json:"sourceZone"`
	TargetZone string   `json:"targetZone"`
	Actions    []Action `json:"actions"`
}

// Action is one resource clone would create (or finds already created).
type Action struct {
	Phase string `json:"phase"`
	// Role is snapshot, copy, volume, fast-snapshot-restore or tag (the
	// cluster tags an existing volume lacks).
	Role string `json:"role"`
	// Op is the EC2 call that creates it.
	Op            string        `json:"op"`
	ClaimTemplate string        `json:"claimTemplate,omitempty"`
	SourceVolume  string        `json:"sourceVolume,omitempty"`
	Volume        *VolumeParams `json:"volume,omitempty"`
	Detail        string        `json:"detail"`
	// Exists holds the id of the resource when a previous run made it.
	Exists string `json:"exists,omitempty"`
	// Refused, set on an existing volume that does not match the spec,
	// says why clone will refuse it (and stop the member).
	Refused string `json:"refused,omitempty"`
	// Stopped: clone will not make this resource, because it stops the
	// member at a refused volume first.
	Stopped bool `json:"stopped,omitempty"`
}

// Plan lists what Clone would do for the inventory. It makes only Describe
// calls (the look-up of what earlier runs created), on read-only clients:
// a mutating call from it is an error, never a change.
func (e *Engine) Plan(ctx context.Context, inv *Inventory) (*Plan, error) {
	return e.readOnly().plan(ctx, inv)
}

func (e *Engine) plan(ctx context.Context, inv *Inventory) (*Plan, error) {
	if err := e.checkShareKeys(ctx, inv); err != nil {
		return nil, err
	}
	x, err := e.lookup(ctx)
	if err != nil {
		return nil, err
	}
	pl := &planner{e: e, zonesBySet: map[string]map[string]bool{},
		p: &Plan{Migration: inv.Migration, SourceRegion: inv.SourceRegion, TargetRegion: inv.TargetRegion,
			ToCreate: map[string]int{}, Existing: map[string]int{}, Budget: Budget{Calls: map[string]int{}}}}
	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		checks := e.dryRunChecks(inv, x, phase)
		pl.dryRun += len(checks)
		pl.x.srcDryRun += srcDryRuns(checks)
	}
	for _, mb := range inv.Members {
		pl.member(inv, mb, x)
	}
	if c := e.m.Spec.Target.Cluster; c != nil {
		st := e.m.Spec.Target.Storage()
		pl.p.Cluster = &PlanCluster{Name: c.Name, StorageDriver: c.StorageDriver, CSIDriver: st.CSIDriver, Tags: st.Tags, Policies: st.Policies}
	}
	t := &e.m.Spec.Target
	pl.p.Binding = PlanBinding{Binding: t.Binding, StorageClassName: t.StorageClassName, Explanation: t.Explain()}
	pl.budget(inv)
	pl.warn(inv, x)
	slices.Sort(pl.p.Warnings)
	return pl.p, nil
}

// planner builds a Plan member by member, then adds the call budget, the
// durations and the warnings.
type planner struct {
	e *Engine
	p *Plan
	// Expected durations, from what is left to do: the largest volume
	// snapshotted, copied or created in each phase (members run
	// concurrently); 0 when nothing is left.
	precopy, final   time.Duration
	fsrSnaps, dryRun int
	// The re-checks after creating (settleSnapshots, settleVolume): at
	// least one listing after each create and one after each wait.
	settleSnaps, settleVols int
	fsrLarge                []string
	copies                  bool
	precopyLeft             bool
	zonesBySet              map[string]map[string]bool
	// x counts the cross-account steps (xaccount_plan.go).
	x xPlan
}

// member adds one member's actions of both phases.
func (pl *planner) member(inv *Inventory, mb Member, x *existing) {
	pm := PlanMember{Member: mb.Key(), Instance: mb.Instance, SourceZone: mb.Zone, TargetZone: mb.TargetZone}
	if pl.zonesBySet[mb.StatefulSet] == nil {
		pl.zonesBySet[mb.StatefulSet] = map[string]bool{}
	}
	pl.zonesBySet[mb.StatefulSet][mb.TargetZone] = true
	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		left := pl.phase(&pm, mb, pl.e.decide(inv, mb, x, phase), phase)
		if phase == spec.PhasePrecopy {
			pl.precopy = max(pl.precopy, left)
		} else {
			pl.final = max(pl.final, left)
		}
	}
	pl.p.Members = append(pl.p.Members, pm)
}

// phase adds a member's actions of one phase and returns the time they
// take.
func (pl *planner) phase(pm *PlanMember, mb Member, d *memberDecision, phase string) time.Duration {
	pl.p.Warnings = append(pl.p.Warnings, d.warnings...)
	// A member with a volume clone refuses is stopped before anything is
	// made for it: its other actions are listed but neither counted nor
	// timed.
	stop := d.stops()
	toCreate, calls := pl.p.ToCreate, pl.p.Calls
	if stop {
		toCreate, calls = map[string]int{}, map[string]int{}
	}
	first, s0, v0, f0, l0 := len(pm.Actions), pl.settleSnaps, pl.settleVols, pl.fsrSnaps, len(pl.fsrLarge)
	x0 := pl.x
	srcLeft := pl.snapshots(pm, mb, d, phase, toCreate, calls)
	srcLeft += pl.shareActions(pm, d, phase, toCreate, calls)
	dstLeft := pl.copyActions(pm, d, phase, toCreate, calls)
	dstLeft += pl.volumes(pm, mb, d, toCreate, calls)
	if !stop {
		pl.x.time(phase, srcLeft, dstLeft)
		return srcLeft + dstLeft
	}
	pl.settleSnaps, pl.settleVols, pl.fsrSnaps, pl.fsrLarge, pl.x = s0, v0, f0, pl.fsrLarge[:l0], x0
	for i := first; i < len(pm.Actions); i++ {
		if pm.Actions[i].Exists == "" {
			pm.Actions[i].Stopped = true
		}
	}
	return 0
}

// snapshots adds a member's snapshot actions of a phase and returns the
// time of the longest snapshot left to make.
func (pl *planner) snapshots(pm *PlanMember, mb Member, d *memberDecision, phase string, toCreate, calls map[string]int) time.Duration {
	var snapTime time.Duration
	for _, st := range d.snaps {
		a := Action{Phase: phase, Role: ownership.RoleSnapshot, Op: st.op(d), ClaimTemplate: st.d.ClaimTemplate, SourceVolume: st.d.VolumeID,
			Detail: fmt.Sprintf("snapshot of %s (%s, %d GiB) on %s", st.d.VolumeID, st.d.Device, st.d.SizeGiB, mb.Instance)}
		if pl.tally(&a, ownership.RoleSnapshot, snapshotID(st.exists), toCreate) {
			t := snaptime.Full(st.d.SizeGiB)
			if phase == spec.PhaseFinal {
				// After the precopy phase the final snapshot is incremental.
				t = snaptime.Incremental(st.d.SizeGiB)
			} else {
				pl.precopyLeft = true
			}
			snapTime = max(snapTime, t)
		}
		if st.create != nil {
			calls["CreateSnapshot"]++
		}
		pm.Actions = append(pm.Actions, a)
	}
	if d.multi != nil {
		calls["CreateSnapshots"]++
	}
	if !d.allExist() {
		pl.settleSnaps += 2
		pl.x.srcSettle += 2
	}
	return snapTime
}

// copyActions adds a member's copy actions of a phase and returns the time
// of the longest copy left to make.
func (pl *planner) copyActions(pm *PlanMember, d *memberDecision, phase string, toCreate, calls map[string]int) time.Duration {
	e, s := pl.e, &pl.e.m.Spec
	var copyTimeLeft time.Duration
	copiesLeft := false
	for _, c := range d.copies {
		pl.copies = true
		why := "re-encrypt with " + s.Target.Volume.KMSKeyID
		if e.crossRegion() {
			why = fmt.Sprintf("copy to %s", s.Target.Region)
		}
		if e.crossAccount() {
			why = fmt.Sprintf("copy of the shared snapshot into account %s (%s), under %s", s.Target.Account.ID, s.Target.Region, cmp.Or(s.Target.CopyKMSKeyID(), "its default EBS key"))
		}
		a := Action{Phase: phase, Role: ownership.RoleCopy, Op: "CopySnapshot", ClaimTemplate: c.d.ClaimTemplate, SourceVolume: c.d.VolumeID,
			Detail: fmt.Sprintf("copy of the %s snapshot of %s: %s", phase, c.d.VolumeID, why)}
		if pl.tally(&a, ownership.RoleCopy, snapshotID(c.exists), toCreate) {
			calls["CopySnapshot"]++
			copiesLeft = true
			copyTimeLeft = max(copyTimeLeft, snaptime.Copy(c.d.SizeGiB, e.crossRegion()))
		}
		pm.Actions = append(pm.Actions, a)
	}
	if copiesLeft {
		pl.settleSnaps += 2
	}
	return copyTimeLeft
}

// volumes adds a member's volume (and fast snapshot restore) actions and
// returns the time of the longest left to make.
func (pl *planner) volumes(pm *PlanMember, mb Member, d *memberDecision, toCreate, calls map[string]int) time.Duration {
	var volLeft time.Duration
	for _, v := range d.vols {
		vp := v.params
		if vp.FSR && v.exists == nil {
			pl.fsrSnaps++
			if vp.SizeGiB > 1024 {
				pl.fsrLarge = append(pl.fsrLarge, fmt.Sprintf("%s %s (%d GiB)", mb.Key(), v.d.ClaimTemplate, vp.SizeGiB))
			}
			pm.Actions = append(pm.Actions, Action{Phase: spec.PhaseFinal, Role: "fast-snapshot-restore", Op: "EnableFastSnapshotRestores", ClaimTemplate: v.d.ClaimTemplate, SourceVolume: v.d.VolumeID,
				Detail: fmt.Sprintf("enable fast snapshot restore in %s until the volume exists, then disable it", vp.Zone)})
			toCreate["fast-snapshot-restore"]++
			calls["EnableFastSnapshotRestores"]++
			calls["DisableFastSnapshotRestores"]++
			volLeft = max(volLeft, time.Hour)
		}
		vp2 := vp
		a := Action{Phase: spec.PhaseFinal, Role: ownership.RoleVolume, Op: "CreateVolume", ClaimTemplate: v.d.ClaimTemplate, SourceVolume: v.d.VolumeID, Volume: &vp2,
			Detail: describeVolume(vp, spec.ClaimName(v.d.ClaimTemplate, mb.StatefulSet, mb.Ordinal))}
		switch {
		case v.refused():
			a.Exists = aws.ToString(v.exists.VolumeId)
			a.Refused = v.refusal(mb)
			pl.p.Refused++
		case pl.tally(&a, ownership.RoleVolume, volumeID(v.exists), toCreate):
			calls["CreateVolume"]++
			pl.settleVols++
			volLeft = max(volLeft, time.Minute)
		}
		if v.d.Type != vp.Type {
			a.Detail += fmt.Sprintf(" (source is %s)", v.d.Type)
		}
		pm.Actions = append(pm.Actions, a)
		if v.tag != nil && !v.refused() {
			pm.Actions = append(pm.Actions, pl.tagAction(v))
			pl.p.Retag++
			calls["CreateTags"]++
		}
	}
	return volLeft
}

// tally counts the resource of role that a is about: one an earlier run
// made (id, which a then names) or one to create, which it reports.
func (pl *planner) tally(a *Action, role, id string, toCreate map[string]int) (create bool) {
	if id != "" {
		a.Exists = id
		pl.p.Existing[role]++
		return false
	}
	toCreate[role]++
	return true
}

// snapshotID is the id of s ("": none).
func snapshotID(s *types.Snapshot) string {
	if s == nil {
		return ""
	}
	return aws.ToString(s.SnapshotId)
}

// volumeID is the id of v ("": none).
func volumeID(v *types.Volume) string {
	if v == nil {
		return ""
	}
	return aws.ToString(v.VolumeId)
}

// tagAction is the action adding the cluster tags a volume an earlier run
// made lacks (decideClusterTags).
func (pl *planner) tagAction(v volStep) Action {
	st := pl.e.m.Spec.Target.Storage()
	return Action{Phase: spec.PhaseFinal, Role: roleTag, Op: "CreateTags", ClaimTemplate: v.d.ClaimTemplate, SourceVolume: v.d.VolumeID,
		Detail: fmt.Sprintf("tag %s %s (made before spec.target.cluster asked for them; without them %s cannot attach it)", v.tag.Resources[0], spec.FormatTags(tagMap(v.tag.Tags)), strings.Join(st.Policies, " and "))}
}

// budget adds the call budget: the mutating calls of the members, the
// DryRun proofs, and the Describe calls of discovery, look-up and polling;
// and the phases' durations with the assumptions behind them.
func (pl *planner) budget(inv *Inventory) {
	e, p := pl.e, pl.p
	mutating := 0
	for _, n := range p.Calls {
		mutating += n
	}
	if pl.dryRun > 0 {
		p.Calls["DryRun"] = pl.dryRun
	}
	mutating += pl.dryRun
	members := len(inv.Members)
	// The poller's DescribeSnapshots calls per round (see poll.go).
	perRound := int(math.Ceil(float64(max(inv.volumeCount(), 1)) / snapshotIDBatch))
	p.MutatingFloor = Duration(bucketFloor(mutating, e.limits))
	precopy, final := pl.precopy, pl.final
	if final > 0 {
		final += time.Duration(p.MutatingFloor)
	}
	if pl.precopyLeft && p.Existing[ownership.RoleSnapshot] == 0 {
		// No precopy yet: if the user skips it, the final snapshot is full.
		p.Assumptions = append(p.Assumptions, "the final phase runs after the precopy phase (otherwise the final snapshot is a full one, as long as the precopy)")
	}
	p.Precopy, p.Final = Duration(precopy.Round(time.Second)), Duration(final.Round(time.Second))
	rounds := int((precopy+final)/e.opts.PollInterval) + 2
	regions := 1
	if e.crossRegion() || e.crossAccount() {
		regions = 2 // each region (or account) is polled
	}
	p.Calls["DescribeSnapshots"] = regions * (rounds*perRound + 1)
	p.Calls["DescribeVolumes"] = int(math.Ceil(float64(inv.volumeCount())/volumeIDBatch)) + int(time.Duration(p.MutatingFloor)/(2*time.Second)) + 4
	p.Calls["DescribeSnapshots"] += pl.settleSnaps
	p.Calls["DescribeVolumes"] += pl.settleVols
	p.Calls["DescribeInstances"] = 2 * max(1, int(math.Ceil(float64(members)/1000)))
	p.Calls["DescribeAvailabilityZones"] = 2
	pl.accounts(inv, rounds*perRound+1)
	p.Assumptions = append(p.Assumptions,
		"members run concurrently, so a phase lasts as long as its largest volume",
		snaptime.Summary()+" (EBS gives no guarantee: measure with the precopy phase)",
		fmt.Sprintf("EC2's mutating bucket (burst %d, %g/s) adds %s to the final phase", e.limits.MutatingBurst, e.limits.MutatingRate, time.Duration(p.MutatingFloor)),
		fmt.Sprintf("one poll round every %s, with %d DescribeSnapshots call(s) per round", e.opts.PollInterval, perRound),
	)
}

// warn adds the plan's warnings (unsorted).
func (pl *planner) warn(inv *Inventory, x *existing) {
	e, p, s := pl.e, pl.p, &pl.e.m.Spec
	if e.crossRegion() {
		p.Warnings = append(p.Warnings, fmt.Sprintf("cross-region copy: every snapshot is copied from %s to %s; the first copy is full, later ones incremental, and inter-region transfer is billed", s.Source.Region, s.Target.Region))
	} else if pl.copies && !e.crossAccount() {
		p.Warnings = append(p.Warnings, fmt.Sprintf("KMS re-encryption: spec.target.volume.kmsKeyId (%s) is not the source volumes' key (or is an alias graft cannot compare), so every snapshot is copied with it; a re-encrypting copy is a full copy", s.Target.Volume.KMSKeyID))
	}
	if pl.fsrSnaps > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("fast snapshot restore is billed per snapshot and zone for every hour it is enabled; graft enables it on %d snapshot(s) and disables each once its volume exists. EC2's default quota is 5 snapshots with FSR per region: ask for more before the final phase", pl.fsrSnaps))
		if len(pl.fsrLarge) > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("fast snapshot restore credits too few: a snapshot over 1024 GiB earns less than one volume-creation credit per hour (1024 / size), so these volumes may be created without FSR's full performance: %s; use initialization.rateMiBps instead", strings.Join(pl.fsrLarge, ", ")))
		}
	}
	if s.Target.Volume.Initialization.RateMiBps == 0 && !s.Target.Volume.Initialization.FastSnapshotRestore {
		p.Warnings = append(p.Warnings, "no initialization: the new volumes load their blocks from S3 lazily, so the first reads of each block are slow; set spec.target.volume.initialization.rateMiBps or fastSnapshotRestore")
	}
	for _, name := range slices.Sorted(maps.Keys(pl.zonesBySet)) {
		if z := pl.zonesBySet[name]; len(z) > 1 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("StatefulSet %s spans zones %s: its pods must each schedule in their volume's zone; make sure every zone has nodes, or pin the StatefulSet with zone", name, strings.Join(slices.Sorted(maps.Keys(z)), ", ")))
		}
	}
	for _, mb := range inv.Members {
		if !e.crossRegion() && mb.Zone != mb.TargetZone {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s moves from %s to %s: make sure the cluster has nodes in %s", mb.Key(), mb.Zone, mb.TargetZone, mb.TargetZone))
		}
	}
	if w := otherVolumesWarning(inv); w != "" {
		p.Warnings = append(p.Warnings, w)
	}
	for _, z := range slices.Sorted(maps.Keys(zonesOf(inv))) {
		if _, mapped := s.Target.Zones[z]; !mapped && e.crossRegion() {
			p.Warnings = append(p.Warnings, fmt.Sprintf("source zone %s has no spec.target.zones entry", z))
		}
	}
	if n := p.Existing[ownership.RoleSnapshot] + p.Existing[ownership.RoleCopy] + p.Existing[ownership.RoleVolume]; n > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%d resource(s) from an earlier run exist and will be reused (marked =)", n))
	}
	for _, d := range x.dups {
		p.Warnings = append(p.Warnings, "graft resource found twice (the oldest is used; graft cleanup lists the other): "+d)
	}
	for _, pm := range p.Members {
		for _, a := range pm.Actions {
			if a.Refused != "" {
				p.Warnings = append(p.Warnings, "clone will refuse: "+a.Refused)
			}
		}
	}
}

// otherVolumesWarning names the members with attached EBS volumes, besides
// the root, that spec.source.devices does not name (up to three, and how
// many): graft neither snapshots nor migrates them, which is right for
// scratch space and wrong for data that spans volumes (a RAID or LVM set)
// or lives in a second directory (Cassandra's commitlog, hints).
func otherVolumesWarning(inv *Inventory) string {
	var named []string
	n := 0
	for _, mb := range inv.Members {
		if len(mb.OtherVolumes) == 0 {
			continue
		}
		if n++; len(named) < 3 {
			named = append(named, fmt.Sprintf("%s: %s", mb.Key(), strings.Join(mb.OtherVolumes, ", ")))
		}
	}
	if n == 0 {
		return ""
	}
	more := ""
	if n > len(named) {
		more = fmt.Sprintf("; %d more", n-len(named))
	}
	return fmt.Sprintf("not migrated: %d member(s) have attached EBS volumes that spec.source.devices does not name (%s%s); if the application keeps data there (a RAID or LVM set, a commitlog or hints directory), name each device in spec.source.devices", n, strings.Join(named, "; "), more)
}

func zonesOf(inv *Inventory) map[string]bool {
	z := map[string]bool{}
	for _, mb := range inv.Members {
		z[mb.TargetZone] = true
	}
	return z
}

// bucketFloor is the time a token bucket needs for n calls.
func bucketFloor(n int, l Limits) time.Duration {
	if n <= l.MutatingBurst || l.MutatingRate <= 0 {
		return 0
	}
	return time.Duration(float64(n-l.MutatingBurst) / l.MutatingRate * float64(time.Second))
}

func describeVolume(p VolumeParams, claim string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d GiB in %s for PVC %s", p.Type, p.SizeGiB, p.Zone, claim)
	if p.IOPS > 0 {
		fmt.Fprintf(&b, ", %d IOPS", p.IOPS)
	}
	if p.Throughput > 0 {
		fmt.Fprintf(&b, ", %d MiB/s", p.Throughput)
	}
	if p.Encrypted {
		b.WriteString(", encrypted")
		if p.KMSKeyID != "" {
			b.WriteString(" with " + p.KMSKeyID)
		}
	}
	if p.InitRateMiBps > 0 {
		fmt.Fprintf(&b, ", initialized at %d MiB/s", p.InitRateMiBps)
	}
	return b.String()
}

// WriteJSON writes the plan as JSON.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// WriteText writes the plan for a reviewer: + to create, = already there,
// ! there but refused by clone, - not made because of a refused volume, ~
// cluster tags added to a volume already there.
func (p *Plan) WriteText(w io.Writer) error { return p.WriteTextColor(w, ansi.Palette{}) }

// WriteTextColor is WriteText with the marks, the summary and the warnings
// coloured by pal (on a terminal): + green, = cyan, ! and ~ yellow, - red.
//
// The plan names EC2's ids, zones, keys and tags and the spec's values:
// a value in a column is written as it is when safe, else quoted
// (termtext.Value), and a line that names values (a detail, an
// assumption, a warning) has every rune a terminal would act on escaped
// in place (termtext.Line), before the palette colours the marks.
func (p *Plan) WriteTextColor(w io.Writer, pal ansi.Palette) error {
	v, line := termtext.Value, termtext.Line
	fmt.Fprintf(w, "graft plan for %s (%s -> %s). Nothing has been changed.\n", v(p.Migration), v(p.SourceRegion), v(p.TargetRegion))
	if c := p.Cluster; c != nil {
		fmt.Fprintln(w, line(fmt.Sprintf("Cluster %s (%s, driver %s): new volumes are tagged %s, which satisfies %s (attach, detach, modify).", c.Name, c.StorageDriver, c.CSIDriver, spec.FormatTags(c.Tags), strings.Join(c.Policies, " and "))))
	}
	if p.Binding.Explanation != "" {
		fmt.Fprintf(w, "Binding %s\n", line(p.Binding.Explanation))
	}
	for _, pm := range p.Members {
		fmt.Fprintf(w, "\n%s  %s  %s -> %s\n", v(pm.Member), v(pm.Instance), v(pm.SourceZone), v(pm.TargetZone))
		for _, a := range pm.Actions {
			mark := pal.Green("+")
			tail := ""
			switch {
			case a.Refused != "":
				mark = pal.Yellow("!")
				tail = "  [exists: " + v(a.Exists) + ", clone refuses it: see the warnings]"
			case a.Exists != "":
				mark = pal.Cyan("=")
				tail = "  [exists: " + v(a.Exists) + "]"
			case a.Stopped:
				mark = pal.Red("-")
				tail = "  [not made: clone stops this member at its refused volume]"
			case a.Role == roleTag:
				mark = pal.Yellow("~")
			}
			fmt.Fprintf(w, "  %s %-7s %-21s %-11s %s%s\n", mark, v(a.Phase), v(a.Role), v(a.ClaimTemplate), line(a.Detail), tail)
		}
	}
	fmt.Fprintf(w, "\n%s %d snapshot(s), %d copy(ies), %d volume(s) to create; %d resource(s) already exist.\n", pal.Bold("Plan:"),
		p.ToCreate[ownership.RoleSnapshot], p.ToCreate[ownership.RoleCopy], p.ToCreate[ownership.RoleVolume], p.Existing[ownership.RoleSnapshot]+p.Existing[ownership.RoleCopy]+p.Existing[ownership.RoleVolume])
	if p.Refused > 0 {
		fmt.Fprintf(w, "%s %d existing volume(s) do not match the spec (marked !); clone stops those members.\n", pal.Yellow("Refused:"), p.Refused)
	}
	if p.Retag > 0 {
		fmt.Fprintf(w, "%s %d existing volume(s) lack the cluster tags (marked ~); clone adds them with CreateTags, changing no other tag.\n", pal.Yellow("Tag:"), p.Retag)
	}
	fmt.Fprintf(w, "API calls (budget): %s\n", FormatCounts(p.Calls))
	p.writeAccounts(w)
	fmt.Fprintf(w, "Expected time: precopy phase ~%s, final phase ~%s (mutating-bucket floor %s)\n", time.Duration(p.Precopy), time.Duration(p.Final), time.Duration(p.MutatingFloor))
	for _, a := range p.Assumptions {
		fmt.Fprintf(w, "  assuming %s\n", line(a))
	}
	if len(p.Warnings) > 0 {
		fmt.Fprintln(w, "\n"+pal.Yellow("Warnings:"))
		for _, warn := range p.Warnings {
			fmt.Fprintf(w, "  %s %s\n", pal.Yellow("!"), line(warn))
		}
	}
	return nil
}
