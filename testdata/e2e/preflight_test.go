package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/graftctl/graft/testdata/e2e/harness"
)

// preflightReport is graft preflight's JSON document (README: "graft
// preflight").
type preflightReport struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Passed     bool   `json:"passed"`
	Cluster    struct {
		Server  string `json:"server"`
		Context string `json:"context"`
	} `json:"cluster"`
	Summary struct {
		Passed int `json:"passed"`
		Failed int `json:"failed"`
	} `json:"summary"`
	Checks []struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Object  string `json:"object"`
		Message string `json:"message"`
		Fix     string `json:"fix"`
	} `json:"checks"`
}

// failed lists the failed checks as "id object: message (fix)".
func (r *preflightReport) failed() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == "fail" {
			out = append(out, c.ID+" "+c.Object+": "+c.Message+" (fix: "+c.Fix+")")
		}
	}
	return out
}

// graftPreflight runs `graft preflight DIR --lock LOCK -o json` against the
// harness's cluster (its admin kubeconfig) and returns the exit code and
// the report.
func graftPreflight(t *testing.T, dir, lock string) (int, *preflightReport) {
	t.Helper()
	code, stdout, stderr := runGraft(t, 60*time.Second, nil, "preflight", dir, "--lock", lock, "--kubeconfig", cluster.Kubeconfig, "-o", "json")
	if code == 2 {
		t.Fatalf("graft preflight: exit 2 (an error)\n%s", stderr)
	}
	var rep preflightReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("graft preflight -o json: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	if rep.Kind != "PreflightReport" || rep.Cluster.Server != cluster.APIServer {
		t.Fatalf("report %s for server %q, want PreflightReport for %s", rep.Kind, rep.Cluster.Server, cluster.APIServer)
	}
	return code, &rep
}

// wantPreflightFailure requires exit 1 and exactly one failed check, of id
// (with a fix), whose message holds every one of want; it logs the
// finding.
func wantPreflightFailure(t *testing.T, dir, lock, id string, want ...string) {
	t.Helper()
	code, rep := graftPreflight(t, dir, lock)
	f := rep.failed()
	if code != 1 || rep.Passed || len(f) != 1 || !strings.HasPrefix(f[0], id+" ") {
		t.Fatalf("graft preflight: exit %d, failed %q; want exit 1 and one %s failure", code, f, id)
	}
	for _, w := range want {
		if !strings.Contains(f[0], w) {
			t.Errorf("the %s finding does not say %q: %s", id, w, f[0])
		}
	}
	t.Logf("graft preflight (exit 1): %s", f[0])
}

