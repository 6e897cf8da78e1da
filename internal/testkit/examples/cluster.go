package examples

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// CutOver is the cluster after a good sync of the example: every claim
// Bound to graft's PV, which claims it back by uid, every pod on a Ready
// node of its volume's zone, Ready, its volume attached.
func CutOver(m *spec.Migration, rec *record.Record) []runtime.Object {
	ns := m.Spec.Target.Namespace
	three, yes := int32(3), true
	objs := []runtime.Object{&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "cassandra", Namespace: ns, UID: "uid-sts"}, Spec: appsv1.StatefulSetSpec{Replicas: &three}}}
	for _, v := range rec.Volumes {
		claim, pv := v.ClaimName(), spec.PVName(ns, v.ClaimName())
		uid := types.UID("uid-" + claim)
		pod, node := v.StatefulSet+"-"+string(rune('0'+v.Ordinal)), "node-"+v.TargetZone
		objs = append(objs,
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: ns, UID: uid},
				Spec: corev1.PersistentVolumeClaimSpec{VolumeName: pv}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}},
			&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pv}, Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}, Spec: corev1.PersistentVolumeSpec{
				ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: claim, UID: uid},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource:        corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: spec.CSIDriverEBS, VolumeHandle: v.TargetVolume}},
				NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: spec.TopologyKeyKubernetes, Operator: corev1.NodeSelectorOpIn, Values: []string{v.TargetZone}}}}}}},
			}},
			&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node, Labels: map[string]string{spec.TopologyKeyKubernetes: v.TargetZone}}},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns, OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "apps/v1", Kind: "StatefulSet", Name: v.StatefulSet, UID: "uid-sts", Controller: &yes}}},
				Spec: corev1.PodSpec{NodeName: node, Volumes: []corev1.Volume{{Name: v.ClaimTemplate, VolumeSource: corev1.VolumeSource{
					PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}},
			&storagev1.VolumeAttachment{ObjectMeta: metav1.ObjectMeta{Name: "va-" + pv}, Spec: storagev1.VolumeAttachmentSpec{
				Attacher: spec.CSIDriverEBS, NodeName: node, Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: &pv}},
				Status: storagev1.VolumeAttachmentStatus{Attached: true}},
		)
	}
	return objs
}
