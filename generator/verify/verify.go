// Package verify reads the target cluster after Flux or Argo CD synced a
// migration's overlay, and says for every recorded member whether the
// cut-over happened: its claim Bound to graft's PersistentVolume, that PV
// on the recorded EBS volume and bound back, the pod scheduled in the
// volume's zone and Ready, the volume attached, and (from EC2) how far the
// volume's initialization is. For anything not yet right it gives the
// reason the cluster gives (the scheduler's event, the claim's, an attach
// error). It only reads.
package verify

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// Names of the checks, in the order they are made: each needs the ones
// before it.
const (
	CheckClaimBound   = "claim-bound"
	CheckVolume       = "volume"
	CheckPodScheduled = "pod-scheduled"
	CheckPodClaim     = "pod-claim"
	CheckPodZone      = "pod-zone"
	CheckPodReady     = "pod-ready"
	CheckAttached     = "attached"
)

// Checks lists the checks of a member, in order.
var Checks = []string{CheckClaimBound, CheckVolume, CheckPodScheduled, CheckPodClaim, CheckPodZone, CheckPodReady, CheckAttached}

// Report is the result of one verification.
type Report struct {
	Migration string   `json:"migration"`
	Namespace string   `json:"namespace"`
	Passed    bool     `json:"passed"`
	Members   []Member `json:"members"`
	// StatefulSets holds what is wrong with a StatefulSet as a whole.
	StatefulSets []Problem `json:"statefulSets"`
	// EC2 says whether the volumes' initialization was read: "checked",
	// "skipped" (--cluster-only) or "unreachable: <why>".
	EC2 string `json:"ec2"`
}

// Problem is a finding about an object that is not one member's.
type Problem struct {
	Object  string `json:"object"`
	Message string `json:"message"`
}

// Member is one recorded volume's member and what the cluster shows of it.
type Member struct {
	StatefulSet      string `json:"statefulSet"`
	Ordinal          int    `json:"ordinal"`
	Claim            string `json:"claim"`
	PersistentVolume string `json:"persistentVolume"`
	Volume           string `json:"volume"`
	Zone             string `json:"zone"`
	Pod              string `json:"pod"`
	Node             string `json:"node,omitempty"`
	// Checks holds every check of Checks, in order; one that could not be
	// made because an earlier one failed says so.
	Checks []Check `json:"checks"`
	// Initialization is the EBS volume's initialization, when EC2 was read.
	Initialization *Initialization `json:"initialization,omitempty"`
}

// Check is one check of a member.
type Check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Message says what was found when the check failed, and Reason what
	// the cluster gives for it (an event's or a status's message).
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Initialization is DescribeVolumeStatus's InitializationStatusDetails.
type Initialization struct {
	Type                 string `json:"type"`
	Progress             int64  `json:"progress"`
	EstimatedSecondsLeft int64  `json:"estimatedSecondsLeft,omitempty"`
}

// OK reports whether every check of the member passed.
func (m Member) OK() bool {
	return !slices.ContainsFunc(m.Checks, func(c Check) bool { return !c.OK })
}

// Verifier reads one cluster for one migration.
type Verifier struct {
	Kube kubernetes.Interface
	Spec *spec.Migration
	Rec  *record.Record
}

// Run checks every recorded member once, on one snapshot of the cluster.
func (v *Verifier) Run(ctx context.Context) (*Report, error) {
	ns := v.Spec.Spec.Target.Namespace
	rep := &Report{Migration: v.Rec.Migration, Namespace: ns, EC2: "skipped"}
	snap, err := v.snapshot(ctx, ns)
	if err != nil {
		return nil, err
	}
	for _, vol := range v.Rec.Volumes {
		rep.Members = append(rep.Members, member(snap, ns, vol))
	}
	rep.StatefulSets = v.statefulSets(snap, ns)
	rep.Passed = len(rep.StatefulSets) == 0 && !slices.ContainsFunc(rep.Members, func(m Member) bool { return !m.OK() })
	return rep, nil
}

