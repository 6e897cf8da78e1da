# The gate fails closed: every volume of the record is delivered to a
# member that runs, mounts it read-write at its root, and binds it.
package graft_test

import data.graft

service := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "cassandra", "namespace": "db"}, "spec": {"clusterIP": "None"}}

lock_only := [{"path": "graft.lock", "contents": lock}]

# what names each object a finding says is missing: [rule, field, found].
what(inp) := {[f.id, f.field, f.found] | some f in graft.deny with input as inp}

# --- item 2: input that holds none of the record's volumes

test_empty_input_names_every_missing_object if {
	what(lock_only) == {
		["GRAFT036", "volumes[0].statefulSet", "no StatefulSet cassandra in the input"],
		["GRAFT036", "volumes[1].statefulSet", "no StatefulSet cassandra in the input"],
		["GRAFT036", "volumes[0]", "no PersistentVolumeClaim data-cassandra-0"],
		["GRAFT036", "volumes[1]", "no PersistentVolumeClaim data-cassandra-1"],
		["GRAFT036", "volumes[0].targetVolume", "no PersistentVolume for vol-0a00"],
		["GRAFT036", "volumes[1].targetVolume", "no PersistentVolume for vol-0a01"],
	}
}

test_service_only_denied if {
	ids(array.concat([{"path": "s.yaml", "contents": service}], lock_only)) == {"GRAFT036"}
}

test_lock_finding_details if {
	some f in findings(lock_only)
	f.field == "volumes[0].targetVolume"
	f.kind == "Lock"
	f.name == ""
	f.file == "graft.lock"
	f.expected == "a PersistentVolume with volumeHandle vol-0a00 and claimRef data-cassandra-0"
	startswith(f.msg, "[GRAFT036] Lock m: ")
}

test_statefulset_missing if {
	# Its claims and volumes are strays too.
	inp := json.patch(base, [{"op": "remove", "path": "/0"}])
	ids(inp) == {"GRAFT003", "GRAFT036"}
	["GRAFT036", "volumes[1].statefulSet", "no StatefulSet cassandra in the input"] in what(inp)
}

test_pv_and_pvc_of_one_member_missing if {
	# The StatefulSet runs member 1: GRAFT001 names its claim, GRAFT036
	# its volume.
	inp := json.patch(base, [{"op": "remove", "path": "/4"}, {"op": "remove", "path": "/2"}])
	what(inp) == {
		["GRAFT001", "spec.volumeClaimTemplates[0]", "no such PersistentVolumeClaim"],
		["GRAFT036", "volumes[1].targetVolume", "no PersistentVolume for vol-0a01"],
	}
}

test_claim_template_missing if {
	inp := patched([op("replace", i_lock, "/volumes/1/claimTemplate", "log")])
	["GRAFT036", "spec.volumeClaimTemplates", "no claim template log with a selector"] in what(inp)
	["GRAFT036", "volumes[1]", "no PersistentVolumeClaim log-cassandra-1"] in what(inp)
}

test_claim_template_without_selector_missing if {
	inp := patched([rm(i_sts, "/spec/volumeClaimTemplates/0/spec/selector")])
	["GRAFT036", "spec.volumeClaimTemplates", "no claim template data with a selector"] in what(inp)
}

test_graft000_no_volumes if {
	ids([{"path": "s.yaml", "contents": service}, {"path": "graft.lock", "contents": object.union(lock, {"volumes": []})}]) == {"GRAFT000"}
	ids([{"path": "graft.lock", "contents": object.union(lock, {"volumes": null})}]) == {"GRAFT000"}
	ids([{"path": "graft.lock", "contents": object.remove(lock, ["volumes"])}]) == {"GRAFT000"}
}

test_graft000_no_volumes_with_overlay if {
	# The overlay's volumes are not in the record either.
	ids(patched([op("replace", i_lock, "/volumes", [])])) == {"GRAFT000", "GRAFT032"}
}