// TestPreflight proves graft preflight (issue 14, part 1) on the real
// control plane: it passes on a prepared cluster, and fails, naming the
// cause and the fix, with no node in one zone (cordoned, or none at all),
// a claim of the overlay's name bound elsewhere or pre-bound to another
// volume, the CSIDriver missing, the namespace missing, a PV of another
// name on one of the overlay's volumes, a different StorageClass of the
// declared class's name, and an existing StatefulSet (the runbook's
// --cascade=orphan command). It leaves the cluster as it found it: nodes
// uncordoned, the CSIDriver restored, everything it created removed.
func TestPreflight(t *testing.T) {
	src := negativeSource(t)
	b := mustBuild(t, src)
	lock := lockFor(t, src)
	m := b.firstMember(t)
	ns := m.sts.Namespace
	registerReset(t, b.namespaces)
	c := cluster.Client

	t.Run("namespace missing", func(t *testing.T) {
		ctx := ctxFor(t, 60*time.Second)
		// resetCluster of an earlier scenario does not wait for its
		// namespaces to go.
		err := harness.Poll(ctx, 200*time.Millisecond, func() (bool, error) {
			_, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Fatalf("namespace %s still there: %v", ns, err)
		}
		wantPreflightFailure(t, src, lock, "namespace", "namespace "+ns+" does not exist", "kubectl create namespace "+ns)
	})

	ensureNamespaces(t, b.namespaces)

	t.Run("prepared cluster passes", func(t *testing.T) {
		code, rep := graftPreflight(t, src, lock)
		if code != 0 || !rep.Passed || rep.Summary.Failed != 0 {
			t.Fatalf("exit %d, failed %q", code, rep.failed())
		}
		ids := map[string]int{}
		for _, c := range rep.Checks {
			ids[c.ID]++
		}
		for _, id := range []string{"zone-nodes", "csi-driver", "namespace", "pv-name", "pvc-name", "statefulset", "volume-handle"} {
			if ids[id] == 0 {
				t.Errorf("no %s check in the report: %v", id, ids)
			}
		}
		t.Logf("graft preflight passed %d checks (%v)", rep.Summary.Passed, ids)
	})

	t.Run("zone cordoned", func(t *testing.T) {
		_, zone, err := pvZone(m.pv)
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxFor(t, 60*time.Second)
		for i := 0; i < 2; i++ {
			name := harness.NodeName(zone, i)
			setUnschedulable(t, ctx, name, true)
			t.Cleanup(func() { setUnschedulable(t, context.Background(), name, false) })
		}
		wantPreflightFailure(t, src, lock, "zone-nodes", "zone "+zone, harness.NodeName(zone, 0)+" is cordoned", "kubectl uncordon")
	})

	t.Run("zone without nodes", func(t *testing.T) {
		oc := copyOverlay(t, src)
		const nowhere = "ap-south-2c" // no pool has nodes there
		n := editObjects(t, oc.dir, func(u *unstructured.Unstructured) bool {
			if u.GetKind() != "PersistentVolume" || u.GetName() != m.pv.Name {
				return false
			}
			terms, _, _ := unstructured.NestedSlice(u.Object, "spec", "nodeAffinity", "required", "nodeSelectorTerms")
			for _, term := range terms {
				for _, e := range term.(map[string]any)["matchExpressions"].([]any) {
					e.(map[string]any)["values"] = []any{nowhere}
				}
			}
			return unstructured.SetNestedSlice(u.Object, terms, "spec", "nodeAffinity", "required", "nodeSelectorTerms") == nil
		})
		if n != 1 {
			t.Fatalf("edited %d PVs", n)
		}
		wantPreflightFailure(t, oc.dir, oc.lock, "zone-nodes", "no node carries", nowhere, "PersistentVolume "+m.pv.Name)
	})

	t.Run("CSIDriver missing", func(t *testing.T) {
		ctx := ctxFor(t, 60*time.Second)
		driver := pvDriver(m.pv)
		if err := c.StorageV1().CSIDrivers().Delete(ctx, driver, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cluster.RegisterCSIDrivers(ctx); err != nil {
				t.Errorf("restoring CSIDriver %s: %v", driver, err)
			}
			if _, err := c.StorageV1().CSIDrivers().Get(ctx, driver, metav1.GetOptions{}); err != nil {
				t.Errorf("CSIDriver %s not restored: %v", driver, err)
			}
		})
		eventually(t, 30*time.Second, "CSIDriver deleted", func(ctx context.Context) (string, error) {
			if _, err := c.StorageV1().CSIDrivers().Get(ctx, driver, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return "still there", nil
			}
			return "", nil
		})
		wantPreflightFailure(t, src, lock, "csi-driver", "no CSIDriver "+driver)
	})

	t.Run("claim pre-bound to another volume", func(t *testing.T) {
		ctx := ctxFor(t, 60*time.Second)
		pvc := claim(ns, m.claim(), "someone-elses-pv")
		if _, err := c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteClaim(t, ns, pvc.Name) })
		wantPreflightFailure(t, src, lock, "pvc-name", "PVC "+ns+"/"+m.claim()+" already exists with volumeName someone-elses-pv", "the overlay's has "+m.pv.Name)
	})

	t.Run("claim bound elsewhere", func(t *testing.T) {
		ctx := ctxFor(t, 60*time.Second)
		const other = "preflight-other-pv"
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: other},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: m.claim()},
				PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
					Driver: harness.EBSDriver, VolumeHandle: "vol-0preflight0000001", FSType: "ext4"}},
			},
		}
		if _, err := c.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deletePV(t, other) })
		pvc := claim(ns, m.claim(), other)
		if _, err := c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteClaim(t, ns, pvc.Name) })
		eventually(t, 30*time.Second, "the claim bound by the PV controller", func(ctx context.Context) (string, error) {
			got, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, pvc.Name, metav1.GetOptions{})
			if err != nil || got.Status.Phase != corev1.ClaimBound {
				return "not Bound", nil
			}
			return "", nil
		})
		wantPreflightFailure(t, src, lock, "pvc-name", "volumeName "+other+" (phase Bound)")
	})

	t.Run("volume used by another PV", func(t *testing.T) {
		ctx := ctxFor(t, 60*time.Second)
		const stale = "preflight-stale-copy"
		pv := m.pv.DeepCopy()
		pv.ObjectMeta = metav1.ObjectMeta{Name: stale}
		pv.Spec.ClaimRef = nil
		if _, err := c.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deletePV(t, stale) })
		wantPreflightFailure(t, src, lock, "volume-handle", "volume "+m.pv.Spec.CSI.VolumeHandle, "PV "+stale)
	})

	t.Run("claims over quota", func(t *testing.T) {
		ctx := ctxFor(t, 60*time.Second)
		q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "preflight-claims", Namespace: ns},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePersistentVolumeClaims: resource.MustParse("1")}}}
		if _, err := c.CoreV1().ResourceQuotas(ns).Create(ctx, q, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = c.CoreV1().ResourceQuotas(ns).Delete(context.Background(), q.Name, metav1.DeleteOptions{})
		})
		eventually(t, 30*time.Second, "the quota controller counted the claims", func(ctx context.Context) (string, error) {
			got, err := c.CoreV1().ResourceQuotas(ns).Get(ctx, q.Name, metav1.GetOptions{})
			if _, counted := got.Status.Used[corev1.ResourcePersistentVolumeClaims]; err != nil || !counted {
				return "status.used not set", err
			}
			return "", nil
		})
		wantPreflightFailure(t, src, lock, "quota", fmt.Sprintf("ResourceQuota preflight-claims: persistentvolumeclaims %d wanted, 1 left", len(b.members())))
		// The API server's admission refuses as preflight said: the
		// second claim exceeds the quota.
		for i, name := range []string{"quota-probe-a", "quota-probe-b"} {
			_, err := c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim(ns, name, ""), metav1.CreateOptions{})
			if err == nil {
				t.Cleanup(func() { deleteClaim(t, ns, name) })
			}
			if i == 0 && err != nil || i == 1 && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "exceeded quota")) {
				t.Fatalf("claim %s: %v; want the first admitted and the second refused for the quota", name, err)
			}
		}
	})

	t.Run("the applied overlay is a re-apply", func(t *testing.T) {
		mustApply(t, b.objs)
		waitClaimsBound(t, b.objs)
		code, rep := graftPreflight(t, src, lock)
		if code != 0 || !rep.Passed {
			t.Fatalf("preflight of the overlay already applied: exit %d, failed %q", code, rep.failed())
		}
	})

	t.Run("existing StatefulSet: the orphan step", func(t *testing.T) {
		// The runbook's starting point: graft's PVs and PVCs bound (applied
		// above), and the StatefulSet as the base has it, without graft's
		// claim templates. Replace the overlay's StatefulSet by the base's
		// (an orphaning delete keeps the pods and claims).
		oc := copyOverlay(t, src)
		withoutStatefulSetPatch(t, oc.dir)
		pre := mustBuild(t, oc.dir)
		orphanStatefulSets(t, b.stss, 30*time.Second)
		mustApply(t, []*unstructured.Unstructured{objectOf(t, pre, "StatefulSet")})
		cmdWant := "kubectl delete statefulset " + m.sts.Name + " -n " + ns + " --cascade=orphan"
		// graft's own PVs and PVCs, already there and bound, are a
		// re-apply: the StatefulSet is the one finding.
		wantPreflightFailure(t, src, lock, "statefulset", "StatefulSet "+ns+"/"+m.sts.Name+" already exists", "selector none", cmdWant, "RUNBOOK.md")
	})
}

