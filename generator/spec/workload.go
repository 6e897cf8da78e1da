package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/graftctl/graft/generator/workload"
)

// Workload kinds of spec.target.workload.kind: what creates the target
// StatefulSets, and so what graft's overlay patches.
const (
	// WorkloadStatefulSet (the default, and a spec without workload): the
	// kustomize base holds the StatefulSets, and graft patches them.
	WorkloadStatefulSet = "statefulset"
	// WorkloadCassOperator: cass-operator (k8ssandra) creates one
	// StatefulSet per rack of a CassandraDatacenter, which the base holds
	// and graft patches.
	WorkloadCassOperator = "cass-operator"
	// WorkloadECK: ECK creates one StatefulSet per nodeSet of an
	// Elasticsearch resource, which the base holds and graft patches.
	WorkloadECK = "eck"
	// WorkloadClaimsOnly: a Helm chart or another operator creates the
	// StatefulSets; graft writes only the PVs and the pre-bound PVCs.
	WorkloadClaimsOnly = "claims-only"
)

// WorkloadKinds lists the workload kinds, the default first.
var WorkloadKinds = []string{WorkloadStatefulSet, WorkloadCassOperator, WorkloadECK, WorkloadClaimsOnly}

// Workload is spec.target.workload: what creates the StatefulSets graft's
// claims are adopted by. For cass-operator and eck graft derives
// spec.target.statefulSets from it, with the operator's naming rules
// (package workload).
type Workload struct {
	// Kind is statefulset (the default), cass-operator, eck or
	// claims-only.
	Kind string `yaml:"kind" json:"kind"`
	// CassandraDatacenter is the cass-operator datacenter (kind
	// cass-operator only).
	CassandraDatacenter *CassandraDatacenter `yaml:"cassandraDatacenter,omitempty" json:"cassandraDatacenter,omitempty"`
	// Elasticsearch is the ECK resource (kind eck only).
	Elasticsearch *Elasticsearch `yaml:"elasticsearch,omitempty" json:"elasticsearch,omitempty"`
}

// CassandraDatacenter describes the CassandraDatacenter of the base, as
// cass-operator names its StatefulSets from it.
type CassandraDatacenter struct {
	// Name is metadata.name of the CassandraDatacenter.
	Name string `yaml:"name" json:"name"`
	// ClusterName is spec.clusterName: the legacy cluster's Cassandra
	// cluster name, exactly (the operator cleans it up for the
	// StatefulSet's name only).
	ClusterName string `yaml:"clusterName" json:"clusterName"`
	// DatacenterName is spec.datacenterName, the Cassandra datacenter's
	// name when it is not metadata.name (for example the legacy dc's
	// name, DC1 or us_east). From v1.14 to v1.22 cass-operator names the
	// StatefulSets after it; since v1.23 after metadata.name.
	DatacenterName string `yaml:"datacenterName,omitempty" json:"datacenterName,omitempty"`
	// OperatorVersion is the cass-operator release that will create the
	// StatefulSets, such as v1.32.0 (default: v1.23 or later, whose
	// naming is the current one); v1.10 is the oldest graft knows.
	OperatorVersion string `yaml:"operatorVersion,omitempty" json:"operatorVersion,omitempty"`
	// Size is spec.size: the nodes of the datacenter, which the operator
	// spreads over the racks (workload.SplitRacks).
	Size int `yaml:"size" json:"size"`
	// Racks are spec.racks, in their order.
	Racks []Rack `yaml:"racks" json:"racks"`
}

// Rack is one rack of a CassandraDatacenter and where its nodes run.
type Rack struct {
	// Name is the rack's name.
	Name string `yaml:"name" json:"name"`
	// Zone is the target zone of the rack's nodes and volumes; graft sets
	// the rack's nodeAffinityLabels to it.
	Zone string `yaml:"zone" json:"zone"`
	// SourceZone selects the rack's legacy instances for the sort mapping.
	SourceZone string `yaml:"sourceZone,omitempty" json:"sourceZone,omitempty"`
}