test_graft000_no_record_with_graft_objects if {
	ids(array.slice(base, 0, 5)) == {"GRAFT000"}
}

test_graft000_nothing if {
	ids([]) == {"GRAFT000"}
}

# --- GRAFT002: StatefulSets and claim templates

test_graft002_duplicate_statefulset if {
	inp := appended(sts)
	ids(inp) == {"GRAFT002"}
	["GRAFT002", "metadata.name", "2 StatefulSets named db/cassandra"] in what(inp)
}

test_graft002_duplicate_claim_template if {
	t := object.remove(sts.spec.volumeClaimTemplates[0], ["spec"])
	inp := patched([op("add", i_sts, "/spec/volumeClaimTemplates/-", object.union(t, {"spec": {"accessModes": ["ReadWriteOnce"]}}))])
	what(inp) == {
		["GRAFT002", "spec.volumeClaimTemplates[0].metadata.name", "data, the name of 2 claim templates"],
		["GRAFT002", "spec.volumeClaimTemplates[1].metadata.name", "data, the name of 2 claim templates"],
	}
}

test_same_name_in_other_namespace_is_no_duplicate if {
	other := json.patch(sts, [
		{"op": "replace", "path": "/metadata/namespace", "value": "other"},
		{"op": "remove", "path": "/spec/volumeClaimTemplates/0/spec/selector"},
	])
	not "GRAFT002" in ids(appended(other))
}

# --- GRAFT004: ordinal range

test_graft004_scaled_in if {
	# Scaling in deletes nothing: member 1's claim and volume stay, and
	# are not strays; the member never starts.
	inp := patched([op("replace", i_sts, "/spec/replicas", 1)])
	what(inp) == {["GRAFT004", "spec.replicas", "1"]}
	some f in findings(inp)
	f.expected == "at least 2, so that ordinal 1 graft.lock records is a member (start 0)"
}

test_graft004_zero_replicas if {
	ids(patched([op("replace", i_sts, "/spec/replicas", 0)])) == {"GRAFT004"}
}

test_graft004_replicas_default_one if {
	ids(patched([rm(i_sts, "/spec/replicas")])) == {"GRAFT004"}
}

test_graft004_start_above_recorded if {
	inp := patched([op("add", i_sts, "/spec/ordinals", {"start": 1}), op("replace", i_sts, "/spec/replicas", 1)])
	what(inp) == {["GRAFT004", "spec.ordinals.start", "1"]}
	inp2 := patched([op("add", i_sts, "/spec/ordinals", {"start": 1})])
	what(inp2) == {
		["GRAFT001", "spec.volumeClaimTemplates[0]", "no such PersistentVolumeClaim"],
		["GRAFT004", "spec.ordinals.start", "1"],
	}
}

test_graft004_more_replicas_than_recorded_is_graft001 if {
	ids(patched([op("replace", i_sts, "/spec/replicas", 3)])) == {"GRAFT001"}
}

# --- binding

test_graft011_claim_ref_kind if {
	ids(patched([op("replace", i_pv0, "/spec/claimRef/kind", "Pod")])) == {"GRAFT011"}
	ids(patched([op("replace", i_pv0, "/spec/claimRef/apiVersion", "v2")])) == {"GRAFT011"}
	ids(patched([rm(i_pv0, "/spec/claimRef/kind"), rm(i_pv0, "/spec/claimRef/apiVersion")])) == set()
}

test_graft012_resource_version if {
	inp := patched([op("add", i_pv0, "/spec/claimRef/resourceVersion", "12345")])
	what(inp) == {["GRAFT012", "spec.claimRef.resourceVersion", "12345"]}
}

beta_class_key := "volume.beta.kubernetes.io~1storage-class"

