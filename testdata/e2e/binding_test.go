package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/graftctl/graft/testdata/e2e/harness"
	"github.com/graftctl/graft/testdata/e2e/provisioner"
)

// The day after the cut-over (issue 12, part 1): with the real controllers
// and scheduler, and a dynamic provisioner built on the library the CSI
// external-provisioner uses, scale each StatefulSet up by one and grow a
// migrated claim, in both binding modes.

// The texts the cluster gives; README.md quotes them.
const (
	// static mode, the new ordinal's claim (PV controller, FailedBinding).
	staticClaimText = "no persistent volumes available for this claim and no storage class is set"
	// static mode, the new ordinal's pod (scheduler, FailedScheduling).
	staticPodText = "pod has unbound immediate PersistentVolumeClaims"
	// static mode, growing a migrated claim (admission plugin
	// PersistentVolumeClaimResize, HTTP 403).
	staticResizeText = "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"
	resizePlugin     = "PersistentVolumeClaimResize"
)

// Binding modes as the built overlay shows them.
const (
	modeStatic      = "static"      // templates: storageClassName "" and a selector
	modeProvisioned = "provisioned" // templates: a named class, no selector
)

// bindingMode tells the mode of the StatefulSets graft patched, or an error
// naming the template that is neither.
func bindingMode(b *built) (string, error) {
	mode := ""
	for _, sts := range b.stss {
		for _, tmpl := range sts.Spec.VolumeClaimTemplates {
			var m string
			class := ""
			if tmpl.Spec.StorageClassName != nil {
				class = *tmpl.Spec.StorageClassName
			}
			switch {
			case tmpl.Spec.StorageClassName != nil && class == "" && tmpl.Spec.Selector != nil:
				m = modeStatic
			case class != "" && tmpl.Spec.Selector == nil:
				m = modeProvisioned
			default:
				return "", fmt.Errorf("StatefulSet %s/%s claim template %s: storageClassName %q, selector %v: neither static (\"\" and a selector) nor provisioned (a class, no selector)", sts.Namespace, sts.Name, tmpl.Name, class, tmpl.Spec.Selector)
			}
			if mode != "" && m != mode {
				return "", fmt.Errorf("StatefulSet %s/%s claim template %s is %s, another is %s", sts.Namespace, sts.Name, tmpl.Name, m, mode)
			}
			mode = m
		}
	}
	return mode, nil
}

// TestBindingModes: static on overlays/cassandra-3node, provisioned on every
// example overlay in that mode.
func TestBindingModes(t *testing.T) {
	static := filepath.Join(repoRoot, "overlays", "cassandra-3node")
	var provisioned []string
	for _, dir := range overlayDirs() {
		mode, err := bindingMode(mustBuild(t, dir))
		if err != nil {
			t.Errorf("overlay %s: %v", dir, err)
			continue
		}
		if mode == modeProvisioned {
			provisioned = append(provisioned, dir)
		}
	}
	if len(provisioned) == 0 {
		t.Errorf("no example overlay in provisioned mode in %s/overlays (want cassandra-3node-provisioned and cassandra-3node-auto-mode-provisioned)", repoRoot)
	}
	t.Run(modeStatic+"/"+filepath.Base(static), func(t *testing.T) { dayTwo(t, static, modeStatic) })
	for _, dir := range provisioned {
		t.Run(modeProvisioned+"/"+filepath.Base(dir), func(t *testing.T) { dayTwo(t, dir, modeProvisioned) })
	}
}

