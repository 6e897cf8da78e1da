package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/graftctl/graft/testdata/e2e/harness"
)

// The negative scenarios: each corrupts a copy of an example overlay the way
// a hand-made migration goes wrong, requires `graft check` to deny it (exit
// 1), and then applies it anyway to show what Kubernetes does with it.

// negativeSource is the example overlay the corruptions start from.
func negativeSource(t *testing.T) string {
	t.Helper()
	dirs := overlayDirs()
	if len(dirs) == 0 {
		t.Fatalf("no example overlays in %s/overlays to corrupt", repoRoot)
	}
	return dirs[0]
}

// prepare copies the source overlay, lets corrupt edit the copy, requires
// graft check to deny it by the given rule (graft's policy ids), and builds
// it.
func prepare(t *testing.T, why, rule string, corrupt func(oc overlayCopy, target member)) (overlayCopy, *built, member) {
	t.Helper()
	return prepareFrom(t, negativeSource(t), why, rule, corrupt)
}

func prepareFrom(t *testing.T, src, why, rule string, corrupt func(oc overlayCopy, target member)) (overlayCopy, *built, member) {
	t.Helper()
	target := mustBuild(t, src).firstMember(t)
	oc := copyOverlay(t, src)
	corrupt(oc, target)
	expectDenied(t, oc, why, rule)
	b := mustBuild(t, oc.dir)
	return oc, b, target
}

func isKind(u *unstructured.Unstructured, kind, name string) bool {
	return u.GetKind() == kind && u.GetName() == name
}

// podEvent waits for an event on the (still unscheduled) pod containing
// text.
func waitPodEvent(t *testing.T, ns, pod, text string) {
	t.Helper()
	eventually(t, 90*time.Second, fmt.Sprintf("pod %s/%s stays Pending with an event %q", ns, pod, text), func(ctx context.Context) (string, error) {
		p, err := cluster.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if p.Spec.NodeName != "" {
			return "", fmt.Errorf("pod %s was scheduled to %s", pod, p.Spec.NodeName)
		}
		evs, err := events(ctx, ns, p.UID)
		if err != nil {
			return "", err
		}
		for _, e := range evs {
			if strings.Contains(e.Message, text) {
				t.Logf("pod %s/%s Pending; event %s from %s: %s", ns, pod, e.Reason, e.Source.Component+e.ReportingController, e.Message)
				return "", nil
			}
		}
		return fmt.Sprintf("pod %s phase %s, events: %s", pod, p.Status.Phase, eventMessages(evs)), nil
	})
}

// A PV in the wrong zone. Binding ignores zones, so the claim binds; the
// scheduler then trusts the PV's node affinity. Two ways it shows:
//   - no-nodes-in-zone: the PV names a zone of the region where the cluster
//     has no nodes (graft must use the target zone, not e.g. the source's);
//   - rack-zone: the StatefulSet's pods are pinned to their rack's zone (as
//     cass-operator does) and the PV names another zone of the cluster.
//
// Either way the pod stays Pending with the scheduler's "didn't match
// PersistentVolume's node affinity".
func TestGateWrongZone(t *testing.T) {
	t.Run("no-nodes-in-zone", func(t *testing.T) {
		wrongZone(t, negativeSource(t), func(zone string) string {
			region := harness.RegionOf(zone)
			used := map[string]bool{}
			for _, z := range zones {
				used[z] = true
			}
			for _, s := range "abcdefgh" {
				if z := region + string(s); !used[z] {
					return z
				}
			}
			t.Fatalf("no free zone letter in %s", region)
			return ""
		})
	})
	// An overlay whose StatefulSet pins its pods to one zone.
	for _, dir := range overlayDirs() {
		b := mustBuild(t, dir)
		if podZone(b.firstMember(t)) == "" {
			continue
		}
		t.Run("rack-zone-"+filepath.Base(dir), func(t *testing.T) {
			wrongZone(t, dir, func(zone string) string {
				for _, z := range zones {
					if z != zone && harness.RegionOf(z) == harness.RegionOf(zone) {
						return z
					}
				}
				t.Fatalf("no other zone with nodes in %s", harness.RegionOf(zone))
				return ""
			})
		})
		break
	}
}

// podZone returns the single zone a member's pod template requires by node
// affinity, or "".
func podZone(m member) string {
	a := m.sts.Spec.Template.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if (e.Key == harness.ZoneLabel || e.Key == harness.EBSZoneLabel) && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
				return e.Values[0]
			}
		}
	}
	return ""
}

