# The binding modes (spec.target.binding, recorded in graft.lock's
# binding): static fills graft's claim templates with a selector and
# provisions nothing; provisioned names a StorageClass on the PVs, the
# PVCs and the templates, with no selector, so that a new ordinal is
# provisioned and every claim can be resized. In both, graft's claims are
# pre-bound both ways (GRAFT010, GRAFT011).
package graft

binding_modes := {"static", "provisioned"}

storage_class_sources := {"declare", "existing"}

storage_class_docs := api_docs("StorageClass", "storage.k8s.io/v1")

# GRAFT060: the record's binding is one the gate knows; a provisioned one
# names its class and where the class comes from.
known_binding if binding_mode in binding_modes

deny contains f if {
	not known_binding
	f := denied("GRAFT060", record_doc, "binding.mode", recorded_mode, concat(" or ", sort(binding_modes)), "the gate cannot tell which binding to prove")
}

recorded_mode := json.marshal(object.get(binding, "mode", "unset")) if is_object(binding)

recorded_mode := sprintf("binding %s, not an object", [json.marshal(binding)]) if not is_object(binding)

deny contains f if {
	provisioned
	not valid_class_name(object.get(binding, "storageClassName", ""))
	f := denied("GRAFT060", record_doc, "binding.storageClassName", json.marshal(object.get(binding, "storageClassName", "unset")), "the StorageClass that provisions new ordinals", "binding mode provisioned binds through a named class")
}

deny contains f if {
	provisioned
	not object.get(binding, "storageClass", null) in storage_class_sources
	f := denied("GRAFT060", record_doc, "binding.storageClass", json.marshal(object.get(binding, "storageClass", "unset")), concat(" or ", sort(storage_class_sources)), "the gate cannot tell where the StorageClass comes from")
}

valid_class_name(n) if {
	is_string(n)
	regex.match(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`, n)
	count(n) <= 253
}

# A claim template graft binds in the provisioned mode has no selector:
# the CSI external provisioner refuses a claim with one
# (kubernetes-csi/external-provisioner#574), so a new ordinal would stay
# Pending.
deny contains f if {
	provisioned
	some s in sts_docs
	some i, t in object.get(s.contents, ["spec", "volumeClaimTemplates"], [])
	[s.contents.metadata.name, t.metadata.name] in record_templates
	sel := t.spec.selector
	sel != null
	f := denied("GRAFT060", s, sprintf("spec.volumeClaimTemplates[%d].spec.selector", [i]), json.marshal(sel), "no selector in binding mode provisioned", "the CSI external provisioner refuses a claim with a selector, so a new ordinal's claim would stay Pending")
}

# GRAFT061: the provisioned mode's class is proven, or stated to exist.
class_docs(n) := [d | some d in storage_class_docs; d.contents.metadata.name == n]

deny contains f if {
	provisioned
	n := recorded_class
	count(class_docs(n)) == 0
	binding.storageClass != "existing"
	f := denied("GRAFT061", record_doc, "binding.storageClassName", json.marshal(n), sprintf("a StorageClass %s in the input, or binding.storageClass existing (the cluster has it)", [n]), "nothing would provision a new ordinal's claim")
}

# The drivers that attach the record's volumes: a class for them
# provisions with one of them.
recorded_drivers := {recorded_driver(v) | some v in record_volumes}

deny contains f if {
	provisioned
	some d in class_docs(recorded_class)
	p := object.get(d.contents, "provisioner", null)
	some drv in recorded_drivers
	p != drv
	f := denied("GRAFT061", d, "provisioner", json.marshal(p), json.marshal(drv), "a new ordinal's volume would be made by another driver than the one attaching graft's volumes")
}

deny contains f if {
	provisioned
	some d in class_docs(recorded_class)
	object.get(d.contents, "allowVolumeExpansion", false) != true
	f := denied("GRAFT061", d, "allowVolumeExpansion", json.marshal(object.get(d.contents, "allowVolumeExpansion", "unset")), "true", "the API server refuses to resize a claim of a class without it")
}

deny contains f if {
	provisioned
	some d in class_docs(recorded_class)
	m := object.get(d.contents, "volumeBindingMode", "Immediate")
	m != "WaitForFirstConsumer"
	f := denied("GRAFT061", d, "volumeBindingMode", json.marshal(m), json.marshal("WaitForFirstConsumer"), "an Immediate class makes a new ordinal's volume before the pod is scheduled, in a zone the pod may not run in")
}

# GRAFT062: a class that deletes what it provisions.
warn contains f if {
	provisioned
	some d in class_docs(recorded_class)
	p := object.get(d.contents, "reclaimPolicy", "Delete")
	p != "Retain"
	f := warned("GRAFT062", d, "reclaimPolicy", json.marshal(p), json.marshal("Retain"), "a new ordinal's volume would be deleted with its claim")
}

# GRAFT013 (with the record): every PV graft binds carries graft.lock's
# class.
deny contains f if {
	c := recorded_class
	some d in pv_docs
	record_by_claim[object.get(d.contents, ["spec", "claimRef", "name"], "")]
	pv_class(d.contents) != c
	f := denied("GRAFT013", d, "spec.storageClassName", json.marshal(pv_class(d.contents)), json.marshal(c), "the class differs from graft.lock's binding.storageClassName")
}
