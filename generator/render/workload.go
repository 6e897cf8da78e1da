package render

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
	"github.com/graftctl/graft/generator/workload"
)

// targetBase is what render reads of the base for the spec's workload
// kind: the StatefulSets the claims are joined with (for the operator
// kinds, the ones the operator will create, made from its resource), and
// the operator's resource graft patches.
type targetBase struct {
	sets map[string]baseStatefulSet
	// cr is the CassandraDatacenter or Elasticsearch, as built from the
	// base (nil for the other kinds).
	cr map[string]any
}

// readTargetBase reads the base at dir as the workload kind needs it.
func (r *renderer) readTargetBase(dir string) (targetBase, error) {
	t := &r.m.Spec.Target
	switch t.WorkloadKind() {
	case spec.WorkloadStatefulSet:
		sets, err := readBase(dir)
		return targetBase{sets: sets}, err
	case spec.WorkloadClaimsOnly:
		if r.m.Spec.GitOps.Base != "" {
			// The chart's rendered StatefulSets, read for their names
			// and claim templates only.
			sets, err := readBase(dir)
			return targetBase{sets: sets}, err
		}
		// No base: each claim is ReadWriteOnce, Filesystem, and asks for
		// its volume's size (the StatefulSet controller adopts a claim by
		// its name, whatever it asks for).
		sets := map[string]baseStatefulSet{}
		for _, sts := range t.StatefulSets {
			b := baseStatefulSet{name: sts.Name, templates: map[string]claimTemplate{}, replicas: sts.Replicas, ordinalsStart: sts.Ordinals.Start}
			for i, d := range r.m.Spec.Source.Devices {
				b.templates[d.ClaimTemplate] = newClaimTemplate(i, corev1.PersistentVolumeClaimSpec{})
			}
			sets[sts.Name] = b
		}
		return targetBase{sets: sets}, nil
	}
	resources, err := buildBase(dir)
	if err != nil {
		return targetBase{}, err
	}
	if t.WorkloadKind() == spec.WorkloadCassOperator {
		return r.readCassandraDatacenter(resources)
	}
	return r.readElasticsearch(resources)
}

// findResource returns the base's object of that kind and name, as a map,
// or an error naming the spec field and what the base has.
func (r *renderer) findResource(resources resmap.ResMap, apiVersion, kind, name, field string) (map[string]any, int, error) {
	var have []string
	for _, res := range resources.Resources() {
		if res.GetKind() != kind {
			continue
		}
		if res.GetApiVersion() == apiVersion && res.GetName() == name {
			obj, err := res.Map()
			if err != nil {
				return nil, 0, err
			}
			wave := 0
			if w, ok := res.GetAnnotations()[ArgoSyncWaveAnnotation]; ok {
				if wave, err = strconv.Atoi(w); err != nil {
					return nil, 0, fmt.Errorf("%w: base %s %s: annotation %s: %q, expected an integer", ErrInvalid, kind, termtext.Value(name), ArgoSyncWaveAnnotation, w)
				}
			}
			return obj, wave, nil
		}
		have = append(have, termtext.Value(res.GetApiVersion())+" "+termtext.Value(res.GetName()))
	}
	it := "no " + kind
	if len(have) > 0 {
		it = strings.Join(have, ", ")
	}
	return nil, 0, fmt.Errorf("%w: %s: %q, expected a %s %s named so in the base %s (it has %s)", ErrInvalid, field, name, apiVersion, kind, termtext.Value(r.m.Spec.GitOps.Base), it)
}

// claimSpec decodes the claim spec at path in obj; ok is false when there
// is none.
func claimSpec(obj any, path ...string) (corev1.PersistentVolumeClaimSpec, bool, error) {
	var cs corev1.PersistentVolumeClaimSpec
	v, ok := lookup(obj, path...)
	if !ok || v == nil {
		return cs, false, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return cs, false, err
	}
	if err := json.Unmarshal(data, &cs); err != nil {
		return cs, false, fmt.Errorf("%w: %s: %s", ErrInvalid, strings.Join(path, "."), termtext.Line(err.Error()))
	}
	return cs, true, nil
}

// lookup walks obj along path: map keys, and list indices as decimals.
func lookup(obj any, path ...string) (any, bool) {
	cur := obj
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func str(obj any, path ...string) string {
	v, _ := lookup(obj, path...)
	s, _ := v.(string)
	return s
}

func list(obj any, path ...string) []any {
	v, _ := lookup(obj, path...)
	l, _ := v.([]any)
	return l
}

// pointer is the RFC 6901 pointer of path.
func pointer(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
	}
	return b.String()
}

