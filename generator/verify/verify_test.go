package verify_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
	"github.com/graftctl/graft/generator/verify"
	"github.com/graftctl/graft/internal/testkit/examples"
)

func example(t *testing.T) (*spec.Migration, *record.Record) {
	t.Helper()
	return examples.Load(t, "cassandra-3node")
}

func run(t *testing.T, m *spec.Migration, rec *record.Record, objs []runtime.Object) *verify.Report {
	t.Helper()
	v := &verify.Verifier{Kube: fake.NewClientset(objs...), Spec: m, Rec: rec}
	rep, err := v.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerifyPassesAfterACutOver(t *testing.T) {
	m, rec := example(t)
	rep := run(t, m, rec, examples.CutOver(m, rec))
	if !rep.Passed || len(rep.Members) != len(rec.Volumes) {
		t.Fatalf("report %+v, want passed with %d members", rep, len(rec.Volumes))
	}
	for _, mb := range rep.Members {
		if len(mb.Checks) != len(verify.Checks) || !mb.OK() || mb.Node == "" {
			t.Errorf("member %+v", mb)
		}
	}
}

// TestVerifyNamesTheCause: each defect fails the member at the check that
// sees it, names what was found, and gives the cluster's reason; the
// checks after it are reported as not made.
func TestVerifyNamesTheCause(t *testing.T) {
	m, rec := example(t)
	ns := m.Spec.Target.Namespace
	claim0, pv0 := rec.Volumes[0].ClaimName(), spec.PVName(ns, rec.Volumes[0].ClaimName())
	cases := []struct {
		name, check, want, reason string
		edit                      func(objs []runtime.Object) []runtime.Object
	}{
		{"claim bound to another PV", verify.CheckClaimBound, "names volume \"other\"", "", func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if c, ok := o.(*corev1.PersistentVolumeClaim); ok && c.Name == claim0 {
					c.Spec.VolumeName = "other"
				}
			}
			return objs
		}},
		{"claim pending", verify.CheckClaimBound, "is Pending, expected Bound", "FailedBinding: volume is bound to another claim", func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if c, ok := o.(*corev1.PersistentVolumeClaim); ok && c.Name == claim0 {
					c.Status.Phase = corev1.ClaimPending
				}
			}
			return append(objs, event(ns, "PersistentVolumeClaim", claim0, "FailedBinding", "volume is bound to another claim"))
		}},
		{"PV missing", verify.CheckVolume, "PersistentVolume " + pv0 + " does not exist", "", func(objs []runtime.Object) []runtime.Object {
			return slices.DeleteFunc(objs, func(o runtime.Object) bool { p, ok := o.(*corev1.PersistentVolume); return ok && p.Name == pv0 })
		}},
		{"PV missing, claim pending", verify.CheckClaimBound, "is Pending, expected Bound: its PersistentVolume " + pv0 + " does not exist", "", func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if c, ok := o.(*corev1.PersistentVolumeClaim); ok && c.Name == claim0 {
					c.Status.Phase = corev1.ClaimPending
				}
			}
			return slices.DeleteFunc(objs, func(o runtime.Object) bool { p, ok := o.(*corev1.PersistentVolume); return ok && p.Name == pv0 })
		}},
		{"PV on another volume", verify.CheckVolume, "expected the recorded " + rec.Volumes[0].TargetVolume, "", func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if p, ok := o.(*corev1.PersistentVolume); ok && p.Name == pv0 {
					p.Spec.CSI.VolumeHandle = "vol-0123456789abcdef0"
				}
			}
			return objs
		}},
		{"PV bound to another claim's uid", verify.CheckVolume, "is bound to", "", func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if p, ok := o.(*corev1.PersistentVolume); ok && p.Name == pv0 {
					p.Spec.ClaimRef.UID = "someone-else"
				}
			}
			return objs
		}},
		{"pod not scheduled", verify.CheckPodScheduled, "is not scheduled", "FailedScheduling: 0/3 nodes are available: 3 node(s) didn't match PersistentVolume's node affinity.", func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if p, ok := o.(*corev1.Pod); ok && p.Name == "cassandra-0" {
					p.Spec.NodeName = ""
				}
			}
			return append(objs, event(ns, "Pod", "cassandra-0", "FailedScheduling", "0/3 nodes are available: 3 node(s) didn't match PersistentVolume's node affinity."))
		}},
		{"claim being deleted", verify.CheckClaimBound, "is being deleted (held by kubernetes.io/pvc-protection)", "", editClaim(claim0, func(c *corev1.PersistentVolumeClaim) {
			now := metav1.Now()
			c.DeletionTimestamp, c.Finalizers = &now, []string{"kubernetes.io/pvc-protection"}
		})},
		{"PV reclaim policy Delete on the cluster", verify.CheckVolume, `has reclaim policy "Delete", expected Retain: deleting its claim would delete EBS volume ` + rec.Volumes[0].TargetVolume, "", editPV(pv0, func(p *corev1.PersistentVolume) {
			p.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
		})},
		{"PV released", verify.CheckVolume, "is Released, expected Bound", "", editPV(pv0, func(p *corev1.PersistentVolume) { p.Status.Phase = corev1.VolumeReleased })},
		{"PV being deleted", verify.CheckVolume, "is being deleted", "", editPV(pv0, func(p *corev1.PersistentVolume) {
			now := metav1.Now()
			p.DeletionTimestamp = &now
		})},
		{"pod of another controller", verify.CheckPodClaim, "is controlled by ReplicaSet impostor, expected StatefulSet cassandra", "", editPod("cassandra-0", func(p *corev1.Pod) {
			p.OwnerReferences[0].Kind, p.OwnerReferences[0].Name = "ReplicaSet", "impostor"
		})},
		{"pod of a deleted StatefulSet of the name", verify.CheckPodClaim, "is controlled by StatefulSet cassandra of uid uid-old, not the StatefulSet cassandra whose uid is uid-sts", "", editPod("cassandra-0", func(p *corev1.Pod) {
			p.OwnerReferences[0].UID = "uid-old"
		})},
		{"pod of another group's StatefulSet", verify.CheckPodClaim, "is controlled by StatefulSet cassandra (apps.kruise.io/v1beta1), expected StatefulSet cassandra (apps/v1)", "", editPod("cassandra-0", func(p *corev1.Pod) {
			p.OwnerReferences[0].APIVersion = "apps.kruise.io/v1beta1"
		})},
		{"orphan pod", verify.CheckPodClaim, "is controlled by no controller", "", editPod("cassandra-0", func(p *corev1.Pod) { p.OwnerReferences = nil })},
		{"pod mounts another claim", verify.CheckPodClaim, "does not mount claim " + claim0 + " (it mounts scratch-cassandra-0)", "", editPod("cassandra-0", func(p *corev1.Pod) {
			p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName = "scratch-cassandra-0"
		})},
		{"pod mounts no claim", verify.CheckPodClaim, "(it mounts no claim)", "", editPod("cassandra-0", func(p *corev1.Pod) {
			p.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
		})},
		{"pod terminating", verify.CheckPodReady, "is terminating", "", editPod("cassandra-0", func(p *corev1.Pod) {
			now := metav1.Now()
			p.DeletionTimestamp = &now
		})},
		{"pod in another zone", verify.CheckPodZone, "expected " + rec.Volumes[0].TargetZone, "", func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if p, ok := o.(*corev1.Pod); ok && p.Name == "cassandra-0" {
					p.Spec.NodeName = "node-" + rec.Volumes[1].TargetZone
				}
			}
			return objs
		}},
		{"pod not ready", verify.CheckPodReady, "not Ready", "", func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if p, ok := o.(*corev1.Pod); ok && p.Name == "cassandra-0" {
					p.Status.Conditions = nil
					p.Status.Phase = corev1.PodPending
				}
			}
			return objs
		}},
		{"attach error", verify.CheckAttached, "is not attached yet", "rpc error: AttachVolume.Attach failed: UnauthorizedOperation", func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if va, ok := o.(*storagev1.VolumeAttachment); ok && *va.Spec.Source.PersistentVolumeName == pv0 {
					va.Status.Attached = false
					va.Status.AttachError = &storagev1.VolumeError{Message: "rpc error: AttachVolume.Attach failed: UnauthorizedOperation"}
				}
			}
			return objs
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := run(t, m, rec, c.edit(examples.CutOver(m, rec)))
			if rep.Passed {
				t.Fatal("passed")
			}
			mb := rep.Members[0]
			var failed *verify.Check
			after := false
			for i := range mb.Checks {
				ch := &mb.Checks[i]
				switch {
				case failed != nil:
					after = true
					if ch.OK || !strings.HasPrefix(ch.Message, "not checked") {
						t.Errorf("check %s after the failed one: %+v", ch.Name, ch)
					}
				case !ch.OK:
					failed = ch
				}
			}
			if failed == nil || failed.Name != c.check || !strings.Contains(failed.Message, c.want) || !strings.Contains(failed.Reason, c.reason) {
				t.Fatalf("failed check %+v, want %s with %q and reason %q", failed, c.check, c.want, c.reason)
			}
			if c.check != verify.CheckAttached && !after {
				t.Error("no check reported as not made after the failed one")
			}
			for _, other := range rep.Members[1:] {
				if !other.OK() {
					t.Errorf("member %s/%d failed too: %+v", other.StatefulSet, other.Ordinal, other.Checks)
				}
			}
		})
	}
}