// Elasticsearch describes the Elasticsearch resource of the base, as ECK
// names its StatefulSets from it.
type Elasticsearch struct {
	// Name is metadata.name of the Elasticsearch resource.
	Name string `yaml:"name" json:"name"`
	// NodeSets are spec.nodeSets that hold migrated data.
	NodeSets []NodeSet `yaml:"nodeSets" json:"nodeSets"`
}

// NodeSet is one nodeSet of an Elasticsearch resource.
type NodeSet struct {
	Name string `yaml:"name" json:"name"`
	// Count is the nodeSet's count: its StatefulSet's replicas.
	Count int `yaml:"count" json:"count"`
	// Zone is the target zone of the nodeSet's nodes and volumes; graft
	// requires it in the nodeSet's pod affinity.
	Zone string `yaml:"zone" json:"zone"`
	// SourceZone selects the nodeSet's legacy instances for the sort
	// mapping.
	SourceZone string `yaml:"sourceZone,omitempty" json:"sourceZone,omitempty"`
	// ClaimTemplate is the nodeSet's data volumeClaimTemplate (default
	// elasticsearch-data, ECK's).
	ClaimTemplate string `yaml:"claimTemplate,omitempty" json:"claimTemplate,omitempty"`
}

// WorkloadKind is the kind of spec.target.workload, statefulset without
// one.
func (t *Target) WorkloadKind() string {
	if t.Workload == nil || t.Workload.Kind == "" {
		return WorkloadStatefulSet
	}
	return t.Workload.Kind
}

// PatchesStatefulSets reports whether the base holds the StatefulSets and
// graft patches them (kind statefulset).
func (t *Target) PatchesStatefulSets() bool { return t.WorkloadKind() == WorkloadStatefulSet }

// Derives reports whether graft derives spec.target.statefulSets from the
// workload (cass-operator and eck).
func (t *Target) Derives() bool {
	k := t.WorkloadKind()
	return k == WorkloadCassOperator || k == WorkloadECK
}

// CassOperatorDatacenter is the naming input of the spec's
// CassandraDatacenter (its version as written, or the current naming when
// the version does not parse; Validate reports that).
func (c *CassandraDatacenter) CassOperatorDatacenter() workload.CassandraDatacenter {
	v, ok := workload.ParseCassOperatorVersion(c.OperatorVersion)
	if !ok {
		v = workload.CassOperatorLabelResourceName
	}
	return workload.CassandraDatacenter{ClusterName: c.ClusterName, Name: c.Name, DatacenterName: c.DatacenterName, Version: v}
}

// DerivedStatefulSets are the StatefulSets the workload's operator
// creates, in the order of its racks or nodeSets; nil for the kinds that
// list them (statefulset, claims-only).
func (t *Target) DerivedStatefulSets() []StatefulSet {
	w := t.Workload
	switch {
	case w == nil:
		return nil
	case w.Kind == WorkloadCassOperator && w.CassandraDatacenter != nil:
		dc := w.CassandraDatacenter
		naming := dc.CassOperatorDatacenter()
		counts := workload.SplitRacks(dc.Size, len(dc.Racks))
		out := make([]StatefulSet, 0, len(dc.Racks))
		for i, r := range dc.Racks {
			out = append(out, StatefulSet{Name: naming.StatefulSet(r.Name), Replicas: counts[i], Zone: r.Zone, SourceZone: r.SourceZone})
		}
		return out
	case w.Kind == WorkloadECK && w.Elasticsearch != nil:
		es := w.Elasticsearch
		out := make([]StatefulSet, 0, len(es.NodeSets))
		for _, ns := range es.NodeSets {
			out = append(out, StatefulSet{Name: workload.ElasticsearchStatefulSet(es.Name, ns.Name), Replicas: ns.Count, Zone: ns.Zone, SourceZone: ns.SourceZone})
		}
		return out
	}
	return nil
}

// WorkloadGroup is one StatefulSet of the workload with what it is made from: the
// rack or nodeSet (Name, "" for the kinds that list StatefulSets), its
// zone ("" when its members keep their source zones) and its claim
// templates.
type WorkloadGroup struct {
	Name           string
	StatefulSet    string
	Zone           string
	ClaimTemplates []string
}