// member makes the checks of one recorded volume, stopping at the first
// that fails: the ones after it are reported as not made.
func member(snap *snapshot, ns string, vol record.Volume) Member {
	m := Member{
		StatefulSet: vol.StatefulSet, Ordinal: vol.Ordinal, Claim: vol.ClaimName(),
		PersistentVolume: spec.PVName(ns, vol.ClaimName()), Volume: vol.TargetVolume, Zone: vol.TargetZone,
		Pod: vol.StatefulSet + "-" + strconv.Itoa(vol.Ordinal),
	}
	steps := []func(*memberState) Check{claimBound, volume, podScheduled, podClaim, podZone, podReady, attached}
	st := &memberState{ns: ns, vol: vol, m: &m, snap: snap}
	failed := ""
	for i, step := range steps {
		if failed != "" {
			m.Checks = append(m.Checks, Check{Name: Checks[i], Message: "not checked: " + failed + " failed first"})
			continue
		}
		c := step(st)
		c.Name = Checks[i]
		m.Checks = append(m.Checks, c)
		if !c.OK {
			failed = c.Name
		}
	}
	return m
}

// memberState carries what one check found to the next.
type memberState struct {
	ns   string
	vol  record.Volume
	m    *Member
	snap *snapshot
	pvc  *corev1.PersistentVolumeClaim
	pv   *corev1.PersistentVolume
	pod  *corev1.Pod
}

func claimBound(st *memberState) Check {
	pvc, ok := st.snap.pvcs[st.m.Claim]
	if !ok {
		return Check{Message: fmt.Sprintf("PersistentVolumeClaim %s/%s does not exist", st.ns, st.m.Claim)}
	}
	st.pvc = pvc
	switch {
	case pvc.DeletionTimestamp != nil:
		return Check{Message: fmt.Sprintf("PersistentVolumeClaim %s is being deleted%s: the member loses it when its pod stops", pvc.Name, finalizers(pvc.Finalizers))}
	case pvc.Spec.VolumeName != st.m.PersistentVolume:
		return Check{Message: fmt.Sprintf("PersistentVolumeClaim %s names volume %q, expected %s", pvc.Name, pvc.Spec.VolumeName, st.m.PersistentVolume)}
	case pvc.Status.Phase != corev1.ClaimBound:
		c := Check{Message: fmt.Sprintf("PersistentVolumeClaim %s is %s, expected Bound", pvc.Name, cmp.Or(string(pvc.Status.Phase), "Pending")),
			Reason: st.snap.lastWarning("PersistentVolumeClaim", pvc.Name)}
		if _, ok := st.snap.pvs[st.m.PersistentVolume]; !ok {
			c.Message += fmt.Sprintf(": its PersistentVolume %s does not exist", st.m.PersistentVolume)
		}
		return c
	}
	return Check{OK: true}
}

func volume(st *memberState) Check {
	pv, ok := st.snap.pvs[st.m.PersistentVolume]
	if !ok {
		return Check{Message: fmt.Sprintf("PersistentVolume %s does not exist", st.m.PersistentVolume)}
	}
	st.pv = pv
	ref := pv.Spec.ClaimRef
	switch {
	case pv.Spec.CSI == nil || pv.Spec.CSI.VolumeHandle != st.vol.TargetVolume:
		handle := ""
		if pv.Spec.CSI != nil {
			handle = pv.Spec.CSI.VolumeHandle
		}
		return Check{Message: fmt.Sprintf("PersistentVolume %s is on volume %q, expected the recorded %s", pv.Name, handle, st.vol.TargetVolume)}
	case ref == nil || ref.Namespace != st.ns || ref.Name != st.m.Claim || ref.UID != st.pvc.UID:
		return Check{Message: fmt.Sprintf("PersistentVolume %s is bound to %s, expected %s/%s (uid %s)", pv.Name, describeRef(ref), st.ns, st.m.Claim, st.pvc.UID)}
	case pv.DeletionTimestamp != nil:
		return Check{Message: fmt.Sprintf("PersistentVolume %s is being deleted%s", pv.Name, finalizers(pv.Finalizers))}
	case pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain:
		// Changed on the cluster after the gate passed Retain (kubectl
		// patch, another controller): deleting the claim would now have
		// the driver delete the EBS volume, with the data.
		return Check{Message: fmt.Sprintf("PersistentVolume %s has reclaim policy %q, expected Retain: deleting its claim would delete EBS volume %s and the data on it", pv.Name, pv.Spec.PersistentVolumeReclaimPolicy, st.vol.TargetVolume)}
	case pv.Status.Phase != corev1.VolumeBound:
		return Check{Message: fmt.Sprintf("PersistentVolume %s is %s, expected Bound", pv.Name, cmp.Or(string(pv.Status.Phase), "Pending")), Reason: pv.Status.Message}
	}
	return Check{OK: true}
}

