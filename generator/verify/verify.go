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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
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
	CheckPodZone      = "pod-zone"
	CheckPodReady     = "pod-ready"
	CheckAttached     = "attached"
)

// Checks lists the checks of a member, in order.
var Checks = []string{CheckClaimBound, CheckVolume, CheckPodScheduled, CheckPodZone, CheckPodReady, CheckAttached}

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

// Run checks every recorded member once.
func (v *Verifier) Run(ctx context.Context) (*Report, error) {
	ns := v.Spec.Spec.Target.Namespace
	rep := &Report{Migration: v.Rec.Migration, Namespace: ns, EC2: "skipped"}
	for _, vol := range v.Rec.Volumes {
		m, err := v.member(ctx, ns, vol)
		if err != nil {
			return nil, err
		}
		rep.Members = append(rep.Members, m)
	}
	probs, err := v.statefulSets(ctx, ns)
	if err != nil {
		return nil, err
	}
	rep.StatefulSets = probs
	rep.Passed = len(probs) == 0 && !slices.ContainsFunc(rep.Members, func(m Member) bool { return !m.OK() })
	return rep, nil
}

// member makes the checks of one recorded volume, stopping at the first
// that fails: the ones after it are reported as not made.
func (v *Verifier) member(ctx context.Context, ns string, vol record.Volume) (Member, error) {
	m := Member{
		StatefulSet: vol.StatefulSet, Ordinal: vol.Ordinal, Claim: vol.ClaimName(),
		PersistentVolume: spec.PVName(ns, vol.ClaimName()), Volume: vol.TargetVolume, Zone: vol.TargetZone,
		Pod: vol.StatefulSet + "-" + strconv.Itoa(vol.Ordinal),
	}
	steps := []func(context.Context, *memberState) (Check, error){v.claimBound, v.volume, v.podScheduled, v.podZone, v.podReady, v.attached}
	st := &memberState{ns: ns, vol: vol, m: &m}
	failed := ""
	for i, step := range steps {
		if failed != "" {
			m.Checks = append(m.Checks, Check{Name: Checks[i], Message: "not checked: " + failed + " failed first"})
			continue
		}
		c, err := step(ctx, st)
		if err != nil {
			return m, err
		}
		c.Name = Checks[i]
		m.Checks = append(m.Checks, c)
		if !c.OK {
			failed = c.Name
		}
	}
	return m, nil
}

// memberState carries what one check found to the next.
type memberState struct {
	ns  string
	vol record.Volume
	m   *Member
	pvc *corev1.PersistentVolumeClaim
	pv  *corev1.PersistentVolume
	pod *corev1.Pod
}

func (v *Verifier) claimBound(ctx context.Context, st *memberState) (Check, error) {
	pvc, err := v.Kube.CoreV1().PersistentVolumeClaims(st.ns).Get(ctx, st.m.Claim, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Check{Message: fmt.Sprintf("PersistentVolumeClaim %s/%s does not exist", st.ns, st.m.Claim)}, nil
	}
	if err != nil {
		return Check{}, fmt.Errorf("read PersistentVolumeClaim %s/%s: %w", st.ns, st.m.Claim, err)
	}
	st.pvc = pvc
	switch {
	case pvc.Spec.VolumeName != st.m.PersistentVolume:
		return Check{Message: fmt.Sprintf("PersistentVolumeClaim %s names volume %q, expected %s", pvc.Name, pvc.Spec.VolumeName, st.m.PersistentVolume)}, nil
	case pvc.Status.Phase != corev1.ClaimBound:
		c := Check{Message: fmt.Sprintf("PersistentVolumeClaim %s is %s, expected Bound", pvc.Name, cmp.Or(string(pvc.Status.Phase), "Pending")),
			Reason: v.lastEvent(ctx, st.ns, "PersistentVolumeClaim", pvc.Name)}
		if _, err := v.Kube.CoreV1().PersistentVolumes().Get(ctx, st.m.PersistentVolume, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			c.Message += fmt.Sprintf(": its PersistentVolume %s does not exist", st.m.PersistentVolume)
		}
		return c, nil
	}
	return Check{OK: true}, nil
}

func (v *Verifier) volume(ctx context.Context, st *memberState) (Check, error) {
	pv, err := v.Kube.CoreV1().PersistentVolumes().Get(ctx, st.m.PersistentVolume, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Check{Message: fmt.Sprintf("PersistentVolume %s does not exist", st.m.PersistentVolume)}, nil
	}
	if err != nil {
		return Check{}, fmt.Errorf("read PersistentVolume %s: %w", st.m.PersistentVolume, err)
	}
	st.pv = pv
	ref := pv.Spec.ClaimRef
	switch {
	case pv.Spec.CSI == nil || pv.Spec.CSI.VolumeHandle != st.vol.TargetVolume:
		handle := ""
		if pv.Spec.CSI != nil {
			handle = pv.Spec.CSI.VolumeHandle
		}
		return Check{Message: fmt.Sprintf("PersistentVolume %s is on volume %q, expected the recorded %s", pv.Name, handle, st.vol.TargetVolume)}, nil
	case ref == nil || ref.Namespace != st.ns || ref.Name != st.m.Claim || ref.UID != st.pvc.UID:
		return Check{Message: fmt.Sprintf("PersistentVolume %s is bound to %s, expected %s/%s (uid %s)", pv.Name, describeRef(ref), st.ns, st.m.Claim, st.pvc.UID)}, nil
	}
	return Check{OK: true}, nil
}

