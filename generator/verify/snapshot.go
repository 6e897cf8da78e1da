package verify

import (
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/pager"

	"github.com/graftctl/graft/generator/kubeclient"
)

// snapshot is what one verification reads of the cluster: a few paged
// lists instead of a request per member, so that a poll of 1,000 members
// costs six lists, not thousands of requests under client-go's rate limit.
type snapshot struct {
	pvcs         map[string]*corev1.PersistentVolumeClaim // in the namespace, by name
	pvs          map[string]*corev1.PersistentVolume
	pods         map[string]*corev1.Pod // in the namespace, by name
	nodes        map[string]*corev1.Node
	statefulSets map[string]*appsv1.StatefulSet // in the namespace, by name
	// attachments by the PersistentVolume they attach.
	attachments map[string][]*storagev1.VolumeAttachment
	// warnings are the namespace's Warning events by kind/name of the
	// object, newest first.
	warnings map[string][]*corev1.Event
}

// listing is one paged list of a snapshot: what it lists, the call, and
// where each item goes.
type listing struct {
	what string
	list func(context.Context, metav1.ListOptions) (runtime.Object, error)
	add  func(runtime.Object)
}

func (v *Verifier) snapshot(ctx context.Context, ns string) (*snapshot, error) {
	s := &snapshot{
		pvcs: map[string]*corev1.PersistentVolumeClaim{}, pvs: map[string]*corev1.PersistentVolume{},
		pods: map[string]*corev1.Pod{}, nodes: map[string]*corev1.Node{},
		statefulSets: map[string]*appsv1.StatefulSet{}, attachments: map[string][]*storagev1.VolumeAttachment{},
		warnings: map[string][]*corev1.Event{},
	}
	core, storage, apps := v.Kube.CoreV1(), v.Kube.StorageV1(), v.Kube.AppsV1()
	lists := []listing{
		{"PersistentVolumeClaims in " + ns, listFunc(core.PersistentVolumeClaims(ns).List), byName(s.pvcs)},
		{"PersistentVolumes", listFunc(core.PersistentVolumes().List), byName(s.pvs)},
		{"pods in " + ns, listFunc(core.Pods(ns).List), byName(s.pods)},
		{"nodes", listFunc(core.Nodes().List), byName(s.nodes)},
		{"StatefulSets in " + ns, listFunc(apps.StatefulSets(ns).List), byName(s.statefulSets)},
		{"VolumeAttachments", listFunc(storage.VolumeAttachments().List), func(o runtime.Object) {
			va := o.(*storagev1.VolumeAttachment)
			if pv := va.Spec.Source.PersistentVolumeName; pv != nil {
				s.attachments[*pv] = append(s.attachments[*pv], va)
			}
		}},
		{"Warning events in " + ns, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = "type=" + corev1.EventTypeWarning
			return core.Events(ns).List(ctx, o)
		}, func(o runtime.Object) {
			e := o.(*corev1.Event)
			k := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
			s.warnings[k] = append(s.warnings[k], e)
		}},
	}
	for _, l := range lists {
		p := pager.New(pager.ListPageFunc(l.list))
		err := p.EachListItem(ctx, metav1.ListOptions{}, func(o runtime.Object) error { l.add(o); return nil })
		if err != nil {
			return nil, fmt.Errorf("%w: list %s: %w", kubeclient.ErrAPI, l.what, err)
		}
	}
	for _, evs := range s.warnings {
		slices.SortFunc(evs, func(a, b *corev1.Event) int { return eventTime(b).Compare(eventTime(a).Time) })
	}
	return s, nil
}

// listFunc is a typed client's List as a listing's list.
func listFunc[L runtime.Object](list func(context.Context, metav1.ListOptions) (L, error)) func(context.Context, metav1.ListOptions) (runtime.Object, error) {
	return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return list(ctx, o) }
}

// byName is a listing's add that keeps each object in m by its name.
func byName[T any, P interface {
	*T
	GetName() string
}](m map[string]P) func(runtime.Object) {
	return func(o runtime.Object) { p := o.(P); m[p.GetName()] = p }
}

// lastWarning is the newest Warning event of an object, as "Reason:
// message", or "".
func (s *snapshot) lastWarning(kind, name string) string {
	evs := s.warnings[kind+"/"+name]
	if len(evs) == 0 {
		return ""
	}
	return evs[0].Reason + ": " + evs[0].Message
}

func eventTime(e *corev1.Event) metav1.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp
	}
	if !e.EventTime.IsZero() {
		return metav1.Time{Time: e.EventTime.Time}
	}
	return e.FirstTimestamp
}
