# Input shape and names: the StatefulSet controller finds its claims by name
# only, so a missing name gives a member an empty disk, and a stray one is a
# volume nobody will use.
package graft

# A document standing for the whole input, for findings about its shape.
input_doc := {"path": "", "contents": {"kind": "Input", "metadata": {"name": "(combined input)"}}}

deny contains f if {
	not is_array(input)
	f := denied("GRAFT000", input_doc, "input", type_name(input), "array", "the input is not a combined list of {path, contents}; run conftest with --combine")
}

deny contains f if {
	is_array(input)
	count(lock_docs) == 0
	f := denied("GRAFT000", input_doc, "graft.lock", "absent", "one document of kind Lock", "the record is missing from the input")
}

deny contains f if {
	count(lock_docs) > 1
	f := denied("GRAFT000", input_doc, "graft.lock", sprintf("%d documents of kind Lock", [count(lock_docs)]), "one document of kind Lock", "the record is ambiguous")
}

# A record that lists no volume proves nothing about any overlay.
has_volumes(r) if count(r.volumes) > 0

deny contains f if {
	record
	not has_volumes(record)
	f := denied("GRAFT000", record_doc, "volumes", object.get(record, "volumes", "unset"), "at least one recorded volume", "graft.lock records no volume, so nothing the overlay delivers can be checked")
}

# GRAFT001: each claim the controller looks for exists.
deny contains f if {
	some k in expected_keys
	not pvc_index[k]
	e := expected[k][0]
	f := denied(
		"GRAFT001", e.sts_doc,
		sprintf("spec.volumeClaimTemplates[%d]", [e.tindex]),
		"no such PersistentVolumeClaim",
		sprintf("PersistentVolumeClaim %s in namespace %s", [e.name, e.namespace]),
		sprintf("ordinal %d of claim template %s has no claim, so the controller would provision an empty volume", [e.ordinal, e.template.metadata.name]),
	)
}

deny contains f if {
	some ct in claim_templates
	r := sts_replicas(ct.sts.contents)
	is_number(r)
	r > max_members
	f := denied(
		"GRAFT001", ct.sts, "spec.replicas", r,
		sprintf("at most %d, the most members an input holds claims for", [max_members]),
		sprintf("members of claim template %s would have no claim, so the controller would provision empty volumes", [ct.template.metadata.name]),
	)
}

# GRAFT002: duplicates.
deny contains f if {
	some k, g in pvc_index
	count(g) > 1
	some d in g
	f := denied("GRAFT002", d, "metadata.name", sprintf("%d PersistentVolumeClaims named %s", [count(g), k]), "one", "duplicate claim")
}

deny contains f if {
	some n, g in pv_index
	count(g) > 1
	some d in g
	f := denied("GRAFT002", d, "metadata.name", sprintf("%d PersistentVolumes named %s", [count(g), n]), "one", "duplicate volume")
}

deny contains f if {
	some k, g in expected
	count(g) > 1
	some e in g
	f := denied(
		"GRAFT002", e.sts_doc,
		sprintf("spec.volumeClaimTemplates[%d].metadata.name", [e.tindex]),
		sprintf("claim name %s, which %d template/StatefulSet/ordinal combinations produce", [k, count(g)]),
		"claim names unique to one member",
		"ambiguous claim name",
	)
}

deny contains f if {
	some k, g in sts_index
	count(g) > 1
	some d in g
	f := denied("GRAFT002", d, "metadata.name", sprintf("%d StatefulSets named %s", [count(g), k]), "one", "duplicate StatefulSet: which one is applied depends on the order")
}

# graft.lock records one volume per claim: with two, which one the member
# gets is not stated (graft check's record validation refuses it first;
# this is what conftest has).
deny contains f if {
	some k, g in record_by_claim
	count(g) > 1
	some e in record_entries
	e.k == k
	f := denied(
		"GRAFT002", record_doc, sprintf("volumes[%d]", [e.i]),
		sprintf("claim %s, which %d entries of graft.lock record a volume for", [k, count(g)]),
		"one entry per claim",
		"duplicate record entry: the member's volume is ambiguous",
	)
}

# The StatefulSet controller keeps one claim template per name (the last
# one wins), so a second template of a name replaces the first's claims.
deny contains f if {
	some d in sts_docs
	templates := object.get(d.contents, ["spec", "volumeClaimTemplates"], [])
	some i, t in templates
	n := count([x | some x in templates; x.metadata.name == t.metadata.name])
	n > 1
	f := denied(
		"GRAFT002", d, sprintf("spec.volumeClaimTemplates[%d].metadata.name", [i]),
		sprintf("%s, the name of %d claim templates", [t.metadata.name, n]),
		"a name no other claim template of the StatefulSet has",
		"duplicate claim template",
	)
}

# GRAFT003: strays. A recorded member's claim outside its StatefulSet's
# ordinal range is GRAFT004's.
deny contains f if {
	some e in pvc_entries
	not expected[e.k]
	not e.k in out_of_range_claims
	f := denied("GRAFT003", e.d, "metadata.name", e.k, "a claim of a StatefulSet claim template graft binds, for an ordinal in [start, start+replicas)", "stray PersistentVolumeClaim")
}

deny contains f if {
	some e in pv_claim_entries
	not expected[e.k]
	not e.k in out_of_range_claims
	f := denied("GRAFT003", e.d, "spec.claimRef", e.k, "a claim of a StatefulSet claim template graft binds, for an ordinal in [start, start+replicas)", "stray PersistentVolume")
}

# GRAFT004: every member the record holds a volume for is a member of its
# StatefulSet: [start, start+replicas) covers its ordinal. Scaling in
# deletes no claim, but the member never starts, and a start above a
# recorded ordinal leaves that member's data unused.
deny contains f if {
	some n, os in record_sts_ordinals
	some d in sts_by_name[n]
	start := sts_start(d.contents)
	start > min(os)
	f := denied("GRAFT004", d, "spec.ordinals.start", start, sprintf("at most %d, the lowest ordinal graft.lock records for StatefulSet %s", [min(os), n]), sprintf("member %s-%d would never start, and its volume would not be used", [n, min(os)]))
}

deny contains f if {
	some n, os in record_sts_ordinals
	some d in sts_by_name[n]
	start := sts_start(d.contents)
	r := sts_replicas(d.contents)
	want := (max(os) + 1) - start
	r < want
	f := denied("GRAFT004", d, "spec.replicas", r, sprintf("at least %d, so that ordinal %d graft.lock records is a member (start %d)", [want, max(os), start]), sprintf("member %s-%d would never start, and its volume would not be used", [n, max(os)]))
}

# GRAFT079: the namespace of a claim, and of the StatefulSet or operator
# resource that looks for it, is stated. An object without one is applied
# where the applier says (Argo CD's destination.namespace, kubectl's -n or
# context), not in "default" as the rules would assume, while each PV's
# claimRef names its claim's namespace: the claims would never bind.
namespace_stated(o) if {
	is_string(o.metadata.namespace)
	o.metadata.namespace != ""
}

# The StatefulSets graft delivers to, and the operator's resource.
claim_owner_docs := array.concat([d | some d in sts_docs; d.contents.metadata.name in record_sts_names], cr_docs)

deny contains f if {
	some d in array.concat(pvc_docs, claim_owner_docs)
	not namespace_stated(d.contents)
	f := denied(
		"GRAFT079", d, "metadata.namespace", object.get(d.contents, ["metadata", "namespace"], "unset"),
		"the namespace its claims' PersistentVolumes name in their claimRef",
		"the object would be applied in whatever namespace the applier defaults to, where no volume is reserved for its claims",
	)
}
