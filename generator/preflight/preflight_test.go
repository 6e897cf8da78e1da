package preflight

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/kubeclient"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// example builds an example overlay of the repository with render.Build and
// reads it with its record, as the command does.
func example(t *testing.T, name string) *Overlay {
	t.Helper()
	built, err := render.Build(filepath.Join("..", "..", "overlays", name))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := record.Load(filepath.Join("..", "..", "testdata", "examples", name, record.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseBuilt(built, rec)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// node is a Ready, untainted node with the labels of a pool's node.
func node(name, zone string, auto bool) *corev1.Node {
	l := map[string]string{"topology.kubernetes.io/zone": zone, "kubernetes.io/hostname": name}
	if auto {
		l[ComputeTypeLabel] = ComputeTypeAuto
	} else {
		l["topology.ebs.csi.aws.com/zone"] = zone
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

func csiNode(name, driver string) *storagev1.CSINode {
	return &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: driver, NodeID: name}}}}
}

// prepared is a cluster that takes the overlay: nodes in every zone of
// the record (of the PVs' kind), the drivers, the namespaces.
func prepared(o *Overlay) []runtime.Object {
	var objs []runtime.Object
	seen := map[string]bool{}
	for _, v := range o.Record.Volumes {
		auto := v.Driver() == "ebs.csi.eks.amazonaws.com"
		name := fmt.Sprintf("n-%s-%v", v.TargetZone, auto)
		if !seen[name] {
			seen[name] = true
			objs = append(objs, node(name, v.TargetZone, auto), csiNode(name, v.Driver()))
		}
	}
	for _, d := range o.drivers() {
		objs = append(objs, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: d}})
	}
	for _, ns := range o.Namespaces {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	return objs
}

