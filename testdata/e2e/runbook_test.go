package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/graftctl/graft/testdata/e2e/harness"
)

// withoutStatefulSetPatch removes graft's StatefulSet patch from a copied
// overlay's kustomization: what remains is the base StatefulSet as it was,
// without selectors or storage class on its claim templates, plus graft's
// PVs and PVCs.
func withoutStatefulSetPatch(t *testing.T, dir string) {
	t.Helper()
	kz := readKustomization(t, dir)
	removed := 0
	for _, key := range []string{"patches", "patchesJson6902", "patchesStrategicMerge"} {
		items, _ := kz[key].([]any)
		var keep []any
		for _, it := range items {
			if patchTargetsStatefulSet(t, dir, it) {
				removed++
				continue
			}
			keep = append(keep, it)
		}
		if len(keep) == 0 {
			delete(kz, key)
		} else {
			kz[key] = keep
		}
	}
	if removed == 0 {
		t.Fatalf("%s: no StatefulSet patch found in the kustomization", dir)
	}
	writeKustomization(t, dir, kz)
}

func patchTargetsStatefulSet(t *testing.T, dir string, it any) bool {
	switch p := it.(type) {
	case string: // patchesStrategicMerge file
		data, _ := os.ReadFile(filepath.Join(dir, p))
		return strings.Contains(string(data), "kind: StatefulSet")
	case map[string]any:
		if target, ok := p["target"].(map[string]any); ok && target["kind"] == "StatefulSet" {
			return true
		}
		if s, ok := p["patch"].(string); ok && strings.Contains(s, "kind: StatefulSet") {
			return true
		}
		if path, ok := p["path"].(string); ok {
			data, _ := os.ReadFile(filepath.Join(dir, path))
			return strings.Contains(string(data), "kind: StatefulSet")
		}
	}
	return false
}

