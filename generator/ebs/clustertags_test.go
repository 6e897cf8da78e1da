package ebs_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/spec"
)

// clusterTagsOf is what spec.target.cluster prod asks of a volume for the
// driver.
var clusterTagsOf = map[string]map[string]string{
	spec.StorageDriverEBSCSI:   {spec.TagEBSCSICluster: "true", spec.TagEBSCSIClusterName: "prod"},
	spec.StorageDriverAutoMode: {spec.TagEKSClusterName: "prod"},
}

// withClusterNamed is withCluster with another cluster name.
func withClusterNamed(name, driver string) func(string) string {
	return func(y string) string {
		return strings.Replace(withCluster(driver)(y), "cluster: {name: prod,", "cluster: {name: "+name+",", 1)
	}
}

// tagsOfVolumes returns the tags of the simulator's volumes by id.
func tagsOfVolumes(t *testing.T, ctx context.Context, sim *ec2sim.Sim, ids []string) map[string]map[string]string {
	t.Helper()
	out, err := sim.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: ids})
	if err != nil || len(out.Volumes) != len(ids) {
		t.Fatalf("describe %v: %d volumes, %v", ids, len(out.Volumes), err)
	}
	m := map[string]map[string]string{}
	for _, v := range out.Volumes {
		m[aws.ToString(v.VolumeId)] = tagMap(v.Tags)
	}
	return m
}

// sourceTags are the tags of every source volume (data and other).
func (e *simEnv) sourceTags(t *testing.T, ctx context.Context) map[string]map[string]string {
	t.Helper()
	var ids []string
	for _, id := range e.cl.SourceIDs() {
		if strings.HasPrefix(id, "vol-") {
			ids = append(ids, id)
		}
	}
	return tagsOfVolumes(t, ctx, e.sim, ids)
}

// realCalls counts the calls of op since the last ResetAudit that
// changed EC2 (no DryRun, no error).
func realCalls(sim *ec2sim.Sim, op string) (n int, on []string) {
	for _, c := range sim.Calls() {
		if c.Op == op && c.Mutated && !c.DryRun {
			n++
			on = append(on, c.Writes...)
		}
	}
	return n, on
}

// earlierRun clones both phases with the spec ExtraSpec makes (an earlier
// run, before spec.target.cluster was set or with another cluster), then
// switches the environment to spec.target.cluster prod with driver.
// It returns the record's target volumes.
func earlierRun(t *testing.T, e *simEnv, ctx context.Context, driver string) []string {
	t.Helper()
	rec := e.cloneAndRecord(t, ctx, e.c.Nodes*max(e.c.Devices, 1))
	var ids []string
	for _, v := range rec.Volumes {
		ids = append(ids, v.TargetVolume)
	}
	c := e.c
	c.ExtraSpec = withCluster(driver)
	e.m = e.spec(c)
	return ids
}

