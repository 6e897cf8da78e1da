package harness

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

var getOpts = metav1.GetOptions{}

const (
	// ZoneLabel is the well-known topology label.
	ZoneLabel = "topology.kubernetes.io/zone"
	// EBSZoneLabel is the label the EBS CSI driver puts on nodes.
	EBSZoneLabel = "topology.ebs.csi.aws.com/zone"
	// EBSDriver is the CSI driver name of graft's PVs.
	EBSDriver = "ebs.csi.aws.com"
	// AutoModeDriver is EKS Auto Mode's EBS driver, and ComputeTypeLabel
	// the label EKS puts on its nodes (ComputeTypeAuto on Auto Mode's).
	AutoModeDriver   = "ebs.csi.eks.amazonaws.com"
	ComputeTypeLabel = "eks.amazonaws.com/compute-type"
	ComputeTypeAuto  = "auto"
)

// RegionOf returns the region of an AWS availability zone name
// ("us-east-1a" -> "us-east-1").
func RegionOf(zone string) string {
	return strings.TrimRight(zone, "abcdefghijklmnopqrstuvwxyz")
}

// NodeKind is the kind of node a pool registers.
type NodeKind string

const (
	// SelfManaged nodes run the self-managed or add-on EBS CSI driver
	// (ebs.csi.aws.com): they carry both zone labels, and their CSINode
	// lists that driver only.
	SelfManaged NodeKind = "self-managed"
	// AutoMode nodes are labelled as EKS Auto Mode labels its nodes:
	// topology.kubernetes.io/zone and eks.amazonaws.com/compute-type=auto,
	// no topology.ebs.csi.aws.com/zone; their CSINode lists Auto Mode's
	// driver (ebs.csi.eks.amazonaws.com) only.
	AutoMode NodeKind = "auto-mode"
)

// NodeName is the name AddNodes gives the i-th node of a zone.
func NodeName(zone string, i int) string { return fmt.Sprintf("node-%s-%d", zone, i) }

// AutoModeNodeName is the name AddAutoModeNodes gives the i-th node of a
// zone.
func AutoModeNodeName(zone string, i int) string { return fmt.Sprintf("auto-%s-%d", zone, i) }

// AddNodes registers perZone self-managed EBS CSI nodes in each zone (see
// AddNodesOf).
func (c *Cluster) AddNodes(ctx context.Context, zones []string, perZone int) error {
	return c.AddNodesOf(ctx, SelfManaged, zones, perZone)
}

// AddAutoModeNodes registers perZone EKS Auto Mode nodes in each zone (see
// AddNodesOf).
func (c *Cluster) AddAutoModeNodes(ctx context.Context, zones []string, perZone int) error {
	return c.AddNodesOf(ctx, AutoMode, zones, perZone)
}

// AddNodesOf registers perZone Node objects of a kind in each zone (labelled
// with the kind's zone keys, the region, hostname, os and arch, with
// capacity for pods), a CSINode listing the kind's EBS driver on each,
// reports them Ready and removes the not-ready taint the apiserver adds on
// registration, so that the scheduler considers them. It also registers the
// CSIDriver objects (RegisterCSIDrivers), so that a pod whose volume is of
// one driver is never scheduled onto a node of the other kind. Existing
// nodes are left alone.
func (c *Cluster) AddNodesOf(ctx context.Context, kind NodeKind, zones []string, perZone int) error {
	name := NodeName
	switch kind {
	case SelfManaged:
	case AutoMode:
		name = AutoModeNodeName
	default:
		return fmt.Errorf("node kind %q: want %q or %q", kind, SelfManaged, AutoMode)
	}
	if err := c.RegisterCSIDrivers(ctx); err != nil {
		return err
	}
	zs := append([]string(nil), zones...)
	sort.Strings(zs)
	for _, zone := range zs {
		for i := 0; i < perZone; i++ {
			if err := c.addNode(ctx, kind, zone, name(zone, i)); err != nil {
				return fmt.Errorf("node %s: %w", name(zone, i), err)
			}
		}
	}
	return nil
}

