package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/graftctl/graft/testdata/e2e/harness"
)

// splitMembers is the size of the split migration, and splitRoots its
// storage roots: graft's render.ShardMembers is 25, so 25, 25, 25, 25 and
// 20 members, and the workload root.
const (
	splitMembers = 120
	splitRoots   = 5
)

// TestSplitOverlay (issue 13): a 120-member migration that graft renders as
// a workload root and five storage roots passes graft check as one
// overlay, and applied root by root in Flux's order (every storage
// Kustomization, wait: true on its claims, then the workload's, which
// depends on them) binds every claim to its PV and schedules every pod in
// its volume's zone; graft verify then passes.
func TestSplitOverlay(t *testing.T) {
	specPath, lock := splitMigration(t)
	if code, stdout, stderr := runGraft(t, 120*time.Second, nil, "render", "--spec", specPath); code != 0 {
		t.Fatalf("graft render: exit %d\n%s%s", code, stdout, stderr)
	}
	overlay := filepath.Join(filepath.Dir(specPath), "overlays", "cassandra-split")
	storage, _ := filepath.Glob(filepath.Join(overlay, "storage-*"))
	if len(storage) != splitRoots {
		t.Fatalf("storage roots %v, want %d (at most 25 members each)", storage, splitRoots)
	}
	if code, out := graftCheck(t, overlay, lock); code != 0 {
		t.Fatalf("graft check of the split overlay: exit %d\n%s", code, out)
	}
	var all []*unstructured.Unstructured
	var namespaces []string
	for _, root := range storage {
		objs := kustomizeRoot(t, root)
		for _, u := range objs {
			if u.GetKind() != "PersistentVolume" && u.GetKind() != "PersistentVolumeClaim" {
				t.Fatalf("storage root %s holds a %s", root, u.GetKind())
			}
		}
		all = append(all, objs...)
	}
	b, err := parseBuilt(all)
	if err != nil {
		t.Fatal(err)
	}
	namespaces = b.namespaces
	registerReset(t, namespaces)
	ensureNamespaces(t, namespaces)
	start := time.Now()
	// Flux: the storage Kustomizations first, each Ready once its claims
	// are Bound (wait: true, health checks on its PVCs).
	for _, root := range storage {
		objs := kustomizeRoot(t, root)
		mustApply(t, objs)
		waitClaimsBound(t, objs)
	}
	t.Logf("storage roots applied and Bound in %s", time.Since(start).Round(time.Millisecond))
	// Then the workload's, which dependsOn all of them.
	workload := kustomizeRoot(t, overlay)
	mustApply(t, workload)
	full, err := parseBuilt(append(all, workload...))
	if err != nil {
		t.Fatal(err)
	}
	if len(full.pvcs) != splitMembers || len(full.pvs) != splitMembers || len(full.stss) != 1 {
		t.Fatalf("%d PVCs, %d PVs, %d StatefulSets; want %d, %d, 1", len(full.pvcs), len(full.pvs), len(full.stss), splitMembers, splitMembers)
	}
	assertLanded(t, full)
	t.Logf("landed in %s", time.Since(start).Round(time.Millisecond))
	assertVerified(t, overlay, lock)
	t.Logf("split overlay: %d members in %d storage roots and the workload root landed and verified in %s", splitMembers, len(storage), time.Since(start).Round(time.Millisecond))
}

// kustomizeRoot builds one root with kubectl kustomize, as Argo CD builds
// each source and Flux each Kustomization.
func kustomizeRoot(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := harness.Kustomize(ctxFor(t, 60*time.Second), dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// splitMigration writes a spec and a record of splitMembers members of one
// StatefulSet in the three zones of us-east-1 (the example base, its
// replicas patched by graft), and returns their paths.
func splitMigration(t *testing.T) (specPath, lock string) {
	t.Helper()
	root := t.TempDir()
	copyTree(t, filepath.Join(repoRoot, "testdata", "bases", "cassandra-single"), filepath.Join(root, "base"))
	// 120 pods of the example's size (2 CPUs, 8Gi) fill more nodes than the
	// harness registers in a zone: this base's pods request a tenth.
	stsFile := filepath.Join(root, "base", "statefulset.yaml")
	data, err := os.ReadFile(stsFile)
	if err != nil {
		t.Fatal(err)
	}
	small := strings.Replace(strings.Replace(string(data), `cpu: "2"`, `cpu: 100m`, 1), "memory: 8Gi", "memory: 512Mi", 1)
	if small == string(data) {
		t.Fatal("the base's requests changed: update splitMigration")
	}
	if err := os.WriteFile(stsFile, []byte(small), 0o644); err != nil {
		t.Fatal(err)
	}
	// The 3-node example's spec, grown to splitMembers members in a
	// namespace of its own, rendered beside this base.
	example, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "examples", "cassandra-3node", "graft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	spec := string(example)
	for _, r := range [][2]string{
		{"name: cassandra-3node\n", "name: cassandra-split\n"},
		{"namespace: cassandra\n", "namespace: cassandra-split\n"},
		{"replicas: 3\n", fmt.Sprintf("replicas: %d\n", splitMembers)},
		{"base: ../../testdata/bases/cassandra-single\n", "base: ../../base\n"},
		{"overlayPath: overlays/cassandra-3node\n", "overlayPath: overlays/cassandra-split\n"},
	} {
		if !strings.Contains(spec, r[0]) {
			t.Fatalf("the example spec has no %q: update splitMigration", r[0])
		}
		spec = strings.Replace(spec, r[0], r[1], 1)
	}
	var rec strings.Builder
	rec.WriteString("apiVersion: graft.graftctl.io/v1alpha1\nkind: Lock\nmigration: cassandra-split\nsourceRegion: us-east-1\ntargetRegion: us-east-1\nvolumes:\n")
	for o := range splitMembers {
		zone := "us-east-1" + string(rune('a'+o%3))
		fmt.Fprintf(&rec, `  - statefulSet: cassandra
    ordinal: %d
    claimTemplate: data
    sourceInstance: i-%017x
    sourceDevice: /dev/xvdf
    sourceVolume: vol-%017x
    sourceZone: %s
    snapshots:
      final: snap-%017x
    targetVolume: vol-%017x
    targetZone: %s
    sizeGiB: 500
    volumeType: gp3
    encrypted: false
    fsType: ext4
`, o, 0x1000+o, 0x2000+o, zone, 0x3000+o, 0x4000+o, zone)
	}
	specPath, lock = filepath.Join(root, "graft.yaml"), filepath.Join(root, "graft.lock")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lock, []byte(rec.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return specPath, lock
}