func run(t *testing.T, o *Overlay, objs ...runtime.Object) []Result {
	t.Helper()
	rs, err := Run(context.Background(), fake.NewClientset(objs...), o, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// only returns the results of one check.
func only(rs []Result, id string) []Result {
	var out []Result
	for _, r := range rs {
		if r.ID == id {
			out = append(out, r)
		}
	}
	return out
}

func failures(rs []Result) []Result {
	var out []Result
	for _, r := range rs {
		if r.Status == Fail {
			out = append(out, r)
		}
	}
	return out
}

// wantOneFailure asserts that exactly one check failed, of id, and that
// its message and fix say what is expected.
func wantOneFailure(t *testing.T, rs []Result, id string, msg, fix []string) Result {
	t.Helper()
	f := failures(rs)
	if len(f) != 1 || f[0].ID != id {
		t.Fatalf("want one %s failure, got %+v", id, f)
	}
	for _, s := range msg {
		if !strings.Contains(f[0].Message, s) {
			t.Errorf("message %q does not say %q", f[0].Message, s)
		}
	}
	for _, s := range fix {
		if !strings.Contains(f[0].Fix, s) {
			t.Errorf("fix %q does not say %q", f[0].Fix, s)
		}
	}
	return f[0]
}

func TestParseBuilt(t *testing.T) {
	o := example(t, "cassandra-3node")
	if len(o.PVs) != 3 || len(o.PVCs) != 3 || len(o.StatefulSets) != 1 {
		t.Fatalf("got %d PVs, %d PVCs, %d StatefulSets", len(o.PVs), len(o.PVCs), len(o.StatefulSets))
	}
	if strings.Join(o.Namespaces, ",") != "cassandra" {
		t.Errorf("namespaces %v, want [cassandra]", o.Namespaces)
	}
	if o.PVCs[0].Namespace != "cassandra" || o.PVCs[0].Spec.VolumeName == "" {
		t.Errorf("PVC %+v", o.PVCs[0].ObjectMeta)
	}
	if _, err := ParseBuilt([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), o.Record); !errors.Is(err, ErrInput) {
		t.Errorf("an overlay without PVs: %v, want ErrInput", err)
	}
	if _, err := ParseBuilt([]byte("kind: [\n"), o.Record); !errors.Is(err, ErrInput) {
		t.Errorf("bad YAML: %v, want ErrInput", err)
	}
	// A Namespace in the overlay, and a namespaced object without one.
	built := "apiVersion: v1\nkind: Namespace\nmetadata: {name: made}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n" +
		"apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv}\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c, namespace: made}\n"
	built += "---\napiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: cluster-scoped-custom}\n" +
		"---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: custom}\n"
	o2, err := ParseBuilt([]byte(built), o.Record)
	if err != nil {
		t.Fatal(err)
	}
	if !o2.Creates["made"] || strings.Join(o2.Namespaces, ",") != "custom,default,made" {
		t.Errorf("creates %v, namespaces %v", o2.Creates, o2.Namespaces)
	}
}

func TestPreparedClusterPasses(t *testing.T) {
	for _, name := range []string{"cassandra-3node", "cassandra-3node-auto-mode", "cassandra-6node-racks", "cassandra-argocd-ordinals"} {
		t.Run(name, func(t *testing.T) {
			o := example(t, name)
			rs := run(t, o, prepared(o)...)
			if f := failures(rs); len(f) > 0 {
				t.Fatalf("failures on a prepared cluster: %+v", f)
			}
			for _, id := range []string{IDZoneNodes, IDCSIDriver, IDNamespace, IDPV, IDPVC, IDStatefulSet, IDVolumeHandle} {
				if len(only(rs, id)) == 0 {
					t.Errorf("no %s result", id)
				}
			}
			if got, want := len(only(rs, IDPV)), len(o.PVs); got != want {
				t.Errorf("%d pv results, want one per PV (%d)", got, want)
			}
		})
	}
}

func TestZoneNodes(t *testing.T) {
	o := example(t, "cassandra-3node")
	zone := o.Record.Volumes[0].TargetZone
	without := func(drop func(*corev1.Node) bool, edit func(*corev1.Node)) []runtime.Object {
		var out []runtime.Object
		for _, obj := range prepared(o) {
			if n, ok := obj.(*corev1.Node); ok {
				if drop != nil && drop(n) {
					continue
				}
				if edit != nil && n.Labels["topology.kubernetes.io/zone"] == zone {
					edit(n)
				}
			}
			out = append(out, obj)
		}
		return out
	}
	t.Run("no node in a zone", func(t *testing.T) {
		rs := run(t, o, without(func(n *corev1.Node) bool { return n.Labels["topology.kubernetes.io/zone"] == zone }, nil)...)
		wantOneFailure(t, rs, IDZoneNodes, []string{"zone " + zone, "no node carries topology.kubernetes.io/zone=" + zone}, []string{"add nodes in zone " + zone})
	})
	t.Run("wrong key: Auto Mode nodes only", func(t *testing.T) {
		objs := without(func(n *corev1.Node) bool { return n.Labels["topology.kubernetes.io/zone"] == zone }, nil)
		objs = append(objs, node("auto", zone, true), csiNode("auto", "ebs.csi.eks.amazonaws.com"))
		wantOneFailure(t, run(t, o, objs...), IDZoneNodes, []string{"none can take the pods", "auto does not run the CSI driver ebs.csi.aws.com"}, nil)
	})
	cases := []struct {
		name string
		edit func(*corev1.Node)
		msg  string
	}{
		{"cordoned", func(n *corev1.Node) { n.Spec.Unschedulable = true }, "cordoned"},
		{"not ready", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionUnknown }, "not Ready"},
		{"no ready condition", func(n *corev1.Node) { n.Status.Conditions = nil }, "not Ready"},
		{"NoSchedule taint", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "kafka", Effect: corev1.TaintEffectNoSchedule}}
		}, "taint dedicated=kafka:NoSchedule"},
		{"NoExecute taint", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectNoExecute}}
		}, "taint x=:NoExecute"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantOneFailure(t, run(t, o, without(nil, c.edit)...), IDZoneNodes, []string{"zone " + zone, "none can take the pods", c.msg}, []string{"uncordon"})
		})
	}
	t.Run("PreferNoSchedule taint is fine", func(t *testing.T) {
		rs := run(t, o, without(nil, func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectPreferNoSchedule}}
		})...)
		if f := failures(rs); len(f) > 0 {
			t.Fatal(f)
		}
	})
	t.Run("a tolerated taint is fine", func(t *testing.T) {
		o := example(t, "cassandra-3node")
		o.StatefulSets[0].Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "cassandra", Effect: corev1.TaintEffectNoSchedule}}
		objs := without(nil, func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "cassandra", Effect: corev1.TaintEffectNoSchedule}}
		})
		if f := failures(run(t, o, objs...)); len(f) > 0 {
			t.Fatal(f)
		}
		// another value of the key is not tolerated
		objs = without(nil, func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "kafka", Effect: corev1.TaintEffectNoSchedule}}
		})
		wantOneFailure(t, run(t, o, objs...), IDZoneNodes, []string{"not tolerated"}, nil)
	})
	t.Run("node without a CSINode", func(t *testing.T) {
		objs := slices.DeleteFunc(prepared(o), func(obj runtime.Object) bool {
			cn, ok := obj.(*storagev1.CSINode)
			return ok && strings.Contains(cn.Name, zone)
		})
		wantOneFailure(t, run(t, o, objs...), IDZoneNodes, []string{"does not run the CSI driver ebs.csi.aws.com"}, nil)
	})
	t.Run("one good node of several is enough", func(t *testing.T) {
		objs := without(nil, func(n *corev1.Node) { n.Spec.Unschedulable = true })
		objs = append(objs, node("spare", zone, false), csiNode("spare", "ebs.csi.aws.com"))
		if f := failures(run(t, o, objs...)); len(f) > 0 {
			t.Fatal(f)
		}
	})
	t.Run("PV without node affinity", func(t *testing.T) {
		o := example(t, "cassandra-3node")
		o.PVs[1].Spec.NodeAffinity = nil
		wantOneFailure(t, run(t, o, prepared(o)...), IDZoneNodes, []string{"no required node affinity"}, nil)
	})
}

