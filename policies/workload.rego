# Workload kinds (issue 15): an operator (cass-operator, ECK) or a chart
# creates the StatefulSets graft's claims are for, so no StatefulSet is in
# the GitOps repository. graft.lock's `workload` (absent: kind
# statefulset, every record before workload kinds) says which kind, which
# custom resource graft patches and which StatefulSet each group of
# members (a rack, a nodeSet) is. The StatefulSet controller still adopts
# a claim by its name alone, so the gate proves the names against the
# operator's own naming code, the zones and the operator's own deletion of
# claims against the custom resource in the input, and fails closed on a
# kind or a resource it cannot prove.
#
# Verified against the operators' sources (k8ssandra/cass-operator
# d569729, v1.33 in development; elastic/cloud-on-k8s 7b93383, v3), cited
# per rule below.
#
# The claims of a workload kind are expected claims (lib.rego's expected)
# without a claim template object: the rules that judge a StatefulSet's
# template (GRAFT001, GRAFT013-GRAFT019, GRAFT022 on the pod template) do
# not apply to them, and GRAFT074 judges the custom resource's claim spec
# instead. Every rule that judges a PV or PVC against its claim and the
# record (GRAFT003, GRAFT010-GRAFT015, GRAFT020-GRAFT039, GRAFT042-GRAFT046)
# applies to them as to a StatefulSet's.
package graft

# ------------------------------------------------------------ the record

workload_kinds := {"statefulset", "cass-operator", "eck", "claims-only"}

# The resource graft patches, per operator kind.
workload_resources := {
	"cass-operator": {"apiVersion": "cassandra.datastax.com/v1beta1", "kind": "CassandraDatacenter"},
	"eck": {"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch"},
}

record_workload := object.get(record, "workload", null)

# workload_kind: "statefulset" without a workload; any other value (null
# for an unset kind) is judged by GRAFT070.
workload_kind := "statefulset" if record_workload == null

workload_kind := object.get(record_workload, "kind", null) if is_object(record_workload)

workload_kind := record_workload if {
	record_workload != null
	not is_object(record_workload)
}

statefulset_kind if workload_kind == "statefulset"

# The kinds whose StatefulSets an operator or a chart creates.
managed_kind if workload_kind in {"cass-operator", "eck", "claims-only"}

operator_kind if workload_resources[workload_kind]

as_object(x) := x if {
	is_object(x)
} else := {}

as_array(x) := x if {
	is_array(x)
} else := []

nonempty_string(x) if {
	is_string(x)
	x != ""
}

workload_obj := as_object(record_workload)

record_resource := as_object(object.get(workload_obj, "resource", null))

record_groups := as_array(object.get(workload_obj, "groups", null))

# Groups by StatefulSet name (a list, so that duplicates are seen).
group_entries := [{"i": i, "g": g} |
	some i, g in record_groups
	nonempty_string(g.statefulSet)
]

group_sts_names := {e.g.statefulSet | some e in group_entries}

group_by_sts := {n: gs | some n in group_sts_names; gs := [e | some e in group_entries; n = e.g.statefulSet]}

group_templates(g) := {t | some t in as_array(object.get(g, "claimTemplates", null)); nonempty_string(t)}

# The custom resource the record says graft patches, found in the input
# by API version, kind and name.
cr_docs := [d |
	want := workload_resources[workload_kind]
	some d in api_docs(want.kind, want.apiVersion)
	d.contents.metadata.name == record_resource.name
]

cr_doc := cr_docs[0] if count(cr_docs) == 1

cr := cr_doc.contents

cr_spec := as_object(object.get(cr, "spec", null))

# The document a workload claim's findings point at: the custom resource,
# else the record.
workload_doc := cr_doc

workload_doc := record_doc if not cr_doc

# The namespace of a workload's claims: the custom resource's (the
# operators create the StatefulSets in it: cass-operator
# construct_statefulset.go NewNamespacedNameForStatefulSet, ECK
# nodespec/statefulset.go); without one (claims-only), the namespace the
# PVC of that name is in.
pvc_ns_entries := [{"n": d.contents.metadata.name, "ns": ns(d.contents)} | some d in pvc_docs]

pvc_namespaces := {n: s | some n in pvc_names; s := {e.ns | some e in pvc_ns_entries; n = e.n}}

workload_namespaces(_) := {ns(cr)} if cr_doc

workload_namespaces(claim) := object.get(pvc_namespaces, claim, set()) if not cr_doc

# One expected claim per volume graft.lock records for a group whose
# StatefulSet is not in the input (a chart's StatefulSet that kustomize
# inflates into the input is proven by the StatefulSet rules instead).
workload_expected_list := [e |
	managed_kind
	some r in record_entries
	sts := r.v.statefulSet
	g := group_by_sts[sts][0].g
	not sts_by_name[sts]
	t := r.v.claimTemplate
	t in group_templates(g)
	some namespace in workload_namespaces(r.k)
	e := {
		"k": key(namespace, r.k),
		"name": r.k,
		"namespace": namespace,
		"sts": sts,
		"sts_doc": workload_doc,
		"ordinal": r.v.ordinal,
		"tk": template_key(namespace, sts, t),
		"workload": true,
		"group": g,
		"claimTemplate": t,
	}
]

# The PVs meant for a workload's claims.
workload_pvs := [c | some c in claimed_pvs; c.e.workload]

# ------------------------------------------------ GRAFT070: the record's form

deny contains f if {
	record_workload != null
	not is_object(record_workload)
	f := denied("GRAFT070", record_doc, "workload", record_workload, "an object with a kind", "the gate cannot tell which workload creates the StatefulSets")
}

deny contains f if {
	is_object(record_workload)
	not workload_kind in workload_kinds
	f := denied("GRAFT070", record_doc, "workload.kind", object.get(record_workload, "kind", "unset"), concat(" or ", sort(workload_kinds)), "the gate cannot tell which workload creates the StatefulSets, so it cannot prove their names")
}

deny contains f if {
	want := workload_resources[workload_kind]
	some k in ["apiVersion", "kind"]
	found := object.get(record_resource, k, "unset")
	found != want[k]
	f := denied("GRAFT070", record_doc, sprintf("workload.resource.%s", [k]), found, want[k], sprintf("kind %s patches a %s", [workload_kind, want.kind]))
}

deny contains f if {
	operator_kind
	not nonempty_string(object.get(record_resource, "name", null))
	f := denied("GRAFT070", record_doc, "workload.resource.name", object.get(record_resource, "name", "unset"), "the metadata.name of the resource graft patches", "the operator's StatefulSets are named after it")
}

deny contains f if {
	workload_kind == "claims-only"
	r := object.get(workload_obj, "resource", null)
	r != null
	f := denied("GRAFT070", record_doc, "workload.resource", r, "unset: kind claims-only patches no resource", "the record names a resource whose protections the gate would not check")
}

deny contains f if {
	workload_kind == "cass-operator"
	not nonempty_string(object.get(workload_obj, "clusterName", null))
	f := denied("GRAFT070", record_doc, "workload.clusterName", object.get(workload_obj, "clusterName", "unset"), "the CassandraDatacenter's spec.clusterName", "cass-operator names its StatefulSets after the cluster")
}

deny contains f if {
	managed_kind
	count(record_groups) == 0
	f := denied("GRAFT070", record_doc, "workload.groups", object.get(workload_obj, "groups", "unset"), "one group per StatefulSet the workload creates", "no StatefulSet the record's volumes are for")
}

# group_defects: what is wrong with one group of the record. A group of
# kind claims-only may leave the zone out: its members keep their own
# zones (each volume's targetZone, GRAFT021).
group_defects(g) := [d |
	some d in [
		["statefulSet", "the name of the StatefulSet the workload creates"],
		["zone", "the zone of the group's volumes"],
	]
	not nonempty_string(object.get(g, d[0], null))
	group_field_required(g, d[0])
]

group_field_required(_, "statefulSet")

group_field_required(_, "zone") if operator_kind

group_field_required(g, "zone") if "zone" in object.keys(g)

deny contains f if {
	managed_kind
	some i, g in record_groups
	some d in group_defects(as_object(g))
	f := denied("GRAFT070", record_doc, sprintf("workload.groups[%d].%s", [i, d[0]]), object.get(as_object(g), d[0], "unset"), d[1], "the group cannot be proven")
}

