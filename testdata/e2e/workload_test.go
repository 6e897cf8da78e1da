package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/testdata/e2e/harness"
)

// Issue 15: operator- and chart-managed StatefulSets. The operators cannot
// run here (no kubelet, no images), so each test creates the StatefulSets
// exactly as the operator would name and shape them — by graft's
// internal/opsim (the opsim command TestMain builds: this module cannot
// import graft's packages), the one transliteration of the operators' code,
// tied to the operators' own test values by TestWorkloadNamingOracle —
// after graft's PVs and PVCs are in place, and shows that the StatefulSet
// controller adopts graft's claims (no claim is created, none is
// replaced), that they bind, and that every pod is scheduled in its rack's
// or nodeSet's zone.

// exampleFiles is what the test reads of an overlay's example: the
// record's workload, and the spec's base and namespace.
type exampleFiles struct {
	Workload *struct {
		Kind   string `json:"kind"`
		Groups []struct {
			Name        string `json:"name"`
			StatefulSet string `json:"statefulSet"`
			Zone        string `json:"zone"`
		} `json:"groups"`
	} `json:"workload"`
	Spec struct {
		Target struct {
			Namespace string `json:"namespace"`
		} `json:"target"`
		GitOps struct {
			Base string `json:"base"`
		} `json:"gitops"`
	} `json:"spec"`
}

// readExample reads the example of an overlay directory: its record and
// spec, merged (the record has workload, the spec has spec). ok is false
// when the overlay has no example.
func readExample(dir string) (exampleFiles, bool) {
	var ex exampleFiles
	src := filepath.Join(repoRoot, "testdata", "examples", filepath.Base(dir))
	lock, err := os.ReadFile(filepath.Join(src, "graft.lock"))
	if err != nil {
		return ex, false
	}
	spec, err := os.ReadFile(filepath.Join(src, "graft.yaml"))
	if err != nil {
		return ex, false
	}
	if yaml.Unmarshal(lock, &ex) != nil || yaml.Unmarshal(spec, &ex) != nil {
		return ex, false
	}
	return ex, true
}

// isWorkloadOverlay reports whether the overlay at dir is of an operator
// or chart workload (its example's record says a kind): TestWorkloadKinds
// lands those, TestExampleOverlays the others.
func isWorkloadOverlay(dir string) bool {
	ex, ok := readExample(dir)
	return ok && ex.Workload != nil
}

// workloadOverlayDirs are the example overlays of the workload kinds.
func workloadOverlayDirs() []string {
	matches, _ := filepath.Glob(filepath.Join(repoRoot, "overlays", "*", "kustomization.yaml"))
	var dirs []string
	for _, m := range matches {
		if isWorkloadOverlay(filepath.Dir(m)) {
			dirs = append(dirs, filepath.Dir(m))
		}
	}
	sort.Strings(dirs)
	return dirs
}

// TestWorkloadKinds: for every example overlay of kind cass-operator, eck
// and claims-only.
func TestWorkloadKinds(t *testing.T) {
	dirs := workloadOverlayDirs()
	kinds := map[string]bool{}
	for _, dir := range dirs {
		ex, _ := readExample(dir)
		kinds[ex.Workload.Kind] = true
		t.Run(filepath.Base(dir), func(t *testing.T) { landWorkload(t, dir, ex) })
	}
	for _, k := range []string{"cass-operator", "eck", "claims-only"} {
		if !kinds[k] {
			t.Errorf("no example overlay of workload kind %s in %s/overlays", k, repoRoot)
		}
	}
}