// Groups are the workload's StatefulSets, one group each, in the spec's
// order.
func (s *Spec) Groups() []WorkloadGroup {
	t := &s.Target
	var names []string
	switch w := t.Workload; {
	case w != nil && w.Kind == WorkloadCassOperator && w.CassandraDatacenter != nil:
		for _, r := range w.CassandraDatacenter.Racks {
			names = append(names, r.Name)
		}
	case w != nil && w.Kind == WorkloadECK && w.Elasticsearch != nil:
		for _, ns := range w.Elasticsearch.NodeSets {
			names = append(names, ns.Name)
		}
	}
	templates := make([]string, 0, len(s.Source.Devices))
	for _, d := range s.Source.Devices {
		templates = append(templates, d.ClaimTemplate)
	}
	slices.Sort(templates)
	out := make([]WorkloadGroup, 0, len(t.StatefulSets))
	for i, sts := range t.StatefulSets {
		g := WorkloadGroup{StatefulSet: sts.Name, Zone: sts.Zone, ClaimTemplates: slices.Clone(templates)}
		if i < len(names) {
			g.Name = names[i]
		}
		out = append(out, g)
	}
	return out
}

func (w *Workload) setDefaults(t *Target) {
	if es := w.Elasticsearch; es != nil && w.Kind == WorkloadECK {
		for i := range es.NodeSets {
			if es.NodeSets[i].ClaimTemplate == "" {
				es.NodeSets[i].ClaimTemplate = workload.ElasticsearchDataClaim
			}
		}
	}
	if len(t.StatefulSets) == 0 {
		t.StatefulSets = t.DerivedStatefulSets()
	}
}

// statefulSetField names the field of the spec that StatefulSet i's sub
// (name, replicas, zone, sourceZone, ordinals.start) comes from: for the
// derived kinds, the rack's or nodeSet's.
func (t *Target) statefulSetField(i int, sub string) string {
	if !t.Derives() {
		return fmt.Sprintf("spec.target.statefulSets[%d].%s", i, sub)
	}
	if t.WorkloadKind() == WorkloadCassOperator {
		f := "spec.target.workload.cassandraDatacenter"
		switch sub {
		case "replicas":
			return f + ".size"
		case "name":
			return fmt.Sprintf("%s.racks[%d].name", f, i)
		}
		return fmt.Sprintf("%s.racks[%d].%s", f, i, sub)
	}
	if sub == "replicas" {
		sub = "count"
	}
	return fmt.Sprintf("spec.target.workload.elasticsearch.nodeSets[%d].%s", i, sub)
}

// namingFields are the fields a derived StatefulSet i's name is made of.
func (t *Target) namingFields(i int) []string {
	if t.WorkloadKind() == WorkloadCassOperator {
		const f = "spec.target.workload.cassandraDatacenter."
		return []string{t.statefulSetField(i, "name"), f + "name", f + "clusterName", f + "datacenterName", f + "operatorVersion"}
	}
	return []string{t.statefulSetField(i, "name"), "spec.target.workload.elasticsearch.name"}
}

// statefulSetNote says where a derived StatefulSet's name comes from, for
// the errors about it.
func (t *Target) statefulSetNote() string {
	switch t.WorkloadKind() {
	case WorkloadCassOperator:
		return " (cass-operator names a rack's StatefulSet <clusterName>-<datacenter>-<rack>-sts, cleaned up for Kubernetes)"
	case WorkloadECK:
		return " (ECK names a nodeSet's StatefulSet <elasticsearch>-es-<nodeSet>)"
	}
	return ""
}