// setOp is the one JSON patch operation that sets path in obj to value:
// an add at the first key of path that obj lacks, of value wrapped in the
// maps the rest of path names (a JSON patch cannot add under a parent
// that is not there), or an add (a replace) of the whole path.
func setOp(obj map[string]any, path []string, value any) jsonPatchOp {
	for i := range path {
		if _, ok := lookup(obj, path[:i+1]...); !ok {
			v := value
			for j := len(path) - 1; j > i; j-- {
				v = map[string]any{path[j]: v}
			}
			return jsonPatchOp{Op: "add", Path: pointer(path[:i+1]), Value: v}
		}
	}
	return jsonPatchOp{Op: "add", Path: pointer(path), Value: value}
}

// claimSpecOps binds the claim spec at path as the binding mode says,
// as templatePatch does a StatefulSet's claim template: the class, and in
// static mode a selector on graft's migration and claim-template labels
// (one claim spec serves every rack or nodeSet of the resource, so not on
// the StatefulSet's); in provisioned mode no selector.
func (r *renderer) claimSpecOps(obj map[string]any, path []string, template string, hasSelector bool) []jsonPatchOp {
	ops := []jsonPatchOp{setOp(obj, append(slices.Clone(path), "storageClassName"), r.m.Spec.Target.StorageClassName)}
	switch {
	case !r.m.Spec.Target.Binding.Provisioned():
		ops = append(ops, setOp(obj, append(slices.Clone(path), "selector"), metav1.LabelSelector{
			MatchLabels: map[string]string{spec.LabelMigration: r.m.Metadata.Name, spec.LabelClaimTemplate: template},
		}))
	case hasSelector:
		ops = append(ops, jsonPatchOp{Op: "remove", Path: pointer(append(slices.Clone(path), "selector"))})
	}
	return ops
}

