package render

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// CSIDriver is the driver graft renders volumes for without
// spec.target.cluster; spec.Target.Storage says which with one.
const CSIDriver = spec.CSIDriverEBS

// PartitionAttribute is the CSI volume attribute the EBS CSI driver reads
// the partition to mount from, as a decimal string.
const PartitionAttribute = "partition"

// GitOps annotations that keep an engine from pruning or deleting storage.
const (
	FluxPruneAnnotation    = "kustomize.toolkit.fluxcd.io/prune"
	FluxPruneDisabled      = "disabled"
	ArgoSyncOptions        = "argocd.argoproj.io/sync-options"
	ArgoSyncOptionsKeep    = "Prune=false,Delete=false"
	ArgoSyncWaveAnnotation = "argocd.argoproj.io/sync-wave"
)

// member is one volume to render, joined from the record and the base.
type member struct {
	vol       record.Volume
	template  claimTemplate
	namespace string
	// wave is the Argo CD sync wave of the StatefulSet; PVs go two waves
	// earlier and PVCs one.
	wave int
}

// PVName is the cluster-wide name of the PersistentVolume bound to a claim
// (spec.PVName, the one rule).
func PVName(namespace, claim string) string { return spec.PVName(namespace, claim) }

func (mb member) labels(migration string) map[string]string {
	return map[string]string{
		spec.LabelMigration:     migration,
		spec.LabelStatefulSet:   mb.vol.StatefulSet,
		spec.LabelClaimTemplate: mb.vol.ClaimTemplate,
		spec.LabelOrdinal:       strconv.Itoa(mb.vol.Ordinal),
	}
}

// selectorLabels are the labels a claim template selects on: every volume of
// the template and StatefulSet, whatever its ordinal.
func selectorLabels(migration, statefulSet, template string) map[string]string {
	return map[string]string{
		spec.LabelMigration:     migration,
		spec.LabelStatefulSet:   statefulSet,
		spec.LabelClaimTemplate: template,
	}
}

// engineAnnotations protects storage from the chosen GitOps engine. offset
// is how many waves before the StatefulSet the object is applied.
func engineAnnotations(engine string, stsWave, offset int) map[string]string {
	switch engine {
	case spec.EngineFlux:
		return map[string]string{FluxPruneAnnotation: FluxPruneDisabled}
	case spec.EngineArgoCD:
		return map[string]string{
			ArgoSyncOptions:        ArgoSyncOptionsKeep,
			ArgoSyncWaveAnnotation: strconv.Itoa(stsWave - offset),
		}
	}
	return map[string]string{}
}

func (r *renderer) persistentVolume(mb member) *corev1.PersistentVolume {
	v := mb.vol
	claim := v.ClaimName()
	ann := engineAnnotations(r.m.Spec.GitOps.Engine, mb.wave, 2)
	ann[spec.AnnotationSourceInstance] = v.SourceInstance
	ann[spec.AnnotationSourceVolume] = v.SourceVolume
	ann[spec.AnnotationSourceZone] = v.SourceZone
	if snap := originSnapshot(v); snap != "" {
		ann[spec.AnnotationSnapshot] = snap
	}
	class := r.m.Spec.Target.StorageClassName
	st := r.m.Spec.Target.Storage()
	exprs := []corev1.NodeSelectorRequirement{{
		Key:      st.TopologyKey,
		Operator: corev1.NodeSelectorOpIn,
		Values:   []string{v.TargetZone},
	}}
	for _, req := range st.Requirements {
		exprs = append(exprs, corev1.NodeSelectorRequirement{Key: req.Key, Operator: corev1.NodeSelectorOpIn, Values: req.Values})
	}
	// The driver mounts the partition the attribute names, not the whole
	// volume (aws-ebs-csi-driver#812); graft sets it only for a recorded
	// partition. No spec.mountOptions: the driver adds nouuid for xfs,
	// which a clone mounted beside its source needs.
	var attrs map[string]string
	if v.Partition > 0 {
		attrs = map[string]string{PartitionAttribute: strconv.Itoa(v.Partition)}
	}
	return &corev1.PersistentVolume{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        PVName(mb.namespace, claim),
			Labels:      mb.labels(r.m.Metadata.Name),
			Annotations: ann,
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity: corev1.ResourceList{
				corev1.ResourceStorage: *resource.NewQuantity(int64(v.SizeGiB)<<30, resource.BinarySI),
			},
			AccessModes:                   mb.template.accessModes,
			VolumeMode:                    &mb.template.volumeMode,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              class,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1",
				Kind:       "PersistentVolumeClaim",
				Namespace:  mb.namespace,
				Name:       claim,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				CSI: &corev1.CSIPersistentVolumeSource{
					Driver:           st.CSIDriver,
					VolumeHandle:     v.TargetVolume,
					FSType:           v.FSType,
					VolumeAttributes: attrs,
				},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{
				Required: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: exprs,
					}},
				},
			},
		},
	}
}

func (r *renderer) persistentVolumeClaim(mb member) *corev1.PersistentVolumeClaim {
	v := mb.vol
	claim := v.ClaimName()
	class := r.m.Spec.Target.StorageClassName
	return &corev1.PersistentVolumeClaim{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        claim,
			Namespace:   mb.namespace,
			Labels:      mb.labels(r.m.Metadata.Name),
			Annotations: engineAnnotations(r.m.Spec.GitOps.Engine, mb.wave, 1),
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      mb.template.accessModes,
			VolumeMode:       &mb.template.volumeMode,
			StorageClassName: &class,
			VolumeName:       PVName(mb.namespace, claim),
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: mb.template.request},
			},
		},
	}
}

// originSnapshot is the snapshot the target volume was created from: the
// copy if one was made, else the final snapshot, else the pre-copy one.
func originSnapshot(v record.Volume) string {
	if v.CopiedSnapshot != "" {
		return v.CopiedSnapshot
	}
	if s := v.Snapshots[spec.PhaseFinal]; s != "" {
		return s
	}
	return v.Snapshots[spec.PhasePrecopy]
}

// jsonPatchOp is one RFC 6902 operation. kustomize has no exported type for
// it, and a strategic merge patch would replace volumeClaimTemplates whole
// (the list is atomic), so graft writes add operations on the template's
// index instead.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// statefulSetPatch fills each claim template graft binds as the binding
// mode says (templatePatch), keeps claims on delete and scale-down, and
// makes the StatefulSet's replicas and first ordinal those of the spec, so
// that its pods are exactly the members graft cloned.
func (r *renderer) statefulSetPatch(set spec.StatefulSet, sts baseStatefulSet) []jsonPatchOp {
	ops := []jsonPatchOp{{
		Op:   "add",
		Path: "/spec/persistentVolumeClaimRetentionPolicy",
		Value: map[string]string{
			"whenDeleted": "Retain",
			"whenScaled":  "Retain",
		},
	}}
	if set.Replicas != sts.replicas {
		ops = append(ops, jsonPatchOp{Op: "add", Path: "/spec/replicas", Value: set.Replicas})
	}
	if set.Ordinals.Start != sts.ordinalsStart {
		ops = append(ops, jsonPatchOp{Op: "add", Path: "/spec/ordinals", Value: map[string]int{"start": set.Ordinals.Start}})
	}
	for _, d := range r.m.Spec.Source.Devices {
		ops = append(ops, r.templatePatch(sts, d.ClaimTemplate)...)
	}
	return ops
}
