// Package preflight checks, read-only and before merge, that the cluster an
// overlay is for can take it: nodes in every target zone, the CSI drivers,
// the StorageClass of the provisioned binding, the namespaces, that no PV or
// PVC of the overlay's names or volumes is taken, and whether the
// StatefulSets exist already (then the runbook's --cascade=orphan step
// applies).
//
// Every check reads through client-go; every call is bounded by
// Options.CallTimeout, and cluster-wide lists are paginated.
package preflight

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/pager"
	"k8s.io/klog/v2"

	"github.com/graftctl/graft/generator/kubeclient"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// Status of a check.
const (
	Pass = "pass"
	Fail = "fail"
)

// Check ids, stable: the JSON output and the README use them.
const (
	IDZoneNodes    = "zone-nodes"
	IDCSIDriver    = "csi-driver"
	IDStorageClass = "storage-class"
	IDNamespace    = "namespace"
	IDPV           = "pv-name"
	IDPVC          = "pvc-name"
	IDStatefulSet  = "statefulset"
	IDVolumeHandle = "volume-handle"
	IDServedKind   = "served-kind"
)

// Labels preflight reads on nodes.
const (
	// ComputeTypeLabel is the label EKS puts on its nodes; Auto Mode's
	// carry ComputeTypeAuto.
	ComputeTypeLabel = "eks.amazonaws.com/compute-type"
	ComputeTypeAuto  = "auto"
)

// Result is one check's answer about one object.
type Result struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Object  string `json:"object"`
	Message string `json:"message"`
	// Fix is what to do; empty when the check passed.
	Fix string `json:"fix,omitempty"`
}

// Options bound the calls.
type Options struct {
	// CallTimeout bounds each API call (each page of a list); 0 is
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// PageSize is the limit of each page of a list; 0 is DefaultPageSize.
	PageSize int64
	// MaxItems bounds what a list reads; 0 is DefaultMaxItems.
	MaxItems int
}

// Defaults of Options.
const (
	DefaultCallTimeout = 20 * time.Second
	DefaultPageSize    = 500
	DefaultMaxItems    = 200000
)

type checker struct {
	c    kubernetes.Interface
	o    *Overlay
	opts Options
	out  []Result
	// claims caches namespaceClaims, by namespace, and pvs clusterPVs.
	claims map[string]map[string]*corev1.PersistentVolumeClaim
	pvs    []*corev1.PersistentVolume
}

// Run runs every check against the cluster. It returns an error (wrapping
// kubeclient.ErrAPI) only when the cluster could not answer; findings are results.
func Run(ctx context.Context, c kubernetes.Interface, o *Overlay, opts Options) ([]Result, error) {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.MaxItems <= 0 {
		opts.MaxItems = DefaultMaxItems
	}
	k := &checker{c: c, o: o, opts: opts}
	for _, step := range []func(context.Context) error{
		k.zoneNodes, k.csiDrivers, k.storageClass, k.namespaces, k.servedKinds, k.pvNames, k.pvcNames, k.quotas, k.statefulSets, k.volumeHandles,
	} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return k.out, nil
}

// Failed counts the failed results.
func Failed(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Status == Fail {
			n++
		}
	}
	return n
}

func (k *checker) pass(id, object, format string, args ...any) {
	k.out = append(k.out, Result{ID: id, Status: Pass, Object: object, Message: fmt.Sprintf(format, args...)})
}

func (k *checker) fail(id, object, fix, format string, args ...any) {
	k.out = append(k.out, Result{ID: id, Status: Fail, Object: object, Message: fmt.Sprintf(format, args...), Fix: fix})
}

// get runs one bounded Get; found is false on NotFound.
func get[T any](ctx context.Context, k *checker, what string, f func(ctx context.Context) (T, error)) (T, bool, error) {
	cctx, cancel := context.WithTimeout(ctx, k.opts.CallTimeout)
	defer cancel()
	v, err := f(cctx)
	var zero T
	switch {
	case err == nil:
		return v, true, nil
	case apierrors.IsNotFound(err):
		return zero, false, nil
	}
	return zero, false, fmt.Errorf("%w: reading %s: %v", kubeclient.ErrAPI, what, err)
}

