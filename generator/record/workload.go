package record

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/workload"
)

// Workload is spec.target.workload as the gate needs it: the resource
// graft patches and, per StatefulSet the operator (or chart) creates, its
// name, zone and claim templates.
type Workload struct {
	// Kind is cass-operator, eck or claims-only.
	Kind string `yaml:"kind" json:"kind"`
	// Resource is the CR graft patches (absent for claims-only).
	Resource *Resource `yaml:"resource,omitempty" json:"resource,omitempty"`
	// ClusterName is the CassandraDatacenter's spec.clusterName
	// (cass-operator only).
	ClusterName string `yaml:"clusterName,omitempty" json:"clusterName,omitempty"`
	// OperatorVersion is the cass-operator release the spec names
	// (cass-operator only; absent: the current naming). The gate names the
	// StatefulSets as that release does, and denies one that cannot be
	// told to keep the claims.
	OperatorVersion string `yaml:"operatorVersion,omitempty" json:"operatorVersion,omitempty"`
	// Groups holds one entry per StatefulSet, in the spec's order.
	Groups []Group `yaml:"groups" json:"groups"`
}

// Resource names a Kubernetes object.
type Resource struct {
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	Kind       string `yaml:"kind" json:"kind"`
	Name       string `yaml:"name" json:"name"`
}

// Group is one StatefulSet of the workload.
type Group struct {
	// Name is the rack's or nodeSet's (absent for claims-only).
	Name        string `yaml:"name,omitempty" json:"name,omitempty"`
	StatefulSet string `yaml:"statefulSet" json:"statefulSet"`
	// Zone is the target zone of every member of the group; absent when
	// the members keep their own zones (claims-only without a zone).
	Zone           string   `yaml:"zone,omitempty" json:"zone,omitempty"`
	ClaimTemplates []string `yaml:"claimTemplates" json:"claimTemplates"`
}

// WorkloadOf is the workload a (defaulted) spec asks for; nil for kind
// statefulset.
func WorkloadOf(s *spec.Spec) *Workload {
	t := &s.Target
	kind := t.WorkloadKind()
	if kind == spec.WorkloadStatefulSet {
		return nil
	}
	w := &Workload{Kind: kind}
	switch kind {
	case spec.WorkloadCassOperator:
		if dc := t.Workload.CassandraDatacenter; dc != nil {
			w.Resource = &Resource{APIVersion: workload.CassandraDatacenterAPIVersion, Kind: workload.CassandraDatacenterKind, Name: dc.Name}
			w.ClusterName, w.OperatorVersion = dc.ClusterName, dc.OperatorVersion
		}
	case spec.WorkloadECK:
		if es := t.Workload.Elasticsearch; es != nil {
			w.Resource = &Resource{APIVersion: workload.ElasticsearchAPIVersion, Kind: workload.ElasticsearchKind, Name: es.Name}
		}
	}
	for _, g := range s.Groups() {
		w.Groups = append(w.Groups, Group{Name: g.Name, StatefulSet: g.StatefulSet, Zone: g.Zone, ClaimTemplates: g.ClaimTemplates})
	}
	return w
}

// EqualWorkloads reports whether two recorded workloads are the same (nil
// is kind statefulset).
func EqualWorkloads(a, b *Workload) bool { return reflect.DeepEqual(a, b) }

// recordedKinds are the kinds a record names (statefulset is no workload).
var recordedKinds = []string{spec.WorkloadCassOperator, spec.WorkloadECK, spec.WorkloadClaimsOnly}