// TestSimReusedVolumeGetsClusterTags: a volume graft made before
// spec.target.cluster was set lacks the tags the driver's IAM policy
// needs; plan lists the CreateTags call (~) and counts it, clone adds the
// missing tags (only those) to graft's volumes, records them, makes no new
// volume and tags no source volume, and a re-run tags nothing.
func TestSimReusedVolumeGetsClusterTags(t *testing.T) {
	for _, driver := range spec.StorageDrivers {
		t.Run(driver, func(t *testing.T) {
			e := newSim(t, simCase{Nodes: 2, NoHook: true})
			ctx := ctxT(t, 30*time.Second)
			ids := earlierRun(t, e, ctx, driver)
			want := clusterTagsOf[driver]
			srcBefore := e.sourceTags(t, ctx)
			// One volume already carries one of the tags (someone tagged
			// it by hand): only the other is added.
			partial := ids[0]
			if driver == spec.StorageDriverEBSCSI {
				tags := tagsOfVolumes(t, ctx, e.sim, ids)[partial]
				tags[spec.TagEBSCSICluster] = "true"
				if err := e.sim.SetTags(partial, tags); err != nil {
					t.Fatal(err)
				}
			}

			p := e.discoverAndPlan(t, ctx)
			var text strings.Builder
			if err := p.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if p.Retag != 2 || p.Calls["CreateTags"] != 2 || p.ToCreate[ownership.RoleVolume] != 0 || p.Refused != 0 {
				t.Errorf("plan: retag %d, CreateTags %d, volumes to create %d, refused %d; want 2, 2, 0, 0\n%s", p.Retag, p.Calls["CreateTags"], p.ToCreate[ownership.RoleVolume], p.Refused, text.String())
			}
			for _, id := range ids {
				add := maps.Clone(want)
				if id == partial && driver == spec.StorageDriverEBSCSI {
					delete(add, spec.TagEBSCSICluster)
				}
				line := fmt.Sprintf("  ~ final   tag                   data        tag %s %s (", id, spec.FormatTags(add))
				if !strings.Contains(text.String(), line) {
					t.Errorf("plan lacks %q:\n%s", line, text.String())
				}
			}
			if !strings.Contains(text.String(), "Tag: 2 existing volume(s) lack the cluster tags (marked ~)") {
				t.Errorf("plan does not sum up the tagging:\n%s", text.String())
			}

			e.sim.ResetAudit()
			res, err := e.clone(ctx, spec.PhaseFinal)
			if err != nil {
				t.Fatal(err)
			}
			if res.Created[ownership.RoleVolume] != 0 {
				t.Errorf("clone created volumes %v, want the earlier run's reused", res.Created)
			}
			n, on := realCalls(e.sim, ec2sim.OpCreateTags)
			if n != 2 || !sameSet(on, ids) {
				t.Errorf("CreateTags %d calls on %v, want one on each of %v", n, on, ids)
			}
			if dry := e.sim.Count(ec2sim.OpCreateTags) - n; dry != 1 {
				t.Errorf("%d other CreateTags calls, want the one DryRun proof", dry)
			}
			for id, tags := range tagsOfVolumes(t, ctx, e.sim, ids) {
				for k, v := range want {
					if tags[k] != v {
						t.Errorf("volume %s: tag %s=%q, want %q", id, k, tags[k], v)
					}
				}
				if tags[ownership.TagMigration] != "sim" || tags["team"] != "data" {
					t.Errorf("volume %s lost graft's or the spec's tags: %v", id, tags)
				}
			}
			rec := loadRecord(t, e.lock)
			for _, v := range rec.Volumes {
				if !maps.Equal(v.ClusterTags, want) || v.CSIDriver != e.m.Spec.Target.Storage().CSIDriver {
					t.Errorf("record %s: clusterTags %v csiDriver %q, want %v %q", v.ClaimName(), v.ClusterTags, v.CSIDriver, want, e.m.Spec.Target.Storage().CSIDriver)
				}
			}
			if srcAfter := e.sourceTags(t, ctx); fmt.Sprint(srcAfter) != fmt.Sprint(srcBefore) {
				t.Errorf("source volumes' tags changed:\n%v\n->\n%v", srcBefore, srcAfter)
			}
			e.assertEndState(false)

			// A re-run finds every tag in place: no CreateTags, no change.
			e.sim.ResetAudit()
			before := e.sim.Stats().Mutations
			if _, err := e.clone(ctx, spec.PhaseFinal); err != nil {
				t.Fatal(err)
			}
			if n := e.sim.Count(ec2sim.OpCreateTags); n != 0 || e.sim.Stats().Mutations != before {
				t.Errorf("re-run: %d CreateTags calls, mutations %d -> %d", n, before, e.sim.Stats().Mutations)
			}
			if p := e.discoverAndPlan(t, ctx); p.Retag != 0 || p.Calls["CreateTags"] != 0 {
				t.Errorf("plan after tagging: retag %d, CreateTags %d", p.Retag, p.Calls["CreateTags"])
			}
		})
	}
}

func sameSet(a, b []string) bool {
	return fmt.Sprint(sortedCopy(a)) == fmt.Sprint(sortedCopy(b))
}