deny contains f if {
	managed_kind
	some i, g in record_groups
	ts := object.get(as_object(g), "claimTemplates", null)
	not templates_listed(ts)
	f := denied("GRAFT070", record_doc, sprintf("workload.groups[%d].claimTemplates", [i]), object.get(as_object(g), "claimTemplates", "unset"), "the names of the group's claim templates", "the group's claims cannot be named")
}

templates_listed(ts) if {
	count(as_array(ts)) > 0
	every t in ts {
		nonempty_string(t)
	}
}

deny contains f if {
	operator_kind
	some i, g in record_groups
	not nonempty_string(object.get(as_object(g), "name", null))
	f := denied("GRAFT070", record_doc, sprintf("workload.groups[%d].name", [i]), object.get(as_object(g), "name", "unset"), sprintf("the name of the %s", [group_noun]), "the operator names the StatefulSet after it")
}

group_noun := "rack" if workload_kind == "cass-operator"

group_noun := "nodeSet" if workload_kind == "eck"

deny contains f if {
	managed_kind
	some n, gs in group_by_sts
	count(gs) > 1
	some e in gs
	f := denied("GRAFT070", record_doc, sprintf("workload.groups[%d].statefulSet", [e.i]), n, "a StatefulSet no other group names", "two groups for one StatefulSet")
}

deny contains f if {
	managed_kind
	some i, v in record_volumes
	not group_by_sts[v.statefulSet]
	f := denied("GRAFT070", record_doc, sprintf("volumes[%d].statefulSet", [i]), v.statefulSet, sprintf("one of the workload's StatefulSets (%s)", [concat(", ", sort(group_sts_names))]), sprintf("%s is recorded for a StatefulSet the workload does not create", [v.targetVolume]))
}

deny contains f if {
	managed_kind
	some i, v in record_volumes
	g := group_by_sts[v.statefulSet][0].g
	not v.claimTemplate in group_templates(g)
	f := denied("GRAFT070", record_doc, sprintf("volumes[%d].claimTemplate", [i]), v.claimTemplate, sprintf("a claim template of StatefulSet %s (%s)", [v.statefulSet, concat(", ", sort(group_templates(g)))]), sprintf("%s is recorded for a claim template the workload does not have", [v.targetVolume]))
}

# ---------------------------------------------------------- GRAFT071: names

# cass-operator (apis/cassandra/v1beta1/cassandradatacenter_types.go):
# CleanupForKubernetes keeps a valid DNS-1035 label as it is; otherwise it
# lower-cases it, turns "_" into "-" and joins what matches the label
# pattern (dots and spaces drop out). CleanupSubdomain does the same with
# the DNS-1123 subdomain pattern (dots stay). regex.find_n is Go's
# FindAllString, as the operator's.
dns1035_label := `[a-z]([-a-z0-9]*[a-z0-9])?`

dns1123_subdomain := `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`

cleanup_for_kubernetes(s) := s if {
	count(s) <= 63
	regex.match(concat("", ["^", dns1035_label, "$"]), s)
} else := concat("", regex.find_n(dns1035_label, replace(lower(s), "_", "-"), -1))

cleanup_subdomain(s) := s if {
	count(s) <= 253
	regex.match(concat("", ["^", dns1123_subdomain, "$"]), s)
} else := concat("", regex.find_n(dns1123_subdomain, replace(lower(s), "_", "-"), -1))

# pkg/reconciliation/construct_statefulset.go NewNamespacedNameForStatefulSet:
# CleanupForKubernetes(spec.clusterName) + "-" + LabelResourceName() + "-" +
# CleanupSubdomain(rack) + "-sts"; LabelResourceName is CleanupForKubernetes
# of status.datacenterName when set, else of metadata.name (since v1.23,
# "Change default labels to use Kubernetes resource name" #698; for a new
# datacenter both are metadata.name: constructor.go sets the status to it).
# Older releases: cass_cr_sts below.
cass_label_name(d) := n if {
	n := d.status.datacenterName
	nonempty_string(n)
} else := object.get(d, ["metadata", "name"], "")

# GetRacks: a datacenter without racks has one, "default".
cass_racks(d) := racks if {
	racks := as_array(object.get(d, ["spec", "racks"], null))
	count(racks) > 0
} else := [{"name": "default"}]

# ECK (pkg/apis/elasticsearch/v1/name.go StatefulSet): ESNamer.Suffix(es,
# nodeSet) = es + "-es-" + nodeSet. ValidateNames refuses an
# Elasticsearch name longer than 36 (common/name MaxResourceNameLength)
# and a suffix longer than 63 - 36, the lengths that keep it untruncated.
eck_sts_name(es, nodeset) := concat("", [es, "-es-", nodeset])

eck_max_name := 36

eck_max_suffix := 27

# cass-operator's naming changed with its releases
# (pkg/reconciliation/construct_statefulset.go at each tag, as
# generator/workload's CassOperator* eras): before v1.13 the rack is taken
# as written; before v1.14 the datacenter part is metadata.name as
# written; v1.14-v1.22 CleanupForKubernetes(spec.datacenterName, else
# metadata.name) (SanitizedName, "Allow DC names override" #475); since
# v1.23 LabelResourceName. graft.lock's workload.operatorVersion names
# the release (absent: the current naming); its key is major*10000+minor.
cass_version_pattern := `^v?([0-9]{1,4})\.([0-9]{1,4})(\.[0-9]{1,4})?$`

cass_oldest := 10010

# Without a release recorded: the one the gate was checked against.
cass_current := 10033

cass_version_key := cass_current if object.get(workload_obj, "operatorVersion", "") == ""

cass_version_key := k if {
	v := workload_obj.operatorVersion
	nonempty_string(v)
	m := regex.find_all_string_submatch_n(cass_version_pattern, v, 1)
	count(m) == 1
	k := (to_number(m[0][1]) * 10000) + to_number(m[0][2])
}

cass_override_or_name(d) := n if {
	n := d.spec.datacenterName
	nonempty_string(n)
} else := object.get(d, ["metadata", "name"], "")

cass_dc_part(d) := cleanup_for_kubernetes(cass_label_name(d)) if cass_version_key >= 10023

cass_dc_part(d) := cleanup_for_kubernetes(cass_override_or_name(d)) if {
	cass_version_key >= 10014
	cass_version_key < 10023
}

cass_dc_part(d) := object.get(d, ["metadata", "name"], "") if cass_version_key < 10014

cass_rack_part(rack) := cleanup_subdomain(rack) if cass_version_key >= 10013

cass_rack_part(rack) := rack if cass_version_key < 10013

# The StatefulSet cass-operator names for a rack of CassandraDatacenter d.
cass_cr_sts(d, rack) := concat("", [cleanup_for_kubernetes(object.get(d, ["spec", "clusterName"], "")), "-", cass_dc_part(d), "-", cass_rack_part(rack), "-sts"])

cass_era := "v1.23 or later" if cass_version_key >= 10023

cass_era := sprintf("%s (before v1.23)", [workload_obj.operatorVersion]) if cass_version_key < 10023

deny contains f if {
	workload_kind == "cass-operator"
	not cass_version_ok
	f := denied("GRAFT070", record_doc, "workload.operatorVersion", object.get(workload_obj, "operatorVersion", "unset"), "a cass-operator release from v1.10 (such as v1.22.1), or none for the current naming", "the gate cannot tell how that operator names its StatefulSets")
}

cass_version_ok if cass_version_key >= cass_oldest

# The StatefulSet the operator names for a group: from the resource in
# the input, or, without it, from the record's own facts (GRAFT071 denies
# the missing resource too).
record_cr := {"metadata": {"name": record_resource.name}, "spec": {"clusterName": workload_obj.clusterName}}

operator_sts_name(g) := cass_cr_sts(cr, g.name) if {
	workload_kind == "cass-operator"
	cass_rack_index(g)
}

operator_sts_name(g) := cass_cr_sts(record_cr, g.name) if {
	workload_kind == "cass-operator"
	not cr_doc
}

operator_sts_name(g) := eck_sts_name(cr.metadata.name, g.name) if {
	workload_kind == "eck"
	eck_nodeset_index(g)
}

operator_sts_name(g) := eck_sts_name(record_resource.name, g.name) if {
	workload_kind == "eck"
	not cr_doc
}