// readCassandraDatacenter finds the spec's CassandraDatacenter in the base,
// checks it names the StatefulSets as the spec derived them, and makes
// the StatefulSets cass-operator will create from it: one per rack, with
// server-data from storageConfig.cassandraDataVolumeClaimSpec and one
// template per storageConfig.additionalVolumes entry with a pvcSpec
// (pkg/reconciliation/construct_statefulset.go
// newStatefulSetForCassandraDatacenter).
func (r *renderer) readCassandraDatacenter(resources resmap.ResMap) (targetBase, error) {
	const f = "spec.target.workload.cassandraDatacenter"
	dc := r.m.Spec.Target.Workload.CassandraDatacenter
	cr, wave, err := r.findResource(resources, workload.CassandraDatacenterAPIVersion, workload.CassandraDatacenterKind, dc.Name, f+".name")
	if err != nil {
		return targetBase{}, err
	}
	var errs spec.ValidationError
	add := errs.Add
	where := fmt.Sprintf("the base's CassandraDatacenter %s", termtext.Value(dc.Name))
	if got := str(cr, "spec", "clusterName"); got != dc.ClusterName {
		add(f+".clusterName", dc.ClusterName, fmt.Sprintf("%q, spec.clusterName of %s (the operator names the StatefulSets after it)", got, where))
	}
	if got := str(cr, "spec", "datacenterName"); got != dc.DatacenterName {
		add(f+".datacenterName", dc.DatacenterName, fmt.Sprintf("%q, spec.datacenterName of %s", got, where))
	}
	if got := str(cr, "status", "datacenterName"); got != "" && got != dc.Name && !dc.CassOperatorDatacenter().Version.Less(workload.CassOperatorLabelResourceName) {
		add(f+".name", dc.Name, fmt.Sprintf("the name the StatefulSets are named after, but %s has status.datacenterName %q, which cass-operator %s names them after", where, got, workload.CassOperatorLabelResourceName))
	}
	racks := list(cr, "spec", "racks")
	var names []string
	for _, rk := range racks {
		names = append(names, str(rk, "name"))
	}
	var want []string
	for _, rk := range dc.Racks {
		want = append(want, rk.Name)
	}
	if !slices.Equal(names, want) {
		add(f+".racks", strings.Join(want, ","), fmt.Sprintf("the racks of %s, in their order (%s): the operator names a StatefulSet per rack and spreads spec.size over them in order", where, shownList(names, ",")))
	}
	for i, rk := range dc.Racks {
		if i >= len(racks) {
			break
		}
		if z := str(racks[i], "zone"); z != "" && z != rk.Zone {
			add(fmt.Sprintf("%s.racks[%d].zone", f, i), rk.Zone, fmt.Sprintf("%s, the zone rack %s has in %s (its deprecated zone field): graft pins the rack where its volumes are, and the base pins it elsewhere", termtext.Value(z), termtext.Value(rk.Name), where))
		}
		if z := str(racks[i], "nodeAffinityLabels", r.m.Spec.Target.Storage().TopologyKey); z != "" && z != rk.Zone {
			add(fmt.Sprintf("%s.racks[%d].zone", f, i), rk.Zone, fmt.Sprintf("%s, the zone rack %s's nodeAffinityLabels pin it to in %s: graft pins the rack where its volumes are, and the base pins it elsewhere", termtext.Value(z), termtext.Value(rk.Name), where))
		}
	}
	templates := map[string]claimTemplate{}
	data, ok, err := claimSpec(cr, "spec", "storageConfig", "cassandraDataVolumeClaimSpec")
	if err != nil {
		return targetBase{}, err
	}
	if !ok {
		add(f, dc.Name, fmt.Sprintf("a CassandraDatacenter whose spec.storageConfig.cassandraDataVolumeClaimSpec is set (cass-operator requires it; %s has none)", where))
	}
	templates[workload.CassandraDataClaim] = newClaimTemplate(0, data)
	for i, v := range list(cr, "spec", "storageConfig", "additionalVolumes") {
		cs, ok, err := claimSpec(v, "pvcSpec")
		if err != nil {
			return targetBase{}, err
		}
		if name := str(v, "name"); ok && name != "" {
			templates[name] = newClaimTemplate(i, cs)
		}
	}
	for i, d := range r.m.Spec.Source.Devices {
		if _, ok := templates[d.ClaimTemplate]; !ok {
			add(fmt.Sprintf("spec.source.devices[%d].claimTemplate", i), d.ClaimTemplate, fmt.Sprintf("%s or the name of an entry of spec.storageConfig.additionalVolumes with a pvcSpec in %s (it has %s)", workload.CassandraDataClaim, where, shownList(slices.Sorted(maps.Keys(templates)), ", ")))
		}
	}
	if len(errs) > 0 {
		return targetBase{}, fmt.Errorf("%w: %w", ErrInvalid, errs)
	}
	sets := map[string]baseStatefulSet{}
	for _, sts := range r.m.Spec.Target.StatefulSets {
		sets[sts.Name] = baseStatefulSet{name: sts.Name, templates: templates, wave: wave, replicas: sts.Replicas}
	}
	return targetBase{sets: sets, cr: cr}, nil
}

// readElasticsearch finds the spec's Elasticsearch in the base and makes
// the StatefulSets ECK will create from it: one per nodeSet, with the
// nodeSet's volumeClaimTemplates
// (pkg/controller/elasticsearch/nodespec/statefulset.go BuildStatefulSet).
func (r *renderer) readElasticsearch(resources resmap.ResMap) (targetBase, error) {
	const f = "spec.target.workload.elasticsearch"
	es := r.m.Spec.Target.Workload.Elasticsearch
	cr, wave, err := r.findResource(resources, workload.ElasticsearchAPIVersion, workload.ElasticsearchKind, es.Name, f+".name")
	if err != nil {
		return targetBase{}, err
	}
	var errs spec.ValidationError
	add := errs.Add
	where := fmt.Sprintf("the base's Elasticsearch %s", termtext.Value(es.Name))
	nodeSets := list(cr, "spec", "nodeSets")
	sets := map[string]baseStatefulSet{}
	for i, ns := range es.NodeSets {
		nf := fmt.Sprintf("%s.nodeSets[%d]", f, i)
		j := nodeSetIndex(nodeSets, ns.Name)
		if j < 0 {
			var have []string
			for _, n := range nodeSets {
				have = append(have, str(n, "name"))
			}
			add(nf+".name", ns.Name, fmt.Sprintf("a nodeSet of %s (it has %s)", where, shownList(have, ", ")))
			continue
		}
		templates := map[string]claimTemplate{}
		for k, vct := range list(nodeSets[j], "volumeClaimTemplates") {
			cs, _, err := claimSpec(vct, "spec")
			if err != nil {
				return targetBase{}, err
			}
			templates[str(vct, "metadata", "name")] = newClaimTemplate(k, cs)
		}
		if _, ok := templates[ns.ClaimTemplate]; !ok {
			have := "none: declare it, with the size and class the data needs"
			if len(templates) > 0 {
				have = shownList(slices.Sorted(maps.Keys(templates)), ", ")
			}
			add(nf+".claimTemplate", ns.ClaimTemplate, fmt.Sprintf("a volumeClaimTemplate of nodeSet %s in %s (it has %s)", termtext.Value(ns.Name), where, have))
		}
		if err := zoneConflict(nodeSets[j], r.m.Spec.Target.Storage().TopologyKey, ns.Zone); err != "" {
			add(nf+".zone", ns.Zone, fmt.Sprintf("%s in %s's nodeSet %s: graft pins the nodeSet where its volumes are, and the base pins it elsewhere", err, where, termtext.Value(ns.Name)))
		}
		name := workload.ElasticsearchStatefulSet(es.Name, ns.Name)
		sets[name] = baseStatefulSet{name: name, templates: templates, wave: wave, replicas: ns.Count}
	}
	if len(errs) > 0 {
		return targetBase{}, fmt.Errorf("%w: %w", ErrInvalid, errs)
	}
	return targetBase{sets: sets, cr: cr}, nil
}

