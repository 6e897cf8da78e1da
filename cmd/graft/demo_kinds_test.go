package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/testkit"
)

// TestDemoKinds runs `graft demo --kind` for every workload kind: the whole
// pipeline offline, into a branch whose overlay holds the kind's shape
// (the operator's resource patched, or only claims), whose record says
// the kind, and which passes the gate.
func TestDemoKinds(t *testing.T) {
	for _, c := range []struct {
		kind, migration string
		files           []string // in the overlay, besides the PVs and PVCs
		claim           string   // one claim graft renders
	}{
		{spec.WorkloadCassOperator, "cass-operator-demo", []string{"cassandradatacenter-dc1.patch.yaml"}, "server-data-democluster-dc1-r2-sts-0"},
		{spec.WorkloadECK, "eck-demo", []string{"elasticsearch-demo.patch.yaml"}, "elasticsearch-data-demo-es-zone-c-0"},
		{spec.WorkloadClaimsOnly, "claims-only-demo", nil, "data-cassandra-2"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			work, _, _ := demoOK(t, "--kind", c.kind)
			branch := "graft/" + c.migration
			out, err := exec.Command("git", "-C", filepath.Join(work, "gitops.git"), "ls-tree", "-r", "--name-only", branch).CombinedOutput()
			if err != nil {
				t.Fatalf("branch %s: %v %s", branch, err, out)
			}
			overlay := "overlays/" + c.migration + "/"
			for _, f := range append([]string{"kustomization.yaml", "persistentvolumes.yaml", "persistentvolumeclaims.yaml", "graft.lock"}, c.files...) {
				if !strings.Contains(string(out), overlay+f+"\n") {
					t.Errorf("branch lacks %s%s; it holds:\n%s", overlay, f, out)
				}
			}
			if strings.Contains(string(out), overlay+"statefulset-") {
				t.Errorf("a %s overlay patches a StatefulSet:\n%s", c.kind, out)
			}
			rec, err := record.Load(filepath.Join(work, "gitops", overlay, "graft.lock"))
			if err != nil {
				t.Fatal(err)
			}
			if rec.Workload == nil || rec.Workload.Kind != c.kind {
				t.Errorf("the record's workload is %+v, want kind %s", rec.Workload, c.kind)
			}
			pvcs, err := os.ReadFile(filepath.Join(work, "gitops", overlay, "persistentvolumeclaims.yaml"))
			if err != nil || !strings.Contains(string(pvcs), "name: "+c.claim+"\n") {
				t.Errorf("the overlay lacks claim %s (%v)", c.claim, err)
			}
		})
	}
	if code, _, stderr := graft(t, "demo", "--kind", "helm", "--workdir", t.TempDir()); code != exitError || !strings.Contains(stderr, `--kind "helm": expected one of statefulset, cass-operator, eck, claims-only`) {
		t.Errorf("demo --kind helm: exit %d, want %d naming the flag\n%s", code, exitError, stderr)
	}
}

// TestRenderRecordsWorkload: graft render records the workload it
// rendered, as it does the binding: a record without one (as graft clone
// before workload kinds wrote it) gains it.
func TestRenderRecordsWorkload(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "examples", "eck-logging")
	data, err := os.ReadFile(filepath.Join(src, "graft.yaml"))
	must(t, err)
	data = []byte(strings.Replace(string(data), "../../testdata/bases/eck-logging", "../../base", 1))
	specPath := filepath.Join(root, "graft.yaml")
	must(t, os.WriteFile(specPath, data, 0o644))
	lock, err := os.ReadFile(filepath.Join(src, "graft.lock"))
	must(t, err)
	text := string(lock)
	start, end := strings.Index(text, "workload:\n"), strings.Index(text, "volumes:\n")
	if start < 0 || end < start {
		t.Fatal("the example record has no workload")
	}
	lockPath := filepath.Join(root, "graft.lock")
	must(t, os.WriteFile(lockPath, []byte(text[:start]+text[end:]), 0o644))
	testkit.CopyDir(t, filepath.Join("..", "..", "testdata", "bases", "eck-logging"), filepath.Join(root, "base"))
	code, _, stderr := graft(t, "render", "--spec", specPath)
	if code != exitOK {
		t.Fatalf("render: exit %d\n%s", code, stderr)
	}
	rec, err := record.Load(lockPath)
	must(t, err)
	if rec.Workload == nil || rec.Workload.Kind != spec.WorkloadECK || len(rec.Workload.Groups) != 2 || rec.Workload.Groups[1].StatefulSet != "logging-es-warm" {
		t.Fatalf("recorded workload %+v", rec.Workload)
	}
	got, err := os.ReadFile(lockPath)
	must(t, err)
	if string(got) != string(lock) {
		t.Errorf("the recorded record differs from the example's (what graft writes):\n%s", got)
	}
}

// TestPlanShowsDerivedStatefulSets: for an operator workload graft plan
// says, before the plan, the StatefulSets graft derived and where their
// members go; -o json stays the plan alone. The spec is the cass-operator
// demo's.
func TestPlanShowsDerivedStatefulSets(t *testing.T) {
	s := newCLISim(t)
	must(t, os.WriteFile(s.spec, []byte(demoKinds[spec.WorkloadCassOperator].spec), 0o644))
	code, stdout, stderr := graft(t, "plan", "--spec", s.spec)
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		`Workload cass-operator CassandraDatacenter dc1 (cluster "Demo Cluster")`,
		"rack r2: StatefulSet democluster-dc1-r2-sts, 1 member(s) in us-east-1b, claims server-data-democluster-dc1-r2-sts-<ordinal>",
		"democluster-dc1-r3-sts",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = graft(t, "plan", "--spec", s.spec, "-o", "json")
	if code != exitOK || strings.Contains(stdout, "Workload") || !strings.HasPrefix(strings.TrimSpace(stdout), "{") {
		t.Errorf("plan -o json: exit %d\n%s", code, stdout)
	}
	s.nothingCreated(t)
}
