package e2e

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/testdata/e2e/harness"
)

// built is an overlay as kustomize built it, with graft's objects typed.
type built struct {
	objs       []*unstructured.Unstructured
	pvs        map[string]*corev1.PersistentVolume      // by name
	pvcs       map[string]*corev1.PersistentVolumeClaim // by namespace/name
	stss       []*appsv1.StatefulSet
	namespaces []string // of every namespaced object
}

// byKind splits objs into those of kind and the rest, each in their order.
func byKind(objs []*unstructured.Unstructured, kind string) (of, rest []*unstructured.Unstructured) {
	for _, o := range objs {
		if o.GetKind() == kind {
			of = append(of, o)
		} else {
			rest = append(rest, o)
		}
	}
	return of, rest
}

func nsName(ns, name string) string { return ns + "/" + name }

func parseBuilt(objs []*unstructured.Unstructured) (*built, error) {
	b := &built{objs: objs, pvs: map[string]*corev1.PersistentVolume{}, pvcs: map[string]*corev1.PersistentVolumeClaim{}}
	nss := map[string]bool{}
	for _, u := range objs {
		if u.GetKind() == "Namespace" {
			nss[u.GetName()] = true
		}
		switch u.GetKind() {
		case "PersistentVolume":
			pv, err := typed[corev1.PersistentVolume](u)
			if err != nil {
				return nil, err
			}
			b.pvs[pv.Name] = pv
			continue
		case "PersistentVolumeClaim":
			pvc, err := typed[corev1.PersistentVolumeClaim](u)
			if err != nil {
				return nil, err
			}
			pvc.Namespace = cmp.Or(pvc.Namespace, "default")
			b.pvcs[nsName(pvc.Namespace, pvc.Name)] = pvc
		case "StatefulSet":
			sts, err := typed[appsv1.StatefulSet](u)
			if err != nil {
				return nil, err
			}
			sts.Namespace = cmp.Or(sts.Namespace, "default")
			b.stss = append(b.stss, sts)
		}
		if !isClusterScoped(u.GetKind()) {
			ns := u.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			nss[ns] = true
		}
	}
	for ns := range nss {
		b.namespaces = append(b.namespaces, ns)
	}
	sort.Strings(b.namespaces)
	sort.Slice(b.stss, func(i, j int) bool {
		return nsName(b.stss[i].Namespace, b.stss[i].Name) < nsName(b.stss[j].Namespace, b.stss[j].Name)
	})
	return b, nil
}

// typed converts u to a T, naming u when it cannot.
func typed[T any](u *unstructured.Unstructured) (*T, error) {
	var x T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &x); err != nil {
		return nil, fmt.Errorf("%s: %w", harness.Ref(u), err)
	}
	return &x, nil
}

func isClusterScoped(kind string) bool {
	switch kind {
	case "Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
		"CustomResourceDefinition", "PriorityClass", "CSIDriver", "Node":
		return true
	}
	return false
}

func mustBuild(t *testing.T, dir string) *built {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	objs, err := harness.Kustomize(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseBuilt(objs)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.pvs) == 0 || len(b.pvcs) == 0 || len(b.stss) == 0 {
		t.Fatalf("overlay %s built %d PVs, %d PVCs, %d StatefulSets: expected graft's PVs and PVCs and a StatefulSet", dir, len(b.pvs), len(b.pvcs), len(b.stss))
	}
	return b
}

// pvZone returns the single zone a PV's required node affinity allows, and
// the label key it uses.
func pvZone(pv *corev1.PersistentVolume) (key, zone string, err error) {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return "", "", fmt.Errorf("PV %s has no required node affinity", pv.Name)
	}
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if (e.Key == harness.ZoneLabel || e.Key == harness.EBSZoneLabel) && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
				return e.Key, e.Values[0], nil
			}
		}
	}
	return "", "", fmt.Errorf("PV %s: no single-zone %s/%s term in its node affinity", pv.Name, harness.ZoneLabel, harness.EBSZoneLabel)
}

// overlayZones lists the zones of the PVs among objs.
func overlayZones(objs []*unstructured.Unstructured) []string {
	return overlayZonesOf(objs, "")
}