func TestZoneNodesAutoMode(t *testing.T) {
	o := example(t, "cassandra-3node-auto-mode")
	zone := o.Record.Volumes[0].TargetZone
	// Self-managed nodes carry topology.kubernetes.io/zone too, but not
	// compute-type=auto: they do not count for an Auto Mode PV.
	var objs []runtime.Object
	for _, obj := range prepared(o) {
		if n, ok := obj.(*corev1.Node); ok && n.Labels["topology.kubernetes.io/zone"] == zone {
			obj = node("self", zone, false)
		}
		if n, ok := obj.(*storagev1.CSINode); ok && strings.Contains(n.Name, zone) {
			obj = csiNode("self", "ebs.csi.eks.amazonaws.com") // even running the driver
		}
		objs = append(objs, obj)
	}
	wantOneFailure(t, run(t, o, objs...), IDZoneNodes, []string{"zone " + zone, ComputeTypeLabel + "=" + ComputeTypeAuto}, nil)

	// Even when the PV's affinity does not ask for compute-type itself.
	for _, pv := range o.PVs {
		terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
		for i := range terms {
			var keep []corev1.NodeSelectorRequirement
			for _, e := range terms[i].MatchExpressions {
				if e.Key != ComputeTypeLabel {
					keep = append(keep, e)
				}
			}
			terms[i].MatchExpressions = keep
		}
	}
	wantOneFailure(t, run(t, o, objs...), IDZoneNodes, []string{ComputeTypeLabel + "=" + ComputeTypeAuto}, nil)
}

