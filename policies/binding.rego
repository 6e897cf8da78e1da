# Binding: each PVC binds exactly its PV and the PV only its PVC, with
# compatible class, modes and size; the claim templates select graft's PVs
# and no one else's.
package graft

pvc_volume_name(p) := object.get(p, ["spec", "volumeName"], "")

# bound_pairs joins each PVC with the PV its volumeName names.
bound_pairs := [{"pvc": d, "pv": pv, "k": key(ns(d.contents), d.contents.metadata.name)} |
	some d in pvc_docs
	vn := pvc_volume_name(d.contents)
	pv := pv_index[vn][0]
]

# GRAFT010
deny contains f if {
	some d in pvc_docs
	pvc_volume_name(d.contents) == ""
	f := denied("GRAFT010", d, "spec.volumeName", "unset", "the name of the PersistentVolume of the cloned volume", "the claim would bind any matching volume")
}

deny contains f if {
	some d in pvc_docs
	vn := pvc_volume_name(d.contents)
	vn != ""
	not pv_index[vn]
	f := denied("GRAFT010", d, "spec.volumeName", vn, "the name of a PersistentVolume of the overlay", "the claim names a volume that does not exist")
}

has_claim_ref(pv) if is_object(pv.spec.claimRef)

has_string(o, k) if is_string(o[k])

# GRAFT011
deny contains f if {
	some p in bound_pairs
	ref := p.pv.contents.spec.claimRef
	found := key(object.get(ref, "namespace", ""), object.get(ref, "name", ""))
	found != p.k
	f := denied("GRAFT011", p.pv, "spec.claimRef", found, p.k, sprintf("PersistentVolumeClaim %s names this volume, but the volume is reserved for another claim", [p.k]))
}

deny contains f if {
	some d in pv_docs
	not has_claim_ref(d.contents)
	f := denied("GRAFT011", d, "spec.claimRef", "unset", "{namespace, name} of its PersistentVolumeClaim", "without a claimRef any claim may take the volume")
}

deny contains f if {
	some d in pv_docs
	ref := d.contents.spec.claimRef
	is_object(ref)
	some field in ["namespace", "name"]
	not has_string(ref, field)
	f := denied("GRAFT011", d, sprintf("spec.claimRef.%s", [field]), "unset", sprintf("the claim's %s", [field]), "the claimRef is incomplete")
}

# The claimRef names a PersistentVolumeClaim of core v1 (when it says).
deny contains f if {
	some d in pv_docs
	v := d.contents.spec.claimRef.kind
	v != "PersistentVolumeClaim"
	f := denied("GRAFT011", d, "spec.claimRef.kind", v, "PersistentVolumeClaim", "the claimRef must name a PersistentVolumeClaim")
}

deny contains f if {
	some d in pv_docs
	v := d.contents.spec.claimRef.apiVersion
	v != "v1"
	f := denied("GRAFT011", d, "spec.claimRef.apiVersion", v, "v1", "the claimRef must name a core v1 PersistentVolumeClaim")
}

# GRAFT012: pre-bound by namespace and name only.
deny contains f if {
	some d in pv_docs
	v := d.contents.spec.claimRef.uid
	f := denied("GRAFT012", d, "spec.claimRef.uid", v, "unset", "a uid pins a claim object that does not exist yet, so the volume never binds")
}

deny contains f if {
	some d in pv_docs
	v := d.contents.spec.claimRef.resourceVersion
	f := denied("GRAFT012", d, "spec.claimRef.resourceVersion", v, "unset", "a resourceVersion pins a version of a claim object that does not exist yet")
}

# The PV controller's own record of a binding, on an object it has not
# bound: a claim marked pv.kubernetes.io/bind-completed is synced as bound
# (syncBoundClaim), and since the volume is pre-bound by name only (no
# claimRef.uid) the controller marks it Lost, for good; a volume marked
# pv.kubernetes.io/bound-by-controller is one the controller may unbind
# by clearing its claimRef altogether (unbindVolume), after which any
# claim may take it.
binding_state_annotations := {"pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller"}

deny contains f if {
	some d in storage_docs
	a := annotations(d.contents)
	some k in binding_state_annotations
	v := a[k]
	f := denied("GRAFT012", d, akey(k), v, "unset", "the annotation is the PV controller's record of a binding it made; on a claim it makes the pre-bound claim Lost, on a volume it lets the controller drop the claimRef")
}

# GRAFT013
pvc_class(p) := p.spec.storageClassName if is_string(p.spec.storageClassName)

pv_class(pv) := object.get(pv, ["spec", "storageClassName"], "")

