package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/record"
)

// cliBase is a base StatefulSet with the two claim templates of cliSpec.
const cliBase = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: cassandra
spec:
  serviceName: cassandra
  replicas: 3
  selector: {matchLabels: {app: cassandra}}
  template:
    metadata: {labels: {app: cassandra}}
    spec: {containers: [{name: cassandra, image: cassandra:4.1, volumeMounts: [{name: data, mountPath: /var/lib/cassandra}, {name: commitlog, mountPath: /var/lib/cassandra/commitlog}]}]}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 100Gi}}}
    - metadata: {name: commitlog}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 20Gi}}}
`

func writeCLIBase(t *testing.T, specPath string) {
	t.Helper()
	base := filepath.Join(filepath.Dir(specPath), "base")
	must(t, os.MkdirAll(base, 0o755))
	must(t, os.WriteFile(filepath.Join(base, "statefulset.yaml"), []byte(cliBase), 0o644))
	must(t, os.WriteFile(filepath.Join(base, "kustomization.yaml"), []byte("resources: [statefulset.yaml]\n"), 0o644))
}

// TestRunStopsAndResumes: graft run against the simulator dies right after
// its fifth create; it names the stage and what to do, and the next run
// finishes without a duplicate or a leak, renders and checks the overlay.
func TestRunStopsAndResumes(t *testing.T) {
	s := newCLISim(t)
	writeCLIBase(t, s.spec)
	east := s.sims["us-east-1"]
	east.CrashAfter(5)
	code, _, stderr := graft(t, "run", "--spec", s.spec, "--yes")
	if code != exitError || !strings.Contains(stderr, "clone (precopy) failed") || !strings.Contains(stderr, "run graft run again") {
		t.Fatalf("crashed run: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.spec), "graft.lock")); !os.IsNotExist(err) {
		t.Errorf("a run that stopped in the precopy phase wrote graft.lock (%v)", err)
	}
	east.Revive()
	code, stdout, stderr := graft(t, "run", "--spec", s.spec, "--yes")
	if code != exitOK {
		t.Fatalf("resumed run: exit %d\n%s", code, stderr)
	}
	overlay := filepath.Join(filepath.Dir(s.spec), "overlays", "cli")
	if !strings.Contains(stdout, "overlay:      "+overlay) {
		t.Errorf("run output %q does not name the overlay %s", stdout, overlay)
	}
	rec, err := record.Load(filepath.Join(filepath.Dir(s.spec), "graft.lock"))
	must(t, err)
	var recorded []string
	for _, v := range rec.Volumes {
		recorded = append(recorded, v.TargetVolume)
	}
	if len(recorded) != 6 {
		t.Errorf("graft.lock holds %d volumes, want 6 (3 members x 2 templates)", len(recorded))
	}
	for region, sim := range s.sims {
		if d := sim.Duplicates(ownership.TagMember, ownership.TagRole, ownership.TagPhase, ownership.TagClaimTemplate, ownership.TagSourceVolume); len(d) > 0 {
			t.Errorf("%s: duplicates after the resumed run: %v", region, d)
		}
		// Snapshots and copies stay until graft cleanup; every volume must
		// be in the record.
		for _, id := range sim.Leaked(recorded...) {
			if strings.HasPrefix(id, "vol-") {
				t.Errorf("%s: volume %s is not in graft.lock", region, id)
			}
		}
	}
	if code, out, errOut := graft(t, "check", overlay, "--spec", s.spec); code != exitOK {
		t.Errorf("graft check on run's overlay: exit %d\n%s\n%s", code, out, errOut)
	}
	// A third run finds everything done and creates nothing.
	before := east.Stats().Mutations
	if code, _, stderr := graft(t, "run", "--spec", s.spec, "--yes"); code != exitOK {
		t.Fatalf("third run: exit %d\n%s", code, stderr)
	}
	if after := east.Stats().Mutations; after != before {
		t.Errorf("a run over finished work made %d mutating calls", after-before)
	}
}

// TestRunPublishes: with a repository, run ends with a pushed branch.
func TestRunPublishes(t *testing.T) {
	s := newCLISim(t)
	dir := filepath.Dir(s.spec)
	repo := filepath.Join(dir, "gitops.git")
	must(t, seedDemoRepo(t.Context(), dir, repo))
	// The demo base holds a StatefulSet cassandra with template data only;
	// give the spec one device to match.
	replaceIn(t, s.spec, "      - {name: /dev/xvdg, claimTemplate: commitlog}\n", "")
	replaceIn(t, s.spec, "  gitops: {base: ../../base}\n", "  gitops: {base: ../../base/cassandra, repo: "+repo+"}\n")
	code, stdout, stderr := graft(t, "run", "--spec", s.spec, "--yes")
	if code != exitOK || !strings.Contains(stdout, "branch:       graft/cli (pushed)") {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestRunDeniedIsAFinding: when the policies deny the overlay (here the pod
// template pins a zone the volumes are not in), run exits 1, as check and
// publish do, and says which stage found it and what to do.
func TestRunDeniedIsAFinding(t *testing.T) {
	s := newCLISim(t)
	writeCLIBase(t, s.spec)
	pinned := strings.Replace(cliBase, "    spec: {containers: [",
		"    spec: {nodeSelector: {topology.kubernetes.io/zone: us-east-1z}, containers: [", 1)
	if pinned == cliBase {
		t.Fatal("the base was not pinned")
	}
	must(t, os.WriteFile(filepath.Join(filepath.Dir(s.spec), "base", "statefulset.yaml"), []byte(pinned), 0o644))
	code, _, stderr := graft(t, "run", "--spec", s.spec, "--yes")
	if code != exitFinding || !strings.Contains(stderr, "check failed: 6 denied") || !strings.Contains(stderr, "Run graft check") {
		t.Fatalf("run over a denied overlay: exit %d\n%s", code, stderr)
	}
}