func landWorkload(t *testing.T, dir string, ex exampleFiles) {
	start := time.Now()
	if code, out := graftCheck(t, dir, lockFor(t, dir)); code != 0 {
		t.Errorf("graft check %s: exit %d, want 0\n%s", dir, code, out)
	}
	objs, err := harness.Kustomize(ctxFor(t, 60*time.Second), dir)
	if err != nil {
		t.Fatal(err)
	}
	ns := ex.Spec.Target.Namespace
	// What graft applies (its storage), and the operator's resource.
	var storage []*unstructured.Unstructured
	var resource *unstructured.Unstructured
	for _, u := range objs {
		switch u.GetKind() {
		case "PersistentVolume", "PersistentVolumeClaim", "StorageClass":
			storage = append(storage, u)
		case "CassandraDatacenter", "Elasticsearch":
			if resource != nil {
				t.Fatalf("the overlay holds two resources: %s and %s", harness.Ref(resource), harness.Ref(u))
			}
			resource = u
		default:
			t.Fatalf("a %s overlay holds %s; expected graft's storage and (cass-operator, eck) the operator's resource", ex.Workload.Kind, harness.Ref(u))
		}
	}
	var stss []*appsv1.StatefulSet
	switch ex.Workload.Kind {
	case "cass-operator":
		if resource == nil || resource.GetKind() != "CassandraDatacenter" {
			t.Fatalf("a cass-operator overlay without its CassandraDatacenter")
		}
		stss = operatorStatefulSets(t, resource.Object)
	case "eck":
		if resource == nil || resource.GetKind() != "Elasticsearch" {
			t.Fatalf("an eck overlay without its Elasticsearch")
		}
		stss = operatorStatefulSets(t, resource.Object)
	case "claims-only":
		if resource != nil {
			t.Fatalf("a claims-only overlay holds %s", harness.Ref(resource))
		}
		stss = chartStatefulSets(t, dir, ex)
	default:
		t.Fatalf("unknown workload kind %q", ex.Workload.Kind)
	}
	// The operator's names are the record's: graft named the claims so.
	var names, recorded []string
	for _, s := range stss {
		s.Namespace = ns
		names = append(names, s.Name)
	}
	for _, g := range ex.Workload.Groups {
		recorded = append(recorded, g.StatefulSet)
	}
	if !slices.Equal(names, recorded) {
		t.Fatalf("the operator would create StatefulSets %v, graft recorded %v", names, recorded)
	}

	b, err := parseBuilt(storage)
	if err != nil {
		t.Fatal(err)
	}
	b.stss = stss
	if !slices.Contains(b.namespaces, ns) {
		b.namespaces = append(b.namespaces, ns)
	}
	// 1. graft's PVs and PVCs first, as the cut-over applies them, and
	//    every claim Bound before any StatefulSet exists.
	if errs := deploy(t, b); len(errs) > 0 {
		t.Fatalf("server-side apply failed:\n%s", harness.JoinApplyErrors(errs))
	}
	c := cluster.Client
	uids := map[string]types.UID{}
	eventually(t, 90*time.Second, "graft's claims bound before the StatefulSets exist", func(ctx context.Context) (string, error) {
		for key, want := range b.pvcs {
			pvc, err := c.CoreV1().PersistentVolumeClaims(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Sprintf("PVC %s: %v", key, err), nil
			}
			if pvc.Status.Phase != corev1.ClaimBound {
				return fmt.Sprintf("PVC %s is %s", key, pvc.Status.Phase), nil
			}
			uids[key] = pvc.UID
		}
		return "", nil
	})
	// 2. The StatefulSets, as the operator creates them.
	ctx := ctxFor(t, 60*time.Second)
	for _, s := range stss {
		if _, err := c.AppsV1().StatefulSets(s.Namespace).Create(ctx, s, metav1.CreateOptions{FieldManager: "operator"}); err != nil {
			t.Fatalf("creating StatefulSet %s as the operator would: %v", s.Name, err)
		}
	}
	// 3. Bound, every ordinal on graft's claim, scheduled in its PV's zone,
	//    nothing else provisioned or claimed.
	assertLanded(t, b)
	// 4. Adopted, not replaced: the claims are the ones graft applied.
	for key, uid := range uids {
		pvc, err := c.CoreV1().PersistentVolumeClaims(b.pvcs[key].Namespace).Get(ctx, b.pvcs[key].Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pvc.UID != uid {
			t.Errorf("PVC %s was replaced (uid %s, graft's was %s)", key, pvc.UID, uid)
		}
	}
	// 5. Each rack's or nodeSet's pods run in its zone (the operator's
	//    affinity, from graft's patch of its resource).
	for _, g := range ex.Workload.Groups {
		if g.Zone == "" {
			continue // claims-only: each member where its volume is (3.)
		}
		s := stss[slices.Index(recorded, g.StatefulSet)]
		for _, o := range ordinals(s) {
			pod, err := c.CoreV1().Pods(s.Namespace).Get(ctx, podName(s.Name, o), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			node, err := c.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if z := node.Labels[harness.ZoneLabel]; z != g.Zone {
				t.Errorf("pod %s of %s %s is in zone %s, want %s", pod.Name, ex.Workload.Kind, g.Name, z, g.Zone)
			}
			if zone := requiredZoneOf(pod.Spec.Affinity); zone != g.Zone {
				t.Errorf("pod %s requires zone %q of its node, want %q (the rack's or nodeSet's)", pod.Name, zone, g.Zone)
			}
		}
	}
	t.Logf("%s overlay %s: %d PVs, %d PVCs adopted by %d StatefulSets in %s",
		ex.Workload.Kind, filepath.Base(dir), len(b.pvs), len(b.pvcs), len(stss), time.Since(start).Round(time.Millisecond))
}

// requiredZoneOf is the one zone a pod's required node affinity names
// (every term), "" otherwise.
func requiredZoneOf(a *corev1.Affinity) string {
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	zone := ""
	for i, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		z := ""
		for _, e := range term.MatchExpressions {
			if e.Key == harness.ZoneLabel && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
				z = e.Values[0]
			}
		}
		if z == "" || (i > 0 && z != zone) {
			return ""
		}
		zone = z
	}
	return zone
}

