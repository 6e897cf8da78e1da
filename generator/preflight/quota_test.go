package preflight

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// quota is a ResourceQuota in the example's namespace, hard and used as
// "name=quantity" pairs; used nil leaves its status uncounted, as the quota
// controller has not synced it yet (which copies spec.hard to status.hard
// and counts status.used).
func quota(name string, hard, used []string) *corev1.ResourceQuota {
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "cassandra"}, Spec: corev1.ResourceQuotaSpec{Hard: resources(hard)}}
	if used != nil {
		q.Status.Hard, q.Status.Used = resources(hard), resources(used)
	}
	return q
}

func resources(pairs []string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for _, p := range pairs {
		n, v, _ := strings.Cut(p, "=")
		l[corev1.ResourceName(n)] = resource.MustParse(v)
	}
	return l
}

// vacQuota allows one claim more, of the claims its VolumeAttributesClass
// scope selects.
func vacQuota(name string, op corev1.ScopeSelectorOperator, values ...string) *corev1.ResourceQuota {
	q := quota(name, []string{"persistentvolumeclaims=1"}, []string{"persistentvolumeclaims=0"})
	q.Spec.ScopeSelector = &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{
		{ScopeName: corev1.ResourceQuotaScopeVolumeAttributesClass, Operator: op, Values: values}}}
	return q
}

func pvcLimit(name, min, max string) *corev1.LimitRange {
	item := corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Min: corev1.ResourceList{}, Max: corev1.ResourceList{}}
	if min != "" {
		item.Min[corev1.ResourceStorage] = resource.MustParse(min)
	}
	if max != "" {
		item.Max[corev1.ResourceStorage] = resource.MustParse(max)
	}
	return &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "cassandra"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{item}}}
}

