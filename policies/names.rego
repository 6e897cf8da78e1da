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

# GRAFT003: strays.
deny contains f if {
	some e in pvc_entries
	not expected[e.k]
	f := denied("GRAFT003", e.d, "metadata.name", e.k, "a claim of a StatefulSet claim template with a selector, for an ordinal in [start, start+replicas)", "stray PersistentVolumeClaim")
}

deny contains f if {
	some e in pv_claim_entries
	not expected[e.k]
	f := denied("GRAFT003", e.d, "spec.claimRef", e.k, "a claim of a StatefulSet claim template with a selector, for an ordinal in [start, start+replicas)", "stray PersistentVolume")
}