# The beta annotation, when present, is the class the PV controller and
# the DefaultStorageClass admission plugin read, ahead of
# spec.storageClassName (k8s.io/component-helpers/storage/volume): it must
# say what spec.storageClassName says, which the rules below compare.
beta_class := "volume.beta.kubernetes.io/storage-class"

deny contains f if {
	some d in storage_docs
	a := d.contents.metadata.annotations[beta_class]
	c := object.get(d.contents, ["spec", "storageClassName"], null)
	a != c
	f := denied("GRAFT013", d, akey(beta_class), json.marshal(a), json.marshal(c), "the annotation overrides spec.storageClassName")
}

deny contains f if {
	some ct in claim_templates
	a := ct.template.metadata.annotations[beta_class]
	c := object.get(ct.template, ["spec", "storageClassName"], null)
	a != c
	f := denied("GRAFT013", ct.sts, sprintf("spec.volumeClaimTemplates[%d].%s", [ct.index, akey(beta_class)]), json.marshal(a), json.marshal(c), "the annotation overrides the template's spec.storageClassName")
}

deny contains f if {
	some p in bound_pairs
	expected[p.k]
	not pvc_class(p.pvc.contents)
	f := denied("GRAFT013", p.pvc, "spec.storageClassName", "unset", json.marshal(pv_class(p.pv.contents)), "an unset class lets the default StorageClass provision a new, empty volume")
}

deny contains f if {
	some p in bound_pairs
	expected[p.k]
	c := pvc_class(p.pvc.contents)
	c != pv_class(p.pv.contents)
	f := denied("GRAFT013", p.pvc, "spec.storageClassName", json.marshal(c), json.marshal(pv_class(p.pv.contents)), sprintf("the class differs from PersistentVolume %s's", [p.pv.contents.metadata.name]))
}

deny contains f if {
	some p in bound_pairs
	e := expected[p.k][0]
	c := object.get(e.template, ["spec", "storageClassName"], null)
	c != pv_class(p.pv.contents)
	f := denied("GRAFT013", e.sts_doc, sprintf("spec.volumeClaimTemplates[%d].spec.storageClassName", [e.tindex]), json.marshal(c), json.marshal(pv_class(p.pv.contents)), sprintf("the template's class differs from PersistentVolume %s's", [p.pv.contents.metadata.name]))
}

# GRAFT014
access_modes(o) := sort(object.get(o, ["spec", "accessModes"], []))

volume_mode(o) := object.get(o, ["spec", "volumeMode"], "Filesystem")

ebs_access_modes := {"ReadWriteOnce", "ReadWriteOncePod"}

ebs_modes(modes) if {
	count(modes) > 0
	every m in modes {
		m in ebs_access_modes
	}
}

# The cloned volume holds a filesystem (the record's fsType): a raw block
# device would hand the pod no mounted data.
deny contains f if {
	some d in pv_docs
	m := d.contents.spec.volumeMode
	not m in {"Filesystem", null}
	f := denied("GRAFT014", d, "spec.volumeMode", m, "Filesystem", "the volume holds a filesystem the pod must mount")
}

deny contains f if {
	some d in pv_docs
	modes := access_modes(d.contents)
	not ebs_modes(modes)
	f := denied("GRAFT014", d, "spec.accessModes", modes, ["ReadWriteOnce"], "an EBS volume attaches to one node")
}

# modes_differ: the modes of a and b (claims, claim templates, PVs) may
# differ. When neither field differs as written, the sorted access modes
# and the volume modes are equal too, and the rules below compare nothing.
modes_differ(a, b) if object.get(a, ["spec", "accessModes"], []) != object.get(b, ["spec", "accessModes"], [])

modes_differ(a, b) if object.get(a, ["spec", "volumeMode"], "Filesystem") != object.get(b, ["spec", "volumeMode"], "Filesystem")

deny contains f if {
	some p in bound_pairs
	expected[p.k]
	modes_differ(p.pvc.contents, p.pv.contents)
	some pair in [
		["spec.accessModes", access_modes(p.pvc.contents), access_modes(p.pv.contents)],
		["spec.volumeMode", volume_mode(p.pvc.contents), volume_mode(p.pv.contents)],
	]
	pair[1] != pair[2]
	f := denied("GRAFT014", p.pvc, pair[0], pair[1], pair[2], sprintf("the claim and PersistentVolume %s disagree", [p.pv.contents.metadata.name]))
}

deny contains f if {
	some p in bound_pairs
	e := expected[p.k][0]
	modes_differ(e.template, p.pv.contents)
	some pair in [
		["accessModes", access_modes(e.template), access_modes(p.pv.contents)],
		["volumeMode", volume_mode(e.template), volume_mode(p.pv.contents)],
	]
	pair[1] != pair[2]
	f := denied("GRAFT014", e.sts_doc, sprintf("spec.volumeClaimTemplates[%d].spec.%s", [e.tindex, pair[0]]), pair[1], pair[2], sprintf("the claim template and PersistentVolume %s disagree", [p.pv.contents.metadata.name]))
}