test_graft013_pvc_beta_annotation if {
	inp := patched([op("add", i_pvc0, concat("", ["/metadata/annotations/", beta_class_key]), "gp3")])
	what(inp) == {["GRAFT013", `metadata.annotations["volume.beta.kubernetes.io/storage-class"]`, `"gp3"`]}
}

test_graft013_beta_annotation_agreeing_passes if {
	ids(patched([op("add", i_pvc0, concat("", ["/metadata/annotations/", beta_class_key]), "")])) == set()
	ids(patched([op("add", i_pv0, concat("", ["/metadata/annotations/", beta_class_key]), "")])) == set()
}

test_graft013_beta_annotation_without_spec if {
	# The annotation says "", but spec.storageClassName must say it too.
	inp := patched([
		rm(i_pvc0, "/spec/storageClassName"),
		op("add", i_pvc0, concat("", ["/metadata/annotations/", beta_class_key]), ""),
	])
	what(inp) == {
		["GRAFT013", `metadata.annotations["volume.beta.kubernetes.io/storage-class"]`, `""`],
		["GRAFT013", "spec.storageClassName", "unset"],
	}
}

test_graft013_template_beta_annotation if {
	inp := patched([op("add", i_sts, "/spec/volumeClaimTemplates/0/metadata/annotations", {"volume.beta.kubernetes.io/storage-class": "gp3"})])
	what(inp) == {["GRAFT013", `spec.volumeClaimTemplates[0].metadata.annotations["volume.beta.kubernetes.io/storage-class"]`, `"gp3"`]}
}

test_graft013_pv_beta_annotation if {
	inp := patched([op("add", i_pv0, concat("", ["/metadata/annotations/", beta_class_key]), "gp3")])
	ids(inp) == {"GRAFT013"}
}

test_graft014_block_everywhere if {
	inp := patched([
		op("replace", i_pv0, "/spec/volumeMode", "Block"),
		op("replace", i_pvc0, "/spec/volumeMode", "Block"),
		op("replace", i_pv1, "/spec/volumeMode", "Block"),
		op("replace", i_pvc1, "/spec/volumeMode", "Block"),
		op("add", i_sts, "/spec/volumeClaimTemplates/0/spec/volumeMode", "Block"),
	])
	what(inp) == {["GRAFT014", "spec.volumeMode", "Block"]}
}

test_graft015_pvc_request_unset if {
	inp := patched([rm(i_pvc0, "/spec/resources")])
	what(inp) == {["GRAFT015", "spec.resources.requests.storage", "unset"]}
}

test_graft015_template_request_unset if {
	inp := patched([rm(i_sts, "/spec/volumeClaimTemplates/0/spec/resources/requests")])
	what(inp) == {["GRAFT015", "spec.volumeClaimTemplates[0].spec.resources.requests.storage", "unset"]}
}

test_graft018_pvc_data_source if {
	src := {"kind": "VolumeSnapshot", "apiGroup": "snapshot.storage.k8s.io", "name": "s"}
	ids(patched([op("add", i_pvc0, "/spec/dataSource", src)])) == {"GRAFT018"}
	ids(patched([op("add", i_pvc1, "/spec/dataSourceRef", src)])) == {"GRAFT018"}
	ids(patched([op("add", i_pvc1, "/spec/dataSource", null)])) == set()
}

test_graft018_template_data_source if {
	src := {"kind": "PersistentVolumeClaim", "name": "seed"}
	inp := patched([op("add", i_sts, "/spec/volumeClaimTemplates/0/spec/dataSourceRef", src)])
	what(inp) == {["GRAFT018", "spec.volumeClaimTemplates[0].spec.dataSourceRef", `{"kind":"PersistentVolumeClaim","name":"seed"}`]}
}

# --- GRAFT019: the data is mounted read-write at its root

mount_path := "/spec/template/spec/containers/0/volumeMounts/0"

test_graft019_not_mounted if {
	inp := patched([rm(i_sts, "/spec/template/spec/containers/0/volumeMounts")])
	what(inp) == {["GRAFT019", "spec.template.spec.containers", "no container mounts claim template data"]}
}