// TestSimVolumeOfAnotherClusterRefused: a volume graft made whose cluster
// tags name another cluster (or carry another value) is not re-pointed:
// plan marks it refused, clone stops its member before making anything,
// names the tag, the value found and the one expected, and changes no tag.
func TestSimVolumeOfAnotherClusterRefused(t *testing.T) {
	cases := []struct {
		name, driver string
		// earlier is the earlier run's spec; retag edits one volume's tags
		// instead (nil: none).
		earlier func(string) string
		retag   func(map[string]string)
		want    string
	}{
		{name: "ebs-csi blue to prod", driver: spec.StorageDriverEBSCSI, earlier: withClusterNamed("blue", spec.StorageDriverEBSCSI),
			want: `tags["ebs.csi.aws.com/cluster-name"]: found "blue", expected "prod"`},
		{name: "auto mode blue to ebs-csi prod", driver: spec.StorageDriverEBSCSI, earlier: withClusterNamed("blue", spec.StorageDriverAutoMode),
			want: `tags["eks:eks-cluster-name"]: found "blue", expected "prod" or no such tag`},
		{name: "auto mode blue to prod", driver: spec.StorageDriverAutoMode, earlier: withClusterNamed("blue", spec.StorageDriverAutoMode),
			want: `tags["eks:eks-cluster-name"]: found "blue", expected "prod"`},
		{name: "KubernetesCluster tag", driver: spec.StorageDriverAutoMode, retag: func(m map[string]string) { m["KubernetesCluster"] = "blue" },
			want: `tags["KubernetesCluster"]: found "blue", expected "prod" or no such tag`},
		{name: "driver's cluster-id tag", driver: spec.StorageDriverEBSCSI, retag: func(m map[string]string) { m["kubernetes.io/cluster/blue"] = "owned" },
			want: `tags["kubernetes.io/cluster/blue"]: found, expected no such tag (it names cluster "blue", not "prod")`},
		{name: "cluster=false", driver: spec.StorageDriverEBSCSI, retag: func(m map[string]string) { m[spec.TagEBSCSICluster] = "false" },
			want: `tags["ebs.csi.aws.com/cluster"]: found "false", expected "true"`},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			e := newSim(t, simCase{Nodes: 2, NoHook: true, ExtraSpec: tc.earlier})
			ctx := ctxT(t, 30*time.Second)
			ids := earlierRun(t, e, ctx, tc.driver)
			refused := ids[:2]
			if tc.retag != nil {
				refused = ids[:1]
				tags := tagsOfVolumes(t, ctx, e.sim, refused)[refused[0]]
				tc.retag(tags)
				if err := e.sim.SetTags(refused[0], tags); err != nil {
					t.Fatal(err)
				}
			}
			before := tagsOfVolumes(t, ctx, e.sim, ids)

			p := e.discoverAndPlan(t, ctx)
			var text strings.Builder
			_ = p.WriteText(&text)
			if p.Refused != len(refused) || !strings.Contains(text.String(), "  ! final   volume") || !strings.Contains(text.String(), tc.want) {
				t.Errorf("plan refuses %d volumes, want %d, with %q:\n%s", p.Refused, len(refused), tc.want, text.String())
			}
			for _, pm := range p.Members {
				for _, a := range pm.Actions {
					if a.Refused != "" && !strings.Contains(a.Refused, "moving a volume between clusters is your decision") {
						t.Errorf("refusal does not say what to do: %s", a.Refused)
					}
				}
			}

			e.sim.ResetAudit()
			res, err := e.clone(ctx, spec.PhaseFinal)
			if !errors.Is(err, ebs.ErrMembersFailed) {
				t.Fatalf("clone: %v, want %v", err, ebs.ErrMembersFailed)
			}
			if len(res.Failed()) != len(refused) {
				t.Errorf("clone stopped %d members, want %d: %v", len(res.Failed()), len(refused), err)
			}
			for _, want := range []string{tc.want, "spec.target.cluster (name prod, storageDriver " + tc.driver + ")"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("clone's error lacks %q:\n%v", want, err)
				}
			}
			for _, id := range refused {
				if !strings.Contains(err.Error(), id) {
					t.Errorf("clone's error does not name the volume %s:\n%v", id, err)
				}
			}
			n, on := realCalls(e.sim, ec2sim.OpCreateTags)
			if n != len(ids)-len(refused) {
				t.Errorf("CreateTags %d calls on %v, want %d", n, on, len(ids)-len(refused))
			}
			for _, id := range on {
				if contains(refused, id) {
					t.Errorf("CreateTags on the refused volume %s", id)
				}
			}
			after := tagsOfVolumes(t, ctx, e.sim, ids)
			for _, id := range refused {
				if !maps.Equal(before[id], after[id]) {
					t.Errorf("refused volume %s: tags changed %v -> %v", id, before[id], after[id])
				}
			}
		})
	}
}

