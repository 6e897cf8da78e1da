package ebs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// TestSimPlanMatchesClone runs plan and then clone over the same EC2
// states and compares what plan said with what clone did (the simulator's
// audit log): the calls per operation, the members it refuses, and the
// existing resources it reuses. Plan and clone share one decision, so
// they cannot disagree.
func TestSimPlanMatchesClone(t *testing.T) {
	const otherKey = "arn:aws:kms:us-east-1:123456789012:key/ffffffff-12ab-34cd-56ef-1234567890ab"
	c := simCase{Nodes: 2, Devices: 2, KMSKey: simKey, NoHook: true, Snapshot: 2 * time.Minute}
	precopy := func(t *testing.T, e *simEnv, ctx context.Context) {
		if _, err := e.clone(ctx, spec.PhasePrecopy); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(t *testing.T, e *simEnv, ctx context.Context) {
		if err := e.cloneAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// snapOf finds graft's snapshot of a role and phase of a source volume.
	snapOf := func(t *testing.T, e *simEnv, role, phase, vol string) string {
		for _, s := range e.sim.Snapshots() {
			tags := tagMap(s.Tags)
			src := aws.ToString(s.VolumeId)
			if role == ebs.RoleCopy {
				src = tags[ebs.TagSourceVolume]
			}
			if tags[ebs.TagRole] == role && tags[ebs.TagPhase] == phase && src == vol {
				return aws.ToString(s.SnapshotId)
			}
		}
		t.Fatalf("no %s %s of %s", role, phase, vol)
		return ""
	}
	cases := []struct {
		name   string
		setup  func(t *testing.T, e *simEnv, ctx context.Context)
		drift  func(m *spec.Migration)
		phase  string
		refuse int // members clone refuses
	}{
		{name: "fresh precopy", phase: spec.PhasePrecopy},
		{name: "fresh final", phase: spec.PhaseFinal},
		{name: "partial", setup: precopy, phase: spec.PhaseFinal},
		{name: "complete", setup: complete, phase: spec.PhaseFinal},
		{name: "drift throughput", setup: complete, phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Volume.Throughput = 300 }},
		{name: "drift iops", setup: complete, phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Volume.IOPS = 5000 }},
		{name: "drift type", setup: complete, phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Volume.Type = "io2"; m.Spec.Target.Volume.Throughput = 0 }},
		{name: "drift kms key", setup: complete, phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Volume.KMSKeyID = otherKey }},
		{name: "drift with a missing final snapshot", phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Volume.Throughput = 300 }, setup: func(t *testing.T, e *simEnv, ctx context.Context) {
			complete(t, e, ctx)
			for _, dev := range []string{"/dev/xvdf", "/dev/xvdg"} {
				for _, role := range []string{ebs.RoleSnapshot, ebs.RoleCopy} {
					id := snapOf(t, e, role, spec.PhaseFinal, e.cl.Nodes[0].DataVolumes[dev])
					if _, err := e.sim.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}},
		{name: "snapshot in error", phase: spec.PhasePrecopy, setup: func(t *testing.T, e *simEnv, ctx context.Context) {
			precopy(t, e, ctx)
			id := snapOf(t, e, ebs.RoleSnapshot, spec.PhasePrecopy, e.cl.Nodes[0].DataVolumes["/dev/xvdg"])
			if err := e.sim.SetSnapshotState(id, types.SnapshotStateError, "internal error"); err != nil {
				t.Fatal(err)
			}
			// Its copy goes too: a copy of a failed snapshot is made again.
			cp := snapOf(t, e, ebs.RoleCopy, spec.PhasePrecopy, e.cl.Nodes[0].DataVolumes["/dev/xvdg"])
			if _, err := e.sim.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(cp)}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "missing copy", phase: spec.PhasePrecopy, setup: func(t *testing.T, e *simEnv, ctx context.Context) {
			precopy(t, e, ctx)
			cp := snapOf(t, e, ebs.RoleCopy, spec.PhasePrecopy, e.cl.Nodes[1].DataVolumes["/dev/xvdf"])
			if _, err := e.sim.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(cp)}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "missing final copy", setup: func(t *testing.T, e *simEnv, ctx context.Context) {
			complete(t, e, ctx)
			rec, _ := record.Load(e.lock)
			// The record's volume goes too, so that the copy is needed again.
			for _, v := range rec.Volumes[:1] {
				if _, err := e.sim.DeleteVolume(ctx, deleteVolumeInput(v.TargetVolume)); err != nil {
					t.Fatal(err)
				}
				if _, err := e.sim.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(v.CopiedSnapshot)}); err != nil {
					t.Fatal(err)
				}
			}
		}, phase: spec.PhaseFinal},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			e := newSim(t, c)
			ctx := ctxT(t, 60*time.Second)
			if tc.setup != nil {
				tc.setup(t, e, ctx)
			}
			if tc.drift != nil {
				tc.drift(e.m)
			}
			eng := e.engine()
			inv, err := eng.Discover(ctx)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := eng.Plan(ctx, inv)
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			_ = plan.WriteText(&text)

			// What plan says the phase does.
			want := map[string]int{}
			refused := map[string]bool{}
			reused := map[string]string{} // member + template -> volume
			for _, pm := range plan.Members {
				multi := false
				for _, a := range pm.Actions {
					if a.Refused != "" {
						refused[pm.Member] = true
					}
				}
				for _, a := range pm.Actions {
					if a.Phase != tc.phase {
						continue
					}
					switch {
					case a.Role == ebs.RoleVolume && a.Exists != "":
						reused[pm.Member+" "+a.ClaimTemplate] = a.Exists
					case a.Exists != "", a.Stopped:
					case a.Role == ebs.RoleSnapshot && a.Op == "CreateSnapshots":
						multi = true
					default:
						want[a.Op]++
					}
				}
				if multi {
					want["CreateSnapshots"]++
				}
			}
			if len(refused) != tc.refuse {
				t.Errorf("plan refuses %d members, want %d:\n%s", len(refused), tc.refuse, text.String())
			}
			if strings.Contains(tc.name, "missing final snapshot") && (!strings.Contains(text.String(), "  - final   snapshot") || plan.ToCreate[ebs.RoleSnapshot] != 0) {
				t.Errorf("plan does not show the snapshots clone will not make with -:\n%s", text.String())
			}
			if tc.refuse > 0 && (plan.Refused != 2*tc.refuse || !strings.Contains(text.String(), "  ! final   volume")) {
				t.Errorf("plan does not show the refused volumes with !:\n%s", text.String())
			}

			e.sim.ResetAudit()
			res, err := e.clone(ctx, tc.phase)
			got := map[string]int{}
			for _, call := range e.sim.Calls() {
				if call.Mutated && !call.DryRun && call.Op != ec2sim.OpDeleteSnapshot {
					got[call.Op]++
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("clone made %v, plan said %v\n%s", got, want, text.String())
			}
			failed := map[string]bool{}
			if res != nil {
				for _, f := range res.Failed() {
					failed[f.Member] = true
				}
			}
			if fmt.Sprint(failed) != fmt.Sprint(refused) {
				t.Errorf("clone stopped %v (err %v), plan refused %v", failed, err, refused)
			}
			if tc.refuse == 0 && err != nil {
				t.Fatal(err)
			}
			if tc.refuse > 0 && !errors.Is(err, ebs.ErrMembersFailed) {
				t.Fatalf("err = %v", err)
			}
			if tc.phase == spec.PhaseFinal && tc.refuse == 0 {
				rec, err := record.Load(e.lock)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range rec.Volumes {
					k := fmt.Sprintf("%s/%d %s", v.StatefulSet, v.Ordinal, v.ClaimTemplate)
					if id, ok := reused[k]; ok && id != v.TargetVolume {
						t.Errorf("%s: plan reuses %s, clone recorded %s", k, id, v.TargetVolume)
					}
				}
			}
		})
	}
}