func TestCSIDriver(t *testing.T) {
	for _, c := range []struct{ overlay, driver string }{
		{"cassandra-3node", "ebs.csi.aws.com"},
		{"cassandra-3node-auto-mode", "ebs.csi.eks.amazonaws.com"},
	} {
		t.Run(c.driver, func(t *testing.T) {
			o := example(t, c.overlay)
			objs := slices.DeleteFunc(prepared(o), func(obj runtime.Object) bool { _, ok := obj.(*storagev1.CSIDriver); return ok })
			// The other driver is installed: it does not stand in.
			for _, d := range []string{"ebs.csi.aws.com", "ebs.csi.eks.amazonaws.com"} {
				if d != c.driver {
					objs = append(objs, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: d}})
				}
			}
			r := wantOneFailure(t, run(t, o, objs...), IDCSIDriver, []string{"no CSIDriver " + c.driver}, []string{"spec.target.cluster"})
			if r.Object != "CSIDriver "+c.driver {
				t.Errorf("object %q", r.Object)
			}
		})
	}
}

func TestStorageClass(t *testing.T) {
	ptr := func(b bool) *bool { return &b }
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	imm := storagev1.VolumeBindingImmediate
	good := func() *storagev1.StorageClass {
		retain := corev1.PersistentVolumeReclaimRetain
		return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "cassandra-gp3"}, Provisioner: "ebs.csi.aws.com",
			AllowVolumeExpansion: ptr(true), VolumeBindingMode: &wffc, ReclaimPolicy: &retain,
			Parameters: map[string]string{"type": "gp3", "csi.storage.k8s.io/fstype": "ext4"}}
	}
	t.Run("declared, none in the cluster", func(t *testing.T) {
		o := example(t, "cassandra-3node-provisioned")
		rs := run(t, o, prepared(o)...)
		if f := failures(rs); len(f) > 0 || len(only(rs, IDStorageClass)) != 1 {
			t.Fatal(rs)
		}
	})
	t.Run("declared, the same in the cluster", func(t *testing.T) {
		o := example(t, "cassandra-3node-provisioned")
		if f := failures(run(t, o, append(prepared(o), good())...)); len(f) > 0 {
			t.Fatal(f)
		}
	})
	for _, c := range []struct {
		name string
		edit func(*storagev1.StorageClass)
		msg  string
	}{
		{"provisioner", func(sc *storagev1.StorageClass) { sc.Provisioner = "kubernetes.io/aws-ebs" }, "provisioner kubernetes.io/aws-ebs"},
		{"parameters", func(sc *storagev1.StorageClass) { sc.Parameters["type"] = "io2" }, "parameters"},
		{"reclaim", func(sc *storagev1.StorageClass) { sc.ReclaimPolicy = nil }, "reclaimPolicy Delete"},
		{"binding mode", func(sc *storagev1.StorageClass) { sc.VolumeBindingMode = &imm }, "volumeBindingMode Immediate"},
	} {
		t.Run("declared, differs in "+c.name, func(t *testing.T) {
			o := example(t, "cassandra-3node-provisioned")
			sc := good()
			c.edit(sc)
			wantOneFailure(t, run(t, o, append(prepared(o), sc)...), IDStorageClass, []string{"immutable", c.msg}, []string{"spec.target.storageClassName"})
		})
	}
	existing := func(t *testing.T) *Overlay {
		o := example(t, "cassandra-3node-provisioned")
		o.StorageClasses = nil
		o.Record.Binding.StorageClass = "existing"
		return o
	}
	t.Run("existing, present and right", func(t *testing.T) {
		o := existing(t)
		rs := run(t, o, append(prepared(o), good())...)
		if f := failures(rs); len(f) > 0 || len(only(rs, IDStorageClass)) != 1 {
			t.Fatal(rs)
		}
	})
	t.Run("existing, missing", func(t *testing.T) {
		o := existing(t)
		wantOneFailure(t, run(t, o, prepared(o)...), IDStorageClass, []string{"has none"}, []string{"create the StorageClass"})
	})
	for _, c := range []struct {
		name string
		edit func(*storagev1.StorageClass)
		msg  string
	}{
		{"provisioner", func(sc *storagev1.StorageClass) { sc.Provisioner = "ebs.csi.eks.amazonaws.com" }, "expected ebs.csi.aws.com"},
		{"no expansion", func(sc *storagev1.StorageClass) { sc.AllowVolumeExpansion = nil }, "allowVolumeExpansion"},
		{"expansion false", func(sc *storagev1.StorageClass) { sc.AllowVolumeExpansion = ptr(false) }, "allowVolumeExpansion"},
		{"immediate", func(sc *storagev1.StorageClass) { sc.VolumeBindingMode = &imm }, "volumeBindingMode is Immediate"},
		{"binding mode unset", func(sc *storagev1.StorageClass) { sc.VolumeBindingMode = nil }, "volumeBindingMode is Immediate"},
	} {
		t.Run("existing, "+c.name, func(t *testing.T) {
			o := existing(t)
			sc := good()
			c.edit(sc)
			wantOneFailure(t, run(t, o, append(prepared(o), sc)...), IDStorageClass, []string{c.msg}, nil)
		})
	}
	t.Run("static mode checks no class", func(t *testing.T) {
		o := example(t, "cassandra-3node")
		if rs := run(t, o, prepared(o)...); len(only(rs, IDStorageClass)) != 0 {
			t.Fatal(rs)
		}
	})
}

