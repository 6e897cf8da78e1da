package preflight

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/record"
)

// ErrInput is wrapped by every error caused by the overlay or the record
// preflight was given (not by the cluster).
var ErrInput = errors.New("invalid overlay for preflight")

// Overlay is what preflight checks the cluster against: the objects of the
// built overlay that matter to it, and the record.
type Overlay struct {
	PVs            []*corev1.PersistentVolume
	PVCs           []*corev1.PersistentVolumeClaim
	StatefulSets   []*appsv1.StatefulSet
	StorageClasses []*storagev1.StorageClass
	// Namespaces are the namespaces the overlay's namespaced objects live
	// in, sorted; Creates those the overlay declares a Namespace for.
	Namespaces []string
	Creates    map[string]bool
	// Custom are the objects of kinds that are not built into Kubernetes
	// (an operator's resource graft patches, such as a
	// CassandraDatacenter): the cluster must serve their kind.
	Custom []metav1.TypeMeta
	Record *record.Record
}

// ParseBuilt reads the output of kustomize build (render.Build) and the
// record. A namespaced object without a namespace is in "default", as
// kubectl apply puts it.
func ParseBuilt(built []byte, rec *record.Record) (*Overlay, error) {
	if rec == nil {
		return nil, fmt.Errorf("%w: no record", ErrInput)
	}
	o := &Overlay{Record: rec, Creates: map[string]bool{}}
	nss := map[string]bool{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(built)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: built overlay, document %d: %v", ErrInput, i, err)
		}
		ns, namespaced, err := o.add(doc, i)
		if err != nil {
			return nil, err
		}
		if namespaced {
			nss[ns] = true
		}
	}
	for _, pvc := range o.PVCs {
		pvc.Namespace = cmp.Or(pvc.Namespace, metav1.NamespaceDefault)
	}
	for _, sts := range o.StatefulSets {
		sts.Namespace = cmp.Or(sts.Namespace, metav1.NamespaceDefault)
	}
	for ns := range nss {
		o.Namespaces = append(o.Namespaces, ns)
	}
	sort.Strings(o.Namespaces)
	if len(o.PVs) == 0 || len(o.PVCs) == 0 {
		return nil, fmt.Errorf("%w: the built overlay has %d PersistentVolumes and %d PersistentVolumeClaims, expected graft's (is it graft's overlay?)", ErrInput, len(o.PVs), len(o.PVCs))
	}
	return o, nil
}

// add reads the i-th document of the build into o, and returns the
// namespace it lives in, if it is namespaced.
func (o *Overlay) add(doc []byte, i int) (ns string, namespaced bool, err error) {
	var tm metav1.TypeMeta
	var om struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return "", false, fmt.Errorf("%w: built overlay, document %d: %v", ErrInput, i, err)
	}
	if tm.Kind == "" {
		return "", false, nil // an empty document
	}
	if err := yaml.Unmarshal(doc, &om); err != nil {
		return "", false, fmt.Errorf("%w: built overlay, %s: %v", ErrInput, tm.Kind, err)
	}
	name := om.Metadata.Name
	ns, namespaced = cmp.Or(om.Metadata.Namespace, metav1.NamespaceDefault), true
	var target any
	switch tm.Kind {
	case "Namespace":
		o.Creates[name] = true
		namespaced = false
	case "PersistentVolume":
		pv := &corev1.PersistentVolume{}
		o.PVs, target, namespaced = append(o.PVs, pv), pv, false
	case "PersistentVolumeClaim":
		pvc := &corev1.PersistentVolumeClaim{}
		o.PVCs, target = append(o.PVCs, pvc), pvc
	case "StatefulSet":
		sts := &appsv1.StatefulSet{}
		o.StatefulSets, target = append(o.StatefulSets, sts), sts
	case "StorageClass":
		sc := &storagev1.StorageClass{}
		o.StorageClasses, target, namespaced = append(o.StorageClasses, sc), sc, false
	default:
		// Without a namespace, an object is in "default" only when
		// its kind is known to be namespaced: kustomize leaves
		// cluster-scoped objects (of any API, custom ones too)
		// without one.
		namespaced = om.Metadata.Namespace != "" || namespacedKinds[tm.Kind]
		if gv, err := schema.ParseGroupVersion(tm.APIVersion); err == nil && !builtinGroup(gv.Group) {
			o.Custom = append(o.Custom, tm)
		}
	}
	if target != nil {
		if err := yaml.Unmarshal(doc, target); err != nil {
			return "", false, fmt.Errorf("%w: built overlay, %s %s: %v", ErrInput, tm.Kind, name, err)
		}
	}
	return ns, namespaced, nil
}

// builtinGroup reports whether Kubernetes itself serves the API group:
// the core group, and the groups named *.k8s.io or without a dot (apps,
// batch, policy, autoscaling), as Kubernetes names its own.
func builtinGroup(g string) bool {
	return g == "" || !strings.Contains(g, ".") || strings.HasSuffix(g, ".k8s.io")
}

// namespacedKinds are the built-in namespaced kinds an overlay may carry
// without a namespace (then they go to "default", as kubectl puts them).
var namespacedKinds = map[string]bool{
	"ConfigMap": true, "Secret": true, "Service": true, "ServiceAccount": true, "Pod": true,
	"Deployment": true, "DaemonSet": true, "ReplicaSet": true, "Job": true, "CronJob": true,
	"PodDisruptionBudget": true, "Role": true, "RoleBinding": true, "NetworkPolicy": true,
	"Ingress": true, "HorizontalPodAutoscaler": true, "LimitRange": true, "ResourceQuota": true,
	"Endpoints": true, "EndpointSlice": true, "PodTemplate": true, "ControllerRevision": true,
	"Lease": true, "Event": true,
}

// handleOf is the EBS volume id a PV is on: its CSI volume handle, or the
// volume of an in-tree awsElasticBlockStore source (aws://ZONE/vol-...).
func handleOf(pv *corev1.PersistentVolume) string {
	switch {
	case pv.Spec.CSI != nil:
		return pv.Spec.CSI.VolumeHandle
	case pv.Spec.AWSElasticBlockStore != nil:
		id := pv.Spec.AWSElasticBlockStore.VolumeID
		return id[strings.LastIndexByte(id, '/')+1:]
	}
	return ""
}

// driverOf is the CSI driver of a PV ("" for another source).
func driverOf(pv *corev1.PersistentVolume) string {
	if pv.Spec.CSI != nil {
		return pv.Spec.CSI.Driver
	}
	return ""
}

// volumeOf is the record's volume a PV is on.
func (o *Overlay) volumeOf(pv *corev1.PersistentVolume) (record.Volume, bool) {
	h := handleOf(pv)
	for _, v := range o.Record.Volumes {
		if v.TargetVolume == h {
			return v, true
		}
	}
	return record.Volume{}, false
}

// statefulSetOf is the overlay's StatefulSet whose claim a PV is for.
func (o *Overlay) statefulSetOf(pv *corev1.PersistentVolume) *appsv1.StatefulSet {
	v, ok := o.volumeOf(pv)
	if !ok {
		return nil
	}
	ns := ""
	if pv.Spec.ClaimRef != nil {
		ns = pv.Spec.ClaimRef.Namespace
	}
	for _, s := range o.StatefulSets {
		if s.Name == v.StatefulSet && (ns == "" || s.Namespace == ns) {
			return s
		}
	}
	return nil
}