# GRAFT015
quantity(q) := units.parse_bytes(sprintf("%v", [q]))

pv_capacity(pv) := quantity(pv.spec.capacity.storage)

capacity_at_least(pv, req) if pv_capacity(pv) >= quantity(req)

deny contains f if {
	some p in bound_pairs
	req := p.pvc.contents.spec.resources.requests.storage
	not capacity_at_least(p.pv.contents, req)
	f := denied("GRAFT015", p.pv, "spec.capacity.storage", object.get(p.pv.contents, ["spec", "capacity", "storage"], "unset"), sprintf("at least %v, the request of %s", [req, p.k]), "the claim would not bind")
}

deny contains f if {
	some p in bound_pairs
	e := expected[p.k][0]
	req := e.template.spec.resources.requests.storage
	not capacity_at_least(p.pv.contents, req)
	f := denied("GRAFT015", p.pv, "spec.capacity.storage", object.get(p.pv.contents, ["spec", "capacity", "storage"], "unset"), sprintf("at least %v, the request of claim template %s of %s", [req, e.template.metadata.name, e.sts]), "the volume is smaller than the template asks for")
}

deny contains f if {
	some d in pvc_docs
	not d.contents.spec.resources.requests.storage
	f := denied("GRAFT015", d, "spec.resources.requests.storage", "unset", sprintf("at most %v, the capacity of its PersistentVolume", [object.get(pv_index, [pvc_volume_name(d.contents), 0, "contents", "spec", "capacity", "storage"], "the capacity")]), "a claim must request its storage")
}

deny contains f if {
	some ct in claim_templates
	not ct.template.spec.resources.requests.storage
	f := denied("GRAFT015", ct.sts, sprintf("spec.volumeClaimTemplates[%d].spec.resources.requests.storage", [ct.index]), "unset", "the size of the recorded volumes, at most", "a claim template must request its storage")
}

# GRAFT018: the claim binds the cloned volume; nothing populates it from
# another source.
data_source_fields := {"dataSource", "dataSourceRef"}

deny contains f if {
	some d in pvc_docs
	v := d.contents.spec.dataSource
	v != null
	f := denied("GRAFT018", d, "spec.dataSource", v, "unset", "the claim must bind the cloned volume, not be populated from another source")
}

deny contains f if {
	some d in pvc_docs
	v := d.contents.spec.dataSourceRef
	v != null
	f := denied("GRAFT018", d, "spec.dataSourceRef", v, "unset", "the claim must bind the cloned volume, not be populated from another source")
}

deny contains f if {
	some ct in claim_templates
	some field, v in object.filter(ct.template.spec, data_source_fields)
	v != null
	f := denied("GRAFT018", ct.sts, sprintf("spec.volumeClaimTemplates[%d].spec.%s", [ct.index, field]), v, "unset", "the claim template must bind the cloned volume, not populate a new one")
}

# GRAFT016, GRAFT017: the static mode's selectors (in the provisioned
# mode GRAFT060 denies any selector, which binds nothing there).
deny contains f if {
	not provisioned
	some x in sig_entries
	not pv_selected(x)
	d := x.c.d
	e := x.c.e
	f := denied("GRAFT016", d, "metadata.labels", labels(d.contents), e.template.spec.selector, sprintf("claim template %s of StatefulSet %s does not select this volume", [e.template.metadata.name, e.sts]))
}

# GRAFT017: matched per label set (or per PV for a selector on the
# ordinal label).
overlap(ct, sel, d, e) := denied(
	"GRAFT017", ct.sts,
	sprintf("spec.volumeClaimTemplates[%d].spec.selector", [ct.index]),
	sel,
	sprintf("a selector that matches no volume of claim template %s of StatefulSet %s", [e.template.metadata.name, e.sts]),
	sprintf("the selector also matches PersistentVolume %s", [d.contents.metadata.name]),
)

deny contains f if {
	not provisioned
	some k, g in ct_by_key
	ct := g[0]
	sel := ct.template.spec.selector
	not uses_ordinal(sel)
	some s, ts in sig_templates
	some t in ts
	t != k
	selector_matches(sel, s)
	some x in sig_entries
	x.t == t
	x.sig == s
	f := overlap(ct, sel, x.c.d, x.c.e)
}

deny contains f if {
	not provisioned
	some k, g in ct_by_key
	ct := g[0]
	sel := ct.template.spec.selector
	uses_ordinal(sel)
	some x in sig_entries
	x.t != k
	selector_matches(sel, labels(x.c.d.contents))
	f := overlap(ct, sel, x.c.d, x.c.e)
}