named_from := sprintf("%s %s", [cr.kind, cr.metadata.name]) if cr_doc

named_from := "graft.lock's workload" if not cr_doc

operator_era := concat("", ["cass-operator ", cass_era]) if workload_kind == "cass-operator"

operator_era := "ECK" if workload_kind == "eck"

deny contains f if {
	operator_kind
	some i, g in record_groups
	want := operator_sts_name(g)
	g.statefulSet != want
	f := denied("GRAFT071", record_doc, sprintf("workload.groups[%d].statefulSet", [i]), g.statefulSet, want, sprintf("%s names the StatefulSet of %s %s so, from %s", [operator_era, group_noun, g.name, named_from]))
}

deny contains f if {
	workload_kind == "eck"
	n := record_resource.name
	count(n) > eck_max_name
	f := denied("GRAFT071", record_doc, "workload.resource.name", n, sprintf("at most %d characters", [eck_max_name]), "ECK refuses a longer Elasticsearch name (ValidateNames)")
}

deny contains f if {
	workload_kind == "eck"
	some i, g in record_groups
	suffix := concat("", ["-es-", g.name])
	count(suffix) > eck_max_suffix
	f := denied("GRAFT071", record_doc, sprintf("workload.groups[%d].name", [i]), g.name, sprintf("at most %d characters", [eck_max_suffix - 4]), "ECK refuses a longer nodeSet name (ValidateNames)")
}

# The resource the record names is in the input, once.
same_kind_names := {object.get(d.contents, ["metadata", "name"], "") |
	want := workload_resources[workload_kind]
	some d in api_docs(want.kind, want.apiVersion)
}

deny contains f if {
	operator_kind
	count(cr_docs) == 0
	want := workload_resources[workload_kind]
	f := denied(
		"GRAFT071", record_doc, "workload.resource.name",
		sprintf("no %s %s in the input (found: %s)", [want.kind, show(record_resource.name), concat(", ", sort(same_kind_names))]),
		sprintf("the %s %s graft patches, in the input", [want.kind, show(object.get(record_resource, "name", "unset"))]),
		"the operator's StatefulSets, zones and protections cannot be proven without it",
	)
}

deny contains f if {
	count(cr_docs) > 1
	some d in cr_docs
	f := denied("GRAFT071", d, "metadata.name", sprintf("%d %ss named %s", [count(cr_docs), d.contents.kind, d.contents.metadata.name]), "one", "which one graft's claims are for is ambiguous")
}

# The custom resource says what the record says.
deny contains f if {
	workload_kind == "cass-operator"
	found := object.get(cr_spec, "clusterName", "unset")
	found != workload_obj.clusterName
	f := denied("GRAFT071", cr_doc, "spec.clusterName", found, workload_obj.clusterName, "cass-operator names the StatefulSets after it, and Cassandra refuses to start on data of another cluster name")
}

# status.datacenterName in the repository's CassandraDatacenter is not
# applied: the resource has a status subresource
# (apis/cassandra/v1beta1/cassandradatacenter_types.go
# +kubebuilder:subresource:status), so the API server drops a manifest's
# status, and cass-operator sets a new datacenter's to metadata.name
# (pkg/reconciliation/constructor.go). A status naming another datacenter
# is either dropped (the operator names the StatefulSets after
# metadata.name) or a copy of a live one the gate cannot see: the names
# derived from it cannot be proven.
deny contains f if {
	workload_kind == "cass-operator"
	n := cr.status.datacenterName
	cleanup_for_kubernetes(show(n)) != cleanup_for_kubernetes(object.get(cr, ["metadata", "name"], ""))
	f := denied("GRAFT071", cr_doc, "status.datacenterName", n, sprintf("unset, or %s (metadata.name)", [object.get(cr, ["metadata", "name"], "")]), "the API server drops a manifest's status and cass-operator names a new datacenter's StatefulSets after metadata.name")
}

# cass_rack_index: the index of the CassandraDatacenter's rack a group is,
# the first of that name (a second one is denied below: two racks or
# nodeSets of one StatefulSet name).
cass_rack_index(g) := js[0] if {
	js := [j | some j, r in cass_racks(cr); r.name == g.name]
	count(js) > 0
}

eck_nodeset_index(g) := js[0] if {
	js := [j | some j, n in as_array(object.get(cr_spec, "nodeSets", null)); n.name == g.name]
	count(js) > 0
}

group_index(g) := cass_rack_index(g) if workload_kind == "cass-operator"

group_index(g) := eck_nodeset_index(g) if workload_kind == "eck"

group_list_field := "spec.racks" if workload_kind == "cass-operator"

group_list_field := "spec.nodeSets" if workload_kind == "eck"

# The racks or nodeSets of the resource, as the operator lists them.
cr_groups := cass_racks(cr) if workload_kind == "cass-operator"

cr_groups := as_array(object.get(cr_spec, "nodeSets", null)) if workload_kind == "eck"

cr_group_names := {show(object.get(n, "name", "unset")) | some n in cr_groups}

# The StatefulSet the operator names for the resource's j-th rack or nodeSet.
cr_group_sts(n) := cass_cr_sts(cr, n.name) if workload_kind == "cass-operator"

cr_group_sts(n) := eck_sts_name(cr.metadata.name, n.name) if workload_kind == "eck"

# A rack or nodeSet name is a string: the CRDs say so, and a name of
# another type (a number, a list) makes the API server refuse the resource,
# so that no StatefulSet is made (and the gate's naming cannot follow it).
deny contains f if {
	operator_kind
	cr_doc
	some j, n in cr_groups
	not nonempty_string(object.get(n, "name", null))
	f := denied("GRAFT071", cr_doc, sprintf("%s[%d].name", [group_list_field, j]), object.get(n, "name", "unset"), sprintf("the name of the %s, a string", [group_noun]), "the operator names the StatefulSet after it")
}

# Two racks or nodeSets the operator names one StatefulSet (the same name,
# or names cass-operator's CleanupSubdomain makes one: "R1" and "r1"): the
# operator creates and scales one StatefulSet for both, so the members
# graft.lock records for one of them do not run as the gate proves (ECK
# refuses duplicate nodeSet names, pkg/controller/elasticsearch/validation/
# validations.go checkNodeSetNameUniqueness, when its webhook runs;
# cass-operator builds both from GetRacks, and its webhook checks none).
deny contains f if {
	operator_kind
	cr_doc
	some j, n in cr_groups
	some k, m in cr_groups
	j < k
	nonempty_string(object.get(n, "name", null))
	nonempty_string(object.get(m, "name", null))
	cr_group_sts(n) == cr_group_sts(m)
	f := denied("GRAFT071", cr_doc, sprintf("%s[%d].name", [group_list_field, k]), m.name, sprintf("a %s name no other %s has (%s[%d] is %s)", [group_noun, group_noun, group_list_field, j, show(n.name)]), sprintf("the operator would make one StatefulSet, %s, of both", [cr_group_sts(m)]))
}

deny contains f if {
	operator_kind
	cr_doc
	some g in record_groups
	nonempty_string(g.name)
	not group_index(g)
	f := denied("GRAFT071", cr_doc, group_list_field, sprintf("no %s %s (%s)", [group_noun, g.name, concat(", ", sort(cr_group_names))]), sprintf("%s %s, whose StatefulSet %s graft's claims are for", [group_noun, g.name, g.statefulSet]), "the operator would create no StatefulSet for the claims")
}

# The operator owns its StatefulSets: one in the GitOps repository would
# fight it.
deny contains f if {
	operator_kind
	some g in record_groups
	some d in object.get(sts_by_name, g.statefulSet, [])
	f := denied("GRAFT071", d, "metadata.name", g.statefulSet, sprintf("no StatefulSet of a name %s creates", [workload_kind]), sprintf("%s creates StatefulSet %s from %s %s", [workload_kind, g.statefulSet, record_resource.kind, record_resource.name]))
}

# ECK keeps the StatefulSet it re-creates after a volume expansion, as
# JSON, in an annotation of the Elasticsearch named
# elasticsearch.k8s.elastic.co/recreate-<StatefulSet>, and at the next
# reconciliation deletes that StatefulSet (orphaning its pods and claims)
# and creates the one in the annotation as it is written
# (pkg/controller/common/volume/pvc_expansion.go annotateForRecreation,
# ssetsToRecreate, RecreateStatefulSets, called first by
# driver/stateful/nodes.go reconcileNodeSpecs): in the GitOps repository
# such an annotation is a StatefulSet the gate never judged (any name,
# claim templates, mounts), made by the operator and re-applied at every
# sync. Only ECK writes it, on the live resource.
eck_recreate_prefix := "elasticsearch.k8s.elastic.co/recreate-"