func (v *validator) workload(s *Spec) {
	t := &s.Target
	w := t.Workload
	if w == nil {
		return
	}
	const f = "spec.target.workload"
	v.oneOf(f+".kind", w.Kind, WorkloadKinds)
	if w.CassandraDatacenter != nil && w.Kind != WorkloadCassOperator {
		v.add(f+".cassandraDatacenter", "set", fmt.Sprintf("absent unless kind is %s", WorkloadCassOperator))
	}
	if w.Elasticsearch != nil && w.Kind != WorkloadECK {
		v.add(f+".elasticsearch", "set", fmt.Sprintf("absent unless kind is %s", WorkloadECK))
	}
	switch w.Kind {
	case WorkloadCassOperator:
		if w.CassandraDatacenter == nil {
			v.add(f+".cassandraDatacenter", nil, "the CassandraDatacenter (name, clusterName, size, racks) for kind "+WorkloadCassOperator)
			return
		}
		v.cassandraDatacenter(s, w.CassandraDatacenter)
	case WorkloadECK:
		if w.Elasticsearch == nil {
			v.add(f+".elasticsearch", nil, "the Elasticsearch resource (name, nodeSets) for kind "+WorkloadECK)
			return
		}
		v.elasticsearch(s, w.Elasticsearch)
	default:
		return
	}
	if derived := t.DerivedStatefulSets(); !slices.Equal(t.StatefulSets, derived) {
		var names []string
		for _, sts := range t.StatefulSets {
			names = append(names, sts.Name)
		}
		v.add("spec.target.statefulSets", strings.Join(names, ","), fmt.Sprintf("absent: with workload kind %s graft derives the StatefulSets from spec.target.workload, as the operator names them", w.Kind))
	}
}

func (v *validator) cassandraDatacenter(s *Spec, dc *CassandraDatacenter) {
	const f = "spec.target.workload.cassandraDatacenter"
	region := s.Target.Region
	switch {
	case dc.Name == "":
		v.add(f+".name", nil, "metadata.name of the CassandraDatacenter")
	case len(dc.Name) > 63 || !dns1123Subdomain.MatchString(dc.Name):
		v.add(f+".name", dc.Name, "a Kubernetes object name (a DNS-1123 subdomain of at most 63 characters)")
	}
	if strings.TrimSpace(dc.ClusterName) == "" {
		v.add(f+".clusterName", dc.ClusterName, "spec.clusterName of the CassandraDatacenter: the Cassandra cluster name of the legacy cluster")
	} else if workload.CleanupForKubernetes(dc.ClusterName) == "" {
		v.add(f+".clusterName", dc.ClusterName, "a cluster name with at least one letter: cass-operator names the StatefulSets after its DNS-1035 parts")
	}
	version, ok := workload.ParseCassOperatorVersion(dc.OperatorVersion)
	switch {
	case !ok:
		v.add(f+".operatorVersion", dc.OperatorVersion, "a cass-operator release such as v1.32.0")
	case version.Less(workload.CassOperatorOldest):
		v.add(f+".operatorVersion", dc.OperatorVersion, fmt.Sprintf("%s or later (graft knows the StatefulSet naming of those releases)", workload.CassOperatorOldest))
	case version.Less(workload.CassOperatorKeepsClaims):
		v.add(f+".operatorVersion", dc.OperatorVersion, fmt.Sprintf("%s or later: an older cass-operator deletes the datacenter's claims whenever the CassandraDatacenter is deleted and ignores cassandra.datastax.com/delete-pvc (cass-operator #781); upgrade the operator before the cut-over", workload.CassOperatorKeepsClaims))
	case dc.DatacenterName != "" && version.Less(workload.CassOperatorDatacenterName):
		v.add(f+".datacenterName", dc.DatacenterName, fmt.Sprintf("absent: cass-operator %s has no spec.datacenterName (it came in %s)", version, workload.CassOperatorDatacenterName))
	}
	if dc.DatacenterName != "" && workload.CleanupForKubernetes(dc.DatacenterName) == "" {
		v.add(f+".datacenterName", dc.DatacenterName, "a datacenter name with at least one letter")
	}
	if len(dc.Racks) == 0 {
		v.add(f+".racks", nil, "at least one rack (spec.racks of the CassandraDatacenter; a datacenter without racks has one, default, which graft cannot pin to a zone: list it)")
	}
	if dc.Size < len(dc.Racks) || dc.Size > MaxReplicas*max(1, len(dc.Racks)) || dc.Size < 1 {
		v.add(f+".size", dc.Size, fmt.Sprintf("%d to %d: at least one node per rack (cass-operator spreads size over the racks in order, the first size%%racks getting one more)", max(1, len(dc.Racks)), MaxReplicas*max(1, len(dc.Racks))))
	}
	names := map[string]int{}
	cleaned := map[string]int{}
	for i, r := range dc.Racks {
		rf := fmt.Sprintf("%s.racks[%d]", f, i)
		if r.Name == "" {
			v.add(rf+".name", nil, "the rack's name")
		} else if workload.CleanupSubdomain(r.Name) == "" {
			v.add(rf+".name", r.Name, "a rack name with at least one letter or digit: cass-operator names the StatefulSet after its DNS-1123 parts")
		} else {
			v.unique(names, i, rf+".name", r.Name, "a rack not already listed (it is racks[%d])")
			v.unique(cleaned, i, rf+".name", workload.CleanupSubdomain(r.Name), "a rack whose cleaned-up name differs from racks[%d]'s: cass-operator would give both one StatefulSet")
		}
		if r.Zone == "" {
			v.add(rf+".zone", nil, fmt.Sprintf("the target zone of the rack (a zone of %s): graft pins the rack there, where its volumes are", region))
		}
	}
	v.requireDevice(s, workload.CassandraDataClaim, "cass-operator's data volume claim template (storageConfig.cassandraDataVolumeClaimSpec); other devices may be storageConfig.additionalVolumes with a pvcSpec, by their names")
}