func TestNamespace(t *testing.T) {
	o := example(t, "cassandra-3node")
	noNS := slices.DeleteFunc(prepared(o), func(obj runtime.Object) bool { _, ok := obj.(*corev1.Namespace); return ok })
	wantOneFailure(t, run(t, o, noNS...), IDNamespace, []string{"namespace cassandra does not exist"}, []string{"kubectl create namespace cassandra"})

	terminating := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cassandra"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	wantOneFailure(t, run(t, o, append(noNS, terminating)...), IDNamespace, []string{"Terminating"}, nil)

	o.Creates["cassandra"] = true
	rs := run(t, o, noNS...)
	if f := failures(rs); len(f) > 0 || !strings.Contains(only(rs, IDNamespace)[0].Message, "overlay creates") {
		t.Fatal(rs)
	}
}

func TestPVNames(t *testing.T) {
	o := example(t, "cassandra-3node")
	want := o.PVs[0]
	mk := func(edit func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
		pv := want.DeepCopy()
		pv.Spec.ClaimRef = want.Spec.ClaimRef.DeepCopy()
		pv.Spec.ClaimRef.UID = "u1"
		pv.Status.Phase = corev1.VolumeBound
		if edit != nil {
			edit(pv)
		}
		return pv
	}
	t.Run("bound to the same claim: a re-apply", func(t *testing.T) {
		if f := failures(run(t, o, append(prepared(o), mk(nil))...)); len(f) > 0 {
			t.Fatal(f)
		}
	})
	t.Run("no claimRef, same volume", func(t *testing.T) {
		pv := mk(func(pv *corev1.PersistentVolume) { pv.Spec.ClaimRef = nil; pv.Status.Phase = corev1.VolumeAvailable })
		if f := failures(run(t, o, append(prepared(o), pv)...)); len(f) > 0 {
			t.Fatal(f)
		}
	})
	t.Run("bound to another claim", func(t *testing.T) {
		pv := mk(func(pv *corev1.PersistentVolume) { pv.Spec.ClaimRef.Name = "other" })
		wantOneFailure(t, run(t, o, append(prepared(o), pv)...), IDPV, []string{"bound to claim cassandra/other", "the overlay's to cassandra/" + want.Spec.ClaimRef.Name}, []string{"kubectl get pv " + want.Name})
	})
	t.Run("claim in another namespace", func(t *testing.T) {
		pv := mk(func(pv *corev1.PersistentVolume) { pv.Spec.ClaimRef.Namespace = "elsewhere" })
		wantOneFailure(t, run(t, o, append(prepared(o), pv)...), IDPV, []string{"elsewhere/"}, nil)
	})
	t.Run("another volume", func(t *testing.T) {
		pv := mk(func(pv *corev1.PersistentVolume) { pv.Spec.CSI.VolumeHandle = "vol-0000000000000000a" })
		f := failures(run(t, o, append(prepared(o), pv)...))
		if len(f) != 1 || f[0].ID != IDPV || !strings.Contains(f[0].Message, "vol-0000000000000000a") {
			t.Fatal(f)
		}
	})
	t.Run("released", func(t *testing.T) {
		pv := mk(func(pv *corev1.PersistentVolume) { pv.Status.Phase = corev1.VolumeReleased })
		wantOneFailure(t, run(t, o, append(prepared(o), pv)...), IDPV, []string{"Released", "u1"}, nil)
	})
}