// TestSimCrashAtCreateTagsResumes: the run dies right after a CreateTags
// reached EC2; the next run adds only what is still missing, and the end
// state has one volume per member and claim template, each tagged.
func TestSimCrashAtCreateTagsResumes(t *testing.T) {
	e := newSim(t, simCase{Nodes: 3, Devices: 2, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	ids := earlierRun(t, e, ctx, spec.StorageDriverEBSCSI)
	want := clusterTagsOf[spec.StorageDriverEBSCSI]
	e.sim.CrashWhen(func(c ec2sim.Call) bool { return c.Op == ec2sim.OpCreateTags && !c.DryRun })
	if _, err := e.clone(ctx, spec.PhaseFinal); err == nil || !e.sim.Crashed() {
		t.Fatalf("the crash at CreateTags did not fire (err %v)", err)
	}
	e.sim.Revive()
	lacking := 0
	for _, tags := range tagsOfVolumes(t, ctx, e.sim, ids) {
		if tags[spec.TagEBSCSIClusterName] == "" {
			lacking++
		}
	}
	if lacking != len(ids)-1 {
		t.Fatalf("%d volumes lack the tags after the crash, want all but the one tagged", lacking)
	}
	e.sim.ResetAudit()
	if _, err := e.clone(ctx, spec.PhaseFinal); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if n, _ := realCalls(e.sim, ec2sim.OpCreateTags); n != lacking {
		t.Errorf("resume made %d CreateTags calls, want %d (the volumes still lacking tags)", n, lacking)
	}
	if n, _ := realCalls(e.sim, ec2sim.OpCreateVolume); n != 0 {
		t.Errorf("resume created %d volumes", n)
	}
	if d := e.sim.Duplicates(ownership.TagMember, ownership.TagClaimTemplate, ownership.TagRole, ownership.TagPhase); len(d) > 0 {
		t.Errorf("duplicates: %v", d)
	}
	for id, tags := range tagsOfVolumes(t, ctx, e.sim, ids) {
		for k, v := range want {
			if tags[k] != v {
				t.Errorf("volume %s: tag %s=%q, want %q", id, k, tags[k], v)
			}
		}
	}
	rec := loadRecord(t, e.lock)
	for _, v := range rec.Volumes {
		if !maps.Equal(v.ClusterTags, want) {
			t.Errorf("record %s: clusterTags %v, want %v", v.ClaimName(), v.ClusterTags, want)
		}
	}
	e.assertEndState(false)
}

// TestSimSourceVolumeWithGraftTagsRefused: a source volume that carries
// graft's tags of a member is never reused nor tagged: plan and clone
// refuse it, and no mutating call (DryRun included) names it.
func TestSimSourceVolumeWithGraftTagsRefused(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	earlierRun(t, e, ctx, spec.StorageDriverEBSCSI)
	src := e.cl.Nodes[0].DataVolumes["/dev/xvdf"]
	tags := tagsOfVolumes(t, ctx, e.sim, []string{src})[src]
	maps.Copy(tags, map[string]string{ownership.TagMigration: "sim", ownership.TagRole: ownership.RoleVolume, ownership.TagMember: "cassandra/0", ownership.TagClaimTemplate: "data"})
	if err := e.sim.SetTags(src, tags); err != nil {
		t.Fatal(err)
	}
	p := e.discoverAndPlan(t, ctx)
	var text strings.Builder
	_ = p.WriteText(&text)
	if p.Refused != 1 || !strings.Contains(text.String(), "volume "+src+" carries graft's tags of this member but is a source volume") {
		t.Errorf("plan does not refuse the source volume %s:\n%s", src, text.String())
	}
	e.sim.ResetAudit()
	_, err := e.clone(ctx, spec.PhaseFinal)
	if !errors.Is(err, ebs.ErrMembersFailed) || !strings.Contains(err.Error(), "is a source volume") {
		t.Fatalf("clone: %v", err)
	}
	if after := tagsOfVolumes(t, ctx, e.sim, []string{src})[src]; !maps.Equal(after, tags) {
		t.Errorf("source volume %s: tags %v -> %v", src, tags, after)
	}
	// newSim's cleanup checks that no mutating call named a source volume.
}