// overlayZonesOf lists the zones of the PVs among objs of a CSI driver (any
// when driver is "").
func overlayZonesOf(objs []*unstructured.Unstructured, driver string) []string {
	b, err := parseBuilt(objs)
	if err != nil {
		return nil
	}
	var out []string
	for _, pv := range b.pvs {
		if driver != "" && pvDriver(pv) != driver {
			continue
		}
		if _, z, err := pvZone(pv); err == nil {
			out = append(out, z)
		}
	}
	return out
}

// pvDriver is a PV's CSI driver, or "".
func pvDriver(pv *corev1.PersistentVolume) string {
	if pv.Spec.CSI == nil {
		return ""
	}
	return pv.Spec.CSI.Driver
}

func ordinals(sts *appsv1.StatefulSet) []int {
	start, replicas := 0, 1
	if sts.Spec.Ordinals != nil {
		start = int(sts.Spec.Ordinals.Start)
	}
	if sts.Spec.Replicas != nil {
		replicas = int(*sts.Spec.Replicas)
	}
	var out []int
	for i := start; i < start+replicas; i++ {
		out = append(out, i)
	}
	return out
}

func claimName(template, sts string, ordinal int) string {
	return template + "-" + sts + "-" + strconv.Itoa(ordinal)
}

func podName(sts string, ordinal int) string { return sts + "-" + strconv.Itoa(ordinal) }

// member is one (StatefulSet, ordinal, claim template) graft rendered.
type member struct {
	sts      *appsv1.StatefulSet
	ordinal  int
	template string
	pvc      *corev1.PersistentVolumeClaim
	pv       *corev1.PersistentVolume
}

func (m member) claim() string { return claimName(m.template, m.sts.Name, m.ordinal) }
func (m member) pod() string   { return podName(m.sts.Name, m.ordinal) }

// members lists, for every StatefulSet ordinal and claim template, graft's
// PVC and PV (nil when graft rendered none for it).
func (b *built) members() []member {
	var out []member
	for _, sts := range b.stss {
		for _, o := range ordinals(sts) {
			for _, tmpl := range sts.Spec.VolumeClaimTemplates {
				m := member{sts: sts, ordinal: o, template: tmpl.Name}
				m.pvc = b.pvcs[nsName(sts.Namespace, m.claim())]
				if m.pvc != nil {
					m.pv = b.pvs[m.pvc.Spec.VolumeName]
				}
				out = append(out, m)
			}
		}
	}
	return out
}

// firstMember is the member a corruption targets: the first StatefulSet's
// first ordinal, first claim template graft rendered.
func (b *built) firstMember(t *testing.T) member {
	t.Helper()
	for _, m := range b.members() {
		if m.pvc != nil && m.pv != nil {
			return m
		}
	}
	t.Fatal("the overlay has no StatefulSet ordinal with a graft PVC and PV")
	return member{}
}