func nodeSetIndex(nodeSets []any, name string) int {
	return slices.IndexFunc(nodeSets, func(n any) bool { return str(n, "name") == name })
}

// nodeTermsPath is where a nodeSet's podTemplate requires node labels.
var nodeTermsPath = []string{"podTemplate", "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"}

// zoneConflict says which other zone a node selector term of the nodeSet
// requires of key, "" if none does.
func zoneConflict(nodeSet any, key, zone string) string {
	for _, term := range list(nodeSet, nodeTermsPath...) {
		for _, e := range list(term, "matchExpressions") {
			if str(e, "key") != key {
				continue
			}
			var values []string
			for _, v := range list(e, "values") {
				s, _ := v.(string)
				values = append(values, s)
			}
			if str(e, "operator") != string(corev1.NodeSelectorOpIn) || !slices.Equal(values, []string{zone}) {
				for i, v := range values {
					values[i] = termtext.Value(v)
				}
				return fmt.Sprintf("%s %s [%s]", termtext.Value(key), termtext.Value(str(e, "operator")), strings.Join(values, " "))
			}
		}
	}
	return ""
}

// workloadPatch writes the patch of the operator's resource (cass-operator,
// eck) and adds it to the workload root's kustomization.
func (r *renderer) workloadPatch(files map[string][]byte, kust *types.Kustomization, tb targetBase) error {
	var ops []jsonPatchOp
	var gvk resid.Gvk
	var name, file string
	switch r.m.Spec.Target.WorkloadKind() {
	case spec.WorkloadCassOperator:
		dc := r.m.Spec.Target.Workload.CassandraDatacenter
		ops = r.cassandraDatacenterPatch(tb)
		gvk = resid.Gvk{Group: "cassandra.datastax.com", Version: "v1beta1", Kind: workload.CassandraDatacenterKind}
		name, file = dc.Name, "cassandradatacenter-"+dc.Name+".patch.yaml"
	case spec.WorkloadECK:
		es := r.m.Spec.Target.Workload.Elasticsearch
		ops = r.elasticsearchPatch(tb)
		gvk = resid.Gvk{Group: "elasticsearch.k8s.elastic.co", Version: "v1", Kind: workload.ElasticsearchKind}
		name, file = es.Name, "elasticsearch-"+es.Name+".patch.yaml"
	default:
		return nil
	}
	data, err := yaml.Marshal(ops)
	if err != nil {
		return err
	}
	files[filepath.ToSlash(file)] = data
	kust.Patches = append(kust.Patches, types.Patch{Path: file, Target: &types.Selector{ResId: resid.ResId{Gvk: gvk, Name: name}}})
	return nil
}