// TestVerifyStatefulSetBeyondTheRecord: a StatefulSet scaled past the
// recorded members runs an ordinal without graft's volume; a missing one
// is named.
func TestVerifyStatefulSetBeyondTheRecord(t *testing.T) {
	m, rec := example(t)
	objs := examples.CutOver(m, rec)
	four := int32(4)
	objs[0].(*appsv1.StatefulSet).Spec.Replicas = &four
	rep := run(t, m, rec, objs)
	if rep.Passed || len(rep.StatefulSets) != 1 || !strings.Contains(rep.StatefulSets[0].Message, "runs ordinal 3 (replicas 4 from 0), which graft.lock holds no volume for") {
		t.Errorf("StatefulSet problems %+v, passed %v", rep.StatefulSets, rep.Passed)
	}
	rep = run(t, m, rec, objs[1:])
	if rep.Passed || len(rep.StatefulSets) != 1 || rep.StatefulSets[0].Message != "does not exist" {
		t.Errorf("without the StatefulSet: %+v", rep.StatefulSets)
	}
}

// TestVerifyStatefulSetThatDeletesClaims: a StatefulSet on the cluster
// that would delete graft's claims (a retention policy of Delete, which an
// operator or a patch on the cluster can set where the gate never saw it)
// or that is being deleted fails, each named.
func TestVerifyStatefulSetThatDeletesClaims(t *testing.T) {
	m, rec := example(t)
	for _, c := range []struct {
		name string
		edit func(*appsv1.StatefulSet)
		want []string
	}{
		{"whenScaled Delete", func(s *appsv1.StatefulSet) {
			s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
		}, []string{"persistentVolumeClaimRetentionPolicy.whenScaled is Delete, expected Retain: scaling it down deletes graft's claims"}},
		{"both Delete", func(s *appsv1.StatefulSet) {
			s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
		}, []string{"whenDeleted is Delete", "whenScaled is Delete"}},
		{"being deleted", func(s *appsv1.StatefulSet) {
			now := metav1.Now()
			s.DeletionTimestamp, s.Finalizers = &now, []string{"foregroundDeletion"}
		}, []string{"is being deleted (held by foregroundDeletion)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs := examples.CutOver(m, rec)
			c.edit(objs[0].(*appsv1.StatefulSet))
			rep := run(t, m, rec, objs)
			if rep.Passed || len(rep.StatefulSets) != len(c.want) {
				t.Fatalf("passed %v, problems %+v; want %q", rep.Passed, rep.StatefulSets, c.want)
			}
			for i, w := range c.want {
				if p := rep.StatefulSets[i]; p.Object != "StatefulSet "+m.Spec.Target.Namespace+"/cassandra" || !strings.Contains(p.Message, w) {
					t.Errorf("problem %d: %+v, want %q", i, p, w)
				}
			}
		})
	}
	objs := examples.CutOver(m, rec)
	objs[0].(*appsv1.StatefulSet).Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType}
	if rep := run(t, m, rec, objs); !rep.Passed {
		t.Errorf("a StatefulSet that retains its claims failed: %+v", rep.StatefulSets)
	}
}