func wrongZone(t *testing.T, src string, pick func(zone string) string) {
	var wrong string
	oc, b, target := prepareFrom(t, src, "a PV in the wrong zone", "GRAFT021", func(oc overlayCopy, m member) {
		key, zone, err := pvZone(m.pv)
		if err != nil {
			t.Fatal(err)
		}
		wrong = pick(zone)
		n := editObjects(t, oc.dir, func(u *unstructured.Unstructured) bool {
			if !isKind(u, "PersistentVolume", m.pv.Name) {
				return false
			}
			terms, _, _ := unstructured.NestedSlice(u.Object, "spec", "nodeAffinity", "required", "nodeSelectorTerms")
			for _, term := range terms {
				exprs, _ := term.(map[string]any)["matchExpressions"].([]any)
				for _, e := range exprs {
					em := e.(map[string]any)
					if em["key"] == key {
						em["values"] = []any{wrong}
					}
				}
			}
			return unstructured.SetNestedSlice(u.Object, terms, "spec", "nodeAffinity", "required", "nodeSelectorTerms") == nil
		})
		if n != 1 {
			t.Fatalf("edited %d PVs, want 1", n)
		}
		t.Logf("moved PV %s from %s to %s (claim %s, pod %s, pod pinned to zone %q)", m.pv.Name, zone, wrong, m.claim(), m.pod(), podZone(m))
	})
	if _, z, _ := pvZone(b.pvs[target.pv.Name]); z != wrong {
		t.Fatalf("built overlay has PV %s in %s, want the corrupted %s", target.pv.Name, z, wrong)
	}
	deployBoundUnschedulable(t, b, target, "the wrong zone")
	// graft verify names the member and the scheduler's reason.
	expectVerifyFails(t, oc.dir, oc.lock, target.claim()+": pod-scheduled: pod "+target.pod()+" is not scheduled (FailedScheduling: ")
	expectVerifyFails(t, oc.dir, oc.lock, "didn't match PersistentVolume's node affinity")
}

// deployBoundUnschedulable applies b, whose target member's PV its pod
// cannot be scheduled by (why): the claim binds to the PV all the same, and
// the pod can go nowhere, the scheduler saying that no node matches the
// PV's node affinity.
func deployBoundUnschedulable(t *testing.T, b *built, target member, why string) {
	t.Helper()
	if errs := deploy(t, b); len(errs) > 0 {
		t.Fatalf("apply: %v", errs)
	}
	ns := target.sts.Namespace
	eventually(t, 60*time.Second, "claim bound despite "+why, func(ctx context.Context) (string, error) {
		pvc, err := cluster.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, target.claim(), metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName != target.pv.Name {
			return fmt.Sprintf("PVC %s on %q", pvc.Status.Phase, pvc.Spec.VolumeName), nil
		}
		return "", nil
	})
	waitPodEvent(t, ns, target.pod(), "didn't match PersistentVolume's node affinity")
	stayUnscheduled(t, ns, target.pod())
}

