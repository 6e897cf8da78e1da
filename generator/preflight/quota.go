package preflight

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
)

// IDQuota is the check that the overlay's new claims fit the namespaces'
// ResourceQuotas and LimitRanges.
const IDQuota = "quota"

// claimDemand is what the overlay's claims that do not exist yet ask of a
// namespace's ResourceQuotas, by quota resource name.
type claimDemand map[corev1.ResourceName]resource.Quantity

// The quota resources a claim is counted in (the API server's
// PersistentVolumeClaim quota evaluator, pkg/quota/v1/evaluator/core/
// persistent_volume_claims.go, Usage): its count and request, overall and
// for its storage class. The request is counted in whole bytes, rounded
// up, as the evaluator counts it.
func (d claimDemand) add(pvc *corev1.PersistentVolumeClaim) {
	req := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	req.RoundUp(0)
	one := resource.MustParse("1")
	names := []corev1.ResourceName{corev1.ResourcePersistentVolumeClaims, pvcObjectCount}
	sizes := []corev1.ResourceName{corev1.ResourceRequestsStorage}
	if c := claimClass(pvc); c != "" {
		names = append(names, corev1.ResourceName(c+storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims)))
		sizes = append(sizes, corev1.ResourceName(c+storageClassSuffix+string(corev1.ResourceRequestsStorage)))
	}
	for _, n := range names {
		q := d[n]
		q.Add(one)
		d[n] = q
	}
	for _, n := range sizes {
		q := d[n]
		q.Add(req)
		d[n] = q
	}
}

const (
	pvcObjectCount     corev1.ResourceName = "count/persistentvolumeclaims"
	storageClassSuffix                     = ".storageclass.storage.k8s.io/"
)

// claimClass is the storage class quota charges a claim to: the beta
// annotation before spec.storageClassName, as the evaluator reads it
// (component-helpers' GetPersistentVolumeClaimClass).
func claimClass(pvc *corev1.PersistentVolumeClaim) string {
	if c, ok := pvc.Annotations[corev1.BetaStorageClassAnnotation]; ok {
		return c
	}
	if c := pvc.Spec.StorageClassName; c != nil {
		return *c
	}
	return ""
}

// claimResource: the evaluator's MatchingResources, the quota resource
// names a claim's admission is judged on: the claim count, the storage
// request, and either of them for any storage class.
func claimResource(n corev1.ResourceName) bool {
	switch n {
	case corev1.ResourcePersistentVolumeClaims, corev1.ResourceRequestsStorage, pvcObjectCount:
		return true
	}
	return strings.HasSuffix(string(n), storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims)) ||
		strings.HasSuffix(string(n), storageClassSuffix+string(corev1.ResourceRequestsStorage))
}

// quotas: in each namespace of the overlay's claims, the claims that do
// not exist yet fit every ResourceQuota (hard minus used, for each
// resource a claim counts in) and the LimitRanges' bounds on a claim's
// storage request. The API server's admission refuses a claim that does
// not, so a sync would stop part way, with some members' claims applied
// and the others missing. A quota whose used amounts the quota controller
// has not counted yet is refused by admission too ("status unknown for
// quota"). A quota with scopes counts the claims its scopes select, as
// the PVC evaluator selects them (quotaSelects); one that selects none of
// them is named as not applying.
func (k *checker) quotas(ctx context.Context) error {
	byNS := map[string][]*corev1.PersistentVolumeClaim{}
	for _, pvc := range k.o.PVCs {
		byNS[pvc.Namespace] = append(byNS[pvc.Namespace], pvc)
	}
	for _, ns := range slices.Sorted(maps.Keys(byNS)) {
		if err := k.namespaceQuota(ctx, ns, byNS[ns]); err != nil {
			return err
		}
	}
	return nil
}