deny contains f if {
	workload_kind == "eck"
	some k, v in annotations(cr)
	startswith(k, eck_recreate_prefix)
	f := denied("GRAFT071", cr_doc, akey(k), v, "unset: ECK writes it on the live resource", sprintf("ECK would delete StatefulSet %s and create the one the annotation holds, which the gate cannot prove", [trim_prefix(k, eck_recreate_prefix)]))
}

# A custom resource in the input that creates a StatefulSet the record
# holds volumes for is the resource the record names, under its kind:
# recorded as another kind, its protections would go unchecked.
cass_creates := {[d, n] |
	some d in api_docs("CassandraDatacenter", "cassandra.datastax.com/v1beta1")
	some r in cass_racks(d.contents)
	n := cass_cr_sts(d.contents, r.name)
	n in record_sts_names
}

# ECK serves Elasticsearch as v1 and as the older v1beta1, converting one
# to the other (config/crds/v1/resources/
# elasticsearch.k8s.elastic.co_elasticsearches.yaml: both served): one of
# either version creates the StatefulSets.
eck_api_versions := ["elasticsearch.k8s.elastic.co/v1", "elasticsearch.k8s.elastic.co/v1beta1"]

eck_creates := {[d, n] |
	some v in eck_api_versions
	some d in api_docs("Elasticsearch", v)
	some s in as_array(object.get(d.contents, ["spec", "nodeSets"], null))
	n := eck_sts_name(d.contents.metadata.name, s.name)
	n in record_sts_names
}

recorded_cr(d, kind) if {
	workload_kind == kind
	d == cr_doc
}

deny contains f if {
	some [d, n] in cass_creates
	not recorded_cr(d, "cass-operator")
	f := denied("GRAFT071", d, "metadata.name", d.contents.metadata.name, sprintf("the resource graft.lock's workload names (kind %s, %s)", [show(workload_kind), show(object.get(record_resource, "name", "none"))]), sprintf("cass-operator creates StatefulSet %s from it, which graft.lock holds volumes for: record it as kind cass-operator", [n]))
}

deny contains f if {
	some [d, n] in eck_creates
	not recorded_cr(d, "eck")
	f := denied("GRAFT071", d, "metadata.name", d.contents.metadata.name, sprintf("the resource graft.lock's workload names (kind %s, %s)", [show(workload_kind), show(object.get(record_resource, "name", "none"))]), sprintf("ECK creates StatefulSet %s from it, which graft.lock holds volumes for: record it as kind eck", [n]))
}

# ---------------------------------------------------------- GRAFT072: zones

# Every volume of a group is in the group's zone.
deny contains f if {
	managed_kind
	some i, v in record_volumes
	g := group_by_sts[v.statefulSet][0].g
	nonempty_string(g.zone)
	v.targetZone != g.zone
	f := denied("GRAFT072", record_doc, sprintf("volumes[%d].targetZone", [i]), v.targetZone, g.zone, sprintf("the zone of StatefulSet %s's group, where its pods are pinned", [v.statefulSet]))
}

# cass-operator pins a rack with node affinity on the merge of the
# datacenter's and the rack's nodeAffinityLabels, plus the deprecated
# rack zone as failure-domain.beta.kubernetes.io/zone
# (pkg/reconciliation/construct_statefulset.go rackNodeAffinitylabels).
cass_rack_labels(d, rack) := object.union(
	object.union(as_object(object.get(d, ["spec", "nodeAffinityLabels"], null)), as_object(object.get(rack, "nodeAffinityLabels", null))),
	deprecated_zone_label(rack),
)

deprecated_zone_label(rack) := {"failure-domain.beta.kubernetes.io/zone": rack.zone} if {
	nonempty_string(object.get(rack, "zone", null))
} else := {}

# Where a zone label of a rack comes from.
cass_label_field(j, rack, k) := sprintf("spec.racks[%d].nodeAffinityLabels[%s]", [j, json.marshal(k)]) if {
	k != "failure-domain.beta.kubernetes.io/zone"
	as_object(object.get(rack, "nodeAffinityLabels", null))[k]
}

cass_label_field(j, rack, k) := sprintf("spec.nodeAffinityLabels[%s]", [json.marshal(k)]) if {
	k != "failure-domain.beta.kubernetes.io/zone"
	not as_object(object.get(rack, "nodeAffinityLabels", null))[k]
}

cass_label_field(j, _, "failure-domain.beta.kubernetes.io/zone") := sprintf("spec.racks[%d].zone", [j])

# The racks of the record's groups, with their index in the resource.
cass_group_racks := [{"g": g, "j": j, "rack": rack} |
	workload_kind == "cass-operator"
	some g in record_groups
	j := cass_rack_index(g)
	rack := cass_racks(cr)[j]
]

deny contains f if {
	some x in cass_group_racks
	labels := cass_rack_labels(cr, x.rack)
	count({k | some k, _ in labels; k in pod_zone_keys}) == 0
	f := denied("GRAFT072", cr_doc, sprintf("spec.racks[%d].nodeAffinityLabels", [x.j]), labels, {"topology.kubernetes.io/zone": x.g.zone}, sprintf("rack %s must run where its volumes are", [x.g.name]))
}

deny contains f if {
	some x in cass_group_racks
	some k, z in cass_rack_labels(cr, x.rack)
	k in pod_zone_keys
	z != x.g.zone
	f := denied("GRAFT072", cr_doc, cass_label_field(x.j, x.rack, k), z, x.g.zone, sprintf("graft.lock places the volumes of rack %s (StatefulSet %s) there", [x.g.name, x.g.statefulSet]))
}

# The rack's own affinity and the pod template's are merged with the
# labels: each must allow the zone.
deny contains f if {
	some x in cass_group_racks
	not node_affinity_allows({"affinity": as_object(object.get(x.rack, "affinity", null))}, x.g.zone)
	f := denied("GRAFT072", cr_doc, sprintf("spec.racks[%d].affinity.nodeAffinity", [x.j]), object.get(x.rack, ["affinity", "nodeAffinity"], "unset"), sprintf("a required node affinity that allows %s", [x.g.zone]), sprintf("the pods of rack %s could never run next to their volumes", [x.g.name]))
}

deny contains f if {
	some x in cass_group_racks
	s := {"spec": {"template": as_object(object.get(cr_spec, "podTemplateSpec", null))}}
	not zone_allowed(s, x.g.zone)
	f := denied("GRAFT072", cr_doc, "spec.podTemplateSpec.spec", sort(pinned_zones(s)), sprintf("a nodeSelector and required node affinity that allow %s", [x.g.zone]), sprintf("the pods of rack %s could never run next to their volumes", [x.g.name]))
}

# spec.nodeSelector of a CassandraDatacenter replaces the pod template's
# nodeSelector in every rack's StatefulSet
# (pkg/reconciliation/construct_statefulset.go
# newStatefulSetForCassandraDatacenter: template.Spec.NodeSelector =
# MergeMap({}, dc.Spec.NodeSelector)): it must allow each rack's zone.
deny contains f if {
	some x in cass_group_racks
	sel := object.get(cr_spec, "nodeSelector", null)
	sel != null
	not zone_allowed({"spec": {"template": {"spec": {"nodeSelector": sel}}}}, x.g.zone)
	f := denied("GRAFT072", cr_doc, "spec.nodeSelector", sel, sprintf("a nodeSelector that allows %s", [x.g.zone]), sprintf("cass-operator gives it to the pods of every rack: those of rack %s could never run next to their volumes", [x.g.name]))
}

# A nodeName in the operator's pod template bypasses the scheduler, as in
# a StatefulSet's (GRAFT022): every member would go to that one node.
operator_pod_templates := [["spec.podTemplateSpec.spec.nodeName", as_object(object.get(cr_spec, "podTemplateSpec", null))]] if workload_kind == "cass-operator"