// TestPreflightStorageClass: a provisioned overlay that declares its class
// fails preflight when the cluster has a class of that name with other
// parameters (immutable: the apply would fail), and passes when it has the
// same class.
func TestPreflightStorageClass(t *testing.T) {
	var src string
	for _, d := range overlayDirs() {
		if strings.HasSuffix(filepath.Base(d), "-provisioned") && !strings.Contains(filepath.Base(d), "auto-mode") {
			src = d
		}
	}
	if src == "" {
		t.Fatal("no provisioned example overlay")
	}
	b := mustBuild(t, src)
	lock := lockFor(t, src)
	var declared *storagev1.StorageClass
	for _, o := range b.objs {
		if o.GetKind() == "StorageClass" {
			sc, err := typed[storagev1.StorageClass](o)
			if err != nil {
				t.Fatal(err)
			}
			declared = sc
		}
	}
	if declared == nil {
		t.Fatalf("%s declares no StorageClass", src)
	}
	registerReset(t, b.namespaces)
	ensureNamespaces(t, b.namespaces)
	ctx := ctxFor(t, 60*time.Second)
	sc := declared.DeepCopy()
	sc.Parameters = map[string]string{"type": "io2", "iops": "64000"}
	if _, err := cluster.Client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantPreflightFailure(t, src, lock, "storage-class", "StorageClass "+sc.Name, "immutable", "io2")

	if err := cluster.Client.StorageV1().StorageClasses().Delete(ctx, sc.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	mustApply(t, []*unstructured.Unstructured{objectOf(t, b, "StorageClass")})
	code, rep := graftPreflight(t, src, lock)
	if code != 0 {
		t.Fatalf("with the overlay's own class: exit %d, failed %q", code, rep.failed())
	}
}

func objectOf(t *testing.T, b *built, kind string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range b.objs {
		if o.GetKind() == kind {
			return o
		}
	}
	t.Fatalf("no %s in the overlay", kind)
	return nil
}

func claim(ns, name, volume string) *corev1.PersistentVolumeClaim {
	empty := ""
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			StorageClassName: &empty,
			VolumeName:       volume,
		},
	}
}

// setUnschedulable cordons or uncordons a node (as kubectl cordon does).
func setUnschedulable(t *testing.T, ctx context.Context, node string, on bool) {
	t.Helper()
	patch := []byte(`{"spec":{"unschedulable":false}}`)
	if on {
		patch = []byte(`{"spec":{"unschedulable":true}}`)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cluster.Client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Errorf("node %s unschedulable=%v: %v", node, on, err)
	}
}

func deleteClaim(t *testing.T, ns, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pvcs := cluster.Client.CoreV1().PersistentVolumeClaims(ns)
	if err := pvcs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting PVC %s/%s: %v", ns, name, err)
	}
	_, _ = pvcs.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	if err := harness.Poll(ctx, 200*time.Millisecond, func() (bool, error) {
		_, err := pvcs.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		t.Errorf("PVC %s/%s not gone: %v", ns, name, err)
	}
}

func deletePV(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pvs := cluster.Client.CoreV1().PersistentVolumes()
	if err := pvs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting PV %s: %v", name, err)
	}
	_, _ = pvs.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	if err := harness.Poll(ctx, 200*time.Millisecond, func() (bool, error) {
		_, err := pvs.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		t.Errorf("PV %s not gone: %v", name, err)
	}
}
