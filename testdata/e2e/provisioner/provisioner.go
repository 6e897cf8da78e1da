// Package provisioner is a test-only dynamic provisioner for graft's
// end-to-end suite. It plays the part of the EBS CSI driver's
// external-provisioner sidecar for the driver names ebs.csi.aws.com and
// ebs.csi.eks.amazonaws.com (EKS Auto Mode), on the provisioner controller
// of sigs.k8s.io/sig-storage-lib-external-provisioner, the library the real
// sidecar is built on. It creates no disk: each claim it provisions gets a
// PersistentVolume of the class's driver with a fake but well-formed volume
// handle, in the zone of the node the scheduler selected.
//
// It runs in the test binary against the harness's API server. The kubecp
// control-plane binary does not import it.
package provisioner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

// The driver names it serves, and the node labels it reads.
const (
	EBSDriver      = "ebs.csi.aws.com"
	AutoModeDriver = "ebs.csi.eks.amazonaws.com"
	ZoneLabel      = "topology.kubernetes.io/zone"
	// SelectedNodeAnnotation is where the scheduler names the node it
	// chose for a claim of a WaitForFirstConsumer class.
	SelectedNodeAnnotation = "volume.kubernetes.io/selected-node"
)

// zoneKeys is the node label each driver states a dynamically provisioned
// volume's zone with: both return the well-known key in CreateVolume's
// accessible topology (aws-ebs-csi-driver's newCreateVolumeResponse uses
// WellKnownZoneTopologyKey; Auto Mode labels its nodes only with it).
var zoneKeys = map[string]string{
	EBSDriver:      ZoneLabel,
	AutoModeDriver: ZoneLabel,
}

// Drivers lists the driver names the provisioner serves, sorted.
func Drivers() []string {
	var out []string
	for d := range zoneKeys {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Provisioned is one volume the provisioner created.
type Provisioned struct {
	Claim  string // namespace/name
	PV     string
	Driver string
	Handle string
	Node   string // the node the scheduler selected
	Zone   string
}

// Options configure Start.
type Options struct {
	// Logf receives the controller's log lines (default: discarded).
	Logf func(format string, args ...any)
	// StopTimeout bounds Stop's wait for the controller's goroutines
	// (default 15s).
	StopTimeout time.Duration
}

// Provisioner is a running provisioner controller.
type Provisioner struct {
	client      kubernetes.Interface
	cancel      context.CancelFunc
	done        chan struct{} // closed when the controller's Run returns
	workers     *sync.WaitGroup
	stopTimeout time.Duration
	stopOnce    sync.Once
	stopErr     error

	mu          sync.Mutex
	provisioned map[string]Provisioned // by PV name
	calls       []string               // claims Provision was called for (namespace/name), in order
}

// Start runs a provisioner controller for every name in Drivers against
// client until Stop is called or ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, o Options) *Provisioner {
	if o.StopTimeout == 0 {
		o.StopTimeout = 15 * time.Second
	}
	logger := logr.Discard()
	if o.Logf != nil {
		logger = logr.New(&sink{logf: o.Logf})
	}
	ctx, cancel := context.WithCancel(klog.NewContext(ctx, logger))
	p := &Provisioner{
		client:      client,
		cancel:      cancel,
		done:        make(chan struct{}),
		workers:     &sync.WaitGroup{},
		stopTimeout: o.StopTimeout,
		provisioned: map[string]Provisioned{},
	}
	names := Drivers()
	ctrl := controller.NewProvisionController(ctx, client, names[0], p,
		controller.AdditionalProvisionerNames(names[1:]),
		controller.LeaderElection(false),
		controller.Threadiness(2),
		// Retry quickly (the library's default backoff starts at 15s).
		controller.RateLimiter(workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 5*time.Second)),
		controller.CreateProvisionedPVInterval(500*time.Millisecond),
		controller.FailedProvisionThreshold(10),
	)
	ctrl.ControllerWaitGroup(p.workers)
	go func() {
		defer close(p.done)
		ctrl.Run(ctx)
	}()
	return p
}

// Stop cancels the controller and waits, at most the stop timeout, until its
// Run and workers have returned. It is safe to call more than once.
func (p *Provisioner) Stop() error {
	p.stopOnce.Do(func() {
		p.cancel()
		stopped := make(chan struct{})
		go func() {
			<-p.done
			p.workers.Wait()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(p.stopTimeout):
			p.stopErr = fmt.Errorf("provisioner: controller still running %s after cancel", p.stopTimeout)
		}
	})
	return p.stopErr
}

