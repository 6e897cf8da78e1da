# Workload kinds (workload.rego): one small input per kind that passes
# every rule, and one or more corruptions per rule, each expecting exactly
# its rule.
package graft_test

import data.graft

# --- builders: the claims of a StatefulSet an operator or chart creates

w_labels(sts, t, o) := {
	"graft.graftctl.io/migration": "m",
	"graft.graftctl.io/statefulset": sts,
	"graft.graftctl.io/claim-template": t,
	"graft.graftctl.io/ordinal": sprintf("%d", [o]),
}

# vol is a hex digit unique per member and template.
w_pv(sts, t, o, zone, vol) := {
	"apiVersion": "v1",
	"kind": "PersistentVolume",
	"metadata": {
		"name": sprintf("db-%s-%s-%d", [t, sts, o]),
		"labels": w_labels(sts, t, o),
		"annotations": {
			"kustomize.toolkit.fluxcd.io/prune": "disabled",
			"graft.graftctl.io/source-instance": sprintf("i-0%s", [vol]),
			"graft.graftctl.io/source-volume": sprintf("vol-0b%s", [vol]),
			"graft.graftctl.io/source-zone": zone,
		},
	},
	"spec": {
		"accessModes": ["ReadWriteOnce"],
		"volumeMode": "Filesystem",
		"capacity": {"storage": "100Gi"},
		"storageClassName": "",
		"persistentVolumeReclaimPolicy": "Retain",
		"claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": "db", "name": sprintf("%s-%s-%d", [t, sts, o])},
		"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": sprintf("vol-0a%s", [vol]), "fsType": "ext4"},
		"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": zone_key, "operator": "In", "values": [zone]}]}]}},
	},
}

w_pvc(sts, t, o) := {
	"apiVersion": "v1",
	"kind": "PersistentVolumeClaim",
	"metadata": {
		"name": sprintf("%s-%s-%d", [t, sts, o]),
		"namespace": "db",
		"labels": w_labels(sts, t, o),
		"annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"},
	},
	"spec": {
		"accessModes": ["ReadWriteOnce"],
		"volumeMode": "Filesystem",
		"storageClassName": "",
		"volumeName": sprintf("db-%s-%s-%d", [t, sts, o]),
		"resources": {"requests": {"storage": "100Gi"}},
	},
}

w_entry(sts, t, o, zone, vol) := {
	"statefulSet": sts, "ordinal": o, "claimTemplate": t,
	"sourceInstance": sprintf("i-0%s", [vol]), "sourceDevice": "/dev/xvdf",
	"sourceVolume": sprintf("vol-0b%s", [vol]), "sourceZone": zone,
	"targetVolume": sprintf("vol-0a%s", [vol]), "targetZone": zone,
	"sizeGiB": 100, "volumeType": "gp3", "encrypted": true, "fsType": "ext4",
}

w_lock(workload, entries) := {
	"apiVersion": "graft.graftctl.io/v1alpha1", "kind": "Lock", "migration": "m",
	"sourceRegion": "us-east-1", "targetRegion": "us-east-1",
	"workload": workload,
	"volumes": entries,
}

# members: [statefulSet, claim template, ordinal, zone, volume digit]
w_input(cr_docs, workload, members) := array.concat(
	array.concat(cr_docs, [{"path": "persistentvolumes.yaml", "contents": w_pv(m[0], m[1], m[2], m[3], m[4])} | some m in members]),
	array.concat(
		[{"path": "persistentvolumeclaims.yaml", "contents": w_pvc(m[0], m[1], m[2])} | some m in members],
		[{"path": "graft.lock", "contents": w_lock(workload, [w_entry(m[0], m[1], m[2], m[3], m[4]) | some m in members])}],
	),
)

