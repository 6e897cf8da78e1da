# GRAFT019 against the base: the overlay mounts each claim template where
# and as the base's BaseMounts document says.
package graft_test

import data.graft

base_mount(o) := object.union({"container": "c", "claimTemplate": "data", "mountPath": "/var/lib/cassandra", "subPath": "", "subPathExpr": "", "readOnly": false}, o)

base_mounts_doc(mounts) := {
	"apiVersion": "graft.graftctl.io/v1alpha1",
	"kind": "BaseMounts",
	"base": "../base",
	"statefulSets": {"cassandra": mounts},
}

# with_base: the fixture input plus a base, patched by ops.
with_base(mounts, ops) := json.patch(appended(base_mounts_doc(mounts)), ops)

test_graft019_base_same_mounts_pass if {
	ids(with_base([base_mount({})], [])) == set()

	# A StatefulSet the overlay does not have, and a BaseMounts document
	# of another API group, require nothing.
	other := object.union(base_mounts_doc([]), {"statefulSets": {"cassandra": null, "other": [base_mount({"mountPath": "/x"})]}})
	ids(appended(other)) == set()
	foreign := object.union(base_mounts_doc([base_mount({"mountPath": "/x"})]), {"apiVersion": "example.com/v1"})
	ids(appended(foreign)) == set()

	# statefulSets entries that are not lists are ignored.
	ids(appended(object.union(base_mounts_doc([]), {"statefulSets": {"cassandra": "x"}}))) == set()
}

test_graft019_base_mount_path_moved if {
	inp := with_base([base_mount({})], [op("replace", i_sts, concat("", [mount_path, "/mountPath"]), "/data")])
	what(inp) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].mountPath", "/data"]}
	some f in graft.deny with input as inp
	f.expected == "/var/lib/cassandra"

	# Without the base, GRAFT019 has nothing to compare with.
	ids(patched([op("replace", i_sts, concat("", [mount_path, "/mountPath"]), "/data")])) == set()
}

test_graft019_base_mount_path_removed if {
	inp := with_base([base_mount({})], [rm(i_sts, concat("", [mount_path, "/mountPath"]))])
	what(inp) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].mountPath", ""]}
}

test_graft019_base_mount_moved_to_other_container if {
	inp := with_base([base_mount({})], [op("replace", i_sts, "/spec/template/spec/containers/0/name", "sidecar")])
	what(inp) == {["GRAFT019", "spec.template.spec.containers", "no container c"]}
	some f in graft.deny with input as inp
	f.expected == "container c mounting claim template data at /var/lib/cassandra, as the base does"
}

test_graft019_base_mount_removed_from_container if {
	# The main container loses the mount; a sidecar mounts the volume
	# read-write at its root, so only the comparison with the base sees it.
	sidecar := {"name": "sidecar", "volumeMounts": [{"name": "data", "mountPath": "/var/lib/cassandra"}]}
	inp := with_base([base_mount({})], [
		op("add", i_sts, "/spec/template/spec/containers/-", sidecar),
		op("replace", i_sts, concat("", [mount_path, "/name"]), "scratch"),
	])

	# The volume now mounted there in its place hides the path too.
	what(inp) == {
		["GRAFT019", "spec.template.spec.containers[0].volumeMounts", "claim template data mounted at []"],
		["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].mountPath", "/var/lib/cassandra"],
	}
}

test_graft019_base_two_mounts_one_dropped if {
	# The base mounts the claim twice in one container; the overlay keeps
	# only one of them: its mount is not stray, the missing one is named.
	mounts := [base_mount({}), base_mount({"mountPath": "/var/log/cassandra", "subPath": "log"})]
	inp := with_base(mounts, [])
	what(inp) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts", `claim template data mounted at ["/var/lib/cassandra"]`]}
	log := {"name": "data", "mountPath": "/var/log/cassandra", "subPath": "log"}
	ids(with_base(mounts, [op("add", i_sts, "/spec/template/spec/containers/0/volumeMounts/-", log)])) == set()
}