// validateWorkload checks the recorded workload on its own and against
// the volumes: every volume belongs to a group, by one of its claim
// templates, in its zone. Anything it does not know is a problem: the
// gate reads this, and fails closed.
func (r *Record) validateWorkload(add func(field string, value any, expected string)) {
	w := r.Workload
	const f = "workload"
	if !slices.Contains(recordedKinds, w.Kind) {
		add(f+".kind", w.Kind, "one of "+strings.Join(recordedKinds, ", ")+" (kind statefulset is no workload field)")
	}
	wantResource := map[string][2]string{
		spec.WorkloadCassOperator: {workload.CassandraDatacenterAPIVersion, workload.CassandraDatacenterKind},
		spec.WorkloadECK:          {workload.ElasticsearchAPIVersion, workload.ElasticsearchKind},
	}
	gvk, needsResource := wantResource[w.Kind]
	switch {
	case needsResource && w.Resource == nil:
		add(f+".resource", nil, fmt.Sprintf("the %s graft patches", gvk[1]))
	case needsResource:
		if w.Resource.APIVersion != gvk[0] {
			add(f+".resource.apiVersion", w.Resource.APIVersion, fmt.Sprintf("%q", gvk[0]))
		}
		if w.Resource.Kind != gvk[1] {
			add(f+".resource.kind", w.Resource.Kind, fmt.Sprintf("%q", gvk[1]))
		}
		if w.Resource.Name == "" {
			add(f+".resource.name", nil, "the resource's metadata.name")
		}
	case w.Resource != nil && w.Kind == spec.WorkloadClaimsOnly:
		add(f+".resource", w.Resource.Kind+"/"+w.Resource.Name, "absent for kind claims-only (graft patches no resource)")
	}
	switch {
	case w.Kind == spec.WorkloadCassOperator && w.ClusterName == "":
		add(f+".clusterName", nil, "the CassandraDatacenter's spec.clusterName")
	case w.Kind != spec.WorkloadCassOperator && w.ClusterName != "":
		add(f+".clusterName", w.ClusterName, "absent unless kind is cass-operator")
	}
	if _, ok := workload.ParseCassOperatorVersion(w.OperatorVersion); !ok || w.OperatorVersion != "" && w.Kind != spec.WorkloadCassOperator {
		add(f+".operatorVersion", w.OperatorVersion, "a cass-operator release such as v1.25.0, and only with kind cass-operator")
	}
	if len(w.Groups) == 0 {
		add(f+".groups", nil, "one group per StatefulSet")
	}
	groups := map[string]Group{}
	for i, g := range w.Groups {
		gf := fmt.Sprintf("%s.groups[%d]", f, i)
		if p := workload.StatefulSetNameProblem(g.StatefulSet, 0); p != "" {
			add(gf+".statefulSet", g.StatefulSet, p)
		} else if _, dup := groups[g.StatefulSet]; dup {
			add(gf+".statefulSet", g.StatefulSet, "a StatefulSet of one group only")
		}
		switch {
		case needsResource && g.Name == "":
			add(gf+".name", nil, "the rack's or nodeSet's name")
		case w.Kind == spec.WorkloadClaimsOnly && g.Name != "":
			add(gf+".name", g.Name, "absent for kind claims-only")
		}
		if needsResource && g.Zone == "" {
			add(gf+".zone", nil, "the zone of the rack or nodeSet")
		}
		if g.Zone != "" && !spec.ZoneInRegion(g.Zone, r.TargetRegion) {
			add(gf+".zone", g.Zone, fmt.Sprintf("a zone of the target region %s", r.TargetRegion))
		}
		if len(g.ClaimTemplates) == 0 {
			add(gf+".claimTemplates", nil, "the group's claim templates")
		}
		groups[g.StatefulSet] = g
	}
	for i, v := range r.Volumes {
		vf := fmt.Sprintf("volumes[%d]", i)
		g, ok := groups[v.StatefulSet]
		if !ok {
			add(vf+".statefulSet", v.StatefulSet, "the StatefulSet of a workload group")
			continue
		}
		if !slices.Contains(g.ClaimTemplates, v.ClaimTemplate) {
			add(vf+".claimTemplate", v.ClaimTemplate, fmt.Sprintf("one of the claim templates of %s (%s)", g.StatefulSet, strings.Join(g.ClaimTemplates, ", ")))
		}
		if g.Zone != "" && v.TargetZone != g.Zone {
			add(vf+".targetZone", v.TargetZone, fmt.Sprintf("%s, the zone of %s's group", g.Zone, v.StatefulSet))
		}
	}
}