func event(ns, kind, name, reason, msg string) *corev1.Event {
	return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name + "." + reason, Namespace: ns}, Type: corev1.EventTypeWarning,
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: ns}, Reason: reason, Message: msg, LastTimestamp: metav1.Now()}
}

// editClaim, editPV and editPod are cases' edits of one object of the
// cut-over cluster.
func editClaim(name string, edit func(*corev1.PersistentVolumeClaim)) func([]runtime.Object) []runtime.Object {
	return editObject(func(c *corev1.PersistentVolumeClaim) bool { return c.Name == name }, edit)
}

func editPV(name string, edit func(*corev1.PersistentVolume)) func([]runtime.Object) []runtime.Object {
	return editObject(func(p *corev1.PersistentVolume) bool { return p.Name == name }, edit)
}

func editPod(name string, edit func(*corev1.Pod)) func([]runtime.Object) []runtime.Object {
	return editObject(func(p *corev1.Pod) bool { return p.Name == name }, edit)
}

func editObject[T runtime.Object](match func(T) bool, edit func(T)) func([]runtime.Object) []runtime.Object {
	return func(objs []runtime.Object) []runtime.Object {
		for _, o := range objs {
			if t, ok := o.(T); ok && match(t) {
				edit(t)
			}
		}
		return objs
	}
}

// TestVerifyTextEscapesTheClustersWords: an event's message (any text a
// controller or a user wrote) in a failed member's reason cannot add a
// line to verify's report or drive the terminal.
func TestVerifyTextEscapesTheClustersWords(t *testing.T) {
	m, rec := example(t)
	ns := m.Spec.Target.Namespace
	objs := editPod("cassandra-0", func(p *corev1.Pod) { p.Spec.NodeName = "" })(examples.CutOver(m, rec))
	objs = append(objs, event(ns, "Pod", "cassandra-0", "FailedScheduling", termtexttest.Hostile))
	rep := run(t, m, rec, objs)
	var out strings.Builder
	if err := rep.WriteText(&out, ansi.Palette{}); err != nil {
		t.Fatal(err)
	}
	// Two right members, the failed one and its reason, the verdict.
	termtexttest.Check(t, "verify text", out.String(), len(rec.Volumes)+2)
	if !strings.Contains(out.String(), `reason: FailedScheduling: x\n✓ check passed`) {
		t.Errorf("the reason is not shown escaped:\n%s", out.String())
	}
}