// list reads a whole list with client-go's pager, each page bounded by
// CallTimeout and the whole by MaxItems.
func list[T any](ctx context.Context, k *checker, what string, f func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error)) ([]T, error) {
	p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		cctx, cancel := context.WithTimeout(ctx, k.opts.CallTimeout)
		defer cancel()
		return f(cctx, opts)
	})
	p.PageSize = k.opts.PageSize
	var items []T
	err := p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
		if len(items) >= k.opts.MaxItems {
			return fmt.Errorf("more than %d %s", k.opts.MaxItems, what)
		}
		t, ok := obj.(any).(T)
		if !ok {
			return fmt.Errorf("%s: unexpected item %T", what, obj)
		}
		items = append(items, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: listing %s: %v", kubeclient.ErrAPI, what, err)
	}
	return items, nil
}

func (k *checker) nodes(ctx context.Context) ([]*corev1.Node, error) {
	return list[*corev1.Node](ctx, k, "nodes", func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return k.c.CoreV1().Nodes().List(ctx, opts)
	})
}

// ---------------------------------------------------------------------------
// Nodes in every target zone.

// zoneNodes: for each PV, a Ready, schedulable node that matches its node
// affinity (and, for Auto Mode's driver, is an Auto Mode node), runs the
// PV's CSI driver (its CSINode lists it, as the scheduler requires of a
// driver with preventPodSchedulingIfMissing), and whose NoSchedule and
// NoExecute taints the StatefulSet's pod template tolerates. PVs that ask the same of the same pod template are one result.
func (k *checker) zoneNodes(ctx context.Context) error {
	nodes, err := k.nodes(ctx)
	if err != nil {
		return err
	}
	runs, err := k.nodeDrivers(ctx)
	if err != nil {
		return err
	}
	for _, g := range k.pvGroups() {
		k.zoneGroup(g, nodes, runs)
	}
	return nil
}

// nodeDrivers are the CSI drivers each node's CSINode lists.
func (k *checker) nodeDrivers(ctx context.Context) (map[string]map[string]bool, error) {
	csiNodes, err := list[*storagev1.CSINode](ctx, k, "csinodes", func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return k.c.StorageV1().CSINodes().List(ctx, opts)
	})
	if err != nil {
		return nil, err
	}
	runs := map[string]map[string]bool{}
	for _, cn := range csiNodes {
		runs[cn.Name] = map[string]bool{}
		for _, d := range cn.Spec.Drivers {
			runs[cn.Name][d.Name] = true
		}
	}
	return runs, nil
}

// pvGroup is the PVs that ask the same nodes of the same pod template.
type pvGroup struct {
	want   string
	zone   string
	sts    *appsv1.StatefulSet
	terms  []corev1.NodeSelectorTerm
	auto   bool
	driver string
	pvs    []string
}

// pvGroups groups the overlay's PVs by what they ask of a node, in the
// overlay's order; a PV without graft's node affinity fails here.
func (k *checker) pvGroups() []*pvGroup {
	groups := map[string]*pvGroup{}
	var order []*pvGroup
	for _, pv := range k.o.PVs {
		terms, want, err := pvTerms(pv)
		if err != nil {
			k.fail(IDZoneNodes, "PersistentVolume "+pv.Name, "run graft render again: graft's PVs carry the zone of their volume as required node affinity",
				"%v", err)
			continue
		}
		sts := k.o.statefulSetOf(pv)
		zone := ""
		if v, ok := k.o.volumeOf(pv); ok {
			zone = v.TargetZone
		}
		key := fmt.Sprintf("%s|%s|%p", want, driverOf(pv), sts)
		g := groups[key]
		if g == nil {
			g = &pvGroup{want: want, zone: zone, sts: sts, terms: terms, auto: driverOf(pv) == spec.CSIDriverAutoMode, driver: driverOf(pv)}
			groups[key] = g
			order = append(order, g)
		}
		g.pvs = append(g.pvs, pv.Name)
	}
	return order
}