// TestRunbookExistingStatefulSet proves the documented procedure
// (RUNBOOK.md) for a StatefulSet that already exists without graft's
// selectors: applying the overlay is refused (volumeClaimTemplates are
// immutable); deleting the StatefulSet with --cascade=orphan keeps pods and
// claims, and the re-applied overlay's StatefulSet adopts them without
// recreating a pod.
func TestRunbookExistingStatefulSet(t *testing.T) {
	src := negativeSource(t)
	full := mustBuild(t, src)
	oc := copyOverlay(t, src)
	withoutStatefulSetPatch(t, oc.dir)
	pre := mustBuild(t, oc.dir)
	for _, sts := range pre.stss {
		for _, tmpl := range sts.Spec.VolumeClaimTemplates {
			if tmpl.Spec.Selector != nil {
				t.Fatalf("base StatefulSet %s already has a selector on template %s", sts.Name, tmpl.Name)
			}
		}
	}
	registerReset(t, full.namespaces)
	ensureNamespaces(t, full.namespaces)
	c := cluster.Client

	// 1. The existing state: graft's PVs and PVCs, and the StatefulSet as
	//    the base has it, running on them (claims adopted by name).
	workload, storage := byKind(pre.objs, "StatefulSet")
	mustApply(t, storage)
	waitClaimsBound(t, storage)
	mustApply(t, workload)
	assertLanded(t, pre)

	// 2. Applying the overlay is refused for the StatefulSet.
	errs := apply(t, full.objs)
	var stsErr string
	for _, e := range errs {
		if strings.HasPrefix(e.Object, "StatefulSet/") {
			stsErr = e.Err.Error()
		} else {
			t.Errorf("unexpected apply failure: %v", e)
		}
	}
	// kube-apiserver 1.37 words it "spec.volumeClaimTemplates: Invalid
	// value: ...: field is immutable" (older ones: "Forbidden: updates to
	// statefulset spec for fields other than ...").
	if !strings.Contains(stsErr, "spec.volumeClaimTemplates") || !strings.Contains(stsErr, "field is immutable") {
		t.Fatalf("applying the overlay over the existing StatefulSet: got %q, want spec.volumeClaimTemplates ... field is immutable", stsErr)
	}
	t.Logf("server-side apply of the overlay refused, as expected: %s", stsErr)

	// Remember pods and claims.
	ctx := ctxFor(t, 120*time.Second)
	podUID := map[string]types.UID{}
	claimUID := map[string]types.UID{}
	for _, m := range full.members() {
		p, err := c.CoreV1().Pods(m.sts.Namespace).Get(ctx, m.pod(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		podUID[nsName(p.Namespace, p.Name)] = p.UID
		pvc, err := c.CoreV1().PersistentVolumeClaims(m.sts.Namespace).Get(ctx, m.claim(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		claimUID[nsName(pvc.Namespace, pvc.Name)] = pvc.UID
	}

	// 3. kubectl delete statefulset NAME --cascade=orphan
	orphanStatefulSets(t, full.stss, 60*time.Second)
	eventually(t, 60*time.Second, "pods orphaned", func(ctx context.Context) (string, error) {
		for key, uid := range podUID {
			ns, name, _ := strings.Cut(key, "/")
			p, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return "", fmt.Errorf("pod %s gone after an orphaning delete: %v", key, err)
			}
			if p.UID != uid {
				return "", fmt.Errorf("pod %s was recreated", key)
			}
			if len(p.OwnerReferences) > 0 {
				return "pod " + key + " still owned", nil
			}
		}
		return "", nil
	})

	// 4. Apply the overlay (Flux's next reconciliation): the new StatefulSet
	//    adopts the pods; the claims and their volumes are unchanged.
	mustApply(t, full.objs)
	eventually(t, 90*time.Second, "the new StatefulSet adopts the running pods", func(ctx context.Context) (string, error) {
		for _, sts := range full.stss {
			live, err := c.AppsV1().StatefulSets(sts.Namespace).Get(ctx, sts.Name, metav1.GetOptions{})
			if err != nil {
				return err.Error(), nil
			}
			for _, tmpl := range live.Spec.VolumeClaimTemplates {
				if full.pvcs[nsName(sts.Namespace, claimName(tmpl.Name, sts.Name, ordinals(sts)[0]))] != nil && tmpl.Spec.Selector == nil {
					return "", fmt.Errorf("StatefulSet %s template %s has no selector after the overlay", sts.Name, tmpl.Name)
				}
			}
			for _, o := range ordinals(sts) {
				key := nsName(sts.Namespace, podName(sts.Name, o))
				p, err := c.CoreV1().Pods(sts.Namespace).Get(ctx, podName(sts.Name, o), metav1.GetOptions{})
				if err != nil {
					return err.Error(), nil
				}
				if p.UID != podUID[key] {
					return "", fmt.Errorf("pod %s was recreated (uid %s, was %s)", key, p.UID, podUID[key])
				}
				owned := false
				for _, ref := range p.OwnerReferences {
					if ref.UID == live.UID && ref.Controller != nil && *ref.Controller {
						owned = true
					}
				}
				if !owned {
					return "pod " + key + " not adopted yet", nil
				}
			}
			if live.Status.ObservedGeneration < live.Generation || live.Status.CurrentRevision != live.Status.UpdateRevision {
				return fmt.Sprintf("StatefulSet %s rolling (current %s, update %s)", sts.Name, live.Status.CurrentRevision, live.Status.UpdateRevision), nil
			}
		}
		return "", nil
	})
	consistently(t, 3*time.Second, "no pod restarted, claims kept", func(ctx context.Context) (string, error) {
		for key, uid := range podUID {
			ns, name, _ := strings.Cut(key, "/")
			p, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || p.UID != uid {
				return fmt.Sprintf("pod %s replaced or gone (%v)", key, err), nil
			}
		}
		for key, uid := range claimUID {
			ns, name, _ := strings.Cut(key, "/")
			pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || pvc.UID != uid || pvc.Status.Phase != corev1.ClaimBound {
				return fmt.Sprintf("claim %s replaced, gone or unbound (%v)", key, err), nil
			}
		}
		return "", nil
	})
	assertLanded(t, full)
	assertVerified(t, src, lockFor(t, src)) // the runbook's step 5
	t.Logf("runbook: %d pods and %d claims kept and adopted by the new StatefulSet(s); applied with field manager %s", len(podUID), len(claimUID), harness.FieldManager)
}