// TestSimPlanTimeFromWhatIsLeft: the plan's expected durations come from
// what is left to do: both phases on a fresh migration, only the final
// one after the precopy, none once everything exists (a second graft run
// once printed "precopy ~22m" with nothing to do).
func TestSimPlanTimeFromWhatIsLeft(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 2, NoHook: true, Snapshot: 2 * time.Minute})
	ctx := ctxT(t, 30*time.Second)
	plan := func() *ebs.Plan {
		t.Helper()
		eng := e.engine()
		inv, err := eng.Discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p, err := eng.Plan(ctx, inv)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := plan(); p.Precopy == 0 || p.Final == 0 {
		t.Errorf("fresh: precopy %v, final %v; want both > 0", time.Duration(p.Precopy), time.Duration(p.Final))
	}
	if _, err := e.clone(ctx, spec.PhasePrecopy); err != nil {
		t.Fatal(err)
	}
	if p := plan(); p.Precopy != 0 || p.Final == 0 {
		t.Errorf("after precopy: precopy %v, final %v; want 0 and > 0", time.Duration(p.Precopy), time.Duration(p.Final))
	}
	if _, err := e.clone(ctx, spec.PhaseFinal); err != nil {
		t.Fatal(err)
	}
	p := plan()
	var text strings.Builder
	_ = p.WriteText(&text)
	if p.Precopy != 0 || p.Final != 0 || !strings.Contains(text.String(), "precopy phase ~0s, final phase ~0s") {
		t.Errorf("nothing left: precopy %v, final %v\n%s", time.Duration(p.Precopy), time.Duration(p.Final), text.String())
	}
}