func (k *checker) namespaceQuota(ctx context.Context, ns string, pvcs []*corev1.PersistentVolumeClaim) error {
	there, err := k.namespaceClaims(ctx, ns)
	if err != nil {
		return err
	}
	quotas, err := list[*corev1.ResourceQuota](ctx, k, "resourcequotas in "+ns, func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return k.c.CoreV1().ResourceQuotas(ns).List(ctx, opts)
	})
	if err != nil {
		return err
	}
	limits, err := list[*corev1.LimitRange](ctx, k, "limitranges in "+ns, func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return k.c.CoreV1().LimitRanges(ns).List(ctx, opts)
	})
	if err != nil {
		return err
	}
	demand := claimDemand{}
	var fresh []*corev1.PersistentVolumeClaim
	for _, pvc := range pvcs {
		if there[pvc.Name] == nil {
			demand.add(pvc)
			fresh = append(fresh, pvc)
		}
	}
	object := "Namespace " + ns
	problems, skipped := quotaProblems(quotas, fresh), []string{}
	for _, q := range quotas {
		if !slices.ContainsFunc(fresh, func(pvc *corev1.PersistentVolumeClaim) bool { return quotaSelects(q, pvc) }) {
			skipped = append(skipped, q.Name)
		}
	}
	problems = append(problems, limitProblems(limits, fresh)...)
	if len(problems) > 0 {
		k.fail(IDQuota, object,
			fmt.Sprintf("raise the quota or the limit named (kubectl -n %s edit resourcequota NAME / limitrange NAME), or free what the namespace holds, before the sync: the API server refuses a claim beyond them", ns),
			"the overlay's %d new claim(s) in %s, %s of storage, do not fit: %s", len(fresh), ns, demandStorage(demand), strings.Join(problems, "; "))
		return nil
	}
	msg := fmt.Sprintf("the overlay's %d new claim(s), %s of storage, fit %d ResourceQuota(s) and %d LimitRange(s)", len(fresh), demandStorage(demand), len(quotas)-len(skipped), len(limits))
	if len(skipped) > 0 {
		msg += fmt.Sprintf("; not applying to them (their scopes select none): %s", strings.Join(skipped, ", "))
	}
	k.pass(IDQuota, object, "%s", msg)
	return nil
}

// quotaProblems says, for each quota that selects a new claim and bounds a claim
// resource, where the demand exceeds what is left, or the quota controller
// has not counted what is used. Admission judges a claim on the quota's
// status.hard (the controller copies spec.hard there) and refuses every
// claim while any claim resource status.hard bounds has no status.used,
// whether or not this claim is counted in it (another class's). A bound
// of spec.hard the controller has not copied yet is taken as about to
// hold, and the tighter of the two bounds a resource: what fits now and
// after the controller's next sync.
func quotaProblems(quotas []*corev1.ResourceQuota, fresh []*corev1.PersistentVolumeClaim) []string {
	var out []string
	for _, q := range quotas {
		demand := claimDemand{}
		for _, pvc := range fresh {
			if quotaSelects(q, pvc) {
				demand.add(pvc)
			}
		}
		if len(demand) == 0 {
			continue
		}
		bounds := corev1.ResourceList{}
		for _, hard := range []corev1.ResourceList{q.Spec.Hard, q.Status.Hard} {
			for name, v := range hard {
				if b, ok := bounds[name]; claimResource(name) && (!ok || v.Cmp(b) < 0) {
					bounds[name] = v
				}
			}
		}
		var uncounted []string
		synced := true
		for _, name := range slices.Sorted(maps.Keys(bounds)) {
			if _, counted := q.Status.Used[name]; !counted {
				uncounted = append(uncounted, string(name))
				if _, ok := q.Status.Hard[name]; !ok {
					synced = false
				}
			}
		}
		if len(uncounted) > 0 {
			then := "so the API server refuses every claim"
			if !synced {
				then = "nor copied its spec.hard to status.hard: it holds within moments; run preflight again once status.used is counted"
			}
			out = append(out, fmt.Sprintf("ResourceQuota %s bounds %s, whose use the quota controller has not counted yet (status.used), %s", q.Name, strings.Join(uncounted, ", "), then))
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(demand)) {
			hard, bounded := bounds[name]
			if !bounded {
				continue
			}
			used := q.Status.Used[name]
			left := hard.DeepCopy()
			left.Sub(used)
			if want := demand[name]; want.Cmp(left) > 0 {
				out = append(out, fmt.Sprintf("ResourceQuota %s: %s %s wanted, %s left (hard %s, used %s)", q.Name, name, want.String(), nonNegative(left), hard.String(), used.String()))
			}
		}
	}
	return out
}

