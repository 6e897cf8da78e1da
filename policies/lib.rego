# Shared indexes and helpers of graft's policies.
#
# Input: the shape `conftest test --combine` produces, an array of
# {"path": FILE, "contents": DOCUMENT}, one element per YAML document. The
# documents are the built overlay (kustomize build), the overlay's
# kustomization.yaml, the Flux Kustomization or Argo CD Application graft
# rendered beside it (if any), and graft.lock (kind Lock), which the rules
# read as the truth about the cloned volumes. `graft check` builds exactly
# this array; see policies/README.md.
#
# Every join is a lookup in an object built once (PVs by name, PVCs by
# namespace/name, PVs by claimRef, by volume handle and by label, record
# entries by claim name), so evaluation is linear in the number of objects.
package graft

zone_keys := {"topology.kubernetes.io/zone", "topology.ebs.csi.aws.com/zone"}

# Keys a pod template may constrain zones with (the deprecated beta label
# is still seen in old manifests).
pod_zone_keys := zone_keys | {"failure-domain.beta.kubernetes.io/zone"}

# The driver of a record that names none (records written before
# spec.target.cluster), and the drivers a record may name: EKS Auto Mode's
# is ebs.csi.eks.amazonaws.com.
csi_driver := "ebs.csi.aws.com"

auto_mode_driver := "ebs.csi.eks.amazonaws.com"

csi_drivers := {csi_driver, auto_mode_driver}

# Auto Mode nodes carry this label with the value "auto"; its PVs require it.
compute_type_label := "eks.amazonaws.com/compute-type"

# The driver a record entry (null: none) attaches its volume with.
recorded_driver(null) := csi_driver

recorded_driver(rec) := object.get(rec, "csiDriver", csi_driver) if rec != null

provenance_annotations := [
	"graft.graftctl.io/source-instance",
	"graft.graftctl.io/source-volume",
	"graft.graftctl.io/source-zone",
]

flux_prune := "kustomize.toolkit.fluxcd.io/prune"

flux_force := "kustomize.toolkit.fluxcd.io/force"

argo_sync_options := "argocd.argoproj.io/sync-options"

argo_sync_wave := "argocd.argoproj.io/sync-wave"

# ---------------------------------------------------------------- documents

docs := [it |
	some it in input
	is_object(it.contents)
	is_string(it.contents.kind)
]

kinds := {d.contents.kind | some d in docs}

# One pass over the input groups the documents by kind.
docs_by_kind := {k: g | some k in kinds; g := [d | some d in docs; k = d.contents.kind]}

docs_of_kind(kind) := object.get(docs_by_kind, kind, [])

# Objects count by kind and API group: a custom resource that calls
# itself StatefulSet is not one, and delivers nothing.
api_docs(kind, api_version) := [d |
	some d in docs_of_kind(kind)
	object.get(d.contents, "apiVersion", "") == api_version
]

pv_docs := api_docs("PersistentVolume", "v1")

pvc_docs := api_docs("PersistentVolumeClaim", "v1")

sts_docs := api_docs("StatefulSet", "apps/v1")

lock_docs := [d |
	some d in docs_of_kind("Lock")
	startswith(object.get(d.contents, "apiVersion", ""), "graft.graftctl.io/")
]

kustomization_docs := [d |
	some d in docs_of_kind("Kustomization")
	startswith(object.get(d.contents, "apiVersion", "kustomize.config.k8s.io/"), "kustomize.config.k8s.io/")
]

flux_kustomization_docs := [d |
	some d in docs_of_kind("Kustomization")
	startswith(object.get(d.contents, "apiVersion", ""), "kustomize.toolkit.fluxcd.io/")
]

argo_application_docs := [d |
	some d in docs_of_kind("Application")
	startswith(object.get(d.contents, "apiVersion", ""), "argoproj.io/")
]

# The record; rules that need it are silent without it (GRAFT000 reports
# its absence).
record_doc := lock_docs[0] if count(lock_docs) == 1

record := record_doc.contents

# A record whose volumes are not a list has none (GRAFT000 denies it).
record_volumes := v if {
	v := object.get(record, "volumes", [])
	is_array(v)
}

record_volumes := [] if {
	v := object.get(record, "volumes", [])
	not is_array(v)
}

# ------------------------------------------------------------------ helpers

ns(o) := object.get(o, ["metadata", "namespace"], "default")

key(namespace, name) := concat("/", [namespace, name])

annotations(o) := object.get(o, ["metadata", "annotations"], {})

