# The binding modes: GRAFT060 (the record's binding, no selector on a
# provisioned template), GRAFT061 (the provisioned class), GRAFT062 (its
# reclaim policy), and GRAFT013 with the recorded class.
package graft_test

import data.graft

storage_class := {
	"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
	"metadata": {"name": "gp3-retain"},
	"provisioner": "ebs.csi.aws.com",
	"allowVolumeExpansion": true,
	"volumeBindingMode": "WaitForFirstConsumer",
	"reclaimPolicy": "Retain",
}

# provisioned_ops turn the fixture into graft's provisioned output: the
# record's binding, the class on the PVs, the PVCs and the template, and no
# selector.
provisioned_ops := array.concat(
	[
		op("add", i_lock, "/binding", {"mode": "provisioned", "storageClassName": "gp3-retain", "storageClass": "declare"}),
		op("replace", i_sts, "/spec/volumeClaimTemplates/0/spec/storageClassName", "gp3-retain"),
		rm(i_sts, "/spec/volumeClaimTemplates/0/spec/selector"),
	],
	[o | some i in [i_pv0, i_pv1, i_pvc0, i_pvc1]; o := op("replace", i, "/spec/storageClassName", "gp3-retain")],
)

provisioned := array.concat(patched(provisioned_ops), [{"path": "storageclass.yaml", "contents": storage_class}])

i_class := count(base)

test_provisioned_passes if {
	ids(provisioned) == set()
}

test_static_recorded_passes if {
	ids(patched([op("add", i_lock, "/binding", {"mode": "static", "storageClassName": ""})])) == set()
}

test_provisioned_existing_class_passes if {
	ids(json.patch(patched(provisioned_ops), [op("replace", i_lock, "/binding/storageClass", "existing")])) == set()
}

# A provisioned overlay with a class that is neither in the input nor
# stated to exist: nothing provisions a new ordinal.
test_graft061_class_missing if {
	inp := patched(provisioned_ops)
	ids(inp) == {"GRAFT061"}
	some f in findings(inp)
	f.field == "binding.storageClassName"
}

test_graft061_immediate if {
	ids(json.patch(provisioned, [op("replace", i_class, "/volumeBindingMode", "Immediate")])) == {"GRAFT061"}
}

test_graft061_binding_mode_unset_is_immediate if {
	ids(json.patch(provisioned, [rm(i_class, "/volumeBindingMode")])) == {"GRAFT061"}
}

test_graft061_no_expansion if {
	ids(json.patch(provisioned, [rm(i_class, "/allowVolumeExpansion")])) == {"GRAFT061"}
	ids(json.patch(provisioned, [op("replace", i_class, "/allowVolumeExpansion", "true")])) == {"GRAFT061"}
}

test_graft061_other_driver if {
	inp := json.patch(provisioned, [op("replace", i_class, "/provisioner", "ebs.csi.eks.amazonaws.com")])
	ids(inp) == {"GRAFT061"}
	some f in findings(inp)
	f.field == "provisioner"
	f.expected == `"ebs.csi.aws.com"`
}

# The class must provision with the recorded driver, Auto Mode's included.
test_graft061_auto_mode_record_add_on_class if {
	inp := json.patch(provisioned, [op("add", i_lock, "/volumes/0/csiDriver", "ebs.csi.eks.amazonaws.com")])
	"GRAFT061" in ids(inp)
}

test_graft062_class_deletes if {
	ids(json.patch(provisioned, [rm(i_class, "/reclaimPolicy")])) == {"GRAFT062"}
	ids(json.patch(provisioned, [op("replace", i_class, "/reclaimPolicy", "Delete")])) == {"GRAFT062"}
}

test_graft060_selector_in_provisioned_mode if {
	inp := json.patch(provisioned, [op("add", i_sts, "/spec/volumeClaimTemplates/0/spec/selector", {"matchLabels": {"app": "c"}})])
	ids(inp) == {"GRAFT060"}
	some f in findings(inp)
	f.field == "spec.volumeClaimTemplates[0].spec.selector"
}

# An empty selector is still a selector to the external provisioner.
test_graft060_empty_selector_in_provisioned_mode if {
	ids(json.patch(provisioned, [op("add", i_sts, "/spec/volumeClaimTemplates/0/spec/selector", {})])) == {"GRAFT060"}
}

test_graft060_unknown_mode if {
	inp := json.patch(provisioned, [op("replace", i_lock, "/binding/mode", "dynamic")])
	"GRAFT060" in ids(inp)
}

test_graft060_binding_not_an_object if {
	"GRAFT060" in ids(patched([op("add", i_lock, "/binding", "provisioned")]))
}

test_graft060_provisioned_without_class if {
	inp := json.patch(provisioned, [rm(i_lock, "/binding/storageClassName")])
	"GRAFT060" in ids(inp)
}

test_graft060_provisioned_class_not_a_name if {
	"GRAFT060" in ids(json.patch(provisioned, [op("replace", i_lock, "/binding/storageClassName", "GP3 Retain")]))
}

test_graft060_unknown_class_source if {
	"GRAFT060" in ids(json.patch(provisioned, [op("replace", i_lock, "/binding/storageClass", "maybe")]))
}

# In the static mode a template the record names must have a selector:
# without one a new ordinal's claim could bind any free PV of the class.
test_graft036_static_template_without_selector if {
	"GRAFT036" in ids(patched([rm(i_sts, "/spec/volumeClaimTemplates/0/spec/selector")]))
}

# The provisioned mode fills graft's templates by the record, not by a
# selector: a PVC missing for an ordinal is still found.
test_graft001_provisioned_missing_claim if {
	inp := json.patch(provisioned, [rm(i_pvc1, "/metadata/name")])
	"GRAFT001" in ids(inp)
}

test_graft013_pv_class_not_recorded if {
	inp := json.patch(provisioned, [op("replace", i_lock, "/binding/storageClassName", "gp2"), op("replace", i_lock, "/binding/storageClass", "existing")])
	ids(inp) == {"GRAFT013"}
}

test_graft036_provisioned_template_missing if {
	inp := json.patch(provisioned, [op("replace", i_sts, "/spec/volumeClaimTemplates/0/metadata/name", "other")])
	some f in findings(inp)
	f.id == "GRAFT036"
	f.found == "no claim template data"
}