test_graft019_base_sub_path_added if {
	inp := with_base([base_mount({})], [
		op("add", i_sts, "/spec/template/spec/containers/-", {"name": "sidecar", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}),
		op("add", i_sts, concat("", [mount_path, "/subPath"]), "cassandra"),
	])
	what(inp) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].subPath", "cassandra"]}
	inp2 := with_base([base_mount({"subPathExpr": "$(POD_NAME)"})], [op("add", i_sts, concat("", [mount_path, "/subPathExpr"]), null)])
	what(inp2) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].subPathExpr", "null"]}
}

test_graft019_base_read_only if {
	sidecar := {"name": "sidecar", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}
	inp := with_base([base_mount({})], [
		op("add", i_sts, "/spec/template/spec/containers/-", sidecar),
		op("add", i_sts, concat("", [mount_path, "/readOnly"]), true),
	])
	what(inp) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].readOnly", "true"]}

	# Read-only where the base is read-only already is the base's choice.
	ro := with_base([base_mount({}), base_mount({"container": "sidecar", "mountPath": "/d", "readOnly": true})], [
		op("add", i_sts, "/spec/template/spec/containers/-", object.union(sidecar, {"volumeMounts": [{"name": "data", "mountPath": "/d", "readOnly": true}]})),
	])
	ids(ro) == set()
}

test_graft019_base_defect_reported_once if {
	# No read-write root mount at all: the rule without the base reports
	# the field; the comparison does not report it again.
	inp := with_base([base_mount({})], [op("add", i_sts, concat("", [mount_path, "/readOnly"]), true)])
	count([f | some f in graft.deny with input as inp]) == 1
	what(inp) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].readOnly", "true"]}
}

test_graft019_sts_not_in_base if {
	inp := appended(object.union(object.remove(base_mounts_doc([]), {"statefulSets"}), {"statefulSets": {"other": []}}))
	some f in graft.deny with input as inp
	f.id == "GRAFT019"
	f.field == "metadata.name"
	f.found == "StatefulSet cassandra, in no base of the overlay (../base)"
	count([g | some g in graft.deny with input as inp]) == 1
}

test_graft019_base_data_hidden_by_another_volume if {
	scratch := {"name": "scratch", "mountPath": "/var/lib/cassandra//data/"}
	inp := with_base([base_mount({})], [op("add", i_sts, "/spec/template/spec/containers/0/volumeMounts/-", scratch)])
	what(inp) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[1].mountPath", "/var/lib/cassandra//data/"]}

	# At the same path too.
	same := {"name": "scratch", "mountPath": "/var/lib/cassandra/"}
	ids(with_base([base_mount({})], [op("add", i_sts, "/spec/template/spec/containers/0/volumeMounts/-", same)])) == {"GRAFT019"}

	# One the base mounts there is its own; a sibling path is not under it.
	conf := {"name": "conf", "mountPath": "/var/lib/cassandra/conf"}
	sibling := {"name": "logs", "mountPath": "/var/lib/cassandra-logs"}
	ids(with_base([base_mount({"nested": ["/var/lib/cassandra/conf"]})], [
		op("add", i_sts, "/spec/template/spec/containers/0/volumeMounts/-", conf),
		op("add", i_sts, "/spec/template/spec/containers/0/volumeMounts/-", sibling),
	])) == set()
}

test_graft019_base_mount_path_spelling if {
	# The same path spelled with a trailing or doubled slash is the same.
	ids(with_base([base_mount({})], [op("replace", i_sts, concat("", [mount_path, "/mountPath"]), "//var/lib//cassandra/")])) == set()

	# A mountPath that is not a string matches no path.
	inp := with_base([base_mount({})], [op("replace", i_sts, concat("", [mount_path, "/mountPath"]), 7)])
	what(inp) == {["GRAFT019", "spec.template.spec.containers[0].volumeMounts[0].mountPath", "7"]}
}

# --- GRAFT078: a pod template volume that names a claim graft delivers

pod_volume(v) := op("add", i_sts, "/spec/template/spec/volumes", [v])