labels(o) := object.get(o, ["metadata", "labels"], {})

claim_name(template, sts, ordinal) := concat("-", [template, sts, format_int(ordinal, 10)])

# Note: `not f(x.y)` is never true when x.y is undefined (OPA evaluates the
# reference before the negation), so the rules negate helpers that take
# whole objects instead.

# show formats a found or expected value for a message.
show(x) := x if is_string(x)

show(x) := json.marshal(x) if not is_string(x)

# ------------------------------------------------------------------ indexes

# PVs by name. A value is a list so that duplicates are seen, not a
# conflict error.
pv_names := {d.contents.metadata.name | some d in pv_docs}

pv_index := {n: g | some n in pv_names; g := [d | some d in pv_docs; n = d.contents.metadata.name]}

pvc_entries := [{"k": key(ns(d.contents), d.contents.metadata.name), "d": d} | some d in pvc_docs]

pvc_keys := {e.k | some e in pvc_entries}

pvc_index := {k: g | some k in pvc_keys; g := [e.d | some e in pvc_entries; k = e.k]}

# PVs by the claim their claimRef names.
pv_claim_entries := [{"k": key(ref.namespace, ref.name), "d": d} |
	some d in pv_docs
	ref := d.contents.spec.claimRef
	is_string(ref.namespace)
	is_string(ref.name)
]

# PVs by CSI volume handle.
pv_handle_entries := [{"h": h, "d": d} | some d in pv_docs; h := d.contents.spec.csi.volumeHandle]

pv_handles := {e.h | some e in pv_handle_entries}

pv_by_handle := {h: g | some h in pv_handles; g := [e.d | some e in pv_handle_entries; h = e.h]}

# Record entries by claim name, and the source volumes it names.
# Record entries with their index and claim name, computed once.
record_entries := [{"i": i, "k": claim_name(v.claimTemplate, v.statefulSet, v.ordinal), "v": v} | some i, v in record_volumes]

record_keys := {e.k | some e in record_entries}

record_by_claim := {k: g | some k in record_keys; g := [e.v | some e in record_entries; k = e.k]}

source_volumes := {v.sourceVolume | some v in record_volumes}

# ------------------------------------------------------- StatefulSets

# StatefulSets by namespace/name and by name (the record names them by
# name only).
sts_entries := [{"k": key(ns(d.contents), d.contents.metadata.name), "d": d} | some d in sts_docs]

sts_index_keys := {e.k | some e in sts_entries}

sts_index := {k: g | some k in sts_index_keys; g := [e.d | some e in sts_entries; k = e.k]}

overlay_sts_names := {n | some d in sts_docs; n := d.contents.metadata.name}

sts_by_name := {n: g | some n in overlay_sts_names; g := [d | some d in sts_docs; n = d.contents.metadata.name]}

# ---------------------------------------------------------- binding mode

# The binding graft.lock records (graft render writes it from
# spec.target.binding); a record without one is in the static mode, as
# every record before binding modes meant. GRAFT060 denies any other.
binding := object.get(record, "binding", {"mode": "static"})

binding_mode := object.get(binding, "mode", null) if is_object(binding)

# provisioned: graft's templates carry the class and no selector, and the
# class provisions new ordinals.
provisioned if binding_mode == "provisioned"

# The class graft.lock binds through, when it records one.
recorded_class := binding.storageClassName if {
	is_object(binding)
	is_string(binding.storageClassName)
}

# The [StatefulSet, claim template] pairs the record holds volumes for.
record_templates := {[v.statefulSet, v.claimTemplate] | some v in record_volumes}

# graft_template holds for a claim template t of the StatefulSet named n
# that graft binds: one with a selector (the static mode's mark, whatever
# the record says), or, in the provisioned mode, one the record holds
# volumes for.
graft_template(n, t) if is_object(t.spec.selector)

graft_template(n, t) if {
	provisioned
	[n, t.metadata.name] in record_templates
}

# bound_template holds when StatefulSet s has a claim template named t
# that binds graft's volumes as the binding mode says: with a selector in
# the static mode; in the provisioned mode GRAFT060 denies a selector.
bound_template(s, t) if {
	some ct in object.get(s, ["spec", "volumeClaimTemplates"], [])
	ct.metadata.name == t
	is_object(ct.spec.selector)
}

bound_template(s, t) if {
	provisioned
	some ct in object.get(s, ["spec", "volumeClaimTemplates"], [])
	ct.metadata.name == t
}