// zoneGroup passes a group with a node that can take its pods, or fails
// it saying why none can.
func (k *checker) zoneGroup(g *pvGroup, nodes []*corev1.Node, runs map[string]map[string]bool) {
	var tols []corev1.Toleration
	if g.sts != nil {
		tols = g.sts.Spec.Template.Spec.Tolerations
	}
	want := g.want
	if g.auto {
		want += ", " + ComputeTypeLabel + "=" + ComputeTypeAuto
	}
	var ok, why []string
	matching := 0
	for _, n := range nodes {
		if !matchesTerms(n, g.terms) || (g.auto && n.Labels[ComputeTypeLabel] != ComputeTypeAuto) {
			continue
		}
		matching++
		if g.driver != "" && !runs[n.Name][g.driver] {
			why = append(why, n.Name+" does not run the CSI driver "+g.driver+" (its CSINode does not list it)")
			continue
		}
		if reason := unschedulable(n, tols); reason != "" {
			why = append(why, n.Name+" "+reason)
			continue
		}
		ok = append(ok, n.Name)
	}
	object := "PersistentVolume " + strings.Join(g.pvs, ", ")
	// The zone the record places the volumes in, when the PVs ask for it;
	// else what they ask for (graft check denies the difference).
	zone := g.zone
	if zone == "" || !strings.Contains(g.want, "="+zone) {
		zone = fmt.Sprintf("%q (the PVs' node affinity; the record says %q)", g.want, g.zone)
	}
	switch {
	case len(ok) > 0:
		k.pass(IDZoneNodes, object, "zone %s: %d Ready, schedulable node(s) carry %s and run %s (%s)", zone, len(ok), want, g.driver, strings.Join(firstN(ok, 5), ", "))
	case matching == 0:
		k.fail(IDZoneNodes, object,
			fmt.Sprintf("add nodes in zone %s labelled %s (a node group or NodePool there), or check the key: the EBS CSI driver labels its nodes %s, EKS Auto Mode labels %s and %s=%s", zone, want, "topology.ebs.csi.aws.com/zone", "topology.kubernetes.io/zone", ComputeTypeLabel, ComputeTypeAuto),
			"zone %s: no node carries %s: the pods of these volumes would stay Pending (\"didn't match PersistentVolume's node affinity\")", zone, want)
	default:
		k.fail(IDZoneNodes, object,
			fmt.Sprintf("make a node in zone %s that runs %s Ready and schedulable (kubectl uncordon NODE), or let the StatefulSet's pod template tolerate the taint", zone, g.driver),
			"zone %s: %d node(s) carry %s, none can take the pods: %s", zone, matching, want, strings.Join(firstN(why, 5), "; "))
	}
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), fmt.Sprintf("and %d more", len(s)-n))
}

// pvTerms are a PV's required node selector terms, and how they read.
func pvTerms(pv *corev1.PersistentVolume) ([]corev1.NodeSelectorTerm, string, error) {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil || len(pv.Spec.NodeAffinity.Required.NodeSelectorTerms) == 0 {
		return nil, "", fmt.Errorf("PersistentVolume %s has no required node affinity: nothing keeps its pod in the volume's zone", pv.Name)
	}
	terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
	var alts []string
	for _, t := range terms {
		var parts []string
		for _, e := range t.MatchExpressions {
			switch e.Operator {
			case corev1.NodeSelectorOpIn:
				parts = append(parts, e.Key+"="+strings.Join(e.Values, "|"))
			default:
				parts = append(parts, fmt.Sprintf("%s %s %s", e.Key, e.Operator, strings.Join(e.Values, ",")))
			}
		}
		alts = append(alts, strings.Join(parts, ", "))
	}
	return terms, strings.Join(alts, " or "), nil
}

// matchesTerms is the scheduler's rule for required node affinity: any
// term whose every expression matches the node's labels (matchFields on
// metadata.name too). An empty term matches nothing.
func matchesTerms(n *corev1.Node, terms []corev1.NodeSelectorTerm) bool {
	for _, t := range terms {
		if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
			continue
		}
		if matchExpressions(labels.Set(n.Labels), t.MatchExpressions) &&
			matchExpressions(labels.Set{"metadata.name": n.Name}, t.MatchFields) {
			return true
		}
	}
	return false
}

var operators = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

func matchExpressions(set labels.Set, exprs []corev1.NodeSelectorRequirement) bool {
	for _, e := range exprs {
		op, ok := operators[e.Operator]
		if !ok {
			return false
		}
		r, err := labels.NewRequirement(e.Key, op, e.Values)
		if err != nil || !r.Matches(set) {
			return false
		}
	}
	return true
}