test_graft078_pod_volume_of_a_delivered_claim if {
	inp := patched([pod_volume({"name": "backup", "persistentVolumeClaim": {"claimName": "data-cassandra-1"}})])
	what(inp) == {["GRAFT078", "spec.template.spec.volumes[0].persistentVolumeClaim.claimName", "data-cassandra-1"]}
	# A claim the StatefulSet's template would give a member the record
	# does not hold, too.
	ids(patched([
		op("replace", i_sts, "/spec/replicas", 3),
		pod_volume({"name": "x", "persistentVolumeClaim": {"claimName": "data-cassandra-2"}}),
	])) == {"GRAFT001", "GRAFT078"}
}

test_graft078_other_pod_volumes_pass if {
	ids(patched([op("add", i_sts, "/spec/template/spec/volumes", [
		# The controller replaces a volume named like a claim template.
		{"name": "data", "persistentVolumeClaim": {"claimName": "data-cassandra-0"}},
		{"name": "shared", "persistentVolumeClaim": {"claimName": "shared-config"}},
		{"name": "scratch", "emptyDir": {}},
	])])) == set()
}

# with_base_inits: a base whose init containers mount as inits says.
with_base_inits(inits, ops) := json.patch(appended(object.union(base_mounts_doc([base_mount({})]), {"initContainerMounts": {"cassandra": inits}})), ops)

init_of(name) := {"name": name, "volumeMounts": [{"name": "data", "mountPath": "/data"}]}

add_init(name) := op("add", i_sts, "/spec/template/spec/initContainers", [init_of(name)])

test_graft019_base_init_container_mounts if {
	# The base's init container, mounting the claim as the base does.
	ids(with_base_inits([{"container": "chown", "claimTemplate": "data"}], [add_init("chown")])) == set()
	# No init container at all, with or without the base's.
	ids(with_base_inits([{"container": "chown", "claimTemplate": "data"}], [])) == set()

	# One the base does not have.
	inp := with_base_inits([{"container": "chown", "claimTemplate": "data"}], [add_init("wipe")])
	what(inp) == {["GRAFT019", "spec.template.spec.initContainers[0].volumeMounts[0]", `init container "wipe" mounting claim template data`]}
	some f in graft.deny with input as inp
	f.expected == `no init container mount of claim template data but the base's (["chown"])`

	# A base document without the list (none of its init containers
	# mounts a claim), and one whose entry is not a list: fail closed.
	ids(with_base([base_mount({})], [add_init("chown")])) == {"GRAFT019"}
	bad := json.patch(appended(object.union(base_mounts_doc([base_mount({})]), {"initContainerMounts": {"cassandra": "x"}})), [add_init("chown")])
	ids(bad) == {"GRAFT019"}

	# An init container mount of another volume is not the claim's.
	other := {"name": "wipe", "volumeMounts": [{"name": "scratch", "mountPath": "/s"}]}
	ids(with_base_inits([], [op("add", i_sts, "/spec/template/spec/initContainers", [other])])) == set()

	# Without a base there is nothing to compare with.
	ids(patched([add_init("wipe")])) == set()
}

security_context(sc) := op("add", i_sts, "/spec/template/spec/securityContext", sc)

test_graft084_fs_group_change_policy if {
	# fsGroup without a policy (Always), and with Always.
	inp := patched([security_context({"fsGroup": 999})])
	ids(inp) == {"GRAFT084"}
	some f in graft.warn with input as inp
	f.field == "spec.template.spec.securityContext.fsGroupChangePolicy"
	f.found == "unset"
	f.expected == "OnRootMismatch"
	ids(patched([security_context({"fsGroup": 999, "fsGroupChangePolicy": "Always"})])) == {"GRAFT084"}

	# OnRootMismatch, no fsGroup, or a null one: nothing to walk.
	ids(patched([security_context({"fsGroup": 999, "fsGroupChangePolicy": "OnRootMismatch"})])) == set()
	ids(patched([security_context({"runAsUser": 999})])) == set()
	ids(patched([security_context({"fsGroup": null})])) == set()
	count(graft.deny) == 0 with input as inp
}