// isAppsV1: an owner reference's apiVersion is the apps group's, whose
// StatefulSet controller graft's claims are named for (not another
// group's kind of the same name, such as OpenKruise's).
func isAppsV1(apiVersion string) bool {
	gv, err := schema.ParseGroupVersion(apiVersion)
	return err == nil && gv.Group == appsv1.GroupName
}

// finalizers says which finalizers hold an object being deleted.
func finalizers(fs []string) string {
	if len(fs) == 0 {
		return ""
	}
	return fmt.Sprintf(" (held by %s)", strings.Join(fs, ", "))
}

func describeRef(ref *corev1.ObjectReference) string {
	if ref == nil {
		return "no claim"
	}
	return fmt.Sprintf("%s/%s (uid %s)", ref.Namespace, ref.Name, ref.UID)
}

func podScheduled(st *memberState) Check {
	pod, ok := st.snap.pods[st.m.Pod]
	if !ok {
		return Check{Message: fmt.Sprintf("pod %s/%s does not exist", st.ns, st.m.Pod), Reason: st.snap.lastWarning("StatefulSet", st.vol.StatefulSet)}
	}
	st.pod = pod
	if pod.Spec.NodeName == "" {
		return Check{Message: fmt.Sprintf("pod %s is not scheduled", pod.Name), Reason: st.snap.lastWarning("Pod", pod.Name)}
	}
	st.m.Node = pod.Spec.NodeName
	return Check{OK: true}
}

// podClaim: the pod is the StatefulSet's, and mounts the member's claim.
// A pod of another controller holds the name the StatefulSet's own pod
// needs; a pod of the StatefulSet that mounts another claim (its
// template names another claim template, or a pod volume replaces it)
// runs on another volume while graft's stays Bound and unused.
func podClaim(st *memberState) Check {
	pod := st.pod
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "StatefulSet" || ref.Name != st.vol.StatefulSet || !isAppsV1(ref.APIVersion) {
		owner := "no controller"
		if ref != nil {
			owner = ref.Kind + " " + ref.Name
			if !isAppsV1(ref.APIVersion) {
				owner = fmt.Sprintf("%s %s (%s)", ref.Kind, ref.Name, ref.APIVersion)
			}
		}
		return Check{Message: fmt.Sprintf("pod %s is controlled by %s, expected StatefulSet %s (apps/v1)", pod.Name, owner, st.vol.StatefulSet)}
	}
	// The StatefulSet controller takes a pod as its own only when the
	// controller reference carries its UID; a pod that names a deleted
	// StatefulSet of the same name is the garbage collector's to delete.
	if sts, ok := st.snap.statefulSets[st.vol.StatefulSet]; !ok || sts.UID != ref.UID {
		current := "which does not exist"
		if ok {
			current = fmt.Sprintf("whose uid is %s", sts.UID)
		}
		return Check{Message: fmt.Sprintf("pod %s is controlled by StatefulSet %s of uid %s, not the StatefulSet %s %s: the garbage collector deletes it", pod.Name, ref.Name, ref.UID, st.vol.StatefulSet, current)}
	}
	var claims []string
	for _, v := range pod.Spec.Volumes {
		if c := v.PersistentVolumeClaim; c != nil {
			if c.ClaimName == st.m.Claim {
				return Check{OK: true}
			}
			claims = append(claims, c.ClaimName)
		}
	}
	return Check{Message: fmt.Sprintf("pod %s does not mount claim %s (it mounts %s): it runs without the data graft cloned", pod.Name, st.m.Claim, cmp.Or(strings.Join(claims, ", "), "no claim"))}
}

func podZone(st *memberState) Check {
	node, ok := st.snap.nodes[st.pod.Spec.NodeName]
	if !ok {
		return Check{Message: fmt.Sprintf("pod %s runs on node %s, which does not exist", st.pod.Name, st.pod.Spec.NodeName)}
	}
	key := zoneKey(st.pv)
	if z := node.Labels[key]; z != st.vol.TargetZone {
		return Check{Message: fmt.Sprintf("pod %s runs on node %s in zone %q (%s), expected %s, the volume's", st.pod.Name, node.Name, z, key, st.vol.TargetZone)}
	}
	return Check{OK: true}
}