// unschedulable says why the scheduler would not put a pod with tols on n:
// not Ready, cordoned, or a NoSchedule or NoExecute taint it does not
// tolerate. PreferNoSchedule taints do not keep a pod off. "" is
// schedulable.
func unschedulable(n *corev1.Node, tols []corev1.Toleration) string {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		return "is not Ready"
	}
	if n.Spec.Unschedulable {
		return "is cordoned (spec.unschedulable)"
	}
	for i := range n.Spec.Taints {
		t := &n.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !slices.ContainsFunc(tols, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(klog.Background(), t, true) }) {
			return fmt.Sprintf("has taint %s=%s:%s, not tolerated", t.Key, t.Value, t.Effect)
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// CSI drivers.

// drivers are the CSI drivers of the record's volumes and the overlay's
// PVs, sorted.
func (o *Overlay) drivers() []string {
	set := map[string]bool{}
	for _, v := range o.Record.Volumes {
		set[v.Driver()] = true
	}
	for _, pv := range o.PVs {
		if d := driverOf(pv); d != "" {
			set[d] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func (k *checker) csiDrivers(ctx context.Context) error {
	for _, d := range k.o.drivers() {
		_, found, err := get(ctx, k, "CSIDriver "+d, func(ctx context.Context) (*storagev1.CSIDriver, error) {
			return k.c.StorageV1().CSIDrivers().Get(ctx, d, metav1.GetOptions{})
		})
		if err != nil {
			return err
		}
		if found {
			k.pass(IDCSIDriver, "CSIDriver "+d, "the CSI driver %s is installed", d)
			continue
		}
		k.fail(IDCSIDriver, "CSIDriver "+d, installHint(d),
			"no CSIDriver %s in the cluster: nothing would attach the volumes (kubectl get csidriver %s)", d, d)
	}
	return nil
}

func installHint(driver string) string {
	switch driver {
	case spec.CSIDriverAutoMode:
		return "enable EKS Auto Mode's block storage on the cluster (computeConfig and storageConfig.blockStorage), or set spec.target.cluster to the cluster's driver and run graft clone --phase final and graft render again"
	case spec.CSIDriverEBS:
		return "install the Amazon EBS CSI driver (the aws-ebs-csi-driver EKS add-on or its Helm chart), or set spec.target.cluster to the cluster's driver and run graft clone --phase final and graft render again"
	}
	return "install the CSI driver " + driver
}

// ---------------------------------------------------------------------------
// The StorageClass of the provisioned binding.

func (k *checker) storageClass(ctx context.Context) error {
	b := k.o.Record.Binding
	if b == nil || b.Mode != spec.BindingProvisioned {
		return nil
	}
	name := b.StorageClassName
	object := "StorageClass " + name
	live, found, err := get(ctx, k, object, func(ctx context.Context) (*storagev1.StorageClass, error) {
		return k.c.StorageV1().StorageClasses().Get(ctx, name, metav1.GetOptions{})
	})
	if err != nil {
		return err
	}
	var declared *storagev1.StorageClass
	for _, sc := range k.o.StorageClasses {
		if sc.Name == name {
			declared = sc
		}
	}
	if declared != nil {
		// The overlay creates it: a class of that name must not differ in
		// what cannot change.
		if !found {
			k.pass(IDStorageClass, object, "no StorageClass %s yet: the overlay creates it", name)
			return nil
		}
		if diff := immutableDiff(live, declared); len(diff) > 0 {
			k.fail(IDStorageClass, object,
				"set spec.target.storageClassName to a name the cluster does not use (then graft render again), or spec.target.binding.storageClass: existing to use the cluster's class",
				"the cluster has a StorageClass %s that differs from the overlay's in %s: those fields are immutable, the apply would fail", name, strings.Join(diff, "; "))
			return nil
		}
		k.pass(IDStorageClass, object, "the cluster's StorageClass %s is the overlay's (a re-apply)", name)
		return nil
	}
	if !found {
		k.fail(IDStorageClass, object,
			"create the StorageClass (provisioner "+strings.Join(k.o.drivers(), " or ")+", allowVolumeExpansion: true, volumeBindingMode: WaitForFirstConsumer), or set spec.target.binding.storageClass: declare and graft render again",
			"binding provisioned with an existing StorageClass %s: the cluster has none", name)
		return nil
	}
	var problems []string
	if !slices.Contains(k.o.drivers(), live.Provisioner) {
		problems = append(problems, fmt.Sprintf("provisioner is %s, expected %s", live.Provisioner, strings.Join(k.o.drivers(), " or ")))
	}
	if live.AllowVolumeExpansion == nil || !*live.AllowVolumeExpansion {
		problems = append(problems, "allowVolumeExpansion is not true: claims could not grow")
	}
	if mode := bindingMode(live); mode != storagev1.VolumeBindingWaitForFirstConsumer {
		problems = append(problems, fmt.Sprintf("volumeBindingMode is %s, expected WaitForFirstConsumer: a new claim would be provisioned before its pod has a zone", mode))
	}
	if len(problems) > 0 {
		k.fail(IDStorageClass, object,
			"fix the class (allowVolumeExpansion can be changed; provisioner and volumeBindingMode cannot: create a class of another name and set spec.target.storageClassName), or set spec.target.binding.storageClass: declare",
			"StorageClass %s: %s", name, strings.Join(problems, "; "))
		return nil
	}
	k.pass(IDStorageClass, object, "StorageClass %s: provisioner %s, allowVolumeExpansion true, WaitForFirstConsumer", name, live.Provisioner)
	return nil
}

func bindingMode(sc *storagev1.StorageClass) storagev1.VolumeBindingMode {
	if sc.VolumeBindingMode == nil {
		return storagev1.VolumeBindingImmediate // the API's default
	}
	return *sc.VolumeBindingMode
}

// immutableDiff names the fields the API server does not let change on a
// StorageClass (provisioner, parameters, reclaimPolicy, volumeBindingMode)
// in which live and want differ.
func immutableDiff(live, want *storagev1.StorageClass) []string {
	var d []string
	if live.Provisioner != want.Provisioner {
		d = append(d, fmt.Sprintf("provisioner %s, overlay %s", live.Provisioner, want.Provisioner))
	}
	if !maps.Equal(live.Parameters, want.Parameters) {
		d = append(d, fmt.Sprintf("parameters %v, overlay %v", live.Parameters, want.Parameters))
	}
	reclaim := func(sc *storagev1.StorageClass) corev1.PersistentVolumeReclaimPolicy {
		if sc.ReclaimPolicy == nil {
			return corev1.PersistentVolumeReclaimDelete
		}
		return *sc.ReclaimPolicy
	}
	if reclaim(live) != reclaim(want) {
		d = append(d, fmt.Sprintf("reclaimPolicy %s, overlay %s", reclaim(live), reclaim(want)))
	}
	if bindingMode(live) != bindingMode(want) {
		d = append(d, fmt.Sprintf("volumeBindingMode %s, overlay %s", bindingMode(live), bindingMode(want)))
	}
	return d
}

// ---------------------------------------------------------------------------
// Namespaces.

func (k *checker) namespaces(ctx context.Context) error {
	for _, ns := range k.o.Namespaces {
		object := "Namespace " + ns
		if k.o.Creates[ns] {
			k.pass(IDNamespace, object, "the overlay creates namespace %s", ns)
			continue
		}
		live, found, err := get(ctx, k, object, func(ctx context.Context) (*corev1.Namespace, error) {
			return k.c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		})
		if err != nil {
			return err
		}
		switch {
		case !found:
			k.fail(IDNamespace, object, "kubectl create namespace "+ns+" (or add the Namespace to the overlay's base)",
				"namespace %s does not exist and the overlay does not create it: the apply of its objects would fail", ns)
		case live.DeletionTimestamp != nil || live.Status.Phase == corev1.NamespaceTerminating:
			k.fail(IDNamespace, object, "wait until namespace "+ns+" is gone, then create it again",
				"namespace %s is being deleted (Terminating): nothing can be created in it", ns)
		default:
			k.pass(IDNamespace, object, "namespace %s exists", ns)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// PVs and PVCs of the overlay's names.

func claimKey(ref *corev1.ObjectReference) string {
	if ref == nil {
		return ""
	}
	return ref.Namespace + "/" + ref.Name
}

// clusterPVs are the cluster's PVs: one paged list, read once for the
// checks that need them (a get per PV would cost a request per member).
func (k *checker) clusterPVs(ctx context.Context) ([]*corev1.PersistentVolume, error) {
	if k.pvs != nil {
		return k.pvs, nil
	}
	pvs, err := list[*corev1.PersistentVolume](ctx, k, "persistentvolumes", func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return k.c.CoreV1().PersistentVolumes().List(ctx, opts)
	})
	if err != nil {
		return nil, err
	}
	k.pvs = append([]*corev1.PersistentVolume{}, pvs...)
	return k.pvs, nil
}

func (k *checker) pvNames(ctx context.Context) error {
	pvs, err := k.clusterPVs(ctx)
	if err != nil {
		return err
	}
	byName := map[string]*corev1.PersistentVolume{}
	for _, pv := range pvs {
		byName[pv.Name] = pv
	}
	for _, want := range k.o.PVs {
		object := "PersistentVolume " + want.Name
		live, found := byName[want.Name]
		if !found {
			k.pass(IDPV, object, "no PV %s yet", want.Name)
			continue
		}
		intended := claimKey(want.Spec.ClaimRef)
		var problems []string
		if h, wh := handleOf(live), handleOf(want); h != wh {
			problems = append(problems, fmt.Sprintf("it is on volume %q, the overlay's on %s (the volume source is immutable)", h, wh))
		}
		if got := claimKey(live.Spec.ClaimRef); got != "" && got != intended {
			problems = append(problems, fmt.Sprintf("it is bound to claim %s, the overlay's to %s", got, intended))
		}
		if live.Status.Phase == corev1.VolumeReleased || live.Status.Phase == corev1.VolumeFailed {
			problems = append(problems, fmt.Sprintf("it is %s: its claim (uid %s) was deleted, and it binds no new claim until spec.claimRef is cleared", live.Status.Phase, claimUID(live)))
		}
		if live.DeletionTimestamp != nil {
			problems = append(problems, "it is being deleted")
		}
		if len(problems) > 0 {
			k.fail(IDPV, object,
				fmt.Sprintf("find out what PV %s holds (kubectl get pv %s -o yaml) before anything else; if it is a stale copy of graft's with reclaimPolicy Retain, delete it (the EBS volume stays), then apply", want.Name, want.Name),
				"PV %s already exists: %s", want.Name, strings.Join(problems, "; "))
			continue
		}
		k.pass(IDPV, object, "PV %s exists, on the same volume, bound to %s or to none (a re-apply)", want.Name, intended)
	}
	return nil
}

func claimUID(pv *corev1.PersistentVolume) string {
	if pv.Spec.ClaimRef == nil {
		return ""
	}
	return string(pv.Spec.ClaimRef.UID)
}

// namespaceClaims are the claims in namespace ns, by name: one paged list
// per namespace (a get per claim would cost a request per member, under
// client-go's rate limit), read once for the checks that need them.
func (k *checker) namespaceClaims(ctx context.Context, ns string) (map[string]*corev1.PersistentVolumeClaim, error) {
	if have, ok := k.claims[ns]; ok {
		return have, nil
	}
	items, err := list[*corev1.PersistentVolumeClaim](ctx, k, "persistentvolumeclaims in "+ns, func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return k.c.CoreV1().PersistentVolumeClaims(ns).List(ctx, opts)
	})
	if err != nil {
		return nil, err
	}
	byName := map[string]*corev1.PersistentVolumeClaim{}
	for _, pvc := range items {
		byName[pvc.Name] = pvc
	}
	if k.claims == nil {
		k.claims = map[string]map[string]*corev1.PersistentVolumeClaim{}
	}
	k.claims[ns] = byName
	return byName, nil
}

func (k *checker) pvcNames(ctx context.Context) error {
	for _, want := range k.o.PVCs {
		key := want.Namespace + "/" + want.Name
		object := "PersistentVolumeClaim " + key
		claims, err := k.namespaceClaims(ctx, want.Namespace)
		if err != nil {
			return err
		}
		live, found := claims[want.Name]
		if !found {
			k.pass(IDPVC, object, "no PVC %s yet", key)
			continue
		}
		fix := fmt.Sprintf("this claim is not the overlay's: find out what uses it (kubectl -n %s describe pvc %s). If the StatefulSet provisioned it before the overlay (an empty disk), follow the runbook's step 1: scale the StatefulSet to 0 and delete such claims, then apply", want.Namespace, want.Name)
		switch {
		case live.Spec.VolumeName == want.Spec.VolumeName && live.DeletionTimestamp == nil:
			k.pass(IDPVC, object, "PVC %s exists, bound (or pre-bound) to the intended PV %s (a re-apply)", key, want.Spec.VolumeName)
		case live.DeletionTimestamp != nil:
			k.fail(IDPVC, object, "wait until the claim is gone (kubectl -n "+want.Namespace+" get pvc "+want.Name+" -w), then apply",
				"PVC %s is being deleted", key)
		case live.Spec.VolumeName == "":
			k.fail(IDPVC, object, fix,
				"PVC %s already exists without volumeName (phase %s): the overlay's claim, pre-bound to PV %s, cannot take its place, and the claim may be bound or provisioned to another volume", key, phaseOr(live.Status.Phase), want.Spec.VolumeName)
		default:
			k.fail(IDPVC, object, fix,
				"PVC %s already exists with volumeName %s (phase %s), the overlay's has %s: a claim's volumeName cannot change", key, live.Spec.VolumeName, phaseOr(live.Status.Phase), want.Spec.VolumeName)
		}
	}
	return nil
}

func phaseOr(p corev1.PersistentVolumeClaimPhase) string {
	if p == "" {
		return "not set yet"
	}
	return string(p)
}

// ---------------------------------------------------------------------------
// StatefulSets.

// OrphanCommand is the runbook's command that deletes a StatefulSet and
// keeps its pods and claims.
func OrphanCommand(namespace, name string) string {
	return fmt.Sprintf("kubectl delete statefulset %s -n %s --cascade=orphan", name, namespace)
}

func (k *checker) statefulSets(ctx context.Context) error {
	for _, want := range k.o.StatefulSets {
		key := want.Namespace + "/" + want.Name
		object := "StatefulSet " + key
		live, found, err := get(ctx, k, object, func(ctx context.Context) (*appsv1.StatefulSet, error) {
			return k.c.AppsV1().StatefulSets(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		})
		if err != nil {
			return err
		}
		if !found {
			k.pass(IDStatefulSet, object, "no StatefulSet %s yet: the overlay creates it", key)
			continue
		}
		if diff := templatesDiff(live, want); len(diff) > 0 {
			k.fail(IDStatefulSet, object,
				"follow the runbook (testdata/e2e/RUNBOOK.md): check the claims, then "+OrphanCommand(want.Namespace, want.Name)+" (its pods and claims stay), then apply the overlay",
				"StatefulSet %s already exists with other volumeClaimTemplates (%s): they are immutable, the apply would fail for it", key, strings.Join(diff, "; "))
			continue
		}
		k.pass(IDStatefulSet, object, "StatefulSet %s exists with the overlay's volumeClaimTemplates (a re-apply)", key)
	}
	return nil
}

// templatesDiff compares what graft sets on the claim templates: their
// names, selectors and storage classes.
func templatesDiff(live, want *appsv1.StatefulSet) []string {
	byName := map[string]corev1.PersistentVolumeClaim{}
	for _, t := range live.Spec.VolumeClaimTemplates {
		byName[t.Name] = t
	}
	var d []string
	for _, w := range want.Spec.VolumeClaimTemplates {
		l, ok := byName[w.Name]
		if !ok {
			d = append(d, "no template "+w.Name)
			continue
		}
		if ls, ws := selectorString(l.Spec.Selector), selectorString(w.Spec.Selector); ls != ws {
			d = append(d, fmt.Sprintf("template %s: selector %s, overlay %s", w.Name, ls, ws))
		}
		if lc, wc := ptrOr(l.Spec.StorageClassName, "(unset)"), ptrOr(w.Spec.StorageClassName, "(unset)"); lc != wc {
			d = append(d, fmt.Sprintf("template %s: storageClassName %q, overlay %q", w.Name, lc, wc))
		}
	}
	if len(live.Spec.VolumeClaimTemplates) != len(want.Spec.VolumeClaimTemplates) {
		d = append(d, fmt.Sprintf("%d templates, overlay %d", len(live.Spec.VolumeClaimTemplates), len(want.Spec.VolumeClaimTemplates)))
	}
	return d
}

func selectorString(s *metav1.LabelSelector) string {
	if s == nil {
		return "none"
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return fmt.Sprintf("%v", s)
	}
	if str := sel.String(); str != "" {
		return str
	}
	return "{}"
}

func ptrOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// ---------------------------------------------------------------------------
// Volume handles used by other PVs.

func (k *checker) volumeHandles(ctx context.Context) error {
	pvs, err := k.clusterPVs(ctx)
	if err != nil {
		return err
	}
	users := map[string][]string{}
	for _, pv := range pvs {
		if h := handleOf(pv); h != "" {
			users[h] = append(users[h], pv.Name)
		}
	}
	for _, want := range k.o.PVs {
		h := handleOf(want)
		object := "PersistentVolume " + want.Name
		if h == "" {
			k.fail(IDVolumeHandle, object, "run graft render again: graft's PVs name their EBS volume in spec.csi.volumeHandle",
				"PV %s names no EBS volume (no spec.csi.volumeHandle)", want.Name)
			continue
		}
		var others []string
		for _, name := range users[h] {
			if name != want.Name {
				others = append(others, name)
			}
		}
		sort.Strings(others)
		if len(others) > 0 {
			k.fail(IDVolumeHandle, object,
				fmt.Sprintf("two PVs on one EBS volume could attach it to two pods: find out why %s exists (kubectl get pv %s -o yaml); if it is a stale copy with reclaimPolicy Retain, delete it (the EBS volume stays), then apply", strings.Join(others, ", "), others[0]),
				"volume %s of PV %s is already used by PV %s", h, want.Name, strings.Join(others, ", "))
			continue
		}
		k.pass(IDVolumeHandle, object, "no other PV uses volume %s", h)
	}
	return nil
}

// Drivers of the record's volumes, for the command's messages.
func Drivers(rec *record.Record) []string {
	return (&Overlay{Record: rec}).drivers()
}

// ---------------------------------------------------------------------------
// Kinds the cluster must serve.

// operatorOf names who installs the kinds of a group, for the fix.
var operatorOf = map[string]string{
	"cassandra.datastax.com":       "cass-operator (k8ssandra): its CRDs",
	"elasticsearch.k8s.elastic.co": "ECK: its CRDs (eck-operator-crds)",
}

// servedKinds: the cluster serves the kind of every custom object of the
// overlay (an operator's resource), found by discovery; without its CRD
// the sync fails on that object, and the operator, absent, creates no
// StatefulSet to adopt graft's claims.
func (k *checker) servedKinds(ctx context.Context) error {
	seen := map[metav1.TypeMeta]bool{}
	for _, tm := range k.o.Custom {
		if seen[tm] {
			continue
		}
		seen[tm] = true
		object := tm.Kind + " (" + tm.APIVersion + ")"
		served, err := k.serves(ctx, tm)
		if err != nil {
			return err
		}
		if served {
			k.pass(IDServedKind, object, "the cluster serves %s %s", tm.APIVersion, tm.Kind)
			continue
		}
		gv, _ := schema.ParseGroupVersion(tm.APIVersion)
		who := cmp.Or(operatorOf[gv.Group], "the CRD (or the operator) that defines it")
		k.fail(IDServedKind, object, "install "+who+" before the sync (kubectl api-resources --api-group="+gv.Group+" lists it then)",
			"the cluster does not serve %s %s: applying the overlay fails on it", tm.APIVersion, tm.Kind)
	}
	return nil
}

// serves asks discovery whether the cluster serves tm's kind; a group
// version it does not know is not served. (Discovery takes no context:
// the client's own timeout, kubeclient's, bounds the call.)
func (k *checker) serves(ctx context.Context, tm metav1.TypeMeta) (bool, error) {
	list, _, err := get(ctx, k, "the API resources of "+tm.APIVersion, func(context.Context) (*metav1.APIResourceList, error) {
		return k.c.Discovery().ServerResourcesForGroupVersion(tm.APIVersion)
	})
	if err != nil || list == nil {
		return false, err
	}
	for _, r := range list.APIResources {
		if r.Kind == tm.Kind && !strings.Contains(r.Name, "/") {
			return true, nil
		}
	}
	return false, nil
}
