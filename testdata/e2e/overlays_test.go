package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/graftctl/graft/testdata/e2e/harness"
)

// TestExampleOverlays applies every example overlay in overlays/ as Flux
// would (server-side apply, field manager kustomize-controller) and proves
// with the real controllers and scheduler that each StatefulSet ordinal lands
// on graft's volume, in the volume's zone, and nothing else is provisioned.
func TestExampleOverlays(t *testing.T) {
	dirs := overlayDirs()
	if len(dirs) == 0 {
		t.Fatalf("no example overlays: expected %s/overlays/*/kustomization.yaml", repoRoot)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			start := time.Now()
			if code, out := graftCheck(t, dir, lockFor(t, dir)); code != 0 {
				t.Errorf("graft check %s: exit %d, want 0\n%s", dir, code, out)
			}
			b := mustBuild(t, dir)
			if errs := deploy(t, b); len(errs) > 0 {
				t.Fatalf("server-side apply failed:\n%s", harness.JoinApplyErrors(errs))
			}
			assertLanded(t, b)
			assertVerified(t, dir, lockFor(t, dir))
			t.Logf("overlay %s: %d PVs, %d PVCs, %d StatefulSets landed in %s",
				filepath.Base(dir), len(b.pvs), len(b.pvcs), len(b.stss), time.Since(start).Round(time.Millisecond))
		})
	}
}