func describeRef(ref *corev1.ObjectReference) string {
	if ref == nil {
		return "no claim"
	}
	return fmt.Sprintf("%s/%s (uid %s)", ref.Namespace, ref.Name, ref.UID)
}

func (v *Verifier) podScheduled(ctx context.Context, st *memberState) (Check, error) {
	pod, err := v.Kube.CoreV1().Pods(st.ns).Get(ctx, st.m.Pod, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Check{Message: fmt.Sprintf("pod %s/%s does not exist", st.ns, st.m.Pod), Reason: v.lastEvent(ctx, st.ns, "StatefulSet", st.vol.StatefulSet)}, nil
	}
	if err != nil {
		return Check{}, fmt.Errorf("read pod %s/%s: %w", st.ns, st.m.Pod, err)
	}
	st.pod = pod
	if pod.Spec.NodeName == "" {
		return Check{Message: fmt.Sprintf("pod %s is not scheduled", pod.Name), Reason: v.lastEvent(ctx, st.ns, "Pod", pod.Name)}, nil
	}
	st.m.Node = pod.Spec.NodeName
	return Check{OK: true}, nil
}

func (v *Verifier) podZone(ctx context.Context, st *memberState) (Check, error) {
	node, err := v.Kube.CoreV1().Nodes().Get(ctx, st.pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return Check{}, fmt.Errorf("read node %s: %w", st.pod.Spec.NodeName, err)
	}
	key := zoneKey(st.pv)
	if z := node.Labels[key]; z != st.vol.TargetZone {
		return Check{Message: fmt.Sprintf("pod %s runs on node %s in zone %q (%s), expected %s, the volume's", st.pod.Name, node.Name, z, key, st.vol.TargetZone)}, nil
	}
	return Check{OK: true}, nil
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

func (v *Verifier) podReady(ctx context.Context, st *memberState) (Check, error) {
	for _, c := range st.pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return Check{OK: true}, nil
		}
	}
	return Check{Message: fmt.Sprintf("pod %s is %s and not Ready", st.pod.Name, cmp.Or(string(st.pod.Status.Phase), "Pending")), Reason: v.lastEvent(ctx, st.ns, "Pod", st.pod.Name)}, nil
}

func (v *Verifier) attached(ctx context.Context, st *memberState) (Check, error) {
	list, err := v.Kube.StorageV1().VolumeAttachments().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Check{}, fmt.Errorf("list VolumeAttachments: %w", err)
	}
	for _, va := range list.Items {
		src := va.Spec.Source.PersistentVolumeName
		if src == nil || *src != st.pv.Name || va.Spec.NodeName != st.pod.Spec.NodeName {
			continue
		}
		if va.Status.Attached {
			return Check{OK: true}, nil
		}
		reason := ""
		if e := va.Status.AttachError; e != nil {
			reason = e.Message
		}
		return Check{Message: fmt.Sprintf("VolumeAttachment %s is not attached yet", va.Name), Reason: reason}, nil
	}
	return Check{Message: fmt.Sprintf("no VolumeAttachment of %s on node %s", st.pv.Name, st.pod.Spec.NodeName), Reason: v.lastEvent(ctx, st.ns, "Pod", st.pod.Name)}, nil
}

// lastEvent is the message of the newest Warning event of an object, or
// "" when it has none (or events cannot be read: they only explain).
func (v *Verifier) lastEvent(ctx context.Context, ns, kind, name string) string {
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name, "type": corev1.EventTypeWarning}.AsSelector().String()
	list, err := v.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil || len(list.Items) == 0 {
		return ""
	}
	newest := slices.MaxFunc(list.Items, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b).Time) })
	return newest.Reason + ": " + newest.Message
}

func eventTime(e corev1.Event) metav1.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp
	}
	if !e.EventTime.IsZero() {
		return metav1.Time{Time: e.EventTime.Time}
	}
	return e.FirstTimestamp
}

// statefulSets: each recorded StatefulSet exists and runs no ordinal that
// the record holds no volume for (scaled beyond the record: that member
// would start without graft's data).
func (v *Verifier) statefulSets(ctx context.Context, ns string) ([]Problem, error) {
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
		sts, err := v.Kube.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			out = append(out, Problem{Object: obj, Message: "does not exist"})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", obj, err)
		}
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
	return out, nil
}