// dayTwo applies an overlay with the test provisioner running, proves that
// graft's claims bind to graft's volumes and that the provisioner never
// touched them, then scales up and grows a claim.
func dayTwo(t *testing.T, dir, mode string) {
	b := mustBuild(t, dir)
	if got, err := bindingMode(b); err != nil || got != mode {
		t.Fatalf("overlay %s: mode %q (%v), want %s", dir, got, err, mode)
	}
	ensureZones(t, b)
	registerReset(t, b.namespaces)
	classes := ensureClasses(t, b)
	prov := provisioner.Start(context.Background(), cluster.Client, provisioner.Options{})
	t.Cleanup(func() {
		if err := prov.Stop(); err != nil {
			t.Error(err)
		}
	})
	ensureNamespaces(t, b.namespaces)
	if errs := apply(t, b.objs); len(errs) > 0 {
		t.Fatalf("server-side apply failed:\n%s", harness.JoinApplyErrors(errs))
	}
	assertLanded(t, b) // graft's claims Bound to graft's PVs, and nothing provisioned
	for _, m := range b.members() {
		if slices.Contains(prov.Calls(), nsName(m.sts.Namespace, m.claim())) {
			t.Errorf("the provisioner was asked for graft's pre-bound claim %s", m.claim())
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	sts := b.members()[0].sts
	t.Run("scale-up", func(t *testing.T) {
		newClaims, pod := scaleUpByOne(t, sts)
		if mode == modeProvisioned {
			assertProvisioned(t, b, prov, classes, newClaims, pod)
		} else {
			assertStaticPending(t, b, prov, newClaims, pod)
		}
	})
	t.Run("resize", func(t *testing.T) { resizeMigrated(t, b, mode) })
}

// ensureClasses returns the StorageClasses the overlay's claim templates
// name, by name: the overlay's own (binding.storageClass: declare), applied
// with it; or, for a class the overlay does not declare (existing), one that
// the test creates as the cluster's owner would, with the driver of graft's
// PVs. resetCluster removes them after the test.
func ensureClasses(t *testing.T, b *built) map[string]*storagev1.StorageClass {
	t.Helper()
	out := map[string]*storagev1.StorageClass{}
	declared := map[string]*storagev1.StorageClass{}
	for _, u := range b.objs {
		if u.GetKind() == "StorageClass" {
			sc, err := typed[storagev1.StorageClass](u)
			if err != nil {
				t.Fatal(err)
			}
			declared[sc.Name] = sc
		}
	}
	driver := ""
	for _, pv := range b.pvs {
		driver = pvDriver(pv)
	}
	ctx := ctxFor(t, 30*time.Second)
	for _, sts := range b.stss {
		for _, tmpl := range sts.Spec.VolumeClaimTemplates {
			if tmpl.Spec.StorageClassName == nil || *tmpl.Spec.StorageClassName == "" {
				continue
			}
			name := *tmpl.Spec.StorageClassName
			if sc := declared[name]; sc != nil {
				out[name] = sc
			} else if out[name] == nil {
				wffc := storagev1.VolumeBindingWaitForFirstConsumer
				retain := corev1.PersistentVolumeReclaimRetain
				sc := &storagev1.StorageClass{
					ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: driver,
					AllowVolumeExpansion: ptrTo(true), VolumeBindingMode: &wffc, ReclaimPolicy: &retain,
				}
				if _, err := cluster.Client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
					t.Fatalf("creating the existing class %s: %v", name, err)
				}
				t.Logf("class %s is not in the overlay (existing): created it with provisioner %s", name, driver)
				out[name] = sc
			}
		}
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// scaleUpByOne patches the StatefulSet's scale subresource to one more
// replica, as `kubectl scale` does, and returns the new ordinal's claims
// (one per claim template) and pod.
func scaleUpByOne(t *testing.T, sts *appsv1.StatefulSet) (claims []string, pod string) {
	t.Helper()
	c := cluster.Client
	ctx := ctxFor(t, 30*time.Second)
	live, err := c.AppsV1().StatefulSets(sts.Namespace).Get(ctx, sts.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replicas := int32(1)
	if live.Spec.Replicas != nil {
		replicas = *live.Spec.Replicas
	}
	start := int32(0)
	if live.Spec.Ordinals != nil {
		start = live.Spec.Ordinals.Start
	}
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas+1)
	if _, err := c.AppsV1().StatefulSets(sts.Namespace).Patch(ctx, sts.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl"}, "scale"); err != nil {
		t.Fatalf("scaling StatefulSet %s/%s to %d: %v", sts.Namespace, sts.Name, replicas+1, err)
	}
	ordinal := int(start + replicas)
	for _, tmpl := range live.Spec.VolumeClaimTemplates {
		claims = append(claims, claimName(tmpl.Name, sts.Name, ordinal))
	}
	t.Logf("scaled StatefulSet %s/%s from %d to %d replicas: new ordinal %d, claims %v", sts.Namespace, sts.Name, replicas, replicas+1, ordinal, claims)
	return claims, podName(sts.Name, ordinal)
}

var volumeHandle = regexp.MustCompile(`^vol-[0-9a-f]{17}$`)

// assertProvisioned: each new claim, made by the StatefulSet controller, is
// Bound to a new PV of its class's driver that the test provisioner made in
// the zone of the node the scheduler selected, and the new pod is scheduled
// on such a node in that zone; graft's claims keep graft's volumes.
func assertProvisioned(t *testing.T, b *built, prov *provisioner.Provisioner, classes map[string]*storagev1.StorageClass, claims []string, pod string) {
	t.Helper()
	c := cluster.Client
	ns := b.members()[0].sts.Namespace
	pvOf := map[string]*corev1.PersistentVolume{}
	eventually(t, 90*time.Second, "the new claims provisioned and Bound", func(ctx context.Context) (string, error) {
		for _, name := range claims {
			pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Sprintf("claim %s: %v", name, err), nil
			}
			if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
				evs, _ := events(ctx, ns, pvc.UID)
				return fmt.Sprintf("claim %s is %s (volume %q); events: %s", name, pvc.Status.Phase, pvc.Spec.VolumeName, eventMessages(evs)), nil
			}
			pv, err := c.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID {
				return fmt.Sprintf("PV %s not bound back to claim %s", pv.Name, name), nil
			}
			pvOf[name] = pv
		}
		return "", nil
	})
	ctx := ctxFor(t, 60*time.Second)
	volumes := prov.Volumes()
	for _, name := range claims {
		pv := pvOf[name]
		pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if b.pvs[pv.Name] != nil {
			t.Errorf("new claim %s got graft's PV %s", name, pv.Name)
			continue
		}
		class := classes[ptrVal(pvc.Spec.StorageClassName)]
		if class == nil {
			t.Errorf("new claim %s: class %q is none of the overlay's %v", name, ptrVal(pvc.Spec.StorageClassName), mapKeys(classes))
			continue
		}
		got, ok := volumes[pv.Name]
		switch {
		case !ok || got.Claim != nsName(ns, name):
			t.Errorf("PV %s of claim %s was not made by the test provisioner (it made %v)", pv.Name, name, volumes)
		case pv.Spec.CSI == nil || pv.Spec.CSI.Driver != class.Provisioner || !volumeHandle.MatchString(pv.Spec.CSI.VolumeHandle):
			t.Errorf("PV %s: csi %+v, want driver %s and a handle vol-<17 hex>", pv.Name, pv.Spec.CSI, class.Provisioner)
		case pv.Spec.StorageClassName != class.Name || pv.Annotations["pv.kubernetes.io/provisioned-by"] != class.Provisioner:
			t.Errorf("PV %s: class %q, provisioned-by %q, want %s and %s", pv.Name, pv.Spec.StorageClassName, pv.Annotations["pv.kubernetes.io/provisioned-by"], class.Name, class.Provisioner)
		case class.ReclaimPolicy != nil && pv.Spec.PersistentVolumeReclaimPolicy != *class.ReclaimPolicy:
			t.Errorf("PV %s: reclaim %s, want the class's %s", pv.Name, pv.Spec.PersistentVolumeReclaimPolicy, *class.ReclaimPolicy)
		}
		req := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		if capa := pv.Spec.Capacity[corev1.ResourceStorage]; capa.Cmp(req) < 0 {
			t.Errorf("PV %s: capacity %s below the claim's request %s", pv.Name, capa.String(), req.String())
		}
		if pvc.Annotations[provisioner.SelectedNodeAnnotation] != got.Node {
			t.Errorf("PV %s was provisioned for node %s, the scheduler selected %q", pv.Name, got.Node, pvc.Annotations[provisioner.SelectedNodeAnnotation])
		}
		evs, _ := events(ctx, ns, pvc.UID)
		t.Logf("new claim %s (class %s, made by the StatefulSet controller): Bound to PV %s (%s %s, %s, reclaim %s, zone %s, node %s); events: %s",
			name, class.Name, pv.Name, pv.Spec.CSI.Driver, pv.Spec.CSI.VolumeHandle, capacity(pv), pv.Spec.PersistentVolumeReclaimPolicy, got.Zone, got.Node, eventMessages(evs))
	}
	if t.Failed() {
		t.FailNow()
	}

	var node *corev1.Node
	eventually(t, 60*time.Second, "the new pod scheduled", func(ctx context.Context) (string, error) {
		p, err := c.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return fmt.Sprintf("pod %s: %v", pod, err), nil
		}
		if p.Spec.NodeName == "" {
			evs, _ := events(ctx, ns, p.UID)
			return fmt.Sprintf("pod %s not scheduled; events: %s", pod, eventMessages(evs)), nil
		}
		node, err = c.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		return "", err
	})
	for _, name := range claims {
		pv := pvOf[name]
		key, zone, err := pvZone(pv)
		if err != nil {
			t.Error(err)
			continue
		}
		if node.Labels[key] != zone {
			t.Errorf("pod %s is on node %s (%s=%q), but its new volume %s is in %s", pod, node.Name, key, node.Labels[key], pv.Name, zone)
		}
		if err := nodeRunsDriver(ctx, node.Name, pvDriver(pv)); err != nil {
			t.Errorf("pod %s: %v", pod, err)
		}
		t.Logf("pod %s scheduled on node %s (zone %s, %s=%q) with its new volume %s", pod, node.Name, node.Labels[harness.ZoneLabel], harness.ComputeTypeLabel, node.Labels[harness.ComputeTypeLabel], pv.Name)
	}

	// graft's claims still hold graft's volumes, and the provisioner was
	// asked for the new claims only.
	for key, want := range b.pvcs {
		pvc, err := c.CoreV1().PersistentVolumeClaims(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName != want.Spec.VolumeName {
			t.Errorf("graft's claim %s is %s on %q, want Bound on %q", key, pvc.Status.Phase, pvc.Spec.VolumeName, want.Spec.VolumeName)
		}
	}
	for _, call := range prov.Calls() {
		if !slices.Contains(claims, strings.TrimPrefix(call, ns+"/")) {
			t.Errorf("the provisioner was asked for %s, which is not a new ordinal's claim", call)
		}
	}
}

// assertStaticPending: each new claim stays Pending with the PV
// controller's reason, the new pod stays unscheduled with the scheduler's,
// and no volume is created, though a provisioner for the drivers runs.
func assertStaticPending(t *testing.T, b *built, prov *provisioner.Provisioner, claims []string, pod string) {
	t.Helper()
	c := cluster.Client
	ns := b.members()[0].sts.Namespace
	for _, name := range claims {
		eventually(t, 60*time.Second, fmt.Sprintf("claim %s Pending with %q", name, staticClaimText), func(ctx context.Context) (string, error) {
			pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Sprintf("claim %s: %v", name, err), nil
			}
			if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" {
				return "", fmt.Errorf("claim %s is %s on volume %q", name, pvc.Status.Phase, pvc.Spec.VolumeName)
			}
			evs, err := events(ctx, ns, pvc.UID)
			if err != nil {
				return "", err
			}
			for _, e := range evs {
				if strings.Contains(e.Message, staticClaimText) {
					t.Logf("new claim %s (made by the StatefulSet controller) Pending; event %s %s from %s: %s", name, e.Type, e.Reason, e.Source.Component, e.Message)
					return "", nil
				}
			}
			return fmt.Sprintf("claim %s Pending; events: %s", name, eventMessages(evs)), nil
		})
	}
	waitPodEvent(t, ns, pod, staticPodText)
	consistently(t, 2*time.Second, "nothing provisioned, nothing scheduled", func(ctx context.Context) (string, error) {
		for _, name := range claims {
			pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" {
				return fmt.Sprintf("claim %s is %s on %q", name, pvc.Status.Phase, pvc.Spec.VolumeName), nil
			}
		}
		p, err := c.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if p.Spec.NodeName != "" {
			return "pod " + pod + " scheduled to " + p.Spec.NodeName, nil
		}
		pvs, err := c.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		if len(pvs.Items) != len(b.pvs) {
			return fmt.Sprintf("%d PVs in the cluster, graft rendered %d", len(pvs.Items), len(b.pvs)), nil
		}
		if v := prov.Volumes(); len(v) > 0 {
			return fmt.Sprintf("the provisioner made %v", v), nil
		}
		return "", nil
	})
	if calls := prov.Calls(); len(calls) > 0 {
		t.Errorf("the provisioner was asked for claims %v in static mode", calls)
	}
}