func TestPVCNames(t *testing.T) {
	o := example(t, "cassandra-3node")
	want := o.PVCs[0]
	mk := func(volumeName string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
		pvc := want.DeepCopy()
		pvc.Spec.VolumeName = volumeName
		pvc.Status.Phase = phase
		return pvc
	}
	t.Run("bound to the intended PV: a re-apply", func(t *testing.T) {
		if f := failures(run(t, o, append(prepared(o), mk(want.Spec.VolumeName, corev1.ClaimBound))...)); len(f) > 0 {
			t.Fatal(f)
		}
	})
	t.Run("bound elsewhere", func(t *testing.T) {
		wantOneFailure(t, run(t, o, append(prepared(o), mk("pvc-123", corev1.ClaimBound))...), IDPVC,
			[]string{"with volumeName pvc-123 (phase Bound)", "the overlay's has " + want.Spec.VolumeName}, []string{"kubectl -n cassandra describe pvc " + want.Name, "runbook"})
	})
	t.Run("unbound with another volumeName", func(t *testing.T) {
		wantOneFailure(t, run(t, o, append(prepared(o), mk("someone-else", corev1.ClaimPending))...), IDPVC, []string{"volumeName someone-else (phase Pending)"}, nil)
	})
	t.Run("unbound without volumeName", func(t *testing.T) {
		wantOneFailure(t, run(t, o, append(prepared(o), mk("", corev1.ClaimPending))...), IDPVC, []string{"without volumeName (phase Pending)"}, nil)
	})
	t.Run("same name in another namespace is fine", func(t *testing.T) {
		pvc := mk("pvc-123", corev1.ClaimBound)
		pvc.Namespace = "other"
		if f := failures(run(t, o, append(prepared(o), pvc)...)); len(f) > 0 {
			t.Fatal(f)
		}
	})
}

func TestStatefulSetExists(t *testing.T) {
	o := example(t, "cassandra-3node")
	want := o.StatefulSets[0]
	t.Run("with the overlay's templates: a re-apply", func(t *testing.T) {
		if f := failures(run(t, o, append(prepared(o), want.DeepCopy())...)); len(f) > 0 {
			t.Fatal(f)
		}
	})
	t.Run("from the base: the orphan step", func(t *testing.T) {
		live := want.DeepCopy()
		for i := range live.Spec.VolumeClaimTemplates {
			live.Spec.VolumeClaimTemplates[i].Spec.Selector = nil
			live.Spec.VolumeClaimTemplates[i].Spec.StorageClassName = nil
		}
		r := wantOneFailure(t, run(t, o, append(prepared(o), live)...), IDStatefulSet,
			[]string{"already exists", "selector none"}, []string{"kubectl delete statefulset cassandra -n cassandra --cascade=orphan", "RUNBOOK.md"})
		if r.Object != "StatefulSet cassandra/cassandra" {
			t.Errorf("object %q", r.Object)
		}
	})
	t.Run("another template name", func(t *testing.T) {
		live := want.DeepCopy()
		live.Spec.VolumeClaimTemplates[0].Name = "other"
		wantOneFailure(t, run(t, o, append(prepared(o), live)...), IDStatefulSet, []string{"no template data"}, nil)
	})
}