// Volumes returns what was provisioned, by PV name.
func (p *Provisioner) Volumes() map[string]Provisioned {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]Provisioned, len(p.provisioned))
	for k, v := range p.provisioned {
		out[k] = v
	}
	return out
}

// Calls returns the claims (namespace/name) Provision was called for, in
// order, successful or not.
func (p *Provisioner) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// Handle is the fake EBS volume id of the volume provisioned for a claim:
// "vol-" and 17 hex digits (the form of EC2 volume ids), derived from the
// claim's UID so that a repeated Provision call returns the same volume.
func Handle(claimUID string) string {
	sum := sha256.Sum256([]byte("graft-e2e/" + claimUID))
	return "vol-" + hex.EncodeToString(sum[:])[:17]
}

var _ controller.BlockProvisioner = (*Provisioner)(nil)

// SupportsBlock: EBS volumes can be raw block devices.
func (p *Provisioner) SupportsBlock(context.Context) bool { return true }

// Provision returns the PV for a claim of a class of one of the drivers. The
// library calls it only for claims without spec.volumeName whose
// storage-provisioner annotation names one of them (and, for
// WaitForFirstConsumer classes, once the scheduler selected a node).
func (p *Provisioner) Provision(ctx context.Context, o controller.ProvisionOptions) (*corev1.PersistentVolume, controller.ProvisioningState, error) {
	claim := o.PVC
	key := claim.Namespace + "/" + claim.Name
	p.mu.Lock()
	p.calls = append(p.calls, key)
	p.mu.Unlock()

	driver := o.StorageClass.Provisioner
	zoneKey, ok := zoneKeys[driver]
	if !ok {
		return nil, controller.ProvisioningFinished, &controller.IgnoredError{Reason: fmt.Sprintf("class %s: provisioner %q is not one of %v", o.StorageClass.Name, driver, Drivers())}
	}
	if claim.Spec.VolumeName != "" {
		// The library never asks (shouldProvision); refuse all the same.
		return nil, controller.ProvisioningFinished, fmt.Errorf("claim %s is pre-bound to volume %q: not provisioning", key, claim.Spec.VolumeName)
	}
	// As the CSI external-provisioner (kubernetes-csi/external-provisioner#574).
	if claim.Spec.Selector != nil {
		return nil, controller.ProvisioningFinished, fmt.Errorf("claim %s: claim Selector is not supported", key)
	}
	if o.SelectedNodeName == "" {
		return nil, controller.ProvisioningFinished, fmt.Errorf("claim %s: no selected node (annotation %s): class %s must have volumeBindingMode WaitForFirstConsumer", key, SelectedNodeAnnotation, o.StorageClass.Name)
	}
	for _, m := range claim.Spec.AccessModes {
		if m != corev1.ReadWriteOnce && m != corev1.ReadWriteOncePod {
			return nil, controller.ProvisioningFinished, fmt.Errorf("claim %s: access mode %s: an EBS volume supports ReadWriteOnce and ReadWriteOncePod", key, m)
		}
	}
	req, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok || req.Sign() <= 0 {
		return nil, controller.ProvisioningFinished, fmt.Errorf("claim %s: spec.resources.requests.storage is %q, want a positive size", key, req.String())
	}

	node, err := p.client.CoreV1().Nodes().Get(ctx, o.SelectedNodeName, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, controller.ProvisioningReschedule, fmt.Errorf("claim %s: selected node %s: %w", key, o.SelectedNodeName, err)
		}
		return nil, controller.ProvisioningNoChange, err
	}
	zone := node.Labels[ZoneLabel]
	if zone == "" {
		return nil, controller.ProvisioningReschedule, fmt.Errorf("claim %s: selected node %s has no %s label", key, node.Name, ZoneLabel)
	}
	// The scheduler selects only a node the class's allowedTopologies
	// allow; refuse one it did not.
	if !allowedOn(o.StorageClass.AllowedTopologies, node) {
		return nil, controller.ProvisioningReschedule, fmt.Errorf("claim %s: selected node %s is outside class %s's allowedTopologies %v", key, node.Name, o.StorageClass.Name, o.StorageClass.AllowedTopologies)
	}
	// The real sidecar reads the driver's topology from the node's CSINode:
	// a node without the driver cannot have its volume.
	if err := nodeHasDriver(ctx, p.client, node.Name, driver); err != nil {
		return nil, controller.ProvisioningReschedule, fmt.Errorf("claim %s: %w", key, err)
	}

	reclaim := corev1.PersistentVolumeReclaimRetain // never Delete unless the class says so
	if o.StorageClass.ReclaimPolicy != nil {
		reclaim = *o.StorageClass.ReclaimPolicy
	}
	fsType := "ext4" // the EBS driver's default
	for _, k := range []string{"csi.storage.k8s.io/fstype", "fsType", "fstype"} {
		if v := o.StorageClass.Parameters[k]; v != "" {
			fsType = v
			break
		}
	}
	mode := corev1.PersistentVolumeFilesystem
	if claim.Spec.VolumeMode != nil {
		mode = *claim.Spec.VolumeMode
	}
	handle := Handle(string(claim.UID))
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: o.PVName},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: roundUpGiB(req)},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			MountOptions:                  o.StorageClass.MountOptions,
			VolumeMode:                    &mode,
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver:       driver,
				VolumeHandle: handle,
				FSType:       fsType,
			}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: zoneKey, Operator: corev1.NodeSelectorOpIn, Values: []string{zone},
				}}}},
			}},
		},
	}
	if mode == corev1.PersistentVolumeBlock {
		pv.Spec.CSI.FSType = ""
	}
	p.mu.Lock()
	p.provisioned[pv.Name] = Provisioned{Claim: key, PV: pv.Name, Driver: driver, Handle: handle, Node: node.Name, Zone: zone}
	p.mu.Unlock()
	return pv, controller.ProvisioningFinished, nil
}