// RegisterCSIDrivers creates the CSIDriver objects of both EBS drivers, as
// their installations do (attach required, no pod info on mount, fsGroup
// applied by the kubelet), with preventPodSchedulingIfMissing: the
// scheduler (VolumeLimitScaling, beta and on in 1.37) then keeps a pod off
// any node whose CSINode lacks the driver of one of its volumes, with "...
// CSI driver is not installed on the node". That is what keeps the pods of
// the self-managed driver's volumes off the Auto Mode nodes (which carry
// topology.kubernetes.io/zone too) without a taint. Existing objects are
// left alone.
func (c *Cluster) RegisterCSIDrivers(ctx context.Context) error {
	for _, d := range []string{EBSDriver, AutoModeDriver} {
		fsGroup := storagev1.FileFSGroupPolicy
		_, err := c.Client.StorageV1().CSIDrivers().Create(ctx, &storagev1.CSIDriver{
			ObjectMeta: metav1.ObjectMeta{Name: d},
			Spec: storagev1.CSIDriverSpec{
				AttachRequired:                ptr(true),
				PodInfoOnMount:                ptr(false),
				FSGroupPolicy:                 &fsGroup,
				PreventPodSchedulingIfMissing: ptr(true),
			},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("CSIDriver %s: %w", d, err)
		}
	}
	return nil
}

// nodeLabels are the labels of a node of a kind in a zone.
func nodeLabels(kind NodeKind, zone, name string) map[string]string {
	l := map[string]string{
		"kubernetes.io/hostname":           name,
		"kubernetes.io/os":                 "linux",
		"kubernetes.io/arch":               "amd64",
		"node.kubernetes.io/instance-type": "m5.2xlarge",
		ZoneLabel:                          zone,
		"topology.kubernetes.io/region":    RegionOf(zone),
	}
	switch kind {
	case AutoMode:
		l[ComputeTypeLabel] = ComputeTypeAuto
	default:
		l[EBSZoneLabel] = zone
	}
	return l
}

// nodeDriver is the EBS CSI driver a node of a kind runs, and the topology
// key its CSINode reports.
func nodeDriver(kind NodeKind) (driver, topologyKey string) {
	if kind == AutoMode {
		return AutoModeDriver, ZoneLabel
	}
	return EBSDriver, EBSZoneLabel
}

func (c *Cluster) addNode(ctx context.Context, kind NodeKind, zone, name string) error {
	nodes := c.Client.CoreV1().Nodes()
	if _, err := nodes.Get(ctx, name, getOpts); err == nil {
		return nil
	}
	n := &corev1.Node{
		// The kubelet sets this annotation at registration (its default
		// --enable-controller-attach-detach): the attach/detach controller
		// then makes a VolumeAttachment for each CSI volume of a pod
		// scheduled here.
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: nodeLabels(kind, zone, name),
			Annotations: map[string]string{"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
		Spec: corev1.NodeSpec{ProviderID: "aws:///" + zone + "/i-" + strings.ReplaceAll(name, "-", "")},
	}
	created, err := nodes.Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("8"),
		corev1.ResourceMemory:           resource.MustParse("32Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	now := metav1.Now()
	status := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "graft e2e harness node (no kubelet)", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", LastHeartbeatTime: now, LastTransitionTime: now},
		},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}},
	}
	// Controllers (the TTL controller, ...) may update the new node at
	// the same time: retry on conflicts.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := nodes.Get(ctx, name, getOpts)
		if err != nil {
			return err
		}
		cur.Status = status
		_, err = nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	// Remove the taints added at registration (node.kubernetes.io/not-ready),
	// as the node lifecycle controller would once the node is Ready.
	if _, err := nodes.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"taints":null}}`), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("untaint: %w", err)
	}
	count := int32(25)
	driver, topologyKey := nodeDriver(kind)
	_, err = c.Client.StorageV1().CSINodes().Create(ctx, &storagev1.CSINode{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: name, UID: created.UID}},
		},
		Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{
			Name:         driver,
			NodeID:       "i-" + strings.ReplaceAll(name, "-", ""),
			TopologyKeys: []string{topologyKey},
			Allocatable:  &storagev1.VolumeNodeResources{Count: &count},
		}}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("csinode: %w", err)
	}
	return nil
}

// WaitNodesSchedulable waits until every node is Ready and untainted.
func (c *Cluster) WaitNodesSchedulable(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return Poll(ctx, 200*time.Millisecond, func() (bool, error) {
		list, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, n := range list.Items {
			if len(n.Spec.Taints) > 0 {
				return false, nil
			}
		}
		return len(list.Items) > 0, c.exited()
	})
}

// StartKubeletStandIn reports every scheduled, non-terminating pod as Running
// and Ready (what a kubelet would do once the volumes are attached and the
// containers start), so that OrderedReady StatefulSets create every ordinal.
// It polls until ctx ends or Stop is called.
func (c *Cluster) StartKubeletStandIn(ctx context.Context) { c.standIn(ctx, c.markScheduledPodsReady) }

// standIn runs step every 300ms until ctx ends or Stop is called, for a
// component the harness stands in for.
func (c *Cluster) standIn(ctx context.Context, step func(context.Context)) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	c.mu.Lock()
	c.preStops = append(c.preStops, func() { cancel(); <-done })
	c.mu.Unlock()
	go func() {
		defer close(done)
		for {
			step(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
}

func (c *Cluster) markScheduledPodsReady(ctx context.Context) {
	pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName!="})
	if err != nil {
		return
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || p.Spec.NodeName == "" || isReady(p) {
			continue
		}
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.StartTime = &now
		p.Status.HostIP = "127.0.0.1"
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		p.Status.ContainerStatuses = nil
		for _, ctr := range p.Spec.Containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: ctr.Name, Image: ctr.Image, ImageID: ctr.Image, Ready: true, Started: ptr(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			})
		}
		_, _ = c.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	}
}

// StartAttacherStandIn marks every VolumeAttachment attached, what the CSI
// external-attacher does once the driver's ControllerPublishVolume has
// attached the EBS volume to the instance (there is no EC2 here). The
// attach/detach controller, which is real, makes the VolumeAttachments. It
// polls until ctx ends or Stop is called.
func (c *Cluster) StartAttacherStandIn(ctx context.Context) { c.standIn(ctx, c.markAttached) }

func (c *Cluster) markAttached(ctx context.Context) {
	list, err := c.Client.StorageV1().VolumeAttachments().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range list.Items {
		va := &list.Items[i]
		if va.DeletionTimestamp != nil || va.Status.Attached {
			continue
		}
		va.Status.Attached = true
		_, _ = c.Client.StorageV1().VolumeAttachments().UpdateStatus(ctx, va, metav1.UpdateOptions{})
	}
}

func ptr[T any](v T) *T { return &v }

func isReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