func TestVolumeHandles(t *testing.T) {
	o := example(t, "cassandra-3node")
	h := handleOf(o.PVs[1])
	other := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "hand-made"},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "ebs.csi.aws.com", VolumeHandle: h}}}}
	wantOneFailure(t, run(t, o, append(prepared(o), other)...), IDVolumeHandle, []string{h, "PV hand-made"}, []string{"kubectl get pv hand-made"})

	// An in-tree PV on the same volume counts too.
	intree := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "in-tree"},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{AWSElasticBlockStore: &corev1.AWSElasticBlockStoreVolumeSource{VolumeID: "aws://us-east-1b/" + h}}}}
	wantOneFailure(t, run(t, o, append(prepared(o), intree)...), IDVolumeHandle, []string{"PV in-tree"}, nil)

	// A PV of the overlay without a volume is a finding, not a pass.
	nohandle := example(t, "cassandra-3node")
	nohandle.PVs[0].Spec.CSI = nil
	wantOneFailure(t, run(t, nohandle, prepared(nohandle)...), IDVolumeHandle, []string{"names no EBS volume"}, nil)

	// The overlay's own PV on its volume is no conflict.
	own := o.PVs[1].DeepCopy()
	if f := failures(run(t, o, append(prepared(o), own)...)); len(f) > 0 {
		t.Fatal(f)
	}
}

// TestVolumeHandlesPaginated: the list is read page by page (limit and
// continue), and every page counts.
func TestVolumeHandlesPaginated(t *testing.T) {
	o := example(t, "cassandra-3node")
	h := handleOf(o.PVs[2])
	c := fake.NewClientset(prepared(o)...)
	pages := 0
	c.PrependReactor("list", "persistentvolumes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		opts := a.(k8stesting.ListActionImpl).GetListOptions()
		if opts.Limit != 2 {
			t.Errorf("list limit %d, want the page size 2", opts.Limit)
		}
		pages++
		mk := func(name, handle string) corev1.PersistentVolume {
			return corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{VolumeHandle: handle}}}}
		}
		if opts.Continue == "" {
			return true, &corev1.PersistentVolumeList{ListMeta: metav1.ListMeta{Continue: "next"}, Items: []corev1.PersistentVolume{mk("a", "vol-a"), mk("b", "vol-b")}}, nil
		}
		return true, &corev1.PersistentVolumeList{Items: []corev1.PersistentVolume{mk("late", h)}}, nil
	})
	rs, err := Run(context.Background(), c, o, Options{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if pages != 2 {
		t.Errorf("%d pages read, want 2", pages)
	}
	wantOneFailure(t, rs, IDVolumeHandle, []string{"PV late"}, nil)

	// MaxItems bounds the read: an error, not a silent pass.
	if _, err := Run(context.Background(), c, o, Options{PageSize: 2, MaxItems: 2}); !errors.Is(err, kubeclient.ErrAPI) {
		t.Errorf("over MaxItems: %v, want kubeclient.ErrAPI", err)
	}
}

// TestClusterErrors: an API error other than NotFound is an error (exit 2),
// never a pass or a finding.
func TestClusterErrors(t *testing.T) {
	o := example(t, "cassandra-3node")
	for _, res := range []string{"nodes", "csidrivers", "namespaces", "persistentvolumes", "persistentvolumeclaims", "statefulsets"} {
		t.Run(res, func(t *testing.T) {
			c := fake.NewClientset(prepared(o)...)
			c.PrependReactor("*", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: res}, "x", errors.New("RBAC"))
			})
			_, err := Run(context.Background(), c, o, Options{})
			if !errors.Is(err, kubeclient.ErrAPI) || !strings.Contains(err.Error(), "forbidden") {
				t.Fatalf("got %v, want kubeclient.ErrAPI naming the refusal", err)
			}
		})
	}
}