// TestQuota: the example's three new claims of 500Gi each fail against a
// quota with too few claims or too little storage left, a quota whose use
// is not counted yet, and a LimitRange that bounds a claim's request, as
// the API server's admission would refuse them; they pass a quota they
// fit, a scoped quota that selects none of them (named), and one already holding
// the overlay's claims from an earlier apply.
func TestQuota(t *testing.T) {
	o := example(t, "cassandra-3node")
	existing := o.PVCs[0].DeepCopy()
	for _, c := range []struct {
		name  string
		edit  func(*Overlay)
		objs  []runtime.Object
		fails []string
		pass  string
	}{
		{name: "no quota", pass: "the overlay's 3 new claim(s), 1500Gi of storage, fit 0 ResourceQuota(s) and 0 LimitRange(s)"},
		{name: "too few claims left", objs: []runtime.Object{quota("claims", []string{"persistentvolumeclaims=5"}, []string{"persistentvolumeclaims=3"})},
			fails: []string{"ResourceQuota claims: persistentvolumeclaims 3 wanted, 2 left (hard 5, used 3)"}},
		{name: "too little storage left", objs: []runtime.Object{quota("storage", []string{"requests.storage=2Ti"}, []string{"requests.storage=1Ti"})},
			fails: []string{"ResourceQuota storage: requests.storage 1500Gi wanted, 1Ti left (hard 2Ti, used 1Ti)", "1500Gi of storage, do not fit"}},
		{name: "count quota", objs: []runtime.Object{quota("count", []string{"count/persistentvolumeclaims=2"}, []string{"count/persistentvolumeclaims=0"})},
			fails: []string{"count/persistentvolumeclaims 3 wanted, 2 left"}},
		{name: "over-used quota", objs: []runtime.Object{quota("full", []string{"persistentvolumeclaims=1"}, []string{"persistentvolumeclaims=4"})},
			fails: []string{"persistentvolumeclaims 3 wanted, 0 left (hard 1, used 4)"}},
		{name: "use not counted yet", objs: []runtime.Object{quota("new", []string{"requests.storage=10Ti"}, nil)},
			fails: []string{"ResourceQuota new bounds requests.storage, whose use the quota controller has not counted yet", "nor copied its spec.hard to status.hard"}},
		// status.hard bounds it, status.used does not count it: admission
		// refuses every claim now.
		{name: "status.hard without status.used", objs: []runtime.Object{func() runtime.Object {
			q := quota("half", []string{"requests.storage=10Ti"}, nil)
			q.Status.Hard = resources([]string{"requests.storage=10Ti"})
			return q
		}()}, fails: []string{"ResourceQuota half bounds requests.storage, whose use the quota controller has not counted yet (status.used), so the API server refuses every claim"}},
		{name: "claim above a LimitRange's max", objs: []runtime.Object{pvcLimit("small", "", "100Gi")},
			fails: []string{"LimitRange small allows a claim at most 100Gi of storage: " + o.PVCs[0].Name + " 500Gi"}},
		{name: "claim below a LimitRange's min", objs: []runtime.Object{pvcLimit("big", "1Ti", "")},
			fails: []string{"LimitRange big requires a claim at least 1Ti of storage"}},
		{name: "fits", objs: []runtime.Object{quota("ok", []string{"persistentvolumeclaims=10", "requests.storage=10Ti", "gp3.storageclass.storage.k8s.io/requests.storage=1Gi"}, []string{"persistentvolumeclaims=7", "requests.storage=1Ti", "gp3.storageclass.storage.k8s.io/requests.storage=0"}), pvcLimit("range", "1Gi", "1Ti")},
			pass: "fit 1 ResourceQuota(s) and 1 LimitRange(s)"},
		// Admission judges on status.hard: a spec.hard raised to fit that
		// the controller has not copied yet does not help yet.
		{name: "spec raised, status not yet", objs: []runtime.Object{func() runtime.Object {
			q := quota("raised", []string{"persistentvolumeclaims=2"}, []string{"persistentvolumeclaims=0"})
			q.Spec.Hard = resources([]string{"persistentvolumeclaims=100"})
			return q
		}()}, fails: []string{"ResourceQuota raised: persistentvolumeclaims 3 wanted, 2 left (hard 2, used 0)"}},
		// A claim is refused while any claim resource of the quota is
		// uncounted, another class's too.
		{name: "another class's use not counted", objs: []runtime.Object{func() runtime.Object {
			q := quota("classes", []string{"persistentvolumeclaims=100", "gold.storageclass.storage.k8s.io/requests.storage=1Ti"}, []string{"persistentvolumeclaims=0"})
			return q
		}()}, fails: []string{"ResourceQuota classes bounds gold.storageclass.storage.k8s.io/requests.storage, whose use the quota controller has not counted yet"}},
		// The beta annotation names the class quota charges, before
		// spec.storageClassName.
		{name: "class of the beta annotation", edit: func(o *Overlay) {
			for _, pvc := range o.PVCs {
				pvc.Annotations = map[string]string{corev1.BetaStorageClassAnnotation: "gold"}
			}
		}, objs: []runtime.Object{quota("gold", []string{"gold.storageclass.storage.k8s.io/persistentvolumeclaims=1"}, []string{"gold.storageclass.storage.k8s.io/persistentvolumeclaims=0"})},
			fails: []string{"ResourceQuota gold: gold.storageclass.storage.k8s.io/persistentvolumeclaims 3 wanted, 1 left"}},
		// A request of a fraction of a byte counts as the whole byte.
		{name: "request rounded up to the byte", edit: func(o *Overlay) {
			for _, pvc := range o.PVCs {
				pvc.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("100m")
			}
		}, objs: []runtime.Object{quota("bytes", []string{"requests.storage=2"}, []string{"requests.storage=0"})},
			fails: []string{"ResourceQuota bytes: requests.storage 3 wanted, 2 left"}},
		{name: "scoped quota", objs: []runtime.Object{func() runtime.Object {
			q := quota("pods-only", []string{"persistentvolumeclaims=0"}, []string{"persistentvolumeclaims=0"})
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
			return q
		}()}, pass: "not applying to them (their scopes select none): pods-only"},
		// The VolumeAttributesClass scope selects claims: one that names
		// no class is selected by DoesNotExist and NotIn, and admission
		// counts it.
		{name: "VolumeAttributesClass DoesNotExist selects the claims", objs: []runtime.Object{
			vacQuota("no-vac", corev1.ScopeSelectorOpDoesNotExist)}, fails: []string{"ResourceQuota no-vac: persistentvolumeclaims 3 wanted, 1 left"}},
		{name: "VolumeAttributesClass NotIn selects the claims", objs: []runtime.Object{
			vacQuota("not-gold", corev1.ScopeSelectorOpNotIn, "gold")}, fails: []string{"ResourceQuota not-gold: persistentvolumeclaims 3 wanted, 1 left"}},
		{name: "VolumeAttributesClass In selects a claim of the class", edit: func(o *Overlay) {
			for _, pvc := range o.PVCs {
				gold := "gold"
				pvc.Spec.VolumeAttributesClassName = &gold
			}
		}, objs: []runtime.Object{vacQuota("gold", corev1.ScopeSelectorOpIn, "gold")}, fails: []string{"ResourceQuota gold: persistentvolumeclaims 3 wanted, 1 left"}},
		{name: "VolumeAttributesClass In does not select a claim of none", objs: []runtime.Object{vacQuota("gold", corev1.ScopeSelectorOpIn, "gold")},
			pass: "fit 0 ResourceQuota(s) and 0 LimitRange(s); not applying to them (their scopes select none): gold"},
		{name: "an earlier apply's claim is not counted again", objs: []runtime.Object{existing, quota("two", []string{"persistentvolumeclaims=3"}, []string{"persistentvolumeclaims=1"})},
			pass: "the overlay's 2 new claim(s), 1000Gi of storage, fit 1 ResourceQuota(s)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := o
			if c.edit != nil {
				o = example(t, "cassandra-3node")
				c.edit(o)
			}
			rs := run(t, o, append(prepared(o), c.objs...)...)
			if c.fails != nil {
				f := wantOneFailure(t, rs, IDQuota, c.fails, []string{"kubectl -n cassandra edit resourcequota NAME / limitrange NAME"})
				if f.Object != "Namespace cassandra" {
					t.Errorf("object %q", f.Object)
				}
				return
			}
			q := only(rs, IDQuota)
			if f := failures(rs); len(f) > 0 || len(q) != 1 || !strings.Contains(q[0].Message, c.pass) {
				t.Fatalf("failures %+v, quota results %+v; want a pass saying %q", f, q, c.pass)
			}
		})
	}
}

// TestPreflightListsClaimsAndVolumes: the claims and PVs are read with a
// list per namespace and one for the cluster, shared by the checks, not a
// get per member (1,000 members would cost 2,000 requests under
// client-go's rate limit).
func TestPreflightListsClaimsAndVolumes(t *testing.T) {
	o := example(t, "cassandra-6node-racks")
	client := fake.NewClientset(prepared(o)...)
	calls := map[string]int{}
	client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		calls[a.GetVerb()+" "+a.GetResource().Resource]++
		return false, nil, nil
	})
	if _, err := Run(context.Background(), client, o, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(o.PVCs) < 6 || calls["get persistentvolumeclaims"] != 0 || calls["get persistentvolumes"] != 0 ||
		calls["list persistentvolumeclaims"] != len(o.Namespaces) || calls["list persistentvolumes"] != 1 {
		t.Errorf("%d claims in %d namespace(s): calls %v; want one list of claims per namespace, one of PVs, no get of either", len(o.PVCs), len(o.Namespaces), calls)
	}
}
