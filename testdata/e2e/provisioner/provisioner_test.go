package provisioner

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

const ns = "cassandra"

func class(name, driver string) *storagev1.StorageClass {
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	retain := corev1.PersistentVolumeReclaimRetain
	yes := true
	return &storagev1.StorageClass{
		ObjectMeta:           metav1.ObjectMeta{Name: name},
		Provisioner:          driver,
		ReclaimPolicy:        &retain,
		VolumeBindingMode:    &wffc,
		AllowVolumeExpansion: &yes,
	}
}

func node(name, zone string, drivers ...string) (*corev1.Node, *storagev1.CSINode) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{ZoneLabel: zone}}}
	cn := &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, d := range drivers {
		cn.Spec.Drivers = append(cn.Spec.Drivers, storagev1.CSINodeDriver{Name: d, NodeID: "i-" + name, TopologyKeys: []string{ZoneLabel}})
	}
	return n, cn
}

// claim is a claim of class cls as the PV controller leaves it once the
// scheduler selected node (the storage-provisioner annotation names the
// class's driver).
func claim(name, cls, driver, node, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: types.UID("uid-" + name),
			Annotations: map[string]string{
				"volume.kubernetes.io/storage-provisioner": driver,
				SelectedNodeAnnotation:                     node,
			},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &cls,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
}

func waitPV(t *testing.T, ctx context.Context, c *fake.Clientset, name string) *corev1.PersistentVolume {
	t.Helper()
	var pv *corev1.PersistentVolume
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := c.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		pv = got
		return true, nil
	})
	if err != nil {
		t.Fatalf("PV %s not provisioned: %v", name, err)
	}
	return pv
}

// TestProvisionsBothDriversAndNeverPreBoundClaims runs the library's
// controller with the provisioner against a fake API: a new claim of each
// driver's class gets a PV of that driver in the selected node's zone, and a
// pre-bound claim (spec.volumeName, as graft renders its claims) with the
// same annotations is never passed to Provision and gets no PV.
func TestProvisionsBothDriversAndNeverPreBoundClaims(t *testing.T) {
	ebsNode, ebsCSI := node("node-a", "us-east-1a", EBSDriver)
	autoNode, autoCSI := node("auto-b", "us-east-1b", AutoModeDriver)
	autoNode.Labels["eks.amazonaws.com/compute-type"] = "auto"
	autoClass := class("auto", AutoModeDriver) // as graft declares it
	autoClass.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{
		{Key: "eks.amazonaws.com/compute-type", Values: []string{"auto"}},
	}}}
	preBound := claim("data-cassandra-0", "ebs", EBSDriver, "node-a", "500Gi")
	preBound.Spec.VolumeName = "cassandra-data-cassandra-0" // graft's PV
	c := fake.NewSimpleClientset(class("ebs", EBSDriver), autoClass,
		ebsNode, ebsCSI, autoNode, autoCSI, preBound)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := Start(ctx, c, Options{Logf: t.Logf})
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	})

	// The pre-bound claim is synced at start; touch it again, then create
	// the new claims: the queue is FIFO, so by the time they are
	// provisioned the pre-bound claim has been through the controller
	// twice.
	preBound.Labels = map[string]string{"touched": "yes"}
	if _, err := c.CoreV1().PersistentVolumeClaims(ns).Update(ctx, preBound, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*corev1.PersistentVolumeClaim{
		claim("data-cassandra-3", "ebs", EBSDriver, "node-a", "1500Mi"),
		claim("data-auto-3", "auto", AutoModeDriver, "auto-b", "20Gi"),
	} {
		if _, err := c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, cl, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	handle := regexp.MustCompile(`^vol-[0-9a-f]{17}$`)
	for _, want := range []struct {
		claim, driver, zone, capacity string
	}{
		{"data-cassandra-3", EBSDriver, "us-east-1a", "2Gi"}, // EBS allocates whole GiB
		{"data-auto-3", AutoModeDriver, "us-east-1b", "20Gi"},
	} {
		pv := waitPV(t, ctx, c, "pvc-uid-"+want.claim) // the library's name: pvc-<claim UID>
		if pv.Spec.CSI == nil || pv.Spec.CSI.Driver != want.driver || !handle.MatchString(pv.Spec.CSI.VolumeHandle) || pv.Spec.CSI.FSType != "ext4" {
			t.Errorf("PV %s: csi %+v, want driver %s, a handle vol-<17 hex>, fsType ext4", pv.Name, pv.Spec.CSI, want.driver)
		}
		if pv.Spec.CSI != nil && pv.Spec.CSI.VolumeHandle != Handle("uid-"+want.claim) {
			t.Errorf("PV %s: handle %s, want %s", pv.Name, pv.Spec.CSI.VolumeHandle, Handle("uid-"+want.claim))
		}
		if got := pv.Spec.Capacity[corev1.ResourceStorage]; got.Cmp(resource.MustParse(want.capacity)) != 0 {
			t.Errorf("PV %s: capacity %s, want %s", pv.Name, got.String(), want.capacity)
		}
		if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
			t.Errorf("PV %s: reclaim %s, want the class's Retain", pv.Name, pv.Spec.PersistentVolumeReclaimPolicy)
		}
		if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Name != want.claim || pv.Spec.ClaimRef.Namespace != ns {
			t.Errorf("PV %s: claimRef %+v, want %s/%s", pv.Name, pv.Spec.ClaimRef, ns, want.claim)
		}
		if pv.Annotations["pv.kubernetes.io/provisioned-by"] != want.driver {
			t.Errorf("PV %s: provisioned-by %q, want %s", pv.Name, pv.Annotations["pv.kubernetes.io/provisioned-by"], want.driver)
		}
		na := pv.Spec.NodeAffinity
		if na == nil || na.Required == nil || len(na.Required.NodeSelectorTerms) != 1 ||
			len(na.Required.NodeSelectorTerms[0].MatchExpressions) != 1 ||
			na.Required.NodeSelectorTerms[0].MatchExpressions[0].Key != ZoneLabel ||
			!slices.Equal(na.Required.NodeSelectorTerms[0].MatchExpressions[0].Values, []string{want.zone}) {
			t.Errorf("PV %s: node affinity %+v, want %s In [%s]", pv.Name, na, ZoneLabel, want.zone)
		}
	}

	if calls := p.Calls(); slices.Contains(calls, ns+"/"+preBound.Name) {
		t.Errorf("Provision was called for the pre-bound claim %s: calls %v", preBound.Name, calls)
	}
	pvs, err := c.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pvs.Items) != 2 {
		t.Errorf("%d PVs, want the 2 provisioned ones", len(pvs.Items))
	}
	for _, pv := range pvs.Items {
		if pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.Name == preBound.Name {
			t.Errorf("PV %s was provisioned for the pre-bound claim", pv.Name)
		}
	}
	if got := len(p.Volumes()); got != 2 {
		t.Errorf("Volumes(): %d, want 2", got)
	}
}