// Delete "deletes" only a volume this provisioner created (there is no disk
// behind it); any other volume, graft's above all, is ignored, so that the
// library never deletes its PV object.
func (p *Provisioner) Delete(_ context.Context, pv *corev1.PersistentVolume) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	got, ok := p.provisioned[pv.Name]
	if !ok || pv.Spec.CSI == nil || pv.Spec.CSI.VolumeHandle != got.Handle {
		return &controller.IgnoredError{Reason: fmt.Sprintf("volume %s was not provisioned by this test provisioner", pv.Name)}
	}
	delete(p.provisioned, pv.Name)
	return nil
}

func nodeHasDriver(ctx context.Context, client kubernetes.Interface, node, driver string) error {
	cn, err := client.StorageV1().CSINodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("CSINode %s: %w", node, err)
	}
	if !slices.ContainsFunc(cn.Spec.Drivers, func(d storagev1.CSINodeDriver) bool { return d.Name == driver }) {
		return fmt.Errorf("node %s does not run driver %s (CSINode %s)", node, driver, node)
	}
	return nil
}

// allowedOn reports whether a node's labels satisfy a class's
// allowedTopologies: any term, every expression of it (none: anywhere).
func allowedOn(terms []corev1.TopologySelectorTerm, node *corev1.Node) bool {
	if len(terms) == 0 {
		return true
	}
	for _, term := range terms {
		ok := true
		for _, e := range term.MatchLabelExpressions {
			v, has := node.Labels[e.Key]
			ok = ok && has && slices.Contains(e.Values, v)
		}
		if ok {
			return true
		}
	}
	return false
}

// roundUpGiB rounds a size up to whole GiB, as EBS allocates it.
func roundUpGiB(q resource.Quantity) resource.Quantity {
	const gib = 1 << 30
	n := (q.Value() + gib - 1) / gib
	return *resource.NewQuantity(n*gib, resource.BinarySI)
}

// sink is a logr.LogSink writing to a Logf function (info up to V(2)).
type sink struct {
	logf   func(string, ...any)
	name   string
	values []any
}

func (s *sink) Init(logr.RuntimeInfo)  {}
func (s *sink) Enabled(level int) bool { return level <= 2 }
func (s *sink) Info(_ int, msg string, kv ...any) {
	s.logf("provisioner: %s%s %v", s.prefix(), msg, append(slices.Clone(s.values), kv...))
}
func (s *sink) Error(err error, msg string, kv ...any) {
	s.logf("provisioner: %sERROR %s: %v %v", s.prefix(), msg, err, append(slices.Clone(s.values), kv...))
}
func (s *sink) WithValues(kv ...any) logr.LogSink {
	return &sink{logf: s.logf, name: s.name, values: append(slices.Clone(s.values), kv...)}
}
func (s *sink) WithName(name string) logr.LogSink {
	n := name
	if s.name != "" {
		n = s.name + "/" + name
	}
	return &sink{logf: s.logf, name: n, values: s.values}
}
func (s *sink) prefix() string {
	if s.name == "" {
		return ""
	}
	return s.name + ": "
}