// assertLanded is the positive proof for a built overlay applied to the
// cluster.
func assertLanded(t *testing.T, b *built) {
	t.Helper()
	c := cluster.Client

	// 1. Every PVC graft rendered is Bound to exactly the PV graft intended,
	//    and that PV is bound back to that claim (by UID).
	eventually(t, 90*time.Second, "graft's claims bound to graft's volumes", func(ctx context.Context) (string, error) {
		for key, want := range b.pvcs {
			pvc, err := c.CoreV1().PersistentVolumeClaims(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Sprintf("PVC %s: %v", key, err), nil
			}
			if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName != want.Spec.VolumeName {
				return fmt.Sprintf("PVC %s is %s on volume %q, want Bound on %q", key, pvc.Status.Phase, pvc.Spec.VolumeName, want.Spec.VolumeName), nil
			}
			pv, err := c.CoreV1().PersistentVolumes().Get(ctx, want.Spec.VolumeName, metav1.GetOptions{})
			if err != nil {
				return fmt.Sprintf("PV %s: %v", want.Spec.VolumeName, err), nil
			}
			if pv.Status.Phase != corev1.VolumeBound || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID {
				return fmt.Sprintf("PV %s is %s, claimRef %+v, want Bound to %s (uid %s)", pv.Name, pv.Status.Phase, pv.Spec.ClaimRef, key, pvc.UID), nil
			}
		}
		return "", nil
	})

	// 2. Every ordinal of every StatefulSet, as built, has graft's claim for
	//    each claim template graft fills, and every graft claim belongs to an
	//    ordinal. Otherwise show what the cluster does with it and stop.
	if gaps := claimGaps(b); len(gaps) > 0 {
		for _, g := range gaps {
			t.Error(g)
		}
		showOrdinalGaps(t, b)
		t.FailNow()
	}

	// 3. The StatefulSet controller created every ordinal's pod, and the
	//    scheduler bound each to a node.
	eventually(t, 60*time.Second, "every StatefulSet ordinal created and scheduled", func(ctx context.Context) (string, error) {
		for _, sts := range b.stss {
			for _, o := range ordinals(sts) {
				pod, err := c.CoreV1().Pods(sts.Namespace).Get(ctx, podName(sts.Name, o), metav1.GetOptions{})
				if err != nil {
					return fmt.Sprintf("pod %s/%s: %v", sts.Namespace, podName(sts.Name, o), err), nil
				}
				if pod.Spec.NodeName == "" {
					evs, _ := events(ctx, pod.Namespace, pod.UID)
					return fmt.Sprintf("pod %s/%s not scheduled yet (events: %s)", pod.Namespace, pod.Name, eventMessages(evs)), nil
				}
			}
		}
		return "", nil
	})

	// 4. Each pod's volumes reference the claim of its ordinal, that claim is
	//    graft's, and the pod's node is in the zone of the claim's PV.
	ctx := ctxFor(t, 60*time.Second)
	for _, m := range b.members() {
		pod, err := c.CoreV1().Pods(m.sts.Namespace).Get(ctx, m.pod(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var claim string
		for _, v := range pod.Spec.Volumes {
			if v.Name == m.template && v.PersistentVolumeClaim != nil {
				claim = v.PersistentVolumeClaim.ClaimName
			}
		}
		if claim != m.claim() {
			t.Errorf("pod %s: volume %q references claim %q, want %q", pod.Name, m.template, claim, m.claim())
			continue
		}
		if m.pvc == nil || m.pv == nil {
			t.Errorf("pod %s: claim %s (template %q, ordinal %d) was not rendered by graft: the StatefulSet controller made it", pod.Name, claim, m.template, m.ordinal)
			continue
		}
		key, zone, err := pvZone(m.pv)
		if err != nil {
			t.Error(err)
			continue
		}
		node, err := c.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if node.Labels[key] != zone || node.Labels[harness.ZoneLabel] != zone {
			t.Errorf("pod %s is on node %s in zone %s, but its volume %s (claim %s) is in %s", pod.Name, node.Name, node.Labels[harness.ZoneLabel], m.pv.Name, claim, zone)
			continue
		}
		if pvDriver(m.pv) == harness.AutoModeDriver {
			// On a node labelled as Auto Mode labels its nodes (no
			// topology.ebs.csi.aws.com/zone): the PV's key is the one
			// such nodes carry.
			if err := isAutoModeNode(node); err != nil {
				t.Errorf("pod %s: its volume %s is Auto Mode's, but %v", pod.Name, m.pv.Name, err)
				continue
			}
		}
		if err := nodeRunsDriver(ctx, node.Name, pvDriver(m.pv)); err != nil {
			t.Errorf("pod %s (volume %s): %v", pod.Name, m.pv.Name, err)
			continue
		}
		t.Logf("ordinal %d of %s/%s: pod %s on node %s (zone %s) mounts claim %s -> PV %s (%s)",
			m.ordinal, m.sts.Namespace, m.sts.Name, pod.Name, node.Name, zone, claim, m.pv.Name, m.pv.Spec.CSI.VolumeHandle)
	}

	// 5. Nothing else: the only claims in the overlay's namespaces and the
	//    only volumes in the cluster are graft's (no dynamic provisioning,
	//    no claim created by the StatefulSet controller).
	var extra []string
	for _, ns := range b.namespaces {
		pvcs, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pvcs.Items {
			if b.pvcs[nsName(ns, p.Name)] == nil {
				extra = append(extra, "PVC "+nsName(ns, p.Name))
			}
		}
	}
	pvs, err := c.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pv := range pvs.Items {
		if b.pvs[pv.Name] == nil {
			extra = append(extra, "PV "+pv.Name)
		}
	}
	if len(pvs.Items) != len(b.pvs) {
		extra = append(extra, fmt.Sprintf("%d PVs in the cluster, %d in the overlay", len(pvs.Items), len(b.pvs)))
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("objects graft did not render exist: %s", strings.Join(extra, ", "))
	}
}

// claimGaps compares the built StatefulSets' ordinals with graft's claims:
// an ordinal without graft's claim (for a claim template graft fills for
// some ordinal) would get a claim from the StatefulSet controller, and a
// graft claim no ordinal uses is a volume no pod mounts.
func claimGaps(b *built) []string {
	var gaps []string
	used := map[string]bool{}
	filled := map[string]bool{} // namespace/sts/template graft fills
	for _, m := range b.members() {
		if m.pvc != nil {
			used[nsName(m.sts.Namespace, m.claim())] = true
			filled[m.sts.Namespace+"/"+m.sts.Name+"/"+m.template] = true
		}
	}
	for _, m := range b.members() {
		if m.pvc == nil && filled[m.sts.Namespace+"/"+m.sts.Name+"/"+m.template] {
			gaps = append(gaps, fmt.Sprintf("StatefulSet %s/%s ordinal %d (ordinals %v as built) has no graft claim %s: the StatefulSet controller would create an empty one",
				m.sts.Namespace, m.sts.Name, m.ordinal, ordinals(m.sts), m.claim()))
		}
	}
	var keys []string
	for k := range b.pvcs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !used[k] {
			gaps = append(gaps, fmt.Sprintf("graft claim %s (PV %s) belongs to no StatefulSet ordinal as built: no pod would mount it", k, b.pvcs[k].Spec.VolumeName))
		}
	}
	return gaps
}

// showOrdinalGaps logs, with a bounded wait, what the cluster does with the
// ordinals that lack graft's claim: the StatefulSet controller's own claim,
// unbound, and the pod's scheduling events.
func showOrdinalGaps(t *testing.T, b *built) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := cluster.Client
	for _, m := range b.members() {
		if m.pvc != nil {
			continue
		}
		var msg string
		_ = harness.Poll(ctx, 500*time.Millisecond, func() (bool, error) {
			pvc, err := c.CoreV1().PersistentVolumeClaims(m.sts.Namespace).Get(ctx, m.claim(), metav1.GetOptions{})
			if err != nil {
				msg = fmt.Sprintf("claim %s: %v", m.claim(), err)
				return false, nil
			}
			pod, err := c.CoreV1().Pods(m.sts.Namespace).Get(ctx, m.pod(), metav1.GetOptions{})
			if err != nil {
				msg = fmt.Sprintf("claim %s made by the StatefulSet controller is %s (volume %q); pod %s: %v", pvc.Name, pvc.Status.Phase, pvc.Spec.VolumeName, m.pod(), err)
				return false, nil
			}
			evs, _ := events(ctx, pod.Namespace, pod.UID)
			msg = fmt.Sprintf("claim %s made by the StatefulSet controller is %s (volume %q); pod %s on node %q, events: %s",
				pvc.Name, pvc.Status.Phase, pvc.Spec.VolumeName, pod.Name, pod.Spec.NodeName, eventMessages(evs))
			return len(evs) > 0, nil
		})
		t.Logf("in the cluster: %s", msg)
	}
}

// nodeRunsDriver fails unless the node's CSINode lists the driver (a node
// where the volume's driver does not run could never attach it).
func nodeRunsDriver(ctx context.Context, node, driver string) error {
	cn, err := cluster.Client.StorageV1().CSINodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("CSINode %s: %w", node, err)
	}
	var have []string
	for _, d := range cn.Spec.Drivers {
		if d.Name == driver {
			return nil
		}
		have = append(have, d.Name)
	}
	return fmt.Errorf("node %s runs CSI drivers %v, not the volume's %s", node, have, driver)
}