test_graft019_mounted_by_init_container_only if {
	inp := patched([
		op("add", i_sts, "/spec/template/spec/initContainers", sts.spec.template.spec.containers),
		rm(i_sts, "/spec/template/spec/containers/0/volumeMounts"),
	])
	ids(inp) == {"GRAFT019"}
}

test_graft019_read_only if {
	inp := patched([op("add", i_sts, concat("", [mount_path, "/readOnly"]), true)])
	what(inp) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].readOnly", "true"]}
}

test_graft019_sub_path if {
	inp := patched([op("add", i_sts, concat("", [mount_path, "/subPath"]), "data")])
	what(inp) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].subPath", "data"]}
	inp2 := patched([op("add", i_sts, concat("", [mount_path, "/subPathExpr"]), "$(POD_NAME)")])
	what(inp2) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].subPathExpr", "$(POD_NAME)"]}
}

test_graft019_sidecar_may_read if {
	sidecar := {"name": "backup", "volumeMounts": [{"name": "data", "mountPath": "/backup", "readOnly": true, "subPath": "snapshots"}]}
	ids(patched([
		op("add", i_sts, "/spec/template/spec/containers/-", sidecar),
		op("add", i_sts, concat("", [mount_path, "/readOnly"]), false),
		op("add", i_sts, concat("", [mount_path, "/subPath"]), ""),
	])) == set()
}

test_graft019_every_mount_bad if {
	sidecar := {"name": "backup", "volumeMounts": [{"name": "data", "mountPath": "/backup", "readOnly": true}]}
	inp := patched([
		op("add", i_sts, "/spec/template/spec/containers/-", sidecar),
		op("add", i_sts, concat("", [mount_path, "/subPath"]), "x"),
	])
	what(inp) == {
		["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].subPath", "x"],
		["GRAFT019", "spec.template.spec.containers[1].volumeMounts[0].readOnly", "true"],
	}
}

# --- GRAFT038: the PV is not read-only

test_graft038_csi_read_only if {
	what(patched([op("add", i_pv0, "/spec/csi/readOnly", true)])) == {["GRAFT038", "spec.csi.readOnly", "true"]}
	ids(patched([op("add", i_pv0, "/spec/csi/readOnly", false)])) == set()
}

test_graft038_mount_options if {
	what(patched([op("add", i_pv0, "/spec/mountOptions", ["noatime", "nodiratime, ro"])])) == {["GRAFT038", "spec.mountOptions[1]", "nodiratime, ro"]}
	ids(patched([op("add", i_pv0, "/spec/mountOptions", ["noatime", "rw", "errors=remount-ro"])])) == set()
}

test_graft038_mount_options_annotation if {
	inp := patched([op("add", i_pv1, "/metadata/annotations/volume.beta.kubernetes.io~1mount-options", "ro,noatime")])
	what(inp) == {["GRAFT038", `metadata.annotations["volume.beta.kubernetes.io/mount-options"]`, "ro,noatime"]}
}

test_graft038_read_only_not_false if {
	ids(patched([op("add", i_pv0, "/spec/csi/readOnly", "true")])) == {"GRAFT038"}
	ids(patched([op("add", i_pv0, "/spec/csi/readOnly", null)])) == set()
	ids(patched([op("add", i_sts, concat("", [mount_path, "/readOnly"]), "yes")])) == {"GRAFT019"}
	ids(patched([op("add", i_sts, concat("", [mount_path, "/readOnly"]), null)])) == set()
}

# --- GRAFT039: the record's partition, or the whole volume

test_graft039_partition if {
	inp := patched([op("add", i_pv0, "/spec/csi/volumeAttributes", {"partition": "1"})])
	what(inp) == {["GRAFT039", "spec.csi.volumeAttributes.partition", "1"]}
	ids(patched([op("add", i_pv0, "/spec/csi/volumeAttributes", {"partition": "0"})])) == set()
}