operator_pod_templates := [[sprintf("spec.nodeSets[%d].podTemplate.spec.nodeName", [j]), as_object(object.get(n, "podTemplate", null))] | some j, n in cr_spec.nodeSets] if workload_kind == "eck"

deny contains f if {
	some [field, t] in operator_pod_templates
	n := t.spec.nodeName
	n != ""
	f := denied("GRAFT072", cr_doc, field, n, "unset", "every member would run on that one node, and a member whose volume is in another zone could never attach it")
}

# ECK: the nodeSet's pod template pins the zone, and allows no other.
eck_group_nodesets := [{"g": g, "j": j, "s": {"spec": {"template": as_object(object.get(ns_obj, "podTemplate", null))}}} |
	workload_kind == "eck"
	some g in record_groups
	j := eck_nodeset_index(g)
	ns_obj := cr_spec.nodeSets[j]
]

deny contains f if {
	some x in eck_group_nodesets
	not eck_pins(x.s, x.g.zone)
	f := denied("GRAFT072", cr_doc, sprintf("spec.nodeSets[%d].podTemplate.spec.affinity.nodeAffinity", [x.j]), sort(pinned_zones(x.s)), [x.g.zone], sprintf("the pods of nodeSet %s must run where its volumes are", [x.g.name]))
}

# A nodeSet's zoneAwareness with zones adds "<topologyKey> In zones"
# (the key topology.kubernetes.io/zone unless set) to every required node
# selector term of its pods (pkg/controller/elasticsearch/nodespec/podspec.go
# zoneAwarenessSchedulingDirectives, defaults/pod_template.go
# WithRequiredNodeAffinityMatchExpressions): the zones include the group's.
deny contains f if {
	some x in eck_group_nodesets
	za := cr_spec.nodeSets[x.j].zoneAwareness
	zones := as_array(object.get(za, "zones", null))
	count(zones) > 0
	eck_zone_awareness_key(za) in pod_zone_keys
	not x.g.zone in zones
	f := denied("GRAFT072", cr_doc, sprintf("spec.nodeSets[%d].zoneAwareness.zones", [x.j]), zones, sprintf("zones that include %s", [x.g.zone]), sprintf("ECK would require them of the pods of nodeSet %s, which could never run next to their volumes", [x.g.name]))
}

eck_zone_awareness_key(za) := k if {
	k := trim_space(za.topologyKey)
	k != ""
} else := "topology.kubernetes.io/zone"

eck_pins(s, z) if {
	pinned_zones(s) == {z}
	zone_allowed(s, z)
}

# ---------------------------------------------------- GRAFT073: protections

# cass-operator deletes every PVC of the datacenter when the
# CassandraDatacenter is deleted, unless the annotation is exactly "false"
# (apis/cassandra/v1beta1/cassandradatacenter_types.go DeletePVCAnnotation,
# pkg/reconciliation/reconcile_datacenter.go deletePVCs).
cass_delete_pvc := "cassandra.datastax.com/delete-pvc"

deny contains f if {
	workload_kind == "cass-operator"
	v := object.get(annotations(cr), cass_delete_pvc, "unset")
	v != "false"
	f := denied("GRAFT073", cr_doc, akey(cass_delete_pvc), v, "false", "cass-operator deletes the datacenter's claims when the CassandraDatacenter is deleted unless the annotation is \"false\"")
}

# The annotation is honoured since v1.25.0 ("Allow to skip PVC deletion
# when deleting the CassandraDatacenter", #781): an older release deletes
# the claims whatever it says.
cass_delete_pvc_since := 10025

deny contains f if {
	workload_kind == "cass-operator"
	cass_version_key < cass_delete_pvc_since
	f := denied("GRAFT073", record_doc, "workload.operatorVersion", workload_obj.operatorVersion, "v1.25 or later, which honours cassandra.datastax.com/delete-pvc (#781)", "an older cass-operator deletes the datacenter's claims when the CassandraDatacenter is deleted, and cannot be told not to")
}

# ECK's default, DeleteOnScaledownAndClusterDeletion, owns the PVCs by the
# Elasticsearch resource, so deleting it deletes them
# (pkg/apis/elasticsearch/v1/elasticsearch_types.go VolumeClaimDeletePolicy,
# pkg/controller/elasticsearch/driver/stateful/pvc_owner.go).
deny contains f if {
	workload_kind == "eck"
	v := object.get(cr_spec, "volumeClaimDeletePolicy", "unset")
	v != "DeleteOnScaledownOnly"
	f := denied("GRAFT073", cr_doc, "spec.volumeClaimDeletePolicy", v, "DeleteOnScaledownOnly", "ECK's default deletes the claims with the Elasticsearch resource")
}

# Argo CD's Replace=true and Force=true, and Flux's force, delete and
# re-create the resource, and the operator the claims with it (GRAFT044).
deny contains f if {
	v := annotations(cr)[argo_sync_options]
	some o in split(v, ",")
	lower(trim_space(o)) in forcing_options
	f := denied("GRAFT044", cr_doc, akey(argo_sync_options), v, "no Replace=true or Force=true", sprintf("Argo CD would delete and re-create the %s, and the operator its claims", [cr.kind]))
}

deny contains f if {
	some f in hook_findings(cr_doc, sprintf("%s, and the operator its claims,", [cr.kind]))
}

deny contains f if {
	some [field, v] in flux_forced(cr)
	f := denied("GRAFT044", cr_doc, field, v, "unset or disabled", sprintf("Flux would delete and re-create the %s, and the operator its claims", [cr.kind]))
}

# ------------------------------------------- GRAFT074: the resource's claim spec

# The claim spec the operator makes each claim template of a group from:
# cass-operator's server-data is storageConfig.cassandraDataVolumeClaimSpec
# and an additional volume's is its pvcSpec
# (pkg/reconciliation/construct_statefulset.go, construct_podtemplatespec.go
# PvcName); an ECK nodeSet's are its volumeClaimTemplates by name
# (pkg/controller/elasticsearch/nodespec/statefulset.go).
cass_data_template := "server-data"

workload_claim_specs := {x |
	some g in record_groups
	cass_rack_index(g)
	some t in group_templates(g)
	some x in cass_claim_spec(t)
} if workload_kind == "cass-operator"

cass_claim_spec(t) := [{"t": t, "field": "spec.storageConfig.cassandraDataVolumeClaimSpec", "spec": as_object(s)} |
	s := cr_spec.storageConfig.cassandraDataVolumeClaimSpec
] if t == cass_data_template

cass_claim_spec(t) := [{"t": t, "field": sprintf("spec.storageConfig.additionalVolumes[%d].pvcSpec", [j]), "spec": as_object(av.pvcSpec)} |
	some j, av in as_array(object.get(cr_spec, ["storageConfig", "additionalVolumes"], null))
	av.name == t
	av.pvcSpec
] if t != cass_data_template

workload_claim_specs := {x |
	some g in record_groups
	j := eck_nodeset_index(g)
	some t in group_templates(g)
	some k, ct in as_array(object.get(cr_spec.nodeSets[j], "volumeClaimTemplates", null))
	ct.metadata.name == t
	x := {"t": t, "sts": g.statefulSet, "field": sprintf("spec.nodeSets[%d].volumeClaimTemplates[%d].spec", [j, k]), "spec": as_object(ct.spec)}
} if workload_kind == "eck"

# The field a missing claim spec belongs in.
missing_claim_field(_, t) := "spec.storageConfig.cassandraDataVolumeClaimSpec" if {
	workload_kind == "cass-operator"
	t == cass_data_template
}

missing_claim_field(_, t) := "spec.storageConfig.additionalVolumes" if {
	workload_kind == "cass-operator"
	t != cass_data_template
}

missing_claim_field(g, _) := sprintf("spec.nodeSets[%d].volumeClaimTemplates", [eck_nodeset_index(g)]) if workload_kind == "eck"

has_claim_spec(g, t) if {
	workload_kind == "cass-operator"
	count(cass_claim_spec(t)) > 0
}

has_claim_spec(g, t) if {
	some x in workload_claim_specs
	x.t == t
	x.sts == g.statefulSet
}

deny contains f if {
	operator_kind
	some g in record_groups
	group_index(g)
	some t in group_templates(g)
	not has_claim_spec(g, t)
	f := denied("GRAFT074", cr_doc, missing_claim_field(g, t), sprintf("no claim spec for claim template %s", [t]), sprintf("the claim spec of claim template %s, for the volumes graft.lock records for it", [t]), sprintf("%s would create StatefulSet %s without the claim template graft's claims are for", [workload_kind, g.statefulSet]))
}