// quotaSelects: quota q counts claim pvc, as the PVC evaluator's
// Matches (pkg/quota/v1/evaluator/core/persistent_volume_claims.go)
// decides, every scope of the quota matching: a claim matches only the
// VolumeAttributesClass scope (no pod scope), by the class it names: with
// Exists when it names one, else as a label selector on the scope's name
// (a claim of none matches DoesNotExist and NotIn).
func quotaSelects(q *corev1.ResourceQuota, pvc *corev1.PersistentVolumeClaim) bool {
	scopes := []corev1.ScopedResourceSelectorRequirement{}
	for _, sc := range q.Spec.Scopes {
		scopes = append(scopes, corev1.ScopedResourceSelectorRequirement{ScopeName: sc, Operator: corev1.ScopeSelectorOpExists})
	}
	if q.Spec.ScopeSelector != nil {
		scopes = append(scopes, q.Spec.ScopeSelector.MatchExpressions...)
	}
	vac := ""
	if c := pvc.Spec.VolumeAttributesClassName; c != nil {
		vac = *c
	}
	for _, sc := range scopes {
		if sc.ScopeName != corev1.ResourceQuotaScopeVolumeAttributesClass {
			return false
		}
		op, known := map[corev1.ScopeSelectorOperator]selection.Operator{
			corev1.ScopeSelectorOpIn: selection.In, corev1.ScopeSelectorOpNotIn: selection.NotIn,
			corev1.ScopeSelectorOpExists: selection.Exists, corev1.ScopeSelectorOpDoesNotExist: selection.DoesNotExist,
		}[sc.Operator]
		if !known {
			continue // the API server validates the operators: taken as selecting the claim, the stricter
		}
		req, err := labels.NewRequirement(string(sc.ScopeName), op, sc.Values)
		if err != nil {
			continue // as above
		}
		set := labels.Set{}
		if vac != "" {
			set[string(sc.ScopeName)] = vac
		}
		if !req.Matches(set) {
			return false
		}
	}
	return true
}

// limitProblems says which claims' storage requests a LimitRange of type
// PersistentVolumeClaim bounds out (the LimitRanger admission plugin).
func limitProblems(limits []*corev1.LimitRange, pvcs []*corev1.PersistentVolumeClaim) []string {
	var out []string
	for _, lr := range limits {
		for _, item := range lr.Spec.Limits {
			if item.Type != corev1.LimitTypePersistentVolumeClaim {
				continue
			}
			max, hasMax := item.Max[corev1.ResourceStorage]
			min, hasMin := item.Min[corev1.ResourceStorage]
			var over, under []string
			for _, pvc := range pvcs {
				req := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
				switch {
				case hasMax && req.Cmp(max) > 0:
					over = append(over, pvc.Name+" "+req.String())
				case hasMin && req.Cmp(min) < 0:
					under = append(under, pvc.Name+" "+req.String())
				}
			}
			if len(over) > 0 {
				out = append(out, fmt.Sprintf("LimitRange %s allows a claim at most %s of storage: %s", lr.Name, max.String(), strings.Join(over, ", ")))
			}
			if len(under) > 0 {
				out = append(out, fmt.Sprintf("LimitRange %s requires a claim at least %s of storage: %s", lr.Name, min.String(), strings.Join(under, ", ")))
			}
		}
	}
	return out
}

func demandStorage(d claimDemand) string {
	size := d[corev1.ResourceRequestsStorage]
	return size.String()
}

func nonNegative(q resource.Quantity) string {
	if q.Sign() < 0 {
		return "0"
	}
	return q.String()
}