# The record says the filesystem of member 0 is on partition 2.
partitioned(ops) := patched(array.concat([op("add", i_lock, "/volumes/0/partition", 2)], ops))

pv0_partition(p) := op("add", i_pv0, "/spec/csi/volumeAttributes", {"partition": p})

test_graft039_recorded_partition_pass if {
	ids(partitioned([pv0_partition("2")])) == set()

	# A partition of 0 in the record is the whole volume.
	ids(patched([op("add", i_lock, "/volumes/0/partition", 0)])) == set()
	ids(patched([op("add", i_lock, "/volumes/0/partition", 0), pv0_partition("0")])) == set()
}

# A whole number written as a float is that partition; the bounds hold.
test_graft039_recorded_partition_as_a_float if {
	ids(patched([op("add", i_lock, "/volumes/0/partition", 2.0), pv0_partition("2")])) == set()
	ids(patched([op("add", i_lock, "/volumes/0/partition", 128), pv0_partition("128")])) == set()
	ids(patched([op("add", i_lock, "/volumes/0/partition", 0.0)])) == set()
}

test_graft039_pv_lacks_the_records_partition if {
	what(partitioned([])) == {["GRAFT039", "spec.csi.volumeAttributes.partition", "unset"]}
	what(partitioned([pv0_partition("0")])) == {["GRAFT039", "spec.csi.volumeAttributes.partition", "unset"]}
	what(partitioned([op("add", i_pv0, "/spec/csi/volumeAttributes", {"other": "x"})])) == {["GRAFT039", "spec.csi.volumeAttributes.partition", "unset"]}
	f := [f | some f in graft.deny with input as partitioned([])][0]
	f.expected == `"2": graft.lock records the filesystem on partition 2`
}

test_graft039_pv_mounts_another_partition if {
	# The driver appends the string to the device name: "02" is not "2".
	every p in ["1", "3", "02", "2 ", "22"] {
		what(partitioned([pv0_partition(p)])) == {["GRAFT039", "spec.csi.volumeAttributes.partition", p]}
	}
}

test_graft039_pv_sets_a_partition_the_record_lacks if {
	# Member 1 has no partition in the record, member 0 has one.
	inp := partitioned([pv0_partition("2"), op("add", i_pv1, "/spec/csi/volumeAttributes", {"partition": "2"})])
	what(inp) == {["GRAFT039", "spec.csi.volumeAttributes.partition", "2"]}
	f := [f | some f in graft.deny with input as inp][0]
	f.name == "db-data-cassandra-1"
}

test_graft039_bad_recorded_partition if {
	every p in ["2", -1, 129, 1.5, true, {"n": 2}] {
		inp := patched([op("add", i_lock, "/volumes/0/partition", p), pv0_partition("2")])
		["GRAFT039", "volumes[0].partition", graft.show(p)] in {[f.id, f.field, f.found] | some f in graft.deny with input as inp}
	}
}

# --- kinds count with their API group

test_custom_statefulset_delivers_nothing if {
	# A custom resource named like the StatefulSet does not run members;
	# its claims and volumes are strays.
	inp := patched([op("replace", i_sts, "/apiVersion", "example.com/v1")])
	"GRAFT036" in ids(inp)
	["GRAFT036", "volumes[0].statefulSet", "no StatefulSet cassandra in the input"] in what(inp)
}

test_other_api_volume_delivers_nothing if {
	inp := patched([op("replace", i_pv0, "/apiVersion", "example.com/v1")])
	["GRAFT036", "volumes[0].targetVolume", "no PersistentVolume for vol-0a00"] in what(inp)
	inp2 := patched([op("replace", i_pvc0, "/apiVersion", "example.com/v1")])
	"GRAFT001" in ids(inp2)
}