# The PVs of each claim spec: a cass-operator claim spec serves every
# rack, an ECK one its nodeSet.
claim_spec_pvs(x) := [c |
	some c in workload_pvs
	c.e.claimTemplate == x.t
	spec_serves(x, c.e.sts)
]

spec_serves(x, _) if not x.sts

spec_serves(x, sts) if x.sts == sts

# The class is set, and is the one graft's PVs carry (the record's,
# GRAFT013): unset, the default class would provision a new member's claim.
deny contains f if {
	some x in workload_claim_specs
	want := {pv_class(c.d.contents) | some c in claim_spec_pvs(x)}
	some w in want
	found := object.get(x.spec, "storageClassName", null)
	found != w
	f := denied("GRAFT074", cr_doc, sprintf("%s.storageClassName", [x.field]), json.marshal(found), json.marshal(w), sprintf("the class of graft's volumes of claim template %s", [x.t]))
}

deny contains f if {
	some x in workload_claim_specs
	not x.spec.resources.requests.storage
	f := denied("GRAFT074", cr_doc, sprintf("%s.resources.requests.storage", [x.field]), "unset", "the size of the recorded volumes, at most", "a claim spec must request its storage")
}

deny contains f if {
	some x in workload_claim_specs
	req := x.spec.resources.requests.storage
	some c in claim_spec_pvs(x)
	not capacity_at_least(c.d.contents, req)
	f := denied("GRAFT074", cr_doc, sprintf("%s.resources.requests.storage", [x.field]), req, sprintf("at most %v, the capacity of PersistentVolume %s", [object.get(c.d.contents, ["spec", "capacity", "storage"], "unset"), c.d.contents.metadata.name]), "the operator would ask for more than the volume holds, and resize or refuse it")
}

deny contains f if {
	some x in workload_claim_specs
	some field, v in object.filter(x.spec, data_source_fields)
	v != null
	f := denied("GRAFT074", cr_doc, sprintf("%s.%s", [x.field, field]), v, "unset", "the claim spec must bind the cloned volumes, not populate new ones")
}

# Static mode: the selector selects the claim template's volumes and no
# other template's. Provisioned mode: no selector (GRAFT060).
deny contains f if {
	not provisioned
	some x in workload_claim_specs
	not is_object(object.get(x.spec, "selector", null))
	f := denied("GRAFT074", cr_doc, sprintf("%s.selector", [x.field]), "unset", "a selector on graft's migration and claim-template labels", "a new member's claim could bind any volume")
}

deny contains f if {
	not provisioned
	some x in workload_claim_specs
	sel := x.spec.selector
	is_object(sel)
	some c in claim_spec_pvs(x)
	not selector_matches(sel, labels(c.d.contents))
	f := denied("GRAFT074", cr_doc, sprintf("%s.selector", [x.field]), sel, sprintf("a selector that matches PersistentVolume %s (%s)", [c.d.contents.metadata.name, json.marshal(labels(c.d.contents))]), sprintf("claim template %s does not select graft's volume", [x.t]))
}

deny contains f if {
	not provisioned
	some x in workload_claim_specs
	sel := x.spec.selector
	is_object(sel)
	some c in workload_pvs
	c.e.claimTemplate != x.t
	selector_matches(sel, labels(c.d.contents))
	f := denied("GRAFT074", cr_doc, sprintf("%s.selector", [x.field]), sel, sprintf("a selector that matches no volume of claim template %s", [c.e.claimTemplate]), sprintf("the selector also matches PersistentVolume %s", [c.d.contents.metadata.name]))
}

deny contains f if {
	provisioned
	some x in workload_claim_specs
	sel := object.get(x.spec, "selector", null)
	sel != null
	f := denied("GRAFT074", cr_doc, sprintf("%s.selector", [x.field]), sel, "no selector in binding mode provisioned", "the CSI external provisioner refuses a claim with a selector, so a new member's claim would stay Pending")
}

# ---------------------------------------------------- GRAFT075: members run

# The operator runs exactly the members graft.lock holds volumes for. One
# it scales down loses its claims: cass-operator deletes a decommissioned
# pod's PVCs (pkg/reconciliation/decommission_node.go DeletePodPvcs), ECK
# every PVC of a member no StatefulSet has any more
# (pkg/controller/elasticsearch/driver/stateful/pvc_gc.go
# GarbageCollectPVCs), whatever the delete policy. One more gets an empty
# volume, and a Cassandra node on it bootstraps as new.
#
# cass-operator spreads spec.size over the racks in order, the first racks
# taking one more (apis/cassandra/v1beta1/cassandradatacenter_types.go
# SplitRacks, pkg/reconciliation/reconcile_racks.go CalculateRackInformation),
# and refuses fewer nodes than racks.
whole_number(n) if {
	is_number(n)
	n == floor(n)
	n >= 0
}

cass_size := object.get(cr_spec, "size", "unset") if workload_kind == "cass-operator"

deny contains f if {
	workload_kind == "cass-operator"
	n := count(cass_racks(cr))
	not cass_size_ok(cass_size, n)
	f := denied("GRAFT075", cr_doc, "spec.size", cass_size, sprintf("a whole number of nodes, at least %d (one per rack)", [n]), "cass-operator cannot spread it over the racks")
}

cass_size_ok(size, n) if {
	whole_number(size)
	size >= n
}

split_racks(size, n, j) := ((size - (size % n)) / n) + rack_extra(size, n, j)

rack_extra(size, n, j) := 1 if {
	j < size % n
} else := 0

# [document, field, StatefulSet, members it runs, group] per group the
# resource runs.
group_members := [{"field": "spec.size", "sts": x.g.statefulSet, "n": split_racks(cass_size, count(cass_racks(cr)), x.j), "what": sprintf("rack %s's share of spec.size %d", [x.g.name, cass_size])} |
	cass_size_ok(cass_size, count(cass_racks(cr)))
	some x in cass_group_racks
] if workload_kind == "cass-operator"

group_members := [{"field": sprintf("spec.nodeSets[%d].count", [x.j]), "sts": x.g.statefulSet, "n": c, "what": sprintf("nodeSet %s's count", [x.g.name])} |
	some x in eck_group_nodesets
	c := object.get(cr_spec.nodeSets[x.j], "count", "unset")
	whole_number(c)
] if workload_kind == "eck"

deny contains f if {
	some x in eck_group_nodesets
	c := object.get(cr_spec.nodeSets[x.j], "count", "unset")
	not whole_number(c)
	f := denied("GRAFT075", cr_doc, sprintf("spec.nodeSets[%d].count", [x.j]), c, "a whole number of members", "the members ECK runs cannot be told")
}

deny contains f if {
	some m in group_members
	os := record_sts_ordinals[m.sts]
	max(os) >= m.n
	f := denied("GRAFT075", cr_doc, m.field, m.n, sprintf("%d members of StatefulSet %s, the ordinals graft.lock records (0 to %d)", [max(os) + 1, m.sts, max(os)]), sprintf("%s: member %s-%d would not run, and the operator deletes the claims of a member it scales down", [m.what, m.sts, max(os)]))
}

deny contains f if {
	some m in group_members
	m.n > max_members
	f := denied("GRAFT075", cr_doc, m.field, m.n, sprintf("at most %d, the most members an input holds claims for", [max_members]), sprintf("%s: members of %s would start on empty volumes, as new nodes", [m.what, m.sts]))
}

deny contains f if {
	some m in group_members
	m.n > 0
	m.n <= max_members
	g := group_by_sts[m.sts][0].g
	some o in numbers.range(0, m.n - 1)
	some t in group_templates(g)
	not record_by_claim[claim_name(t, m.sts, o)]
	f := denied("GRAFT075", cr_doc, m.field, m.n, sprintf("the members graft.lock records volumes for (claim %s has none)", [claim_name(t, m.sts, o)]), sprintf("%s: member %s-%d would start on an empty volume, as a new node", [m.what, m.sts, o]))
}

# ------------------------------------- GRAFT076: cass-operator before v1.23