// A wrong claim name (an ordinal off by the replica count, PV and PVC renamed
// alike, as a wrong instance-to-ordinal mapping does): the StatefulSet
// controller creates its own, unbound claim for the ordinal, which a dynamic
// storage class would fill with an empty disk, and graft's volume stays with
// a claim no pod uses.
func TestGateWrongClaimName(t *testing.T) {
	var wrongName string
	_, b, target := prepare(t, "a wrong PVC name/ordinal", "GRAFT001", func(oc overlayCopy, m member) {
		ords := ordinals(m.sts)
		wrongName = claimName(m.template, m.sts.Name, m.ordinal+len(ords))
		n := editObjects(t, oc.dir, func(u *unstructured.Unstructured) bool {
			switch {
			case isKind(u, "PersistentVolumeClaim", m.claim()):
				u.SetName(wrongName)
				return true
			case isKind(u, "PersistentVolume", m.pv.Name):
				return unstructured.SetNestedField(u.Object, wrongName, "spec", "claimRef", "name") == nil
			}
			return false
		})
		if n != 2 {
			t.Fatalf("edited %d objects, want the PVC and its PV", n)
		}
		t.Logf("renamed claim %s to %s (PVC and the PV's claimRef)", m.claim(), wrongName)
	})
	if errs := deploy(t, b); len(errs) > 0 {
		t.Fatalf("apply: %v", errs)
	}
	ns := target.sts.Namespace
	c := cluster.Client
	// The StatefulSet controller creates the claim the ordinal needs.
	eventually(t, 60*time.Second, "the StatefulSet controller creates claim "+target.claim(), func(ctx context.Context) (string, error) {
		_, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, target.claim(), metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		return "", nil
	})
	// It stays unbound, graft's PV is never its volume, and the pod cannot
	// be scheduled.
	consistently(t, 8*time.Second, "the new claim stays unbound", func(ctx context.Context) (string, error) {
		pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, target.claim(), metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if _, ours := b.pvcs[nsName(ns, pvc.Name)]; ours {
			return "", fmt.Errorf("claim %s is in the corrupted overlay", pvc.Name)
		}
		if pvc.Status.Phase == corev1.ClaimBound || pvc.Spec.VolumeName != "" {
			return fmt.Sprintf("claim %s got volume %q (%s)", pvc.Name, pvc.Spec.VolumeName, pvc.Status.Phase), nil
		}
		pv, err := c.CoreV1().PersistentVolumes().Get(ctx, target.pv.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.Name == target.claim() {
			return "graft's PV got bound to the StatefulSet's claim", nil
		}
		return "", nil
	})
	waitPodEvent(t, ns, target.pod(), "unbound immediate PersistentVolumeClaims")
	pv, err := c.CoreV1().PersistentVolumes().Get(ctxFor(t, 10*time.Second), target.pv.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := "none"
	if pv.Spec.ClaimRef != nil {
		ref = pv.Spec.ClaimRef.Name
	}
	t.Logf("claim %s (made by the StatefulSet controller) is Pending with no volume; graft's PV %s is %s with claim %s, which no pod mounts", target.claim(), pv.Name, pv.Status.Phase, ref)
	if ref == target.claim() {
		t.Errorf("PV %s is claimed by the pod's claim", pv.Name)
	}
}

// A PV without claimRef next to a competing claim: any claim that fits can
// take the volume. The competing claim exists first and the PVs arrive
// before graft's PVCs (as with Argo CD's earlier sync wave for PVs).
func TestGateMissingClaimRef(t *testing.T) {
	_, b, target := prepare(t, "a PV without claimRef", "GRAFT011", func(oc overlayCopy, m member) {
		n := editObjects(t, oc.dir, func(u *unstructured.Unstructured) bool {
			if !isKind(u, "PersistentVolume", m.pv.Name) {
				return false
			}
			unstructured.RemoveNestedField(u.Object, "spec", "claimRef")
			return true
		})
		if n != 1 {
			t.Fatalf("edited %d PVs, want 1", n)
		}
	})
	ns := target.sts.Namespace
	registerReset(t, b.namespaces)
	ensureNamespaces(t, b.namespaces)
	pv := b.pvs[target.pv.Name]
	if pv.Spec.ClaimRef != nil {
		t.Fatal("corrupted PV still has a claimRef")
	}
	class := pv.Spec.StorageClassName
	squatter := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: "another-app-data", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      pv.Spec.AccessModes,
			StorageClassName: &class,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(squatter)
	if err != nil {
		t.Fatal(err)
	}
	pvs, rest := byKind(b.objs, "PersistentVolume")
	mustApply(t, append([]*unstructured.Unstructured{{Object: u}}, pvs...))
	c := cluster.Client
	eventually(t, 60*time.Second, "the competing claim takes graft's PV", func(ctx context.Context) (string, error) {
		got, err := c.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if got.Spec.ClaimRef == nil || got.Status.Phase != corev1.VolumeBound {
			return fmt.Sprintf("PV %s %s", got.Name, got.Status.Phase), nil
		}
		if got.Spec.ClaimRef.Name != squatter.Name {
			return "", fmt.Errorf("PV %s bound to %s", got.Name, got.Spec.ClaimRef.Name)
		}
		return "", nil
	})
	t.Logf("PV %s (no claimRef) was taken by claim %s/%s", pv.Name, ns, squatter.Name)
	mustApply(t, rest)
	consistently(t, 6*time.Second, "graft's claim cannot get its volume", func(ctx context.Context) (string, error) {
		pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, target.claim(), metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if pvc.Status.Phase == corev1.ClaimBound {
			return "graft's claim " + pvc.Name + " is Bound", nil
		}
		return "", nil
	})
	waitPodEvent(t, ns, target.pod(), "unbound immediate PersistentVolumeClaims")
}

// Reclaim policy Delete: deleting the claim hands the volume to deletion (a
// real EBS volume, and the migrated data, would be deleted). The control PV
// with Retain is only Released.
func TestGateReclaimDelete(t *testing.T) {
	_, b, target := prepare(t, "reclaim policy Delete", "GRAFT040", func(oc overlayCopy, m member) {
		n := editObjects(t, oc.dir, func(u *unstructured.Unstructured) bool {
			if !isKind(u, "PersistentVolume", m.pv.Name) {
				return false
			}
			return unstructured.SetNestedField(u.Object, "Delete", "spec", "persistentVolumeReclaimPolicy") == nil
		})
		if n != 1 {
			t.Fatalf("edited %d PVs, want 1", n)
		}
	})
	var control *member
	for _, m := range b.members() {
		if m.pv != nil && m.pv.Name != target.pv.Name && m.sts.Namespace == target.sts.Namespace {
			m := m
			control = &m
			break
		}
	}
	if errs := deploy(t, b); len(errs) > 0 {
		t.Fatalf("apply: %v", errs)
	}
	assertLanded(t, b)
	ns := target.sts.Namespace
	c := cluster.Client
	ctx := ctxFor(t, 90*time.Second)
	// The StatefulSet and its pods go (pods force-deleted: no kubelet), then
	// the claims are deleted.
	bg := metav1.DeletePropagationBackground
	for _, sts := range b.stss {
		if err := c.AppsV1().StatefulSets(sts.Namespace).Delete(ctx, sts.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
			t.Fatal(err)
		}
	}
	zero := int64(0)
	eventually(t, 60*time.Second, "pods gone", func(ctx context.Context) (string, error) {
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		for _, p := range pods.Items {
			_ = c.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		}
		if len(pods.Items) > 0 {
			return fmt.Sprintf("%d pods left", len(pods.Items)), nil
		}
		return "", nil
	})
	deleted := []member{target}
	if control != nil {
		deleted = append(deleted, *control)
	}
	for _, m := range deleted {
		if err := c.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, m.claim(), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The in-tree PV controller hands a CSI volume with reclaim policy
	// Delete to the driver's external-provisioner, which deletes the EBS
	// volume (statically created PVs too, KEP-2644); none runs here, so the
	// proof is the phase change plus the PV controller's own log line.
	eventually(t, 60*time.Second, "the Delete-policy PV is released for deletion", func(ctx context.Context) (string, error) {
		pv, err := c.CoreV1().PersistentVolumes().Get(ctx, target.pv.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			t.Logf("PV %s was deleted", target.pv.Name)
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
			return "", fmt.Errorf("PV %s has reclaim policy %s", pv.Name, pv.Spec.PersistentVolumeReclaimPolicy)
		}
		if pv.Status.Phase != corev1.VolumeReleased && pv.Status.Phase != corev1.VolumeFailed {
			return fmt.Sprintf("PV %s is %s", pv.Name, pv.Status.Phase), nil
		}
		line := kcmLogLine(pv.Name, "External deleter for volume requested")
		if line == "" {
			return fmt.Sprintf("PV %s is %s; no deletion hand-off in the controller-manager log yet", pv.Name, pv.Status.Phase), nil
		}
		evs, _ := events(ctx, "default", pv.UID)
		t.Logf("PV %s (reclaim Delete) went Bound -> %s %s; events: %q; kube-controller-manager: %s", pv.Name, pv.Status.Phase, pv.Status.Message, eventMessages(evs), line)
		return "", nil
	})
	if control != nil {
		eventually(t, 30*time.Second, "the Retain-policy PV is only released", func(ctx context.Context) (string, error) {
			pv, err := c.CoreV1().PersistentVolumes().Get(ctx, control.pv.Name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			if pv.Status.Phase != corev1.VolumeReleased {
				return fmt.Sprintf("PV %s is %s", pv.Name, pv.Status.Phase), nil
			}
			if line := kcmLogLine(pv.Name, "External deleter for volume requested"); line != "" {
				return "", fmt.Errorf("the Retain PV %s was handed to deletion: %s", pv.Name, line)
			}
			evs, _ := events(ctx, "default", pv.UID)
			t.Logf("control PV %s (reclaim Retain) is %s; events: %s", pv.Name, pv.Status.Phase, eventMessages(evs))
			return "", nil
		})
	}
}

// kcmLogLine returns the last kube-controller-manager log line that mentions
// both strings, or "".
func kcmLogLine(a, b string) string {
	return componentLogLine("kube-controller-manager.log", a, b, true)
}

// componentLogLine returns the first (or, with last, the last) line of a
// control-plane component's log (by file name) that mentions both strings,
// or "".
func componentLogLine(file, a, b string, last bool) string {
	for _, p := range cluster.LogPaths() {
		if filepath.Base(p) != file {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		lines := strings.Split(string(data), "\n")
		if last {
			slices.Reverse(lines)
		}
		for _, l := range lines {
			if strings.Contains(l, a) && strings.Contains(l, b) {
				return strings.TrimSpace(l)
			}
		}
	}
	return ""
}
