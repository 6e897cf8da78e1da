package render

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/graftctl/graft/generator/spec"
)

// StorageClassFile holds the StorageClass of the provisioned binding mode
// when the spec declares it (spec.target.binding.storageClass declare).
const StorageClassFile = "storageclass.yaml"

// Parameters of the EBS CSI driver's StorageClass (and Auto Mode's, which
// takes the same ones) that graft sets from spec.target.volume.
const (
	ParamType       = "type"
	ParamIOPS       = "iops"
	ParamThroughput = "throughput"
	ParamEncrypted  = "encrypted"
	ParamKMSKeyID   = "kmsKeyId"
	ParamFSType     = "csi.storage.k8s.io/fstype"
)

// templatePatch is what the binding mode writes on one claim template:
// static, a selector on graft's labels; provisioned, none (the external
// provisioner refuses a claim with a selector,
// kubernetes-csi/external-provisioner#574), removing the base's if it has
// one. Both set the storage class.
func (r *renderer) templatePatch(sts baseStatefulSet, name string) []jsonPatchOp {
	t := sts.templates[name]
	base := fmt.Sprintf("/spec/volumeClaimTemplates/%d/spec", t.index)
	ops := []jsonPatchOp{{Op: "add", Path: base + "/storageClassName", Value: r.m.Spec.Target.StorageClassName}}
	switch {
	case !r.m.Spec.Target.Binding.Provisioned():
		ops = append(ops, jsonPatchOp{Op: "add", Path: base + "/selector", Value: metav1.LabelSelector{
			MatchLabels: selectorLabels(r.m.Metadata.Name, sts.name, name),
		}})
	case t.hasSelector:
		ops = append(ops, jsonPatchOp{Op: "remove", Path: base + "/selector"})
	}
	return ops
}

// storageClass is the StorageClass that provisions the new ordinals of the
// provisioned mode: the PVs' driver, expansion allowed, bound when the pod
// is scheduled (so the new volume is made in the pod's zone), and Retain,
// so that a deleted claim never deletes its volume. Its parameters are
// spec.target.volume's (the EBS CSI driver's names; Auto Mode reads the
// same), so that a new member's volume is like a migrated one.
func (r *renderer) storageClass(wave int) *storagev1.StorageClass {
	t := r.m.Spec.Target
	st := t.Storage()
	retain := corev1.PersistentVolumeReclaimRetain
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	expand := true
	params := map[string]string{ParamFSType: r.m.Spec.Source.Devices[0].FSType}
	if t.Volume.Type != "" {
		params[ParamType] = t.Volume.Type
	}
	if t.Volume.IOPS > 0 {
		params[ParamIOPS] = strconv.Itoa(int(t.Volume.IOPS))
	}
	if t.Volume.Throughput > 0 {
		params[ParamThroughput] = strconv.Itoa(int(t.Volume.Throughput))
	}
	if t.Volume.Encrypted {
		params[ParamEncrypted] = "true"
	}
	if t.Volume.KMSKeyID != "" {
		params[ParamKMSKeyID] = t.Volume.KMSKeyID
	}
	var topologies []corev1.TopologySelectorTerm
	for _, req := range st.Requirements {
		topologies = append(topologies, corev1.TopologySelectorTerm{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{{Key: req.Key, Values: req.Values}}})
	}
	return &storagev1.StorageClass{
		TypeMeta: metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        t.StorageClassName,
			Labels:      map[string]string{spec.LabelMigration: r.m.Metadata.Name},
			Annotations: engineAnnotations(r.m.Spec.GitOps.Engine, wave, 2),
		},
		Provisioner:          st.CSIDriver,
		Parameters:           params,
		ReclaimPolicy:        &retain,
		AllowVolumeExpansion: &expand,
		VolumeBindingMode:    &wffc,
		AllowedTopologies:    topologies,
	}
}