// ---------------------------------------------------------------------------
// Cluster operations.

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// ensureNamespaces creates the namespaces (server-side apply) and waits until
// the service-account controller has made their default ServiceAccount, so
// that the StatefulSet controller's pod creation is not refused for it.
func ensureNamespaces(t *testing.T, namespaces []string) {
	t.Helper()
	ctx := ctxFor(t, 60*time.Second)
	// A namespace of the previous scenario may still be terminating
	// (resetCluster does not wait for that): wait until it is gone.
	for _, ns := range namespaces {
		err := harness.Poll(ctx, 200*time.Millisecond, func() (bool, error) {
			got, err := cluster.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			if err != nil {
				return false, nil
			}
			return got.DeletionTimestamp == nil, nil
		})
		if err != nil {
			t.Fatalf("namespace %s of a previous scenario still terminating: %v", ns, err)
		}
	}
	for _, ns := range namespaces {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
		if err := applier.ApplyOne(ctx, u); err != nil {
			t.Fatalf("namespace %s: %v", ns, err)
		}
	}
	for _, ns := range namespaces {
		err := harness.Poll(ctx, 200*time.Millisecond, func() (bool, error) {
			_, err := cluster.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("namespace %s: no default ServiceAccount: %v", ns, err)
		}
	}
}

// apply server-side applies objects as Flux's kustomize-controller would and
// returns the per-object failures.
func apply(t *testing.T, objs []*unstructured.Unstructured) []harness.ApplyError {
	t.Helper()
	return applier.Apply(ctxFor(t, 60*time.Second), objs)
}

func mustApply(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	if errs := apply(t, objs); len(errs) > 0 {
		t.Fatalf("server-side apply failed:\n%s", harness.JoinApplyErrors(errs))
	}
}

// deploy creates the namespaces and applies the built overlay, and registers
// a cleanup that dumps the cluster state on failure and then resets it.
func deploy(t *testing.T, b *built) []harness.ApplyError {
	t.Helper()
	registerReset(t, b.namespaces)
	ensureNamespaces(t, b.namespaces)
	return apply(t, b.objs)
}

// ensureZones registers nodes in any zone of the overlay's PVs that has none
// yet, of the kind the PV's driver needs (TestMain registers the example
// overlays' zones up front; the demo's are only known once it has run).
func ensureZones(t *testing.T, b *built) {
	t.Helper()
	for _, pool := range []struct {
		kind  harness.NodeKind
		zones *[]string
	}{{harness.SelfManaged, &zones}, {harness.AutoMode, &autoZones}} {
		have := map[string]bool{}
		for _, z := range *pool.zones {
			have[z] = true
		}
		var missing []string
		for _, pv := range b.pvs {
			if (pvDriver(pv) == harness.AutoModeDriver) != (pool.kind == harness.AutoMode) {
				continue
			}
			if _, z, err := pvZone(pv); err == nil && !have[z] {
				have[z] = true
				missing = append(missing, z)
			}
		}
		if len(missing) == 0 {
			continue
		}
		ctx := ctxFor(t, 60*time.Second)
		if err := cluster.AddNodesOf(ctx, pool.kind, missing, 2); err != nil {
			t.Fatal(err)
		}
		if err := cluster.WaitNodesSchedulable(ctx, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		*pool.zones = append(*pool.zones, missing...)
		sort.Strings(*pool.zones)
	}
}

func registerReset(t *testing.T, namespaces []string) {
	t.Cleanup(func() {
		if t.Failed() {
			dumpState(t, namespaces)
		}
		if err := resetCluster(); err != nil {
			t.Errorf("resetting the cluster after the test: %v", err)
		}
	})
}

// resetCluster removes every workload namespace, StatefulSet, pod, PVC, PV
// and StorageClass, so that the next scenario starts from an empty cluster
// (PVs are cluster-scoped and the scenarios reuse the overlays' names). Pods
// on nodes without a kubelet are force-deleted, as a real node's kubelet
// would confirm. It waits until every PV and PVC is gone, but not for the
// namespaces: the namespace controller waits 5s before it removes one
// (namespaceDeletionGracePeriod), and ensureNamespaces waits for a
// terminating namespace the next scenario reuses.
func resetCluster() error {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := cluster.Client
	nsList, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	system := map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true}
	var nss []string
	for _, ns := range nsList.Items {
		if !system[ns.Name] && ns.DeletionTimestamp == nil {
			nss = append(nss, ns.Name)
		}
	}
	zero := int64(0)
	bg := metav1.DeletePropagationBackground
	unfinalize := []byte(`{"metadata":{"finalizers":null}}`)
	for _, ns := range nss {
		stss, err := c.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, s := range stss.Items {
			if err := c.AppsV1().StatefulSets(ns).Delete(ctx, s.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	// Pods: until none is left (the StatefulSet controller may still be
	// creating some when its StatefulSet goes).
	err = harness.Poll(ctx, 300*time.Millisecond, func() (bool, error) {
		left := 0
		for _, ns := range nss {
			pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, p := range pods.Items {
				left++
				_ = c.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			}
		}
		return left == 0, nil
	})
	if err != nil {
		return fmt.Errorf("pods: %w", err)
	}
	for _, ns := range nss {
		pvcs, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, p := range pvcs.Items {
			_ = c.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, p.Name, metav1.DeleteOptions{})
			_, _ = c.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, p.Name, types.MergePatchType, unfinalize, metav1.PatchOptions{})
		}
	}
	pvs, err := c.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, p := range pvs.Items {
		_ = c.CoreV1().PersistentVolumes().Delete(ctx, p.Name, metav1.DeleteOptions{})
		_, _ = c.CoreV1().PersistentVolumes().Patch(ctx, p.Name, types.MergePatchType, unfinalize, metav1.PatchOptions{})
	}
	// StorageClasses (provisioned-mode overlays declare theirs; the harness
	// has none of its own).
	scs, err := c.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, sc := range scs.Items {
		if err := c.StorageV1().StorageClasses().Delete(ctx, sc.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	for _, ns := range nss {
		if ns == "default" {
			continue
		}
		if err := c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	// Events in "default" (where events about PVs go) would confuse the next
	// scenario's event assertions; they are filtered by UID anyway.
	err = harness.Poll(ctx, 300*time.Millisecond, func() (bool, error) {
		pvs, err := c.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
		if err != nil || len(pvs.Items) > 0 {
			return false, err
		}
		pvcs, err := c.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
		if err != nil || len(pvcs.Items) > 0 {
			return false, err
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for all PVs and PVCs to go (namespaces %v deleted): %w", nss, err)
	}
	return nil
}

// dumpState logs pods, claims, volumes and events, for a failed test.
func dumpState(t *testing.T, namespaces []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := cluster.Client
	var b strings.Builder
	if pvs, err := c.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, pv := range pvs.Items {
			ref := ""
			if pv.Spec.ClaimRef != nil {
				ref = pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name
			}
			_, z, _ := pvZone(&pv)
			fmt.Fprintf(&b, "PV %s phase=%s claimRef=%s zone=%s reclaim=%s\n", pv.Name, pv.Status.Phase, ref, z, pv.Spec.PersistentVolumeReclaimPolicy)
		}
	}
	for _, ns := range append(namespaces, "default") {
		if pvcs, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, p := range pvcs.Items {
				fmt.Fprintf(&b, "PVC %s/%s phase=%s volumeName=%s\n", ns, p.Name, p.Status.Phase, p.Spec.VolumeName)
			}
		}
		if pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, p := range pods.Items {
				fmt.Fprintf(&b, "Pod %s/%s phase=%s node=%s\n", ns, p.Name, p.Status.Phase, p.Spec.NodeName)
			}
		}
		if evs, err := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, e := range evs.Items {
				fmt.Fprintf(&b, "Event %s %s/%s %s: %s\n", ns, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
			}
		}
	}
	t.Logf("cluster state:\n%s", b.String())
	t.Logf("control-plane logs: %s", strings.Join(cluster.LogPaths(), ", "))
}

// eventually polls cond until it returns "" (success) or the timeout ends, and
// fails the test with cond's last message.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (string, error)) {
	t.Helper()
	ctx := ctxFor(t, timeout)
	last := "not checked"
	err := harness.Poll(ctx, 250*time.Millisecond, func() (bool, error) {
		if err := cluster.Healthy(); err != nil {
			return false, err
		}
		msg, err := cond(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, err
		}
		last = msg
		return msg == "", nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s: %s (%v)", what, timeout, last, err)
	}
}

// consistently checks cond for the whole duration and fails at its first
// complaint.
func consistently(t *testing.T, d time.Duration, what string, cond func(ctx context.Context) (string, error)) {
	t.Helper()
	ctx := ctxFor(t, d+30*time.Second)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		msg, err := cond(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if msg != "" {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// events lists the events about one object (by UID).
func events(ctx context.Context, ns string, uid types.UID) ([]corev1.Event, error) {
	list, err := cluster.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(uid)})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func eventMessages(evs []corev1.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Reason+": "+e.Message)
	}
	return strings.Join(s, " | ")
}

// ---------------------------------------------------------------------------
// graft check.

// runGraft runs the graft binary with args (and env added to the test's)
// and returns its exit code and output; it fails the test when graft could
// not be built or run at all.
func runGraft(t *testing.T, timeout time.Duration, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if graftBin == "" {
		t.Fatalf("graft could not be built: %v", graftErr)
	}
	cmd := exec.CommandContext(ctxFor(t, timeout), graftBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("graft %s: %v\n%s", args[0], err, errOut.String())
	}
	return code, out.String(), errOut.String()
}

// graftCheck runs `graft check DIR --lock LOCK` and returns its exit code and
// output.
func graftCheck(t *testing.T, dir, lock string) (int, string) {
	t.Helper()
	code, stdout, stderr := runGraft(t, 120*time.Second, nil, "check", dir, "--lock", lock)
	return code, stdout + stderr
}

// waitClaimsBound waits until every PVC among objs is Bound.
func waitClaimsBound(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	eventually(t, 60*time.Second, "the claims Bound", func(ctx context.Context) (string, error) {
		for _, u := range objs {
			if u.GetKind() != "PersistentVolumeClaim" {
				continue
			}
			pvc, err := cluster.Client.CoreV1().PersistentVolumeClaims(cmp.Or(u.GetNamespace(), "default")).Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				return err.Error(), nil
			}
			if pvc.Status.Phase != corev1.ClaimBound {
				return fmt.Sprintf("PVC %s/%s is %s", pvc.Namespace, pvc.Name, pvc.Status.Phase), nil
			}
		}
		return "", nil
	})
}

// orphanStatefulSets deletes the StatefulSets as the runbook's
// `kubectl delete statefulset NAME --cascade=orphan` does (their pods and
// claims stay) and waits until they are gone.
func orphanStatefulSets(t *testing.T, stss []*appsv1.StatefulSet, timeout time.Duration) {
	t.Helper()
	c := cluster.Client
	ctx := ctxFor(t, timeout)
	orphan := metav1.DeletePropagationOrphan
	for _, sts := range stss {
		if err := c.AppsV1().StatefulSets(sts.Namespace).Delete(ctx, sts.Name, metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, timeout, "StatefulSets deleted", func(ctx context.Context) (string, error) {
		for _, sts := range stss {
			if _, err := c.AppsV1().StatefulSets(sts.Namespace).Get(ctx, sts.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return "StatefulSet " + sts.Name + " still there", nil
			}
		}
		return "", nil
	})
}

// stayUnscheduled requires the pod to stay unscheduled for a few seconds.
func stayUnscheduled(t *testing.T, ns, pod string) {
	t.Helper()
	consistently(t, 3*time.Second, "pod stays unscheduled", func(ctx context.Context) (string, error) {
		p, err := cluster.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if p.Spec.NodeName != "" {
			return "scheduled to " + p.Spec.NodeName, nil
		}
		return "", nil
	})
}

// lockFor returns the graft.lock recorded for an overlay: DIR/graft.lock,
// REPO/testdata/examples/NAME/graft.lock (where the example overlays' specs
// and records live), or the nearest graft.lock in a parent directory.
func lockFor(t *testing.T, dir string) string {
	t.Helper()
	candidates := []string{
		filepath.Join(dir, "graft.lock"),
		filepath.Join(repoRoot, "testdata", "examples", filepath.Base(dir), "graft.lock"),
	}
	for d := filepath.Dir(dir); d != filepath.Dir(d); d = filepath.Dir(d) {
		candidates = append(candidates, filepath.Join(d, "graft.lock"))
		if d == repoRoot {
			break
		}
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("no graft.lock for overlay %s (looked at %s)", dir, strings.Join(candidates, ", "))
	return ""
}

// ---------------------------------------------------------------------------
// Corrupting a copy of an overlay.

// overlayCopy is a copy of an example overlay in a temporary tree that keeps
// the overlay's relative paths to its base valid.
type overlayCopy struct {
	dir  string // the copied overlay
	lock string // its graft.lock
}

// copyOverlay copies REPO/overlays/NAME to TMP/overlays/NAME and every
// directory outside it that its kustomization references (the base under
// testdata/bases, ...) to the same relative place under TMP.
func copyOverlay(t *testing.T, src string) overlayCopy {
	t.Helper()
	root := t.TempDir()
	rel, err := filepath.Rel(repoRoot, src)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("overlay %s is outside the repository %s", src, repoRoot)
	}
	dst := filepath.Join(root, rel)
	copyTree(t, src, dst)
	// Referenced paths that leave the overlay: copy their top directories
	// (e.g. testdata/bases) so that kustomize finds them at the same
	// relative place.
	kz := readKustomization(t, dst)
	for _, key := range []string{"resources", "components", "bases"} {
		items, _ := kz[key].([]any)
		for _, it := range items {
			p, _ := it.(string)
			if p == "" || strings.Contains(p, "://") || filepath.IsAbs(p) {
				continue
			}
			abs := filepath.Clean(filepath.Join(src, p))
			r, err := filepath.Rel(repoRoot, abs)
			if err != nil || strings.HasPrefix(r, "..") || !strings.HasPrefix(p, "..") {
				continue
			}
			parts := strings.Split(r, string(filepath.Separator))
			top := parts[0]
			if top == "testdata" && len(parts) > 1 {
				top = filepath.Join(parts[0], parts[1])
			}
			if _, err := os.Stat(filepath.Join(root, top)); err == nil {
				continue
			}
			copyTree(t, filepath.Join(repoRoot, top), filepath.Join(root, top))
		}
	}
	lock := lockFor(t, src)
	lockRel, _ := filepath.Rel(repoRoot, lock)
	lockDst := filepath.Join(root, lockRel)
	if _, err := os.Stat(lockDst); err != nil {
		copyFile(t, lock, lockDst)
	}
	return overlayCopy{dir: dst, lock: lockDst}
}

// copyTree and copyFile are this module's own: it cannot import graft's
// internal/testkit without requiring graft's module, whose versions would
// move the Kubernetes build's.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func kustomizationPath(t *testing.T, dir string) string {
	t.Helper()
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return filepath.Join(dir, n)
		}
	}
	t.Fatalf("no kustomization in %s", dir)
	return ""
}

func readKustomization(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(kustomizationPath(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeKustomization(t *testing.T, dir string, m map[string]any) {
	t.Helper()
	data, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kustomizationPath(t, dir), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// editObjects calls edit on every object in the overlay's own YAML files
// (not the kustomization) and rewrites the files where edit changed
// something. It returns how many objects were changed.
func editObjects(t *testing.T, dir string, edit func(u *unstructured.Unstructured) bool) int {
	t.Helper()
	kz := filepath.Base(kustomizationPath(t, dir))
	files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	changed := 0
	for _, f := range files {
		if filepath.Base(f) == kz {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := harness.DecodeYAML(data)
		if err != nil {
			continue // not objects: a JSON 6902 patch, ...
		}
		n := 0
		for _, u := range objs {
			if u.GetKind() != "" && edit(u) {
				n++
			}
		}
		if n == 0 {
			continue
		}
		changed += n
		var out bytes.Buffer
		for i, u := range objs {
			if i > 0 {
				out.WriteString("---\n")
			}
			y, err := yaml.Marshal(u.Object)
			if err != nil {
				t.Fatal(err)
			}
			out.Write(y)
		}
		if err := os.WriteFile(f, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return changed
}

// expectDenied runs graft check on a corrupted overlay and requires exit 1
// and a denial by the rule that covers the corruption.
func expectDenied(t *testing.T, oc overlayCopy, why, rule string) {
	t.Helper()
	code, out := graftCheck(t, oc.dir, oc.lock)
	if code != 1 {
		t.Errorf("graft check on the overlay with %s: exit %d, want 1 (denied)\n%s", why, code, out)
		return
	}
	if !strings.Contains(out, "DENY "+rule) {
		t.Errorf("graft check on the overlay with %s denied it, but not by rule %s:\n%s", why, rule, out)
	}
	t.Logf("graft check denied the overlay with %s (exit 1):\n%s", why, strings.TrimSpace(lastN(out, 15)))
}

func lastN(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