func (v *validator) elasticsearch(s *Spec, es *Elasticsearch) {
	const f = "spec.target.workload.elasticsearch"
	if es.Name == "" {
		v.add(f+".name", nil, "metadata.name of the Elasticsearch resource")
	}
	if len(es.NodeSets) == 0 {
		v.add(f+".nodeSets", nil, "at least one nodeSet")
	}
	esReported := es.Name == ""
	names := map[string]int{}
	for i, ns := range es.NodeSets {
		nf := fmt.Sprintf("%s.nodeSets[%d]", f, i)
		esProblem, nsProblem := workload.ElasticsearchNameProblems(es.Name, ns.Name, ns.Count)
		if esProblem != "" && !esReported {
			v.add(f+".name", es.Name, esProblem)
			esReported = true
		}
		switch {
		case ns.Name == "":
			v.add(nf+".name", nil, "the nodeSet's name")
		case nsProblem != "":
			v.add(nf+".name", ns.Name, nsProblem)
		default:
			v.unique(names, i, nf+".name", ns.Name, "a nodeSet not already listed (it is nodeSets[%d])")
		}
		if ns.Zone == "" {
			v.add(nf+".zone", nil, fmt.Sprintf("the target zone of the nodeSet (a zone of %s): graft pins the nodeSet there, where its volumes are", s.Target.Region))
		}
		v.dnsLabel(nf+".claimTemplate", ns.ClaimTemplate)
		if len(s.Source.Devices) > 0 && ns.ClaimTemplate != s.Source.Devices[0].ClaimTemplate {
			v.add(nf+".claimTemplate", ns.ClaimTemplate, fmt.Sprintf("%q, spec.source.devices[0].claimTemplate: every nodeSet's StatefulSet gets a claim of every device", s.Source.Devices[0].ClaimTemplate))
		}
	}
	if len(s.Source.Devices) > 1 {
		v.add("spec.source.devices", fmt.Sprintf("%d devices", len(s.Source.Devices)), "one data device for kind eck: an Elasticsearch node has one data volume claim template")
	}
}

// requireDevice reports the spec's devices unless one of them has the
// claim template name.
func (v *validator) requireDevice(s *Spec, name, why string) {
	if _, ok := s.DeviceForTemplate(name); ok || len(s.Source.Devices) == 0 {
		return
	}
	var have []string
	for _, d := range s.Source.Devices {
		have = append(have, d.ClaimTemplate)
	}
	v.add("spec.source.devices[].claimTemplate", strings.Join(have, ","), fmt.Sprintf("a device with claimTemplate %s, %s", name, why))
}