// TestCallTimeout: every call is bounded: an API server that accepts the
// connection and never answers is an error within the call timeout.
func TestCallTimeout(t *testing.T) {
	o := example(t, "cassandra-3node")
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	defer srv.Close()
	defer close(done)
	c, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Run(context.Background(), c, o, Options{CallTimeout: 200 * time.Millisecond})
	if !errors.Is(err, kubeclient.ErrAPI) {
		t.Fatalf("got %v, want kubeclient.ErrAPI", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s with a 200ms call timeout", d)
	}
}

func TestOrphanCommand(t *testing.T) {
	if got := OrphanCommand("ns", "db"); got != "kubectl delete statefulset db -n ns --cascade=orphan" {
		t.Error(got)
	}
}

// TestServedKinds: an operator's resource in the overlay (the
// CassandraDatacenter, the Elasticsearch) needs its kind served by the
// cluster; without the CRD the check fails naming the operator to install,
// with it the check passes. An overlay of built-in kinds only has none.
func TestServedKinds(t *testing.T) {
	for _, tc := range []struct{ example, apiVersion, kind, resource, who string }{
		{"cass-operator-6node", "cassandra.datastax.com/v1beta1", "CassandraDatacenter", "cassandradatacenters", "cass-operator"},
		{"eck-logging", "elasticsearch.k8s.elastic.co/v1", "Elasticsearch", "elasticsearches", "ECK"},
	} {
		t.Run(tc.example, func(t *testing.T) {
			o := example(t, tc.example)
			c := fake.NewClientset(prepared(o)...)
			rs, err := Run(context.Background(), c, o, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := only(rs, IDServedKind)
			if len(got) != 1 || got[0].Status != Fail || !strings.Contains(got[0].Object, tc.kind) || !strings.Contains(got[0].Fix, tc.who) {
				t.Fatalf("without the CRD: %+v", got)
			}
			c.Resources = []*metav1.APIResourceList{{GroupVersion: tc.apiVersion, APIResources: []metav1.APIResource{
				{Name: tc.resource, Kind: tc.kind, Namespaced: true}, {Name: tc.resource + "/status", Kind: tc.kind, Namespaced: true},
			}}}
			rs, err = Run(context.Background(), c, o, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := only(rs, IDServedKind); len(got) != 1 || got[0].Status != Pass {
				t.Fatalf("with the CRD: %+v", got)
			}
		})
	}
	if o := example(t, "cassandra-3node"); len(o.Custom) != 0 || len(only(run(t, o, prepared(o)...), IDServedKind)) != 0 {
		t.Errorf("an overlay of built-in kinds has custom objects %v", o.Custom)
	}
}

// TestHostileClusterValuesInText: what the cluster returns (a node's
// taint) and the kubeconfig's server and context reach the text report
// escaped: no line is added (a check is two lines, its fix a third, the
// verdict one) and no raw control byte is written.
func TestHostileClusterValuesInText(t *testing.T) {
	h := termtexttest.Hostile
	o := example(t, "cassandra-3node")
	zone := o.Record.Volumes[0].TargetZone
	var objs []runtime.Object
	for _, obj := range prepared(o) {
		if n, ok := obj.(*corev1.Node); ok && n.Labels["topology.kubernetes.io/zone"] == zone {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: h, Effect: corev1.TaintEffectNoSchedule}}
		}
		objs = append(objs, obj)
	}
	rs := run(t, o, objs...)
	f := wantOneFailure(t, rs, IDZoneNodes, []string{"not tolerated"}, nil)
	if !strings.Contains(f.Message, h) {
		t.Fatalf("the taint's value is not in the message, so the test shows nothing: %q", f.Message)
	}
	r := NewReport("overlays/x", "graft.lock", Cluster{Server: "https://" + h, Context: h}, rs)
	var b strings.Builder
	if err := WriteText(&b, r, ansi.Palette{}); err != nil {
		t.Fatal(err)
	}
	lines := 1
	for _, c := range rs {
		lines += 2
		if c.Fix != "" {
			lines++
		}
	}
	termtexttest.Check(t, "the preflight report", b.String(), lines)
}