// cassandraDatacenterPatch: the annotation that keeps cass-operator from
// deleting the PVCs with the datacenter; spec.size if the spec's differs;
// the data claim spec (and each additional volume graft binds) bound as
// the binding mode says; and each rack pinned by nodeAffinityLabels to its
// zone, under the key of the PVs' node affinity.
func (r *renderer) cassandraDatacenterPatch(tb targetBase) []jsonPatchOp {
	cr := tb.cr
	dc := r.m.Spec.Target.Workload.CassandraDatacenter
	ops := []jsonPatchOp{setOp(cr, []string{"metadata", "annotations", workload.DeletePVCAnnotation}, "false")}
	if size, _ := lookup(cr, "spec", "size"); fmt.Sprint(size) != strconv.Itoa(dc.Size) {
		ops = append(ops, setOp(cr, []string{"spec", "size"}, dc.Size))
	}
	for _, d := range r.m.Spec.Source.Devices {
		sts := tb.sets[r.m.Spec.Target.StatefulSets[0].Name]
		t := sts.templates[d.ClaimTemplate]
		path := []string{"spec", "storageConfig", "cassandraDataVolumeClaimSpec"}
		if d.ClaimTemplate != workload.CassandraDataClaim {
			path = []string{"spec", "storageConfig", "additionalVolumes", strconv.Itoa(t.index), "pvcSpec"}
		}
		ops = append(ops, r.claimSpecOps(cr, path, d.ClaimTemplate, t.hasSelector)...)
	}
	key := r.m.Spec.Target.Storage().TopologyKey
	for i, rk := range dc.Racks {
		ops = append(ops, setOp(cr, []string{"spec", "racks", strconv.Itoa(i), "nodeAffinityLabels", key}, rk.Zone))
	}
	return ops
}

// elasticsearchPatch: volumeClaimDeletePolicy DeleteOnScaledownOnly (ECK
// keeps the PVCs when the Elasticsearch is deleted); per nodeSet its count
// if the spec's differs, its claim template bound as the binding mode
// says, and its pods required on nodes of its zone.
func (r *renderer) elasticsearchPatch(tb targetBase) []jsonPatchOp {
	cr := tb.cr
	es := r.m.Spec.Target.Workload.Elasticsearch
	ops := []jsonPatchOp{setOp(cr, []string{"spec", "volumeClaimDeletePolicy"}, workload.VolumeClaimDeletePolicyRetain)}
	nodeSets := list(cr, "spec", "nodeSets")
	key := r.m.Spec.Target.Storage().TopologyKey
	for _, ns := range es.NodeSets {
		j := nodeSetIndex(nodeSets, ns.Name)
		at := []string{"spec", "nodeSets", strconv.Itoa(j)}
		if count, _ := lookup(nodeSets[j], "count"); fmt.Sprint(count) != strconv.Itoa(ns.Count) {
			ops = append(ops, setOp(cr, append(slices.Clone(at), "count"), ns.Count))
		}
		t := tb.sets[workload.ElasticsearchStatefulSet(es.Name, ns.Name)].templates[ns.ClaimTemplate]
		ops = append(ops, r.claimSpecOps(cr, append(slices.Clone(at), "volumeClaimTemplates", strconv.Itoa(t.index), "spec"), ns.ClaimTemplate, t.hasSelector)...)
		req := map[string]any{"key": key, "operator": string(corev1.NodeSelectorOpIn), "values": []string{ns.Zone}}
		terms := list(nodeSets[j], nodeTermsPath...)
		if len(terms) == 0 {
			ops = append(ops, setOp(cr, append(slices.Clone(at), nodeTermsPath...), []any{map[string]any{"matchExpressions": []any{req}}}))
			continue
		}
		// Terms are ORed: each must require the zone. One that does
		// already (zoneConflict let nothing else through) is left alone.
		for k, term := range terms {
			if slices.ContainsFunc(list(term, "matchExpressions"), func(e any) bool { return str(e, "key") == key }) {
				continue
			}
			tp := append(append(slices.Clone(at), nodeTermsPath...), strconv.Itoa(k), "matchExpressions")
			if _, ok := lookup(cr, tp...); ok {
				ops = append(ops, jsonPatchOp{Op: "add", Path: pointer(tp) + "/-", Value: req})
			} else {
				ops = append(ops, setOp(cr, tp, []any{req}))
			}
		}
	}
	return ops
}

// workloadResources are the workload root's resources: the base, unless
// the overlay holds only claims (claims-only: the chart or operator
// deploys the workload; a base, if given, was only read).
func (r *renderer) workloadResources() []string {
	if r.m.Spec.Target.WorkloadKind() == spec.WorkloadClaimsOnly {
		return nil
	}
	return []string{r.m.Spec.GitOps.Base}
}

// patchedStatefulSets are the StatefulSets of the base graft patches:
// every one for kind statefulset, none for the others.
func (r *renderer) patchedStatefulSets() []spec.StatefulSet {
	if !r.m.Spec.Target.PatchesStatefulSets() {
		return nil
	}
	return r.m.Spec.Target.StatefulSets
}