// zoneKey is the zone key of the PV's node affinity, the one its driver
// labels nodes with.
func zoneKey(pv *corev1.PersistentVolume) string {
	if na := pv.Spec.NodeAffinity; na != nil && na.Required != nil {
		for _, t := range na.Required.NodeSelectorTerms {
			for _, e := range t.MatchExpressions {
				if e.Key == spec.TopologyKeyKubernetes || e.Key == spec.TopologyKeyEBSCSI {
					return e.Key
				}
			}
		}
	}
	return spec.TopologyKeyKubernetes
}

func podReady(st *memberState) Check {
	if st.pod.DeletionTimestamp != nil {
		return Check{Message: fmt.Sprintf("pod %s is terminating", st.pod.Name), Reason: st.snap.lastWarning("Pod", st.pod.Name)}
	}
	for _, c := range st.pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return Check{OK: true}
		}
	}
	return Check{Message: fmt.Sprintf("pod %s is %s and not Ready", st.pod.Name, cmp.Or(string(st.pod.Status.Phase), "Pending")), Reason: st.snap.lastWarning("Pod", st.pod.Name)}
}

func attached(st *memberState) Check {
	for _, va := range st.snap.attachments[st.pv.Name] {
		if va.Spec.NodeName != st.pod.Spec.NodeName {
			continue
		}
		if va.Status.Attached {
			return Check{OK: true}
		}
		reason := ""
		if e := va.Status.AttachError; e != nil {
			reason = e.Message
		}
		return Check{Message: fmt.Sprintf("VolumeAttachment %s is not attached yet", va.Name), Reason: reason}
	}
	return Check{Message: fmt.Sprintf("no VolumeAttachment of %s on node %s", st.pv.Name, st.pod.Spec.NodeName), Reason: st.snap.lastWarning("Pod", st.pod.Name)}
}

// statefulSets: each recorded StatefulSet exists and runs no ordinal that
// the record holds no volume for (scaled beyond the record: that member
// would start without graft's data).
func (v *Verifier) statefulSets(snap *snapshot, ns string) []Problem {
	ordinals := map[string]map[int]bool{}
	for _, vol := range v.Rec.Volumes {
		if ordinals[vol.StatefulSet] == nil {
			ordinals[vol.StatefulSet] = map[int]bool{}
		}
		ordinals[vol.StatefulSet][vol.Ordinal] = true
	}
	var out []Problem
	for _, name := range slices.Sorted(maps.Keys(ordinals)) {
		obj := "StatefulSet " + ns + "/" + name
		sts, ok := snap.statefulSets[name]
		if !ok {
			out = append(out, Problem{Object: obj, Message: "does not exist"})
			continue
		}
		out = append(out, stsProblems(obj, sts)...)
		start, replicas := 0, 1
		if sts.Spec.Ordinals != nil {
			start = int(sts.Spec.Ordinals.Start)
		}
		if sts.Spec.Replicas != nil {
			replicas = int(*sts.Spec.Replicas)
		}
		for o := start; o < start+replicas; o++ {
			if !ordinals[name][o] {
				out = append(out, Problem{Object: obj, Message: fmt.Sprintf("runs ordinal %d (replicas %d from %d), which graft.lock holds no volume for", o, replicas, start)})
			}
		}
	}
	return out
}

// stsProblems: the StatefulSet is not being deleted, and does not delete
// the claims it adopted (the gate denies persistentVolumeClaimRetentionPolicy
// Delete in the overlay, GRAFT041; an operator's StatefulSet, or one
// patched on the cluster, is seen only here).
func stsProblems(obj string, sts *appsv1.StatefulSet) []Problem {
	var out []Problem
	if sts.DeletionTimestamp != nil {
		out = append(out, Problem{Object: obj, Message: "is being deleted" + finalizers(sts.Finalizers)})
	}
	if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		for _, f := range []struct {
			field  string
			policy appsv1.PersistentVolumeClaimRetentionPolicyType
			when   string
		}{{"whenDeleted", p.WhenDeleted, "deleting the StatefulSet"}, {"whenScaled", p.WhenScaled, "scaling it down"}} {
			if f.policy == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
				out = append(out, Problem{Object: obj, Message: fmt.Sprintf("persistentVolumeClaimRetentionPolicy.%s is Delete, expected Retain: %s deletes graft's claims: their volumes are left Released, and a member started again no longer has its data", f.field, f.when)})
			}
		}
	}
	return out
}