# in_range: ordinal o is a member of StatefulSet s, [start, start+replicas).
in_range(s, o) if {
	o >= sts_start(s)
	o < sts_start(s) + sts_replicas(s)
}

# The ordinals the record holds for each StatefulSet of the input.
record_sts_pairs := {[v.statefulSet, v.ordinal] | some v in record_volumes}

record_sts_names := {n | some [n, _] in record_sts_pairs}

record_sts_ordinals := {n: os |
	some n in record_sts_names
	os := {o | some [m, o] in record_sts_pairs; n = m}
}

# covers: StatefulSet s runs every ordinal of os.
covers(s, os) if {
	sts_start(s) <= min(os)
	max(os) < sts_start(s) + sts_replicas(s)
}

# [namespace, StatefulSet, ordinal] of the recorded members a StatefulSet
# of the input does not run (checked per StatefulSet first: usually none).
out_of_range_members := {[ns(d.contents), n, o] |
	some n, os in record_sts_ordinals
	some d in sts_by_name[n]
	not covers(d.contents, os)
	some o in os
	not in_range(d.contents, o)
}

# Their claims (namespace/name): GRAFT004 reports them, not GRAFT003.
out_of_range_claims := {key(ns(d.contents), e.k) |
	count(out_of_range_members) > 0
	some e in record_entries
	some d in sts_by_name[e.v.statefulSet]
	[ns(d.contents), e.v.statefulSet, e.v.ordinal] in out_of_range_members
}

# ------------------------------------------------------- expected claims

# claim_templates are the volumeClaimTemplates graft fills (graft_template).
claim_templates := [{"sts": s, "template": t, "index": i, "tk": template_key(ns(s.contents), s.contents.metadata.name, t.metadata.name)} |
	some s in sts_docs
	some i, t in object.get(s.contents, ["spec", "volumeClaimTemplates"], [])
	graft_template(s.contents.metadata.name, t)
]

sts_start(s) := object.get(s, ["spec", "ordinals", "start"], 0)

sts_replicas(s) := object.get(s, ["spec", "replicas"], 1)

# The most members whose claims an input can hold: graft check reads at
# most 200,000 documents (boundedio.MaxDocuments), a PV and a PVC per
# member. A StatefulSet or operator group that runs more has members
# without a claim whatever the input holds; its claims are not
# enumerated (replicas: 2000000000 would keep the gate busy for hours):
# GRAFT001 and GRAFT075 deny it once, and of its members only those with
# a claim in the input or graft.lock are expected claims.
max_members := 100000

# member_ordinals: the ordinals of StatefulSet s whose claims of template
# t are expected.
member_ordinals(s, _) := numbers.range(sts_start(s), (sts_start(s) + sts_replicas(s)) - 1) if {
	sts_replicas(s) <= max_members
}

member_ordinals(s, t) := os if {
	sts_replicas(s) > max_members
	prefix := concat("-", [t, s.metadata.name, ""])
	names := {e.d.contents.metadata.name | some e in pvc_entries; ns(e.d.contents) == ns(s)} | record_keys
	os := {o |
		some n in names
		startswith(n, prefix)
		suffix := substring(n, count(prefix), -1)
		regex.match(`^(0|[1-9][0-9]*)$`, suffix)
		o := to_number(suffix)
		in_range(s, o)
	}
}

# statefulset_expected_list has one entry per PVC the StatefulSet
# controller will look for: <template>-<statefulset>-<ordinal> in the
# StatefulSet's namespace.
statefulset_expected_list := [e |
	some ct in claim_templates
	s := ct.sts.contents
	sts_replicas(s) > 0
	namespace := ns(s)
	sts := s.metadata.name
	template := ct.template.metadata.name
	some o in member_ordinals(s, template)
	name := claim_name(template, sts, o)
	e := {
		"k": key(namespace, name),
		"name": name,
		"namespace": namespace,
		"sts": sts,
		"sts_doc": ct.sts,
		"template": ct.template,
		"tindex": ct.index,
		"tk": ct.tk,
		"ordinal": o,
	}
]

# With a workload kind an operator or chart creates the StatefulSets
# (workload.rego): one entry more per claim graft.lock records for them.
expected_list := array.concat(statefulset_expected_list, workload_expected_list)

expected_keys := {e.k | some e in expected_list}

expected := {k: g | some k in expected_keys; g := [e | some e in expected_list; k = e.k]}