// resizeMigrated asks for 100Gi more on a migrated claim, as a user would
// (a merge patch of spec.resources.requests.storage): the API server accepts
// it in provisioned mode, and its resize admission refuses it in static
// mode.
func resizeMigrated(t *testing.T, b *built, mode string) {
	t.Helper()
	c := cluster.Client
	m := b.members()[0]
	ctx := ctxFor(t, 30*time.Second)
	pvcs := c.CoreV1().PersistentVolumeClaims(m.sts.Namespace)
	before, err := pvcs.Get(ctx, m.claim(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if before.Status.Phase != corev1.ClaimBound || b.pvs[before.Spec.VolumeName] == nil {
		t.Fatalf("claim %s is %s on %q: want a migrated claim Bound to graft's PV", m.claim(), before.Status.Phase, before.Spec.VolumeName)
	}
	size := before.Spec.Resources.Requests[corev1.ResourceStorage]
	larger := size.DeepCopy()
	larger.Add(resource.MustParse("100Gi"))
	patch := fmt.Appendf(nil, `{"spec":{"resources":{"requests":{"storage":%q}}}}`, larger.String())
	_, err = pvcs.Patch(ctx, m.claim(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl"})
	after, gerr := pvcs.Get(ctx, m.claim(), metav1.GetOptions{})
	if gerr != nil {
		t.Fatal(gerr)
	}
	got := after.Spec.Resources.Requests[corev1.ResourceStorage]
	switch mode {
	case modeProvisioned:
		if err != nil {
			t.Fatalf("growing graft's claim %s from %s to %s (class %s): %v", m.claim(), size.String(), larger.String(), ptrVal(before.Spec.StorageClassName), err)
		}
		if got.Cmp(larger) != 0 {
			t.Fatalf("claim %s requests %s after the patch, want %s", m.claim(), got.String(), larger.String())
		}
		t.Logf("provisioned: the API server accepted growing graft's claim %s (class %s) from %s to %s", m.claim(), ptrVal(before.Spec.StorageClassName), size.String(), larger.String())
	default:
		if err == nil {
			t.Fatalf("growing graft's claim %s (class %q) from %s to %s was accepted, want a refusal", m.claim(), ptrVal(before.Spec.StorageClassName), size.String(), larger.String())
		}
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), staticResizeText) {
			t.Fatalf("growing claim %s: %v; want Forbidden with %q", m.claim(), err, staticResizeText)
		}
		if got.Cmp(size) != 0 {
			t.Fatalf("claim %s requests %s after the refused patch, want %s", m.claim(), got.String(), size.String())
		}
		if line := apiserverLogLine("validating admission controller", resizePlugin); line == "" {
			t.Errorf("kube-apiserver's log does not list %s among its validating admission plugins", resizePlugin)
		} else {
			t.Logf("kube-apiserver: %s", line)
		}
		t.Logf("static: growing graft's claim %s from %s to %s refused (HTTP 403, admission plugin %s): %v", m.claim(), size.String(), larger.String(), resizePlugin, err)
	}
}

// apiserverLogLine returns the first kube-apiserver log line that mentions
// both strings, or "".
func apiserverLogLine(a, b string) string {
	return componentLogLine("kube-apiserver.log", a, b, false)
}

func ptrVal(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func capacity(pv *corev1.PersistentVolume) string {
	q := pv.Spec.Capacity[corev1.ResourceStorage]
	return q.String()
}