# cass-operator v1.14 to v1.22 named the StatefulSets after the Cassandra
# datacenter name, spec.datacenterName when set (SanitizedName, before
# "Change default labels to use Kubernetes resource name" #698, v1.23.0);
# since v1.23 after metadata.name. With no older operatorVersion recorded
# the gate proves the current names; with an override that cleans up to
# another name, an older operator would create StatefulSets that adopt
# none of graft's claims.
warn contains f if {
	workload_kind == "cass-operator"
	cass_version_key >= 10023
	o := object.get(cr_spec, "datacenterName", "")
	nonempty_string(o)
	cleanup_for_kubernetes(o) != cleanup_for_kubernetes(cass_label_name(cr))
	f := warned("GRAFT076", cr_doc, "spec.datacenterName", o, sprintf("cass-operator v1.23 or later, which names the StatefulSets after %s", [cleanup_for_kubernetes(cass_label_name(cr))]), sprintf("cass-operator before v1.23 names them after the override (%s-...-sts): none would adopt graft's claims", [cleanup_for_kubernetes(o)]))
}

# A stopped datacenter runs no member: cass-operator takes its node count
# as 0 (pkg/reconciliation/reconcile_racks.go CalculateRackInformation)
# and scales every rack's StatefulSet to 0 replicas (CheckRackScale). The
# claims stay, but no recorded member starts, so what the gate proves,
# the members running on graft's volumes, is not what is delivered.
deny contains f if {
	workload_kind == "cass-operator"
	cr_spec.stopped == true
	f := denied("GRAFT075", cr_doc, "spec.stopped", true, "unset or false", "cass-operator would scale every rack to 0 replicas: no member graft.lock records volumes for would run (the claims are kept; start the datacenter to run them)")
}

# spec.replaceNodes (deprecated, still read) names pods cass-operator
# starts as the replacement of a node of the ring
# (pkg/reconciliation/reconcile_racks.go startReplacePodsIfReplacePodsSpecified
# puts every pod of the datacenter it names in status.nodeReplacements,
# startCassandra then starts it with the replace address of the host id it
# had): a migrated member must start as itself, on its own data, and the
# list is read again at every sync of the GitOps engine, which keeps it.
deny contains f if {
	workload_kind == "cass-operator"
	v := object.get(cr_spec, "replaceNodes", null)
	not empty_list(v)
	f := denied("GRAFT075", cr_doc, "spec.replaceNodes", v, "unset or empty", "cass-operator would start the members it names as replacements of ring nodes, not as themselves on their migrated data")
}

empty_list(null)

empty_list(v) if {
	is_array(v)
	count(v) == 0
}

# ECK skips an unmanaged Elasticsearch entirely: no StatefulSet is created
# or updated (pkg/controller/common/unmanaged.go IsUnmanaged:
# eck.k8s.elastic.co/managed "false", or the legacy
# common.k8s.elastic.co/pause "true"). eck.k8s.elastic.co/pause-orchestration
# "true", the managed annotation's successor, skips the node specs
# (pkg/controller/elasticsearch/driver/stateful/driver.go: Reconcile returns
# reconcileCriticalStepsWhilePaused instead of reconcileNodeSpecs;
# pkg/controller/common/pause_orchestration.go IsOrchestrationPaused): the
# certificates and services are made, no StatefulSet is.
eck_unmanaged := {
	"eck.k8s.elastic.co/managed": "false",
	"common.k8s.elastic.co/pause": "true",
	"eck.k8s.elastic.co/pause-orchestration": "true",
}

deny contains f if {
	workload_kind == "eck"
	some k, v in eck_unmanaged
	annotations(cr)[k] == v
	f := denied("GRAFT075", cr_doc, akey(k), v, "unset", "ECK would not reconcile the Elasticsearch: no StatefulSet of its nodeSets would be created or updated, and no recorded member would run")
}

# ------------------------------- GRAFT085: the operator mounts the data

# The operator builds the pod template itself, from its defaults and the
# resource's pod template: each recorded claim template must end up
# mounted read-write, at its root, where the application reads it, in the
# application's container, with no other volume at or under that path
# (it would hide the migrated files). A mount in the resource's pod
# template of the claim template's name replaces the operator's (a member
# would start on an empty directory of the container's own filesystem);
# a volume of the pod template of that name does not (the StatefulSet
# controller puts the claim in its place, stateful_set_utils.go
# updateStorage; ECK's AppendDefaultPVCs only drops the default claim
# template when the nodeSet has none, and GRAFT074 requires graft's).
#
# cass-operator (pkg/reconciliation/construct_podtemplatespec.go
# buildContainers; combineVolumeMountSlices keeps an override over a
# default of its name): container "cassandra"; server-data at
# /var/lib/cassandra unless the pod template's cassandra container mounts
# server-data itself; an additionalVolumes entry's mountPath overrides
# both, for its name (generateStorageConfigVolumesMount), and is where an
# additional claim template is read.
cass_container := "cassandra"

cass_data_path := "/var/lib/cassandra"

cass_additional := as_array(object.get(cr_spec, ["storageConfig", "additionalVolumes"], null))

cass_additional_names := {av.name | some av in cass_additional}

# The mounts of the pod template's cassandra container, with their fields.
cass_user_mounts := [{"m": as_object(m), "field": sprintf("spec.podTemplateSpec.spec.containers[%d].volumeMounts[%d]", [i, k])} |
	some i, c in as_array(object.get(cr_spec, ["podTemplateSpec", "spec", "containers"], null))
	object.get(c, "name", "") == cass_container
	some k, m in as_array(object.get(c, "volumeMounts", null))
]

cass_user_mount_names := {object.get(e.m, "name", "") | some e in cass_user_mounts}

# The cassandra container's mounts as the operator builds them.
cass_mounts := array.concat(
	array.concat(
		[{"m": {"name": av.name, "mountPath": object.get(av, "mountPath", "")}, "field": sprintf("spec.storageConfig.additionalVolumes[%d].mountPath", [j])} | some j, av in cass_additional],
		[e | some e in cass_user_mounts; not object.get(e.m, "name", "") in cass_additional_names],
	),
	[{"m": {"name": cass_data_template, "mountPath": cass_data_path}, "field": "cass-operator's default mount"} |
		not cass_data_template in cass_additional_names
		not cass_data_template in cass_user_mount_names
	],
) if workload_kind == "cass-operator"

# Where the application reads each recorded claim template: [template,
# path] pairs. cass-operator: server-data at /var/lib/cassandra, an
# additional volume with a pvcSpec at its mountPath.
workload_data_paths := {[cass_data_template, cass_data_path]} | {[av.name, av.mountPath] |
	some av in cass_additional
	av.pvcSpec
	is_string(av.mountPath)
} if workload_kind == "cass-operator"

# The recorded claim templates of the resource's groups, each with the
# container's mounts that serve it (one list for cass-operator, whose pod
# template is one for every rack; one per nodeSet for ECK).
workload_mount_checks := [{"t": t, "mounts": cass_mounts, "container": "spec.podTemplateSpec's cassandra container", "who": "every rack", "templates": cass_mounted_templates, "paths": {p | some [n, p] in workload_data_paths; n == t}} |
	some t in cass_mounted_templates
] if workload_kind == "cass-operator"

cass_mounted_templates := {t |
	some g in record_groups
	cass_rack_index(g)
	some t in group_templates(g)
	has_claim_spec(g, t)
}

# ECK (pkg/controller/elasticsearch/nodespec/volumes.go buildVolumes,
# pkg/controller/common/container/defaulter.go WithVolumeMounts): container
# "elasticsearch"; elasticsearch-data at /usr/share/elasticsearch/data
# (volume/defaults.go DefaultDataVolumeMount), unless the nodeSet's pod
# template's elasticsearch container has a mount of that name or at that
# path (volumeMountExists compares the names and the paths as written).
# ECK mounts no other claim template: the pod template must, anywhere.
eck_container := "elasticsearch"

eck_data_template := "elasticsearch-data"

eck_data_path := "/usr/share/elasticsearch/data"

eck_user_mounts(j) := [{"m": as_object(m), "field": sprintf("spec.nodeSets[%d].podTemplate.spec.containers[%d].volumeMounts[%d]", [j, i, k])} |
	some i, c in as_array(object.get(cr_spec.nodeSets[j], ["podTemplate", "spec", "containers"], null))
	object.get(c, "name", "") == eck_container
	some k, m in as_array(object.get(c, "volumeMounts", null))
]

