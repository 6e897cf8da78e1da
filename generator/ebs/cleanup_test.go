package ebs_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/ownership"
)

// TestSimCleanupMultiTemplateNamedAttached: with two claim templates a
// member, a duplicate that lost to the recorded volume of its template is
// deleted, one of a template the record holds none of is kept, and a
// volume named for deletion (--volume) that is attached between the plan
// and the deletion is kept: the simulator's audit log shows no mutating
// call on it, on a recorded volume or on a source volume.
func TestSimCleanupMultiTemplateNamedAttached(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 2, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	rec := e.cloneAndRecord(t, ctx, 4)
	second := rec.Volumes[1] // the member's other claim template
	if second.StatefulSet != rec.Volumes[0].StatefulSet || second.Ordinal != rec.Volumes[0].Ordinal || second.ClaimTemplate == rec.Volumes[0].ClaimTemplate {
		t.Fatalf("record order: %+v", rec.Volumes[:2])
	}
	loser := createVolume(t, e.sim, volumeTagsOf(t, e.sim, second.TargetVolume))
	named := createVolume(t, e.sim, volumeTagsOf(t, e.sim, second.TargetVolume))
	otherTags := volumeTagsOf(t, e.sim, second.TargetVolume)
	otherTags[ownership.TagClaimTemplate] = "scratch"
	unaccounted := createVolume(t, e.sim, otherTags)
	if err := e.sim.Clock().Sleep(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	eng := e.engine()
	cp, err := eng.PlanCleanup(ctx, rec, named)
	if err != nil {
		t.Fatal(err)
	}
	vols := volumesDeleted(cp)
	slices.Sort(vols)
	if want := []string{loser, named}; !slices.Equal(vols, sortedCopy(want)) {
		t.Fatalf("deletes volumes %v, want %v", vols, sortedCopy(want))
	}
	if r := keepReason(cp, unaccounted); !strings.Contains(r, "graft.lock records no volume of its member") || !strings.Contains(r, "claim template scratch") {
		t.Errorf("the volume of an unrecorded template is kept with %q", r)
	}
	inst := e.sim.Instances()[0]
	if err := e.sim.Attach(named, aws.ToString(inst.InstanceId), "/dev/xvdy"); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetAudit()
	deleted, err := eng.Cleanup(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(deleted, named) || !slices.Contains(deleted, loser) {
		t.Errorf("deleted %v: want %s, not the named volume attached since the plan %s", deleted, loser, named)
	}
	if r := keepReason(cp, named); !strings.Contains(r, "changed since the plan: it is attached") {
		t.Errorf("the named volume attached since the plan is kept with %q", r)
	}
	protected := []string{named, unaccounted}
	for _, v := range rec.Volumes {
		protected = append(protected, v.TargetVolume, v.SourceVolume)
	}
	for _, c := range e.sim.MutatingCallsOn(protected...) {
		t.Errorf("mutating call on a kept, recorded or source volume: %s %v", c.Op, c.Writes)
	}
	deletes := 0
	for _, c := range e.sim.Calls() {
		if c.Op == ec2sim.OpDeleteVolume && c.Mutated {
			deletes++
		}
	}
	if deletes != 1 {
		t.Errorf("%d volumes deleted, want 1 (%s)", deletes, loser)
	}
}