zone_pin(z) := {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": zone_key, "operator": "In", "values": [z]}]}]}}}

# --- cass-operator: cluster Cluster1, datacenter dc1, racks r1 (a), r2 (b)

cass_sts1 := "cluster1-dc1-r1-sts"

cass_sts2 := "cluster1-dc1-r2-sts"

cassdc := {
	"apiVersion": "cassandra.datastax.com/v1beta1",
	"kind": "CassandraDatacenter",
	"metadata": {"name": "dc1", "namespace": "db", "annotations": {"cassandra.datastax.com/delete-pvc": "false"}},
	"spec": {
		"clusterName": "Cluster1",
		"serverType": "cassandra",
		"serverVersion": "4.1.5",
		"size": 2,
		"racks": [
			{"name": "r1", "nodeAffinityLabels": {zone_key: "us-east-1a"}},
			{"name": "r2", "nodeAffinityLabels": {zone_key: "us-east-1b"}},
		],
		"storageConfig": {"cassandraDataVolumeClaimSpec": {
			"accessModes": ["ReadWriteOnce"],
			"storageClassName": "",
			"resources": {"requests": {"storage": "100Gi"}},
			"selector": {"matchLabels": {"graft.graftctl.io/migration": "m", "graft.graftctl.io/claim-template": "server-data"}},
		}},
	},
}

cass_workload := {
	"kind": "cass-operator",
	"resource": {"apiVersion": "cassandra.datastax.com/v1beta1", "kind": "CassandraDatacenter", "name": "dc1"},
	"clusterName": "Cluster1",
	"groups": [
		{"name": "r1", "statefulSet": cass_sts1, "zone": "us-east-1a", "claimTemplates": ["server-data"]},
		{"name": "r2", "statefulSet": cass_sts2, "zone": "us-east-1b", "claimTemplates": ["server-data"]},
	],
}

cass_members := [
	[cass_sts1, "server-data", 0, "us-east-1a", "1"],
	[cass_sts2, "server-data", 0, "us-east-1b", "2"],
]

cass := w_input([{"path": "base/cassandradatacenter.yaml", "contents": cassdc}], cass_workload, cass_members)

# Indexes into cass (and eck, claims below): the resource, then PVs,
# PVCs, the record.
c_cr := 0

c_pv0 := 1

c_pvc0 := 3

c_lock := 5

cass_patched(ops) := json.patch(cass, ops)

# --- eck: Elasticsearch quickstart, nodeSets data-a (a), data-b (b)

eck_sts1 := "quickstart-es-data-a"

eck_sts2 := "quickstart-es-data-b"

eck_template(z) := {
	"metadata": {"name": "elasticsearch-data"},
	"spec": {
		"accessModes": ["ReadWriteOnce"],
		"storageClassName": "",
		"resources": {"requests": {"storage": "100Gi"}},
		"selector": {"matchLabels": {"graft.graftctl.io/migration": "m", "graft.graftctl.io/claim-template": "elasticsearch-data"}},
	},
}

es := {
	"apiVersion": "elasticsearch.k8s.elastic.co/v1",
	"kind": "Elasticsearch",
	"metadata": {"name": "quickstart", "namespace": "db"},
	"spec": {
		"version": "8.15.0",
		"volumeClaimDeletePolicy": "DeleteOnScaledownOnly",
		"nodeSets": [
			{"name": "data-a", "count": 1, "podTemplate": {"spec": {"affinity": zone_pin("us-east-1a")}}, "volumeClaimTemplates": [eck_template("us-east-1a")]},
			{"name": "data-b", "count": 1, "podTemplate": {"spec": {"affinity": zone_pin("us-east-1b")}}, "volumeClaimTemplates": [eck_template("us-east-1b")]},
		],
	},
}

eck_workload := {
	"kind": "eck",
	"resource": {"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch", "name": "quickstart"},
	"groups": [
		{"name": "data-a", "statefulSet": eck_sts1, "zone": "us-east-1a", "claimTemplates": ["elasticsearch-data"]},
		{"name": "data-b", "statefulSet": eck_sts2, "zone": "us-east-1b", "claimTemplates": ["elasticsearch-data"]},
	],
}

eck := w_input(
	[{"path": "base/elasticsearch.yaml", "contents": es}],
	eck_workload,
	[[eck_sts1, "elasticsearch-data", 0, "us-east-1a", "1"], [eck_sts2, "elasticsearch-data", 0, "us-east-1b", "2"]],
)

eck_patched(ops) := json.patch(eck, ops)

# --- claims-only: a chart's StatefulSet cassandra, members 0 and 1 in a

claims_workload := {
	"kind": "claims-only",
	"groups": [{"statefulSet": "cassandra", "zone": "us-east-1a", "claimTemplates": ["data"]}],
}

claims := w_input([], claims_workload, [["cassandra", "data", 0, "us-east-1a", "1"], ["cassandra", "data", 1, "us-east-1a", "2"]])

# claims has no resource: PVs at 0, 1, PVCs at 2, 3, the record at 4.
claims_lock := 4

claims_patched(ops) := json.patch(claims, ops)

# --- passing inputs

test_cass_operator_passes if {
	ids(cass) == set()
}

test_eck_passes if {
	ids(eck) == set()
}

test_claims_only_passes if {
	ids(claims) == set()
}

test_workload_claims_are_expected if {
	graft.expected[sprintf("db/server-data-%s-0", [cass_sts1])] with input as cass
	graft.workload_kind == "statefulset" with input as base
	count(graft.workload_expected_list) == 0 with input as base
}

# The datacenter's default rack is "default"; an additional volume is a
# claim template of its own, with its own claim spec.
test_cass_operator_default_rack_and_additional_volume_passes if {
	sts := "cluster1-dc1-default-sts"
	dc := json.patch(cassdc, [
		{"op": "remove", "path": "/spec/racks"},
		{"op": "replace", "path": "/spec/size", "value": 1},
		{"op": "add", "path": "/spec/nodeAffinityLabels", "value": {zone_key: "us-east-1a"}},
		{"op": "add", "path": "/spec/storageConfig/additionalVolumes", "value": [{
			"name": "commitlog", "mountPath": "/var/lib/cassandra/commitlog",
			"pvcSpec": {
				"accessModes": ["ReadWriteOnce"], "storageClassName": "",
				"resources": {"requests": {"storage": "100Gi"}},
				"selector": {"matchLabels": {"graft.graftctl.io/migration": "m", "graft.graftctl.io/claim-template": "commitlog"}},
			},
		}]},
	])
	w := json.patch(cass_workload, [{"op": "replace", "path": "/groups", "value": [{"name": "default", "statefulSet": sts, "zone": "us-east-1a", "claimTemplates": ["server-data", "commitlog"]}]}])
	inp := w_input([{"path": "dc.yaml", "contents": dc}], w, [[sts, "server-data", 0, "us-east-1a", "1"], [sts, "commitlog", 0, "us-east-1a", "2"]])
	ids(inp) == set()

	# The claim spec of the additional volume selects the data volumes too.
	bad := json.patch(inp, [op("replace", 0, "/spec/storageConfig/additionalVolumes/0/pvcSpec/selector/matchLabels/graft.graftctl.io~1claim-template", "server-data")])
	ids(bad) == {"GRAFT074"}

	# No additional volume of the recorded template's name.
	gone := json.patch(inp, [op("replace", 0, "/spec/storageConfig/additionalVolumes/0/name", "hints")])
	some f in findings(gone)
	f.id == "GRAFT074"
	f.field == "spec.storageConfig.additionalVolumes"

	# (The unrecorded volume at /var/lib/cassandra/commitlog also hides
	# what the migrated data volume holds there: GRAFT085.)
	ids(gone) == {"GRAFT074", "GRAFT085"}
}

# The deprecated rack zone pins failure-domain.beta.kubernetes.io/zone.
test_cass_operator_deprecated_rack_zone if {
	ok := cass_patched([op("add", c_cr, "/spec/racks/0/zone", "us-east-1a")])
	ids(ok) == set()
	bad := cass_patched([op("add", c_cr, "/spec/racks/0/zone", "us-east-1b")])
	some f in findings(bad)
	f.field == "spec.racks[0].zone"
	ids(bad) == {"GRAFT072"}
}

# A StatefulSet of the chart that kustomize inflates into the input is
# judged as a StatefulSet, not as a claim of the workload.
test_claims_only_with_inflated_statefulset if {
	s := json.patch(sts, [
		{"op": "replace", "path": "/spec/volumeClaimTemplates/0/spec/selector/matchLabels/graft.graftctl.io~1claim-template", "value": "data"},
	])
	inp := array.concat([{"path": "chart.yaml", "contents": s}], claims)
	ids(inp) == set()
	count(graft.workload_expected_list) == 0 with input as inp
	ids(json.patch(inp, [op("replace", 0, "/spec/replicas", 1)])) == {"GRAFT004"}
}

test_provisioned_workload_passes if {
	inp := cass_patched([
		rm(c_cr, "/spec/storageConfig/cassandraDataVolumeClaimSpec/selector"),
		op("add", c_lock, "/binding", {"mode": "provisioned", "storageClassName": "gp3", "storageClass": "existing"}),
		op("replace", c_cr, "/spec/storageConfig/cassandraDataVolumeClaimSpec/storageClassName", "gp3"),
		op("replace", c_pv0, "/spec/storageClassName", "gp3"),
		op("replace", c_pv0 + 1, "/spec/storageClassName", "gp3"),
		op("replace", c_pvc0, "/spec/storageClassName", "gp3"),
		op("replace", c_pvc0 + 1, "/spec/storageClassName", "gp3"),
	])
	ids(inp) == set()
	bad := json.patch(inp, [op("add", c_cr, "/spec/storageConfig/cassandraDataVolumeClaimSpec/selector", {"matchLabels": {"a": "b"}})])
	ids(bad) == {"GRAFT074"}
}

# --- GRAFT070: the record's workload

test_graft070_workload_not_an_object if {
	ids(cass_patched([op("replace", c_lock, "/workload", "cass-operator")])) == {"GRAFT003", "GRAFT070", "GRAFT071"}
}

test_graft070_unknown_kind if {
	inp := claims_patched([op("replace", claims_lock, "/workload/kind", "helm")])
	ids(inp) == {"GRAFT003", "GRAFT070"}
	some f in findings(inp)
	f.id == "GRAFT070"
	f.field == "workload.kind"
	f.found == "helm"
}

test_graft070_kind_unset if {
	ids(claims_patched([rm(claims_lock, "/workload/kind")])) == {"GRAFT003", "GRAFT070"}
}

test_graft070_resource_kind if {
	# The record's resource is not the kind's: the datacenter in the input
	# is not the one recorded either.
	inp := cass_patched([op("replace", c_lock, "/workload/resource/kind", "Elasticsearch")])
	some f in findings(inp)
	f.id == "GRAFT070"
	f.field == "workload.resource.kind"
	"GRAFT070" in ids(inp)
}

test_graft070_resource_name_unset if {
	"GRAFT070" in ids(cass_patched([rm(c_lock, "/workload/resource/name")]))
}

test_graft070_claims_only_with_resource if {
	ids(claims_patched([op("add", claims_lock, "/workload/resource", {"kind": "CassandraDatacenter", "name": "dc1"})])) == {"GRAFT070"}
}

test_graft070_cluster_name_unset if {
	ids(cass_patched([rm(c_lock, "/workload/clusterName")])) == {"GRAFT070"}
}

test_graft070_no_groups if {
	"GRAFT070" in ids(claims_patched([op("replace", claims_lock, "/workload/groups", [])]))
	"GRAFT070" in ids(claims_patched([rm(claims_lock, "/workload/groups")]))
}

test_graft070_group_fields if {
	some f in findings(cass_patched([rm(c_lock, "/workload/groups/0/zone")]))
	f.id == "GRAFT070"
	f.field == "workload.groups[0].zone"
	"GRAFT070" in ids(claims_patched([op("replace", claims_lock, "/workload/groups/0/claimTemplates", [])]))
	"GRAFT070" in ids(claims_patched([op("replace", claims_lock, "/workload/groups/0/claimTemplates", "data")]))
	"GRAFT070" in ids(claims_patched([rm(claims_lock, "/workload/groups/0/statefulSet")]))
	"GRAFT070" in ids(cass_patched([rm(c_lock, "/workload/groups/1/name")]))
	"GRAFT070" in ids(eck_patched([rm(c_lock, "/workload/groups/1/name")]))
}

test_graft070_claims_only_group_without_zone if {
	# The members keep their own zones, the record's targetZone each.
	inp := claims_patched([rm(claims_lock, "/workload/groups/0/zone")])
	ids(inp) == set()
	ids(json.patch(inp, [op("replace", 0, "/spec/nodeAffinity/required/nodeSelectorTerms/0/matchExpressions/0/values", ["us-east-1b"])])) == {"GRAFT021"}
	ids(claims_patched([op("replace", claims_lock, "/workload/groups/0/zone", "")])) == {"GRAFT070"}
}

test_graft070_group_twice if {
	inp := claims_patched([op("add", claims_lock, "/workload/groups/-", {"statefulSet": "cassandra", "zone": "us-east-1b", "claimTemplates": ["data"]})])
	ids(inp) == {"GRAFT070"}
}

test_graft070_volume_of_no_group if {
	inp := claims_patched([op("replace", claims_lock, "/workload/groups/0/statefulSet", "cassandra-0")])
	"GRAFT070" in ids(inp)
}

test_graft070_volume_of_no_template if {
	inp := claims_patched([op("replace", claims_lock, "/workload/groups/0/claimTemplates", ["commitlog"])])
	"GRAFT070" in ids(inp)
}

# --- GRAFT071: names

# Hostile names, cleaned up as cass-operator's CleanupForKubernetes and
# CleanupSubdomain do (the expected values are the operator's functions'
# output, computed with its code).
test_graft071_cleanup_for_kubernetes if {
	every pair in [
		["Cluster1", "cluster1"], ["My_Cluster", "my-cluster"], ["My Cluster", "mycluster"],
		["dc.one", "dcone"], ["1dc", "dc"], ["-a-", "a"], ["Rack_1.A", "rack-1a"], ["Rack 1", "rack"],
		["a..b", "ab"], ["DC1_", "dc1"], ["_x_", "x"], ["ÄBc", "bc"], ["x__y", "x--y"], ["r.1", "r"], ["", ""],
	] {
		graft.cleanup_for_kubernetes(pair[0]) == pair[1]
	}
}

test_graft071_cleanup_subdomain if {
	every pair in [
		["Cluster1", "cluster1"], ["My_Cluster", "my-cluster"], ["My Cluster", "mycluster"],
		["dc.one", "dc.one"], ["1dc", "1dc"], ["-a-", "a"], ["Rack_1.A", "rack-1.a"], ["Rack 1", "rack1"],
		["a..b", "ab"], ["a.b-", "a.b"], ["ÄBc", "bc"], ["R.1", "r.1"], ["", ""],
	] {
		graft.cleanup_subdomain(pair[0]) == pair[1]
	}
}

test_graft071_cass_sts_name if {
	dc := {"metadata": {"name": "DC.East"}, "spec": {"clusterName": "Prod Cluster_1"}}
	graft.cass_cr_sts(dc, "Rack_1.A") == "prodcluster-1-dceast-rack-1.a-sts" with input as cass
	graft.cass_cr_sts(cassdc, "r1") == cass_sts1 with input as cass
}

# The naming of older cass-operator releases, as graft.lock's
# workload.operatorVersion names the release.
cass_at(version) := cass_patched([op("add", c_lock, "/workload/operatorVersion", version)])

test_graft071_cass_operator_versions if {
	dc := {"metadata": {"name": "DC_1", "namespace": "db"}, "spec": {"clusterName": "Prod Cluster", "datacenterName": "East DC"}, "status": {"datacenterName": "West"}}
	graft.cass_cr_sts(dc, "Rack_1") == "prodcluster-west-rack-1-sts" with input as cass
	graft.cass_cr_sts(dc, "Rack_1") == "prodcluster-west-rack-1-sts" with input as cass_at("v1.23.0")
	graft.cass_cr_sts(dc, "Rack_1") == "prodcluster-eastdc-rack-1-sts" with input as cass_at("v1.22.4")
	graft.cass_cr_sts(dc, "Rack_1") == "prodcluster-eastdc-rack-1-sts" with input as cass_at("1.14")
	graft.cass_cr_sts(dc, "Rack_1") == "prodcluster-DC_1-rack-1-sts" with input as cass_at("v1.13.1")
	graft.cass_cr_sts(dc, "Rack_1") == "prodcluster-DC_1-Rack_1-sts" with input as cass_at("v1.10")
	graft.cass_cr_sts(cassdc, "r1") == cass_sts1 with input as cass_at("v1.22.4")

	# The release is named in the finding.
	some f in findings(json.patch(cass_at("v1.20.0"), [op("replace", c_lock, "/workload/groups/1/statefulSet", "cluster1-dc1-r2")]))
	f.id == "GRAFT071"
	contains(f.msg, "cass-operator v1.20.0 (before v1.23) names the StatefulSet of rack r2 so, from CassandraDatacenter dc1")
}

test_graft071_datacenter_name_override_of_an_older_operator if {
	# v1.14-v1.22 name the StatefulSets after spec.datacenterName: the
	# record says so, and the gate proves those names.
	s1 := "cluster1-eastdc-r1-sts"
	s2 := "cluster1-eastdc-r2-sts"
	dc := json.patch(cassdc, [{"op": "add", "path": "/spec/datacenterName", "value": "East DC"}])
	w := json.patch(cass_workload, [
		{"op": "add", "path": "/operatorVersion", "value": "v1.22.1"},
		{"op": "replace", "path": "/groups/0/statefulSet", "value": s1},
		{"op": "replace", "path": "/groups/1/statefulSet", "value": s2},
	])
	inp := w_input([{"path": "dc.yaml", "contents": dc}], w, [[s1, "server-data", 0, "us-east-1a", "1"], [s2, "server-data", 0, "us-east-1b", "2"]])

	# Names proven; but that release deletes the claims with the
	# datacenter (GRAFT073).
	ids(inp) == {"GRAFT073"}

	# Recorded for the current naming, the same names are not the operator's.
	current := json.patch(inp, [rm(3 + 2, "/workload/operatorVersion")])
	ids(current) == {"GRAFT071", "GRAFT076"}
}

test_graft070_operator_version if {
	ids(cass_at("latest")) == {"GRAFT070"}
	ids(cass_at("v1.9.0")) == {"GRAFT070", "GRAFT073"}
	ids(cass_at(1.22)) == {"GRAFT070"}
	ids(cass_at("")) == set()
}

# A hostile cluster name passes when the record derives the operator's
# name from it.
test_graft071_hostile_cluster_name_passes if {
	name := "My_Cluster Prod"
	s1 := "my-clusterprod-dc1-r1-sts"
	s2 := "my-clusterprod-dc1-r2-sts"
	dc := json.patch(cassdc, [{"op": "replace", "path": "/spec/clusterName", "value": name}])
	w := json.patch(cass_workload, [
		{"op": "replace", "path": "/clusterName", "value": name},
		{"op": "replace", "path": "/groups/0/statefulSet", "value": s1},
		{"op": "replace", "path": "/groups/1/statefulSet", "value": s2},
	])
	ids(w_input([{"path": "dc.yaml", "contents": dc}], w, [[s1, "server-data", 0, "us-east-1a", "1"], [s2, "server-data", 0, "us-east-1b", "2"]])) == set()
}

test_graft071_recorded_sts_not_the_operators if {
	# The record's StatefulSet keeps the uncleaned cluster name.
	inp := cass_patched([op("replace", c_lock, "/workload/clusterName", "cluster1")])
	some f in findings(inp)
	f.id == "GRAFT071"
	f.field == "spec.clusterName"
	f.found == "Cluster1"
	f.expected == "cluster1"
	ids(inp) == {"GRAFT071"}
}

test_graft071_group_sts_renamed if {
	inp := cass_patched([op("replace", c_lock, "/workload/groups/0/statefulSet", "Cluster1-dc1-r1-sts")])
	"GRAFT071" in ids(inp)
	some f in findings(inp)
	f.id == "GRAFT071"
	f.field == "workload.groups[0].statefulSet"
	f.expected == cass_sts1
}

test_graft071_eck_group_sts_renamed if {
	inp := eck_patched([op("replace", c_lock, "/workload/groups/1/statefulSet", "quickstart-data-b")])
	some f in findings(inp)
	f.field == "workload.groups[1].statefulSet"
	f.expected == eck_sts2
}

test_graft071_eck_name_too_long if {
	long := "quickstart-with-a-name-that-is-too-long"
	w := json.patch(eck_workload, [{"op": "replace", "path": "/resource/name", "value": long}])
	"GRAFT071" in ids(eck_patched([op("replace", c_lock, "/workload", w)]))
	some f in findings(eck_patched([op("replace", c_lock, "/workload", w)]))
	f.field == "workload.resource.name"
	f.id == "GRAFT071"
}

test_graft071_eck_nodeset_name_too_long if {
	long := "data-nodes-in-zone-a-1234567"
	inp := eck_patched([op("replace", c_lock, "/workload/groups/0/name", long)])
	some f in findings(inp)
	f.field == "workload.groups[0].name"
	f.id == "GRAFT071"
}

test_graft071_resource_missing if {
	inp := array.slice(cass, 1, count(cass))
	ids(inp) == {"GRAFT071"}
	some f in findings(inp)
	f.field == "workload.resource.name"
	f.kind == "Lock"
}

test_graft071_resource_of_another_name if {
	inp := cass_patched([op("replace", c_cr, "/metadata/name", "dc2")])
	ids(inp) == {"GRAFT071"}
	some f in findings(inp)
	contains(f.found, "found: dc2")
}

test_graft071_resource_twice if {
	second := json.patch(cassdc, [{"op": "replace", "path": "/metadata/namespace", "value": "other"}])
	inp := array.concat(cass, [{"path": "x.yaml", "contents": second}])
	"GRAFT071" in ids(inp)
}

test_graft071_resource_cluster_name if {
	inp := cass_patched([op("replace", c_cr, "/spec/clusterName", "Cluster2")])
	some f in findings(inp)
	f.field == "spec.clusterName"
	ids(inp) == {"GRAFT071"}
}

test_graft071_status_datacenter_name if {
	inp := cass_patched([op("add", c_cr, "/status", {"datacenterName": "DC East"})])
	some f in findings(inp)
	f.field == "workload.groups[0].statefulSet"
	f.expected == "cluster1-dceast-r1-sts"
	ids(inp) == {"GRAFT071"}
	ids(cass_patched([op("add", c_cr, "/status", {"datacenterName": "dc1"})])) == set()
}

test_graft071_rack_renamed if {
	inp := cass_patched([op("replace", c_cr, "/spec/racks/1/name", "rack2")])
	some f in findings(inp)
	f.field == "spec.racks"
	ids(inp) == {"GRAFT071"}
}

test_graft071_nodeset_renamed if {
	inp := eck_patched([op("replace", c_cr, "/spec/nodeSets/1/name", "data-c")])
	some f in findings(inp)
	f.field == "spec.nodeSets"
	ids(inp) == {"GRAFT071"}
}

test_graft071_statefulset_of_the_operator if {
	s := json.patch(sts, [{"op": "replace", "path": "/metadata/name", "value": cass_sts1}])
	inp := array.concat(cass, [{"path": "sts.yaml", "contents": s}])
	some f in findings(inp)
	f.id == "GRAFT071"
	f.kind == "StatefulSet"
}

test_graft071_resource_recorded_as_another_kind if {
	# The datacenter's claims recorded as a chart's: its protections would
	# go unchecked.
	w := {"kind": "claims-only", "groups": [
		{"statefulSet": cass_sts1, "zone": "us-east-1a", "claimTemplates": ["server-data"]},
		{"statefulSet": cass_sts2, "zone": "us-east-1b", "claimTemplates": ["server-data"]},
	]}
	inp := cass_patched([
		op("replace", c_lock, "/workload", w),
		op("replace", c_cr, "/metadata/annotations/cassandra.datastax.com~1delete-pvc", "true"),
	])
	ids(inp) == {"GRAFT071"}
	some f in findings(inp)
	f.kind == "CassandraDatacenter"
	we := {"kind": "claims-only", "groups": [
		{"statefulSet": eck_sts1, "zone": "us-east-1a", "claimTemplates": ["elasticsearch-data"]},
		{"statefulSet": eck_sts2, "zone": "us-east-1b", "claimTemplates": ["elasticsearch-data"]},
	]}
	ids(eck_patched([op("replace", c_lock, "/workload", we)])) == {"GRAFT071"}
}

# --- GRAFT072: zones

test_graft072_record_zone_of_group if {
	inp := cass_patched([op("replace", c_lock, "/workload/groups/0/zone", "us-east-1c")])
	some f in findings(inp)
	f.field == "volumes[0].targetZone"
	"GRAFT072" in ids(inp)
}

test_graft072_rack_zone if {
	inp := cass_patched([op("replace", c_cr, "/spec/racks/0/nodeAffinityLabels/topology.kubernetes.io~1zone", "us-east-1b")])
	ids(inp) == {"GRAFT072"}
	some f in findings(inp)
	f.field == `spec.racks[0].nodeAffinityLabels["topology.kubernetes.io/zone"]`
}

test_graft072_rack_not_pinned if {
	inp := cass_patched([rm(c_cr, "/spec/racks/1/nodeAffinityLabels")])
	ids(inp) == {"GRAFT072"}
	some f in findings(inp)
	f.field == "spec.racks[1].nodeAffinityLabels"
}

test_graft072_datacenter_zone if {
	# A datacenter-wide zone the rack does not override.
	inp := cass_patched([
		op("add", c_cr, "/spec/nodeAffinityLabels", {"topology.ebs.csi.aws.com/zone": "us-east-1a"}),
	])
	some f in findings(inp)
	f.field == `spec.nodeAffinityLabels["topology.ebs.csi.aws.com/zone"]`
	ids(inp) == {"GRAFT072"}
}

test_graft072_rack_affinity if {
	inp := cass_patched([op("add", c_cr, "/spec/racks/0/affinity", zone_pin("us-east-1b"))])
	some f in findings(inp)
	f.field == "spec.racks[0].affinity.nodeAffinity"
	ids(inp) == {"GRAFT072"}
}

test_graft072_pod_template if {
	inp := cass_patched([op("add", c_cr, "/spec/podTemplateSpec", {"spec": {"nodeSelector": {zone_key: "us-east-1a"}}})])
	some f in findings(inp)
	f.field == "spec.podTemplateSpec.spec"
	ids(inp) == {"GRAFT072"}
}

test_graft072_nodeset_zone if {
	inp := eck_patched([op("replace", c_cr, "/spec/nodeSets/0/podTemplate/spec/affinity", zone_pin("us-east-1b"))])
	ids(inp) == {"GRAFT072"}
	ids(eck_patched([rm(c_cr, "/spec/nodeSets/1/podTemplate")])) == {"GRAFT072"}
}

# --- GRAFT073: protections

test_graft073_delete_pvc_unset if {
	inp := cass_patched([rm(c_cr, "/metadata/annotations")])
	ids(inp) == {"GRAFT073"}
	some f in findings(inp)
	f.field == `metadata.annotations["cassandra.datastax.com/delete-pvc"]`
	f.found == "unset"
}

test_graft073_delete_pvc_true if {
	ids(cass_patched([op("replace", c_cr, "/metadata/annotations/cassandra.datastax.com~1delete-pvc", "true")])) == {"GRAFT073"}

	# The operator compares the string: "False" deletes.
	ids(cass_patched([op("replace", c_cr, "/metadata/annotations/cassandra.datastax.com~1delete-pvc", "False")])) == {"GRAFT073"}
}

test_graft073_operator_without_the_annotation if {
	inp := cass_at("v1.24.0")
	ids(inp) == {"GRAFT073"}
	some f in findings(inp)
	f.field == "workload.operatorVersion"
	ids(cass_at("v1.25.0")) == set()
}

test_graft073_volume_claim_delete_policy if {
	ids(eck_patched([rm(c_cr, "/spec/volumeClaimDeletePolicy")])) == {"GRAFT073"}
	ids(eck_patched([op("replace", c_cr, "/spec/volumeClaimDeletePolicy", "DeleteOnScaledownAndClusterDeletion")])) == {"GRAFT073"}
}

test_graft044_resource_replaced if {
	# (The annotation also marks the overlay as Argo CD's, whose PVs lack
	# its protections: GRAFT042.)
	some f in findings(cass_patched([op("add", c_cr, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Prune=false, Replace=true")]))
	f.id == "GRAFT044"
	f.kind == "CassandraDatacenter"
	ids(eck_patched([op("add", c_cr, "/metadata/annotations", {"kustomize.toolkit.fluxcd.io/force": "enabled"})])) == {"GRAFT044"}
}

# --- GRAFT074: the resource's claim spec

test_graft074_class if {
	inp := cass_patched([op("replace", c_cr, "/spec/storageConfig/cassandraDataVolumeClaimSpec/storageClassName", "gp3")])
	ids(inp) == {"GRAFT074"}
	some f in findings(inp)
	f.field == "spec.storageConfig.cassandraDataVolumeClaimSpec.storageClassName"
	ids(cass_patched([rm(c_cr, "/spec/storageConfig/cassandraDataVolumeClaimSpec/storageClassName")])) == {"GRAFT074"}
	ids(eck_patched([op("replace", c_cr, "/spec/nodeSets/1/volumeClaimTemplates/0/spec/storageClassName", "gp2")])) == {"GRAFT074"}
}

test_graft074_claim_spec_missing if {
	ids(cass_patched([rm(c_cr, "/spec/storageConfig")])) == {"GRAFT074"}
	inp := eck_patched([op("replace", c_cr, "/spec/nodeSets/0/volumeClaimTemplates/0/metadata/name", "data")])
	ids(inp) == {"GRAFT074"}
	some f in findings(inp)
	f.field == "spec.nodeSets[0].volumeClaimTemplates"
}

test_graft074_request if {
	ids(cass_patched([op("replace", c_cr, "/spec/storageConfig/cassandraDataVolumeClaimSpec/resources/requests/storage", "200Gi")])) == {"GRAFT074"}
	ids(cass_patched([rm(c_cr, "/spec/storageConfig/cassandraDataVolumeClaimSpec/resources")])) == {"GRAFT074"}
}

test_graft074_data_source if {
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/volumeClaimTemplates/0/spec/dataSource", {"kind": "VolumeSnapshot", "name": "s"})])) == {"GRAFT074"}
}

test_graft074_selector if {
	ids(cass_patched([rm(c_cr, "/spec/storageConfig/cassandraDataVolumeClaimSpec/selector")])) == {"GRAFT074"}
	ids(cass_patched([op("replace", c_cr, "/spec/storageConfig/cassandraDataVolumeClaimSpec/selector/matchLabels/graft.graftctl.io~1migration", "other")])) == {"GRAFT074"}
}

# --- GRAFT075: the members the operator runs

test_graft075_size_reduced if {
	inp := cass_patched([op("replace", c_cr, "/spec/size", 1)])
	"GRAFT075" in ids(inp)
	some f in findings(inp)
	f.id == "GRAFT075"
	f.field == "spec.size"
}

test_graft075_size_grown if {
	# 3 nodes over 2 racks: r1 runs 2, and its member 1 has no volume.
	inp := cass_patched([op("replace", c_cr, "/spec/size", 3)])
	ids(inp) == {"GRAFT075"}
	some f in findings(inp)
	contains(f.msg, "member cluster1-dc1-r1-sts-1 would start on an empty volume")
}

test_graft075_size_not_a_number if {
	ids(cass_patched([op("replace", c_cr, "/spec/size", "2")])) == {"GRAFT075"}
	ids(cass_patched([rm(c_cr, "/spec/size")])) == {"GRAFT075"}
}

test_graft075_split_racks if {
	# SplitRacks(7, 3) is [3, 2, 2].
	[graft.split_racks(7, 3, 0), graft.split_racks(7, 3, 1), graft.split_racks(7, 3, 2)] == [3, 2, 2]
	[graft.split_racks(2, 2, 0), graft.split_racks(2, 2, 1)] == [1, 1]
}

test_graft075_nodeset_count if {
	ids(eck_patched([op("replace", c_cr, "/spec/nodeSets/0/count", 0)])) == {"GRAFT075"}
	ids(eck_patched([op("replace", c_cr, "/spec/nodeSets/0/count", 2)])) == {"GRAFT075"}
	ids(eck_patched([rm(c_cr, "/spec/nodeSets/0/count")])) == {"GRAFT075"}
}

# --- the StatefulSet-only rules and the other kinds

test_record_without_statefulset_still_denied_for_statefulset_kind if {
	inp := array.slice(base, 1, count(base))
	"GRAFT036" in ids(inp)
}

test_claims_only_missing_claim if {
	inp := json.patch(claims, [{"op": "remove", "path": "/3"}])
	"GRAFT036" in ids(inp)
}

test_claims_only_stray_claim if {
	c := json.patch(w_pvc("cassandra", "data", 2), [{"op": "replace", "path": "/spec/volumeName", "value": "db-data-cassandra-1"}])
	inp := array.concat(claims, [{"path": "x.yaml", "contents": c}])
	"GRAFT003" in ids(inp)
}

# --- GRAFT076: cass-operator before v1.23

test_graft076_datacenter_name_override if {
	inp := cass_patched([op("add", c_cr, "/spec/datacenterName", "DC East")])
	ids(inp) == {"GRAFT076"}
	some f in findings(inp)
	f.level == "warn"
	f.field == "spec.datacenterName"

	# An override that cleans up to the resource's name names the same.
	ids(cass_patched([op("add", c_cr, "/spec/datacenterName", "DC1")])) == set()
}

# --- Argo CD: the claims sync before the resource the operator reads

test_graft043_claims_before_the_resource if {
	opts := "Prune=false,Delete=false"
	inp := cass_patched([
		op("add", c_pv0, "/metadata/annotations/argocd.argoproj.io~1sync-options", opts),
		op("add", c_pv0 + 1, "/metadata/annotations/argocd.argoproj.io~1sync-options", opts),
		op("add", c_pvc0, "/metadata/annotations/argocd.argoproj.io~1sync-options", opts),
		op("add", c_pvc0 + 1, "/metadata/annotations/argocd.argoproj.io~1sync-options", opts),
		op("add", c_pv0, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "-2"),
		op("add", c_pv0 + 1, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "-2"),
		op("add", c_pvc0, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "-1"),
		op("add", c_pvc0 + 1, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "-1"),
	])
	ids(inp) == set()
	late := json.patch(inp, [op("add", c_cr, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "-3")])
	ids(late) == {"GRAFT043"}
}

test_graft044_resource_as_a_hook if {
	some f in findings(cass_patched([op("add", c_cr, "/metadata/annotations/helm.sh~1hook", "pre-install")]))
	f.id == "GRAFT044"
	f.kind == "CassandraDatacenter"
	f.field == `metadata.annotations["helm.sh/hook"]`
}

test_graft079_resource_namespace_unstated if {
	inp := cass_patched([rm(c_cr, "/metadata/namespace")])
	some f in findings(inp)
	f.id == "GRAFT079"
	f.kind == "CassandraDatacenter"
}

test_graft075_members_beyond_any_input if {
	inp := eck_patched([op("replace", c_cr, "/spec/nodeSets/0/count", 2000000000)])
	ids(inp) == {"GRAFT075"}
	count([f | some f in findings(inp); f.id == "GRAFT075"; f.found == "2000000000"; startswith(f.expected, "at most 100000")]) == 1
	"GRAFT075" in ids(cass_patched([op("replace", c_cr, "/spec/size", 2000000000)]))
}

test_graft080_resource_owner_references if {
	some f in findings(cass_patched([op("add", c_cr, "/metadata/ownerReferences", [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "u"}])]))
	f.id == "GRAFT080"
	f.kind == "CassandraDatacenter"
}

test_graft072_operator_pod_template_node_name if {
	inp := cass_patched([op("add", c_cr, "/spec/podTemplateSpec", {"spec": {"nodeName": "ip-10-0-0-1.ec2.internal"}})])
	what(inp) == {["GRAFT072", "spec.podTemplateSpec.spec.nodeName", "ip-10-0-0-1.ec2.internal"]}
	inp2 := eck_patched([op("add", c_cr, "/spec/nodeSets/0/podTemplate/spec/nodeName", "ip-10-0-0-1.ec2.internal")])
	what(inp2) == {["GRAFT072", "spec.nodeSets[0].podTemplate.spec.nodeName", "ip-10-0-0-1.ec2.internal"]}
}

test_graft044_resource_forced_by_a_label if {
	some f in findings(eck_patched([op("add", c_cr, "/metadata/labels", {"kustomize.toolkit.fluxcd.io/force": "Enabled"})]))
	f.id == "GRAFT044"
	f.kind == "Elasticsearch"
}

# --- GRAFT075: an operator that runs no member

test_graft075_datacenter_stopped if {
	inp := cass_patched([op("add", c_cr, "/spec/stopped", true)])
	what(inp) == {["GRAFT075", "spec.stopped", "true"]}
	ids(cass_patched([op("add", c_cr, "/spec/stopped", false)])) == set()
}

test_graft075_elasticsearch_unmanaged if {
	inp := eck_patched([op("add", c_cr, "/metadata/annotations", {"eck.k8s.elastic.co/managed": "false"})])
	what(inp) == {["GRAFT075", `metadata.annotations["eck.k8s.elastic.co/managed"]`, "false"]}
	ids(eck_patched([op("add", c_cr, "/metadata/annotations", {"common.k8s.elastic.co/pause": "true"})])) == {"GRAFT075"}
	ids(eck_patched([op("add", c_cr, "/metadata/annotations", {"eck.k8s.elastic.co/managed": "true"})])) == set()
}

# --- GRAFT082 on the operator's resource

test_graft082_resource_skipped_or_unvalidated if {
	inp := cass_patched([op("add", c_cr, "/metadata/labels", {"kustomize.toolkit.fluxcd.io/reconcile": "Disabled"})])
	what(inp) == {["GRAFT082", `metadata.labels["kustomize.toolkit.fluxcd.io/reconcile"]`, "Disabled"]}
	inp2 := cass_patched([op("add", c_cr, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Validate=false")])
	["GRAFT082", `metadata.annotations["argocd.argoproj.io/sync-options"]`, "Validate=false"] in what(inp2)
}

# --- red team of the operator targets (h-redop3)

# ECK's pause-orchestration skips the node specs: no StatefulSet is made.
test_graft075_elasticsearch_orchestration_paused if {
	inp := eck_patched([op("add", c_cr, "/metadata/annotations", {"eck.k8s.elastic.co/pause-orchestration": "true"})])
	what(inp) == {["GRAFT075", `metadata.annotations["eck.k8s.elastic.co/pause-orchestration"]`, "true"]}

	# "false" (the webhook allows only "true" and "false") orchestrates.
	ids(eck_patched([op("add", c_cr, "/metadata/annotations", {"eck.k8s.elastic.co/pause-orchestration": "false"})])) == set()
}

# cass-operator starts a pod that spec.replaceNodes names as the
# replacement of a ring node.
test_graft075_replace_nodes if {
	inp := cass_patched([op("add", c_cr, "/spec/replaceNodes", [sprintf("%s-0", [cass_sts1])])])
	what(inp) == {["GRAFT075", "spec.replaceNodes", json.marshal([sprintf("%s-0", [cass_sts1])])]}
	ids(cass_patched([op("add", c_cr, "/spec/replaceNodes", [])])) == set()
	ids(cass_patched([op("add", c_cr, "/spec/replaceNodes", "x")])) == {"GRAFT075"}
}

# The datacenter's nodeSelector replaces every rack's pod template
# nodeSelector.
test_graft072_datacenter_node_selector if {
	inp := cass_patched([op("add", c_cr, "/spec/nodeSelector", {zone_key: "us-east-1b"})])
	what(inp) == {["GRAFT072", "spec.nodeSelector", json.marshal({zone_key: "us-east-1b"})]}
	count([f | some f in findings(inp); f.id == "GRAFT072"]) == 1
	ids(cass_patched([op("add", c_cr, "/spec/nodeSelector", {"graft.example/pool": "cassandra"})])) == set()
	ids(cass_patched([op("add", c_cr, "/spec/nodeSelector", {"topology.ebs.csi.aws.com/zone": "us-east-1a"})])) == {"GRAFT072"}
}

# Two racks or nodeSets the operator makes one StatefulSet of.
test_graft071_groups_of_one_statefulset if {
	dup := cass_patched([
		op("add", c_cr, "/spec/racks/-", {"name": "R1", "nodeAffinityLabels": {zone_key: "us-east-1a"}}),
		op("replace", c_cr, "/spec/size", 3),
	])
	what(dup) == {["GRAFT071", "spec.racks[2].name", "R1"]}
	same := cass_patched([
		op("add", c_cr, "/spec/racks/-", {"name": "r1", "nodeAffinityLabels": {zone_key: "us-east-1a"}}),
		op("replace", c_cr, "/spec/size", 4),
	])
	["GRAFT071", "spec.racks[2].name", "r1"] in what(same)
	ns := json.patch(es.spec.nodeSets[1], [{"op": "replace", "path": "/name", "value": "data-a"}])
	inp := eck_patched([op("add", c_cr, "/spec/nodeSets/-", ns)])
	what(inp) == {["GRAFT071", "spec.nodeSets[2].name", "data-a"]}
}

# A rack name that is no string: the API server refuses the resource.
test_graft071_group_name_not_a_string if {
	inp := cass_patched([op("replace", c_cr, "/spec/racks/0/name", 1)])
	["GRAFT071", "spec.racks[0].name", "1"] in what(inp)
	some f in findings(inp)
	f.field == "spec.racks"
	contains(f.found, "no rack r1 (1, r2)")
	"GRAFT071" in ids(eck_patched([rm(c_cr, "/spec/nodeSets/0/name")]))
}

# --- GRAFT085: the operator mounts the migrated data where it is read

cass_mounting(mounts) := cass_patched([op("add", c_cr, "/spec/podTemplateSpec", {"spec": {"containers": [{"name": "cassandra", "volumeMounts": mounts}]}})])

test_graft085_cass_data_mount_moved if {
	inp := cass_mounting([{"name": "server-data", "mountPath": "/data"}])
	what(inp) == {["GRAFT085", "spec.podTemplateSpec.spec.containers[0].volumeMounts[0]", json.marshal([{"from": "spec.podTemplateSpec.spec.containers[0].volumeMounts[0]", "mountPath": "/data", "name": "server-data"}])]}
	count(findings(inp)) == 1

	# A part of the volume, or read-only.
	ids(cass_mounting([{"name": "server-data", "mountPath": "/var/lib/cassandra", "subPath": "data"}])) == {"GRAFT085"}
	ids(cass_mounting([{"name": "server-data", "mountPath": "/var/lib/cassandra", "subPathExpr": "$(POD_NAME)"}])) == {"GRAFT085"}
	ids(cass_mounting([{"name": "server-data", "mountPath": "/var/lib/cassandra", "readOnly": true}])) == {"GRAFT085"}

	# The operator's own mount, written out (with a trailing slash), and
	# another container's mounts, pass.
	ids(cass_mounting([{"name": "server-data", "mountPath": "/var/lib/cassandra/"}])) == set()
	ids(cass_patched([op("add", c_cr, "/spec/podTemplateSpec", {"spec": {"containers": [{"name": "backup", "volumeMounts": [{"name": "server-data", "mountPath": "/data", "readOnly": true}]}]}})])) == set()
}

test_graft085_cass_additional_volume_takes_the_data_mount if {
	inp := cass_patched([op("add", c_cr, "/spec/storageConfig/additionalVolumes", [{"name": "server-data", "mountPath": "/x", "volumeSource": {"emptyDir": {}}}])])
	what(inp) == {["GRAFT085", "spec.storageConfig.additionalVolumes[0].mountPath", json.marshal([{"from": "spec.storageConfig.additionalVolumes[0].mountPath", "mountPath": "/x", "name": "server-data"}])]}
}

test_graft085_cass_data_hidden if {
	# An unmigrated volume under the data directory hides what the
	# migrated volume holds there.
	inp := cass_patched([op("add", c_cr, "/spec/storageConfig/additionalVolumes", [{"name": "scratch", "mountPath": "/var/lib/cassandra/data", "volumeSource": {"emptyDir": {}}}])])
	what(inp) == {["GRAFT085", "spec.storageConfig.additionalVolumes[0].mountPath", json.marshal({"mountPath": "/var/lib/cassandra/data", "name": "scratch"})]}
	ids(cass_mounting([{"name": "cache", "mountPath": "//var/lib/cassandra/saved_caches"}])) == {"GRAFT085"}
	ids(cass_mounting([{"name": "cache", "mountPath": "/var/lib/cassandra"}])) == {"GRAFT085"}
	ids(cass_mounting([{"name": "cache", "mountPath": "/var/lib/cassandra-cache"}])) == set()
}

# A recorded additional volume (the commit log) under the data directory
# is migrated too; it may not sit on the data directory itself.
test_graft085_cass_recorded_volume_below_the_data if {
	sts0 := "cluster1-dc1-default-sts"
	av := {
		"name": "commitlog", "mountPath": "/var/lib/cassandra/commitlog",
		"pvcSpec": {
			"accessModes": ["ReadWriteOnce"], "storageClassName": "",
			"resources": {"requests": {"storage": "100Gi"}},
			"selector": {"matchLabels": {"graft.graftctl.io/migration": "m", "graft.graftctl.io/claim-template": "commitlog"}},
		},
	}
	dc := json.patch(cassdc, [
		{"op": "remove", "path": "/spec/racks"},
		{"op": "replace", "path": "/spec/size", "value": 1},
		{"op": "add", "path": "/spec/nodeAffinityLabels", "value": {zone_key: "us-east-1a"}},
		{"op": "add", "path": "/spec/storageConfig/additionalVolumes", "value": [av]},
	])
	w := json.patch(cass_workload, [{"op": "replace", "path": "/groups", "value": [{"name": "default", "statefulSet": sts0, "zone": "us-east-1a", "claimTemplates": ["server-data", "commitlog"]}]}])
	inp := w_input([{"path": "dc.yaml", "contents": dc}], w, [[sts0, "server-data", 0, "us-east-1a", "1"], [sts0, "commitlog", 0, "us-east-1a", "2"]])
	ids(inp) == set()
	on := json.patch(inp, [op("replace", 0, "/spec/storageConfig/additionalVolumes/0/mountPath", "/var/lib/cassandra")])
	what(on) == {
		["GRAFT085", "spec.storageConfig.additionalVolumes[0].mountPath", json.marshal({"mountPath": "/var/lib/cassandra", "name": "commitlog"})],
		["GRAFT085", "cass-operator's default mount", json.marshal({"mountPath": "/var/lib/cassandra", "name": "server-data"})],
	}

	# The pod template's mount of the additional volume is overridden by
	# the operator's (generateStorageConfigVolumesMount): no finding.
	moved := json.patch(inp, [op("add", 0, "/spec/podTemplateSpec", {"spec": {"containers": [{"name": "cassandra", "volumeMounts": [{"name": "commitlog", "mountPath": "/elsewhere"}]}]}})])
	ids(moved) == set()
}

eck_mounting(mounts) := eck_patched([op("add", c_cr, "/spec/nodeSets/0/podTemplate/spec/containers", [{"name": "elasticsearch", "volumeMounts": mounts}])])

test_graft085_eck_data_mount_moved if {
	inp := eck_mounting([{"name": "elasticsearch-data", "mountPath": "/data"}])
	what(inp) == {["GRAFT085", "spec.nodeSets[0].podTemplate.spec.containers[0].volumeMounts[0]", json.marshal([{"from": "spec.nodeSets[0].podTemplate.spec.containers[0].volumeMounts[0]", "mountPath": "/data", "name": "elasticsearch-data"}])]}
	ids(eck_mounting([{"name": "elasticsearch-data", "mountPath": "/usr/share/elasticsearch/data", "readOnly": true}])) == {"GRAFT085"}
	ids(eck_mounting([{"name": "elasticsearch-data", "mountPath": "/usr/share/elasticsearch/data"}])) == set()
	ids(eck_mounting([{"name": "logs", "mountPath": "/usr/share/elasticsearch/logs"}])) == set()
}

# ECK adds its data mount only if no mount of the container has its path:
# another volume there takes the data's place.
test_graft085_eck_data_path_taken if {
	inp := eck_mounting([{"name": "scratch", "mountPath": "/usr/share/elasticsearch/data"}])
	what(inp) == {
		["GRAFT085", "spec.nodeSets[0].podTemplate's elasticsearch container", "[]"],
		["GRAFT085", "spec.nodeSets[0].podTemplate.spec.containers[0].volumeMounts[0]", json.marshal({"mountPath": "/usr/share/elasticsearch/data", "name": "scratch"})],
	}
	ids(eck_mounting([{"name": "scratch", "mountPath": "/usr/share/elasticsearch/data/nodes"}])) == {"GRAFT085"}
}

# ECK mounts no claim template but elasticsearch-data: another recorded
# one must be mounted by the pod template.
test_graft085_eck_other_template_unmounted if {
	t := json.patch(eck_template("us-east-1a"), [
		{"op": "replace", "path": "/metadata/name", "value": "data"},
		{"op": "replace", "path": "/spec/selector/matchLabels/graft.graftctl.io~1claim-template", "value": "data"},
	])
	e := json.patch(es, [{"op": "replace", "path": "/spec/nodeSets", "value": [{"name": "data-a", "count": 1, "podTemplate": {"spec": {"affinity": zone_pin("us-east-1a")}}, "volumeClaimTemplates": [t]}]}])
	w := json.patch(eck_workload, [{"op": "replace", "path": "/groups", "value": [{"name": "data-a", "statefulSet": eck_sts1, "zone": "us-east-1a", "claimTemplates": ["data"]}]}])
	inp := w_input([{"path": "es.yaml", "contents": e}], w, [[eck_sts1, "data", 0, "us-east-1a", "1"]])
	some f in findings(inp)
	f.id == "GRAFT085"
	f.field == "spec.nodeSets[0].podTemplate's elasticsearch container"
	ids(inp) == {"GRAFT085"}
	mounted := json.patch(inp, [op("add", 0, "/spec/nodeSets/0/podTemplate/spec/containers", [{"name": "elasticsearch", "volumeMounts": [{"name": "data", "mountPath": "/usr/share/elasticsearch/data"}]}])])
	ids(mounted) == set()
}

# A pod template volume of the claim template's name is replaced by the
# claim (StatefulSet controller updateStorage): not denied.
test_graft085_pod_volume_of_the_template_name_passes if {
	ids(cass_patched([op("add", c_cr, "/spec/podTemplateSpec", {"spec": {"volumes": [{"name": "server-data", "emptyDir": {}}]}})])) == set()
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/podTemplate/spec/volumes", [{"name": "elasticsearch-data", "emptyDir": {}}])])) == set()
}

# ECK creates the StatefulSet an elasticsearch.k8s.elastic.co/recreate-*
# annotation holds, as written.
test_graft071_eck_recreate_annotation if {
	k := sprintf("elasticsearch.k8s.elastic.co/recreate-%s", [eck_sts1])
	v := json.marshal({"metadata": {"name": eck_sts1, "namespace": "db"}, "spec": {"replicas": 1}})
	inp := eck_patched([op("add", c_cr, "/metadata/annotations", {k: v})])
	what(inp) == {["GRAFT071", sprintf(`metadata.annotations["%s"]`, [k]), v]}
	ids(eck_patched([op("add", c_cr, "/metadata/annotations", {"elasticsearch.k8s.elastic.co/other": "x"})])) == set()
}

# ECK's zoneAwareness zones are required of the nodeSet's pods.
test_graft072_eck_zone_awareness_zones if {
	inp := eck_patched([op("add", c_cr, "/spec/nodeSets/0/zoneAwareness", {"zones": ["us-east-1b", "us-east-1c"]})])
	what(inp) == {["GRAFT072", "spec.nodeSets[0].zoneAwareness.zones", json.marshal(["us-east-1b", "us-east-1c"])]}
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/zoneAwareness", {"zones": ["us-east-1a", "us-east-1b"]})])) == set()
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/zoneAwareness", {})])) == set()
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/zoneAwareness", {"topologyKey": " topology.ebs.csi.aws.com/zone ", "zones": ["us-east-1b"]})])) == {"GRAFT072"}

	# On a key that is no zone key the gate cannot tell the nodes' values.
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/zoneAwareness", {"topologyKey": "rack", "zones": ["r9"]})])) == set()
}

# --- GRAFT085: the application's own data directories

test_graft085_eck_path_data if {
	inp := eck_patched([op("add", c_cr, "/spec/nodeSets/0/config", {"path.data": "/data"})])
	what(inp) == {["GRAFT085", "spec.nodeSets[0].config.path.data", "/data"]}
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/config", {"path": {"data": ["/data", "/usr/share/elasticsearch/data"]}})])) == {"GRAFT085"}
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/config", {"path.data": "/usr/share/elasticsearch/data/"})])) == set()
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/config", {"path": {"data": ["/usr/share/elasticsearch/data"]}})])) == set()
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/config", {"node.roles": ["data"]})])) == set()
}

test_graft085_cass_data_directories if {
	inp := cass_patched([op("add", c_cr, "/spec/config", {"cassandra-yaml": {"data_file_directories": ["/var/lib/cassandra/data", "/data"]}})])
	what(inp) == {["GRAFT085", "spec.config.cassandra-yaml.data_file_directories[1]", "/data"]}
	ids(cass_patched([op("add", c_cr, "/spec/config", {"cassandra-yaml": {"commitlog_directory": "/var/lib/cassandra-commitlog"}})])) == {"GRAFT085"}
	ids(cass_patched([op("add", c_cr, "/spec/config", {"cassandra-yaml": {"commitlog_directory": 7}})])) == {"GRAFT085"}
	ids(cass_patched([op("add", c_cr, "/spec/config", {"cassandra-yaml": {"data_file_directories": ["/var/lib/cassandra/data"], "commitlog_directory": "/var/lib/cassandra/commitlog", "num_tokens": 16}})])) == set()
}

# An Elasticsearch of the older served version v1beta1 creates the same
# StatefulSets: recorded as a chart's claims, its default delete policy
# would go unchecked; recorded as kind eck, it is not the v1 resource.
test_graft071_elasticsearch_v1beta1 if {
	we := {"kind": "claims-only", "groups": [
		{"statefulSet": eck_sts1, "zone": "us-east-1a", "claimTemplates": ["elasticsearch-data"]},
		{"statefulSet": eck_sts2, "zone": "us-east-1b", "claimTemplates": ["elasticsearch-data"]},
	]}
	inp := eck_patched([
		op("replace", c_lock, "/workload", we),
		op("replace", c_cr, "/apiVersion", "elasticsearch.k8s.elastic.co/v1beta1"),
		rm(c_cr, "/spec/volumeClaimDeletePolicy"),
	])
	what(inp) == {["GRAFT071", "metadata.name", "quickstart"]}
	ids(eck_patched([op("replace", c_cr, "/apiVersion", "elasticsearch.k8s.elastic.co/v1beta1")])) == {"GRAFT071"}
}

# The manifest's status is not applied: a status.datacenterName of another
# name names no StatefulSet of a new datacenter.
test_graft071_status_datacenter_name_not_applied if {
	s1 := "cluster1-dceast-r1-sts"
	s2 := "cluster1-dceast-r2-sts"
	dc := json.patch(cassdc, [{"op": "add", "path": "/status", "value": {"datacenterName": "DC East"}}])
	w := json.patch(cass_workload, [
		{"op": "replace", "path": "/groups/0/statefulSet", "value": s1},
		{"op": "replace", "path": "/groups/1/statefulSet", "value": s2},
	])
	inp := w_input([{"path": "dc.yaml", "contents": dc}], w, [[s1, "server-data", 0, "us-east-1a", "1"], [s2, "server-data", 0, "us-east-1b", "2"]])
	what(inp) == {["GRAFT071", "status.datacenterName", "DC East"]}
}

# GRAFT078 on the operator's pod template: one member's claim in every pod.
test_graft078_operator_pod_volume_of_a_delivered_claim if {
	c := sprintf("server-data-%s-0", [cass_sts1])
	inp := cass_patched([op("add", c_cr, "/spec/podTemplateSpec", {"spec": {"volumes": [{"name": "old", "persistentVolumeClaim": {"claimName": c}}]}})])
	what(inp) == {["GRAFT078", "spec.podTemplateSpec.spec.volumes[0].persistentVolumeClaim.claimName", c]}
	av := cass_patched([op("add", c_cr, "/spec/storageConfig/additionalVolumes", [{"name": "old", "mountPath": "/old", "volumeSource": {"persistentVolumeClaim": {"claimName": c}}}])])
	what(av) == {["GRAFT078", "spec.storageConfig.additionalVolumes[0].volumeSource.persistentVolumeClaim.claimName", c]}
	e := sprintf("elasticsearch-data-%s-0", [eck_sts2])
	inp2 := eck_patched([op("add", c_cr, "/spec/nodeSets/0/podTemplate/spec/volumes", [{"name": "old", "persistentVolumeClaim": {"claimName": e}}])])
	what(inp2) == {["GRAFT078", "spec.nodeSets[0].podTemplate.spec.volumes[0].persistentVolumeClaim.claimName", e]}

	# A claim graft does not deliver, and a volume of a claim template's
	# name (replaced by its claim), pass.
	ids(cass_patched([op("add", c_cr, "/spec/podTemplateSpec", {"spec": {"volumes": [{"name": "old", "persistentVolumeClaim": {"claimName": "shared-config"}}]}})])) == set()
	ids(eck_patched([op("add", c_cr, "/spec/nodeSets/0/podTemplate/spec/volumes", [{"name": "elasticsearch-data", "persistentVolumeClaim": {"claimName": e}}])])) == set()
}