# The expected claim a PV is meant for, through its claimRef.
pv_claim(pv) := expected[key(pv.spec.claimRef.namespace, pv.spec.claimRef.name)][0]

# claimed_pvs joins, once, each PV meant for an expected claim with that
# claim ("e") and the record's entry for it ("rec", null without one).
claimed_pvs := [{"d": d, "e": e, "rec": rec} |
	some d in pv_docs
	ref := d.contents.spec.claimRef
	e := expected[key(ref.namespace, ref.name)][0]
	rec := object.get(record_by_claim, ref.name, [null])[0]
]

# ---------------------------------------------------------------- zones

# pv_zone is the single zone of a PV's required node affinity, when the
# affinity has the one shape graft accepts: one term, whose one expression
# on any zone key (the beta label's too: the term ANDs its expressions, so
# a second zone there leaves no node) is on a key the EBS nodes carry, and
# no matchFields (a node by name, in a zone the gate cannot know).
# (Array patterns: [x] := a holds for an array a of one element only.)
pv_zone(pv) := z if {
	[term] := pv.spec.nodeAffinity.required.nodeSelectorTerms
	count(object.get(term, "matchFields", [])) == 0
	[expr] := [e | some e in object.get(term, "matchExpressions", []); e.key in pod_zone_keys]
	expr.key in zone_keys
	expr.operator == "In"
	[z] := expr.values
}

pod_spec(s) := object.get(s, ["spec", "template", "spec"], {})

# zone_allowed holds when a pod of the StatefulSet may run in zone z as
# far as its nodeSelector and required node affinity go.
zone_allowed(s, z) if {
	ps := pod_spec(s)
	every k in pod_zone_keys {
		object.get(ps, ["nodeSelector", k], z) == z
	}
	node_affinity_allows(ps, z)
}

node_affinity_allows(ps, _) if {
	not ps.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms
}

node_affinity_allows(ps, z) if {
	some term in ps.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms
	term_allows(term, z)
}

# term_allows: a node selector term admits nodes of zone z. An empty term
# matches no node (MatchNodeSelectorTerms, k8s.io/component-helpers), and
# one with matchFields names nodes whose zone the gate cannot know.
term_allows(term, z) if {
	count(object.get(term, "matchExpressions", [])) > 0
	count(object.get(term, "matchFields", [])) == 0
	every e in term.matchExpressions {
		expr_allows(e, z)
	}
}

expr_allows(e, _) if not e.key in pod_zone_keys

expr_allows(e, z) if {
	e.key in pod_zone_keys
	e.operator == "In"
	z in e.values
}

expr_allows(e, z) if {
	e.key in pod_zone_keys
	e.operator == "NotIn"
	not z in e.values
}

expr_allows(e, _) if {
	e.key in pod_zone_keys
	e.operator == "Exists"
}

# The zones a pod template pins (nodeSelector values and the In values of
# the zone expressions of its required affinity), for messages and the
# spread check.
pinned_zones(s) := {z |
	some k in pod_zone_keys
	z := pod_spec(s).nodeSelector[k]
} | {z |
	some term in pod_spec(s).affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms
	some e in object.get(term, "matchExpressions", [])
	e.key in pod_zone_keys
	e.operator == "In"
	some z in e.values
}

# ------------------------------------------------------------- selectors

selector_matches(sel, lbls) if {
	every k, v in object.get(sel, "matchLabels", {}) {
		lbls[k] == v
	}
	every e in object.get(sel, "matchExpressions", []) {
		selector_expr_matches(e, lbls)
	}
}

selector_expr_matches(e, lbls) if {
	e.operator == "In"
	lbls[e.key] in e.values
}

selector_expr_matches(e, lbls) if {
	e.operator == "NotIn"
	not object.get(lbls, e.key, null) in e.values
}

selector_expr_matches(e, lbls) if {
	e.operator == "Exists"
	lbls[e.key]
}

selector_expr_matches(e, lbls) if {
	e.operator == "DoesNotExist"
	not lbls[e.key]
}

# Selector matching is done once per distinct label set: graft's PVs of one
# claim template differ only in the ordinal label, which no selector graft
# writes uses. A selector that does use it is matched PV by PV.
ordinal_label := "graft.graftctl.io/ordinal"

label_sig(pv) := object.remove(labels(pv), [ordinal_label])

uses_ordinal(sel) if sel.matchLabels[ordinal_label]

uses_ordinal(sel) if {
	some e in sel.matchExpressions
	e.key == ordinal_label
}

