package ebs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// TestHostileTagInDiscoverProblems: a tag value as EC2 returns it (here
// the sort key of spec.mapping.sort, shared by two instances) cannot add
// a line to discover's list of problems or reach the terminal raw.
func TestHostileTagInDiscoverProblems(t *testing.T) {
	e := newSimWith(t, simCase{Nodes: 0, ExtraSpec: func(y string) string {
		y = strings.Replace(y, "    tagRegex: {tag: Name, pattern: '^cassandra-(?P<ordinal>[0-9]+)$'}", "    sort: {by: 'tag:rack'}", 1)
		return strings.Replace(y, "replicas: 0", "replicas: 3", 1)
	}}, func(sim *ec2sim.Sim) string {
		for i, rack := range []string{termtexttest.Hostile, termtexttest.Hostile, "c"} {
			zone := sim.Zones()[0]
			id, err := sim.AddInstance(ec2sim.InstanceSpec{Zone: zone, Tags: map[string]string{"app": "cassandra", "Name": fmt.Sprintf("cassandra-%d", i), "rack": rack}})
			if err != nil {
				t.Fatal(err)
			}
			vol, err := sim.AddVolume(ec2sim.VolumeSpec{Zone: zone, SizeGiB: 200, Type: types.VolumeTypeGp3})
			if err == nil {
				err = sim.Attach(vol, id, "/dev/xvdf")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return ""
	})
	_, err := e.engine().Discover(context.Background())
	var derr *ebs.DiscoveryError
	if !errors.As(err, &derr) || len(derr.Problems) == 0 {
		t.Fatalf("want a DiscoveryError for the tie, got %v", err)
	}
	if !strings.Contains(err.Error(), ebs.ProblemAmbiguousMapping) {
		t.Errorf("the tie is not reported: %v", err)
	}
	termtexttest.Check(t, "discover's problems", err.Error()+"\n", 1+len(derr.Problems))
}

// TestHostileEC2ValuesInInventoryAndPlanText: a KMS key id as EC2 returns
// it for the source volumes reaches discover's table and the plan's
// details; it adds no row or line there (the same plan with a plain key
// has as many lines) and no raw control byte.
func TestHostileEC2ValuesInInventoryAndPlanText(t *testing.T) {
	outputs := func(key string) (inv, plan string) {
		e := newSimWith(t, simCase{Nodes: 3}, func(*ec2sim.Sim) string { return key })
		eng := e.engine()
		in, err := eng.Discover(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		p, err := eng.Plan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		var ib, pb bytes.Buffer
		if err := in.WriteText(&ib); err != nil {
			t.Fatal(err)
		}
		if err := p.WriteText(&pb); err != nil {
			t.Fatal(err)
		}
		return ib.String(), pb.String()
	}
	plainInv, plainPlan := outputs(simKey)
	inv, plan := outputs(simKey + termtexttest.Hostile)
	if !strings.Contains(plainPlan, simKey) {
		t.Fatalf("the plan does not name the key, so it tests nothing:\n%s", plainPlan)
	}
	termtexttest.Check(t, "discover's table", inv, strings.Count(plainInv, "\n"))
	termtexttest.Check(t, "the plan", plan, strings.Count(plainPlan, "\n"))
}

// TestHostileTagsInCleanupText: graft's tags on a snapshot are written by
// whoever may tag it; the member, role and phase cleanup lists from them
// add no row and reach the terminal escaped.
func TestHostileTagsInCleanupText(t *testing.T) {
	e := newSim(t, simCase{Nodes: 1})
	for _, phase := range []string{"precopy", termtexttest.Hostile} {
		if _, err := e.sim.AddSnapshot(e.cl.Nodes[0].DataVolumes["/dev/xvdf"], map[string]string{
			ownership.TagMigration: e.m.Metadata.Name, ownership.TagRole: ownership.RoleSnapshot,
			ownership.TagMember: termtexttest.Hostile, ownership.TagPhase: phase,
		}); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := e.engine().PlanCleanup(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Delete) != 2 {
		t.Fatalf("want the two snapshots listed, got %+v", cp.Delete)
	}
	var b bytes.Buffer
	if err := cp.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	// The heading, the columns' names, two rows and two notes.
	termtexttest.Check(t, "cleanup's plan", b.String(), 2+2+len(cp.Notes))
}

// TestHostileHookErrorInMembersFailed: a member's error ends in what its
// hook or EC2 said; clone's list of stopped members stays one line a
// member.
func TestHostileHookErrorInMembersFailed(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2})
	ctx := context.Background()
	if _, err := e.clone(ctx, "precopy"); err != nil {
		t.Fatal(err)
	}
	failing := func(context.Context, []string) ([]byte, error) {
		return []byte(termtexttest.Hostile), errors.New(termtexttest.Hostile)
	}
	_, err := cloneRecorded(ctx, e.engine(), e.m, "final", e.lock, failing)
	if !errors.Is(err, ebs.ErrMembersFailed) {
		t.Fatalf("want ErrMembersFailed, got %v", err)
	}
	termtexttest.Check(t, "the stopped members", err.Error()+"\n", 1+2)
}

// TestHostileZoneNameInError: a zone name as EC2 answers it is quoted in
// the error that refuses it: one line, no raw control byte.
func TestHostileZoneNameInError(t *testing.T) {
	sim := ec2sim.New(ec2sim.Options{IdleWindow: time.Millisecond, Zones: []string{"us-east-1a", termtexttest.Hostile}})
	m := (&simEnv{t: t}).spec(simCase{Nodes: 1})
	_, err := ebs.New(m, ebs.Options{Source: sim, Clock: sim.Clock(), Log: testLogger(t), Progress: nopProgress{}}).Discover(context.Background())
	if !errors.Is(err, ebs.ErrInput) || !strings.Contains(err.Error(), "of another region") {
		t.Fatalf("want the zone refused, got %v", err)
	}
	termtexttest.Check(t, "the zone error", err.Error()+"\n", 1)
}