eck_mounts(j) := array.concat(us, [{"m": {"name": eck_data_template, "mountPath": eck_data_path}, "field": "ECK's default mount"} |
	not eck_default_mount_replaced(us)
]) if us := eck_user_mounts(j)

eck_default_mount_replaced(us) if {
	some e in us
	object.get(e.m, "name", "") == eck_data_template
}

eck_default_mount_replaced(us) if {
	some e in us
	object.get(e.m, "mountPath", "") == eck_data_path
}

workload_mount_checks := [{"t": t, "mounts": eck_mounts(j), "container": sprintf("spec.nodeSets[%d].podTemplate's elasticsearch container", [j]), "who": sprintf("nodeSet %s", [g.name]), "templates": group_templates(g), "paths": eck_paths(t)} |
	some g in record_groups
	j := eck_nodeset_index(g)
	some t in group_templates(g)
	has_claim_spec(g, t)
] if workload_kind == "eck"

eck_paths(t) := {eck_data_path} if t == eck_data_template

# Another claim template's path is the pod template's to say.
eck_paths(t) := set() if t != eck_data_template

# A mount of the claim template, read-write, at its root, at one of its
# paths (any path when the operator has none for it).
mounts_data(x) if {
	some e in x.mounts
	object.get(e.m, "name", "") == x.t
	object.get(e.m, "subPath", "") == ""
	object.get(e.m, "subPathExpr", "") == ""
	object.get(e.m, "readOnly", false) == false
	at_data_path(e.m, x.paths)
}

at_data_path(_, paths) if count(paths) == 0

at_data_path(m, paths) if {
	some p in paths
	clean_mount_path(m.mountPath) == clean_mount_path(p)
}

deny contains f if {
	some x in workload_mount_checks
	not mounts_data(x)
	found := [object.union(e.m, {"from": e.field}) | some e in x.mounts; object.get(e.m, "name", "") == x.t]
	f := denied("GRAFT085", cr_doc, mount_check_field(x), found, sprintf("%s mounted read-write at its root (no subPath) %s", [x.t, where_read(x.paths)]), sprintf("the members of %s would start without the migrated data of claim template %s (%s)", [x.who, x.t, x.container]))
}

where_read(paths) := sprintf("at %s, where the application reads it", [concat(" or ", sort(paths))]) if count(paths) > 0

where_read(paths) := "in the container" if count(paths) == 0

# The field a finding points at: the first mount of the claim template
# the operator keeps, else the pod template's container.
mount_check_field(x) := fs[0] if {
	fs := [e.field | some e in x.mounts; object.get(e.m, "name", "") == x.t]
	count(fs) > 0
} else := x.container

# No other volume at or under a data path, but another recorded claim
# template below it (a commit log volume under /var/lib/cassandra is
# migrated too, as it was mounted on the source).
deny contains f if {
	some x in workload_mount_checks
	some p in x.paths
	some e in x.mounts
	n := object.get(e.m, "name", "")
	n != x.t
	is_string(e.m.mountPath)
	mount_under(e.m.mountPath, p)
	not nested_data(x.templates, n, e.m.mountPath, p)
	f := denied("GRAFT085", cr_doc, e.field, e.m, sprintf("no other volume at or under %s than a recorded claim template's below it", [p]), sprintf("volume %s would hide the migrated data of claim template %s (%s)", [show(n), x.t, x.who]))
}

nested_data(templates, n, path, p) if {
	n in templates
	clean_mount_path(path) != clean_mount_path(p)
}

# The application reads its data where its configuration says, which must
# be where the operator mounts the migrated volumes. ECK writes
# path.data: /usr/share/elasticsearch/data in the base configuration and
# merges the nodeSet's config over it (settings/merged_config.go
# baseConfig, NewMergedESConfig; its webhook only calls the setting
# reserved): a nodeSet's path.data, flat or nested, is that path, once.
deny contains f if {
	some x in eck_group_nodesets
	cfg := as_object(object.get(cr_spec.nodeSets[x.j], "config", null))
	some [field, v] in eck_path_data(cfg)
	not eck_data_path_value(v)
	f := denied("GRAFT085", cr_doc, sprintf("spec.nodeSets[%d].config.%s", [x.j, field]), v, eck_data_path, sprintf("Elasticsearch would keep the data of nodeSet %s elsewhere than on its migrated volume", [x.g.name]))
}

eck_path_data(cfg) := [[k, v] |
	some [k, v] in [["path.data", object.get(cfg, "path.data", null)], ["path.data", object.get(cfg, ["path", "data"], null)]]
	v != null
]

eck_data_path_value(v) if clean_mount_path(v) == eck_data_path

eck_data_path_value([v]) if clean_mount_path(v) == eck_data_path

# cass-operator hands spec.config's cassandra-yaml to Cassandra's
# configuration (pkg/reconciliation/construct_podtemplatespec.go
# getConfigDataEnVars, the config builder): the data and commit log
# directories it names are at or under a recorded claim template's mount
# (Cassandra's defaults, under /var/lib/cassandra, are).
cass_yaml := as_object(object.get(cr_spec, ["config", "cassandra-yaml"], null))

cass_data_dirs := array.concat(
	[[sprintf("data_file_directories[%d]", [i]), d] | some i, d in as_array(object.get(cass_yaml, "data_file_directories", null))],
	[[k, d] | some k in ["commitlog_directory"]; d := object.get(cass_yaml, k, null); d != null],
) if workload_kind == "cass-operator"

deny contains f if {
	some [field, d] in cass_data_dirs
	not cass_dir_on_data(d)
	f := denied("GRAFT085", cr_doc, sprintf("spec.config.cassandra-yaml.%s", [field]), d, sprintf("a directory at or under %s", [concat(" or ", sort({p | some [t, p] in workload_data_paths; t in cass_mounted_templates}))]), "Cassandra would keep it elsewhere than on the migrated volumes, and start as an empty node")
}

# A data directory the value of a data_file_directories key names: a
# string at or under a recorded claim template's path.
cass_dir_on_data(d) if {
	is_string(d)
	some [t, p] in workload_data_paths
	t in cass_mounted_templates
	mount_under(d, p)
}

# GRAFT078 on the operator's pod templates: a volume that names a claim
# graft delivers by claimName puts that one claim in every member's pod
# (the operators copy the pod template's volumes to every StatefulSet of
# the resource: cass-operator addVolumes, combineVolumeSlices, and an
# additional volume's volumeSource; ECK's PodTemplateBuilder keeps the
# nodeSet's volumes), as in a StatefulSet's (mount.rego). A volume named
# like one of the StatefulSet's claim templates is replaced by its claim.
operator_pod_volumes := array.concat(
	[{"field": sprintf("spec.podTemplateSpec.spec.volumes[%d].persistentVolumeClaim.claimName", [i]), "v": v, "templates": cass_template_names} |
		some i, v in as_array(object.get(cr_spec, ["podTemplateSpec", "spec", "volumes"], null))
	],
	[{"field": sprintf("spec.storageConfig.additionalVolumes[%d].volumeSource.persistentVolumeClaim.claimName", [j]), "v": object.get(av, "volumeSource", {}), "templates": set()} |
		some j, av in cass_additional
	],
) if workload_kind == "cass-operator"

cass_template_names := {cass_data_template} | {av.name | some av in cass_additional; av.pvcSpec}

operator_pod_volumes := [{"field": sprintf("spec.nodeSets[%d].podTemplate.spec.volumes[%d].persistentVolumeClaim.claimName", [j, i]), "v": v, "templates": {object.get(t, ["metadata", "name"], "") | some t in as_array(object.get(n, "volumeClaimTemplates", null))}} |
	some j, n in as_array(object.get(cr_spec, "nodeSets", null))
	some i, v in as_array(object.get(n, ["podTemplate", "spec", "volumes"], null))
] if workload_kind == "eck"

deny contains f if {
	some x in operator_pod_volumes
	not object.get(x.v, "name", "") in x.templates
	c := x.v.persistentVolumeClaim.claimName
	key(ns(cr), c) in delivered_claim_keys
	f := denied("GRAFT078", cr_doc, x.field, c, "no claim graft delivers: each member mounts its own through the claim templates", sprintf("every member of %s would mount claim %s, another member's", [cr.kind, c]))
}