// recorder keeps the CopySnapshot and CreateVolume inputs an EC2 gets.
type recorder struct {
	ebs.EC2
	mu     sync.Mutex
	copies []ec2.CopySnapshotInput
	vols   []ec2.CreateVolumeInput
}

func (r *recorder) CopySnapshot(ctx context.Context, in *ec2.CopySnapshotInput, opt ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error) {
	r.mu.Lock()
	r.copies = append(r.copies, *in)
	r.mu.Unlock()
	return r.EC2.CopySnapshot(ctx, in, opt...)
}

func (r *recorder) CreateVolume(ctx context.Context, in *ec2.CreateVolumeInput, opt ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error) {
	r.mu.Lock()
	r.vols = append(r.vols, *in)
	r.mu.Unlock()
	return r.EC2.CreateVolume(ctx, in, opt...)
}

// TestSimDryRunProvesTheCallsCloneMakes: every DryRun proof carries the
// input of a call clone then makes (the dry run once proved CopySnapshot
// with Encrypted: true while the real copy of an unencrypted volume went
// without it).
func TestSimDryRunProvesTheCallsCloneMakes(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true, Unencrypted: true, ExtraSpec: func(y string) string {
		return strings.Replace(y, "  target:\n", "  target:\n    region: us-west-2\n    zones: {us-east-1a: us-west-2a, us-east-1b: us-west-2b, us-east-1c: us-west-2c}\n", 1)
	}})
	rec := &recorder{EC2: e.sim.NewRegion("us-west-2")}
	ctx := ctxT(t, 30*time.Second)
	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		if _, err := e.clone(ctx, phase, func(o *ebs.Options) { o.Target = rec }); err != nil {
			t.Fatal(err)
		}
	}
	copyKey := func(in ec2.CopySnapshotInput) string {
		return fmt.Sprintf("encrypted=%v key=%q from %s", aws.ToBool(in.Encrypted), aws.ToString(in.KmsKeyId), aws.ToString(in.SourceRegion))
	}
	volKey := func(in ec2.CreateVolumeInput) string {
		return fmt.Sprintf("%s %s iops=%d tput=%d encrypted=%v key=%q", aws.ToString(in.AvailabilityZone), in.VolumeType, aws.ToInt32(in.Iops), aws.ToInt32(in.Throughput), aws.ToBool(in.Encrypted), aws.ToString(in.KmsKeyId))
	}
	real := map[string]bool{}
	dry := 0
	for _, in := range rec.copies {
		if !aws.ToBool(in.DryRun) {
			real[copyKey(in)] = true
		}
	}
	for _, in := range rec.copies {
		if aws.ToBool(in.DryRun) {
			dry++
			if !real[copyKey(in)] {
				t.Errorf("DryRun CopySnapshot %s; clone's copies: %v", copyKey(in), real)
			}
		}
	}
	real = map[string]bool{}
	for _, in := range rec.vols {
		if !aws.ToBool(in.DryRun) {
			real[volKey(in)] = true
		}
	}
	for _, in := range rec.vols {
		if aws.ToBool(in.DryRun) {
			dry++
			if !real[volKey(in)] {
				t.Errorf("DryRun CreateVolume %s; clone's volumes: %v", volKey(in), real)
			}
		}
	}
	if dry < 2 {
		t.Errorf("only %d DryRun proofs of CopySnapshot and CreateVolume", dry)
	}
}