// operatorStatefulSets are the StatefulSets cass-operator and ECK would
// create for the resources objs (CassandraDatacenters, Elasticsearch):
// opsim's, without a namespace of their own where the resource has none.
func operatorStatefulSets(t *testing.T, objs ...map[string]any) []*appsv1.StatefulSet {
	t.Helper()
	if opsimBin == "" {
		t.Fatalf("opsim could not be built: %v", opsimErr)
	}
	var stream bytes.Buffer
	enc := json.NewEncoder(&stream) // a JSON stream, one object a line
	for _, o := range objs {
		if err := enc.Encode(o); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(ctxFor(t, 30*time.Second), opsimBin)
	cmd.Stdin = &stream
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("opsim: %v\n%s", err, errOut.String())
	}
	var sets []*appsv1.StatefulSet
	if err := json.Unmarshal(out, &sets); err != nil {
		t.Fatalf("opsim's output: %v\n%s", err, out)
	}
	return sets
}

// chartStatefulSets are the StatefulSets of the chart's rendered manifests,
// the claims-only example's base (which graft reads and does not deploy),
// in the release namespace.
func chartStatefulSets(t *testing.T, dir string, ex exampleFiles) []*appsv1.StatefulSet {
	t.Helper()
	if ex.Spec.GitOps.Base == "" {
		t.Fatalf("the claims-only example %s has no base to take the chart's StatefulSet from", filepath.Base(dir))
	}
	objs, err := harness.Kustomize(ctxFor(t, 60*time.Second), filepath.Join(dir, filepath.FromSlash(ex.Spec.GitOps.Base)))
	if err != nil {
		t.Fatal(err)
	}
	var out []*appsv1.StatefulSet
	for _, u := range objs {
		if u.GetKind() != "StatefulSet" {
			continue
		}
		s, err := typed[appsv1.StatefulSet](u)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		t.Fatalf("the chart base of %s holds no StatefulSet", filepath.Base(dir))
	}
	return out
}

// TestWorkloadNamingOracle: the StatefulSets the tests above create are
// named and sized with the values cass-operator's own tests give
// (pkg/reconciliation/construct_statefulset and cassandradatacenter_types
// tests: CleanupForKubernetes of the cluster, CleanupSubdomain of the
// rack, SplitRacks), so that a StatefulSet the test creates is named as
// the operator would.
func TestWorkloadNamingOracle(t *testing.T) {
	racks := []any{map[string]any{"name": "Rack_1"}, map[string]any{"name": "r2"}, map[string]any{"name": "r3"}}
	for cluster, want := range map[string]string{"Test_Cluster": "test-cluster", "Prod Cluster": "prodcluster", "cluster1": "cluster1"} {
		dc := map[string]any{
			"apiVersion": "cassandra.datastax.com/v1beta1",
			"kind":       "CassandraDatacenter",
			"metadata":   map[string]any{"name": "dc1"},
			"spec": map[string]any{"clusterName": cluster, "size": 7, "racks": racks,
				"storageConfig": map[string]any{"cassandraDataVolumeClaimSpec": map[string]any{}}},
		}
		var got []string
		for _, s := range operatorStatefulSets(t, dc) {
			got = append(got, fmt.Sprintf("%s x%d (%s)", s.Name, *s.Spec.Replicas, s.Spec.ServiceName))
		}
		service := want + "-dc1-all-pods-service"
		wantSets := []string{want + "-dc1-rack-1-sts x3 (" + service + ")", want + "-dc1-r2-sts x2 (" + service + ")", want + "-dc1-r3-sts x2 (" + service + ")"}
		if !slices.Equal(got, wantSets) {
			t.Errorf("cluster %q, racks Rack_1, r2, r3, size 7: StatefulSets %v, want %v", cluster, got, wantSets)
		}
	}
}