template_key(namespace, sts, template) := concat("/", [namespace, sts, template])

# One entry per claimed PV: its label set and the template it is meant for.
sig_entries := [{"sig": label_sig(c.d.contents), "t": c.e.tk, "c": c} |
	some c in claimed_pvs
]

label_sigs := {x.sig | some x in sig_entries}

# The templates whose PVs carry each label set.
sig_templates := {s: ts | some s in label_sigs; ts := {x.t | some x in sig_entries; s = x.sig}}

# Claim templates by key.
ct_entries := [{"k": ct.tk, "ct": ct} |
	some ct in claim_templates
]

ct_keys := {e.k | some e in ct_entries}

ct_by_key := {k: g | some k in ct_keys; g := [e.ct | some e in ct_entries; k = e.k]}

# [template, label set] pairs where the template's own selector matches.
selected_pairs := {[t, s] |
	some s, ts in sig_templates
	some t in ts
	selector_matches(ct_by_key[t][0].template.spec.selector, s)
}

# pv_selected: the PV's own claim template selects it.
pv_selected(x) if {
	not uses_ordinal(x.c.e.template.spec.selector)
	[x.t, x.sig] in selected_pairs
}

pv_selected(x) if {
	uses_ordinal(x.c.e.template.spec.selector)
	selector_matches(x.c.e.template.spec.selector, labels(x.c.d.contents))
}

# ---------------------------------------------------------------- engines

# The GitOps engine is detected from the overlay: an engine object graft
# rendered beside it, or any annotation in the engine's domain on any
# object. None detected: no engine protection is required.
engines contains "flux" if count(flux_kustomization_docs) > 0

# Every annotation key in the input, once.
annotation_keys := {k | some d in docs; some k, _ in d.contents.metadata.annotations}

engines contains "flux" if {
	some k in annotation_keys
	startswith(k, "kustomize.toolkit.fluxcd.io/")
}

engines contains "argocd" if count(argo_application_docs) > 0

engines contains "argocd" if {
	some k in annotation_keys
	startswith(k, "argocd.argoproj.io/")
}

sync_options(o) := {trim_space(x) | some x in split(annotations(o)[argo_sync_options], ",")}

sync_options(o) := set() if not annotations(o)[argo_sync_options]

# sync_wave is the wave Argo CD syncs o in (gitops-engine
# syncwaves.Wave): the sync-wave annotation as strconv.Atoi reads it (an
# integer, no fraction or exponent), else Helm's hook weight read the same
# way (helmhook.Weight), else 0.
helm_hook_weight := "helm.sh/hook-weight"

argo_int(s) := to_number(trim_prefix(s, "+")) if {
	is_string(s)
	regex.match(`^[+-]?[0-9]{1,18}$`, s)
}

sync_wave(o) := w if {
	w := argo_int(annotations(o)[argo_sync_wave])
} else := w if {
	w := argo_int(annotations(o)[helm_hook_weight])
} else := 0

# ---------------------------------------------------------------- results

# finding builds one result. d is the input element of the object (its
# path is the file); field names the offending field; found and expected
# are shown in the message.
finding(id, level, d, field, found, expected, what) := {
	"msg": sprintf("[%s] %s %s: %s: %s is %s, expected %s", [id, d.contents.kind, display_name(d.contents), what, field, show(found), show(expected)]),
	"id": id,
	"level": level,
	"kind": d.contents.kind,
	"name": object.get(d.contents, ["metadata", "name"], ""),
	"namespace": object.get(d.contents, ["metadata", "namespace"], ""),
	"file": object.get(d, "path", ""),
	"field": field,
	"found": show(found),
	"expected": show(expected),
}

denied(id, d, field, found, expected, what) := finding(id, "deny", d, field, found, expected, what)

warned(id, d, field, found, expected, what) := finding(id, "warn", d, field, found, expected, what)

display_name(o) := key(o.metadata.namespace, o.metadata.name) if o.metadata.namespace

display_name(o) := object.get(o, ["metadata", "name"], "(unnamed)") if {
	not o.metadata.namespace
	not is_lock(o)
}

# The record has no metadata; it is shown by its migration.
display_name(o) := object.get(o, "migration", "(unnamed)") if {
	not o.metadata.namespace
	is_lock(o)
}

is_lock(o) if o.kind == "Lock"

# Field paths use dots, [i] for list items and ["k"] for keys that are not
# identifiers (annotation and label keys).
akey(k) := sprintf("metadata.annotations[%s]", [json.marshal(k)])