// TestProvisionRefuses: claims the real sidecar would not provision, and a
// node without the class's driver (rescheduled).
func TestProvisionRefuses(t *testing.T) {
	ebsNode, ebsCSI := node("node-a", "us-east-1a", EBSDriver)
	c := fake.NewSimpleClientset(ebsNode, ebsCSI)
	p := &Provisioner{client: c, provisioned: map[string]Provisioned{}}
	ctx := context.Background()

	withSelector := claim("sel", "ebs", EBSDriver, "node-a", "1Gi")
	withSelector.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
	noNode := claim("nonode", "ebs", EBSDriver, "", "1Gi")
	rwx := claim("rwx", "ebs", EBSDriver, "node-a", "1Gi")
	rwx.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	autoOnEBSNode := claim("auto", "auto", AutoModeDriver, "node-a", "1Gi")
	preBound := claim("prebound", "ebs", EBSDriver, "node-a", "1Gi")
	preBound.Spec.VolumeName = "graft-pv"

	// As graft declares Auto Mode's class: only nodes with compute-type auto.
	autoOnly := class("ebs-auto-only", EBSDriver)
	autoOnly.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{
		{Key: "eks.amazonaws.com/compute-type", Values: []string{"auto"}},
	}}}

	for _, tc := range []struct {
		name  string
		cls   *storagev1.StorageClass
		claim *corev1.PersistentVolumeClaim
		state controller.ProvisioningState
		want  string
	}{
		{"selector", class("ebs", EBSDriver), withSelector, controller.ProvisioningFinished, "claim Selector is not supported"},
		{"no-selected-node", class("ebs", EBSDriver), noNode, controller.ProvisioningFinished, "no selected node"},
		{"rwx", class("ebs", EBSDriver), rwx, controller.ProvisioningFinished, "access mode ReadWriteMany"},
		{"driver-not-on-node", class("auto", AutoModeDriver), autoOnEBSNode, controller.ProvisioningReschedule, "does not run driver ebs.csi.eks.amazonaws.com"},
		{"pre-bound", class("ebs", EBSDriver), preBound, controller.ProvisioningFinished, "pre-bound"},
		{"outside-allowed-topologies", autoOnly, claim("topo", "auto", EBSDriver, "node-a", "1Gi"), controller.ProvisioningReschedule, "outside class ebs-auto-only's allowedTopologies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv, state, err := p.Provision(ctx, controller.ProvisionOptions{
				StorageClass: tc.cls, PVName: "pvc-x", PVC: tc.claim, SelectedNodeName: tc.claim.Annotations[SelectedNodeAnnotation],
			})
			if err == nil || pv != nil || state != tc.state || !regexp.MustCompile(regexp.QuoteMeta(tc.want)).MatchString(err.Error()) {
				t.Errorf("Provision: pv %v, state %s, err %v; want no PV, state %s, an error with %q", pv, state, err, tc.state, tc.want)
			}
		})
	}
	if len(p.Volumes()) != 0 {
		t.Errorf("volumes recorded after refusals: %v", p.Volumes())
	}

	// Delete never claims a volume it did not create (graft's).
	graftPV := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "cassandra-data-cassandra-0"},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: EBSDriver, VolumeHandle: "vol-0123456789abcdef0"}}}}
	var ignored *controller.IgnoredError
	if err := p.Delete(ctx, graftPV); !errors.As(err, &ignored) {
		t.Errorf("Delete(graft's PV) = %v, want an IgnoredError", err)
	}
}
