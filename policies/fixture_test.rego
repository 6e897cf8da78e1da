# A small combined input (one StatefulSet of two members, their PVs and
# PVCs, the kustomization and graft.lock) that passes every rule, and the
# helpers the rule tests corrupt it with.
package graft_test

import data.graft

zone_key := "topology.kubernetes.io/zone"

labels(o) := {
	"graft.graftctl.io/migration": "m",
	"graft.graftctl.io/statefulset": "cassandra",
	"graft.graftctl.io/claim-template": "data",
	"graft.graftctl.io/ordinal": sprintf("%d", [o]),
}

sts := {
	"apiVersion": "apps/v1",
	"kind": "StatefulSet",
	"metadata": {"name": "cassandra", "namespace": "db"},
	"spec": {
		"replicas": 2,
		"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
		"template": {"spec": {"containers": [{"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/var/lib/cassandra"}]}]}},
		"volumeClaimTemplates": [{
			"metadata": {"name": "data"},
			"spec": {
				"accessModes": ["ReadWriteOnce"],
				"storageClassName": "",
				"resources": {"requests": {"storage": "100Gi"}},
				"selector": {"matchLabels": {
					"graft.graftctl.io/migration": "m",
					"graft.graftctl.io/statefulset": "cassandra",
					"graft.graftctl.io/claim-template": "data",
				}},
			},
		}],
	},
}

zones := ["us-east-1a", "us-east-1b"]

pv(o) := {
	"apiVersion": "v1",
	"kind": "PersistentVolume",
	"metadata": {
		"name": sprintf("db-data-cassandra-%d", [o]),
		"labels": labels(o),
		"annotations": {
			"kustomize.toolkit.fluxcd.io/prune": "disabled",
			"graft.graftctl.io/source-instance": sprintf("i-0%d", [o]),
			"graft.graftctl.io/source-volume": sprintf("vol-0b0%d", [o]),
			"graft.graftctl.io/source-zone": zones[o],
		},
	},
	"spec": {
		"accessModes": ["ReadWriteOnce"],
		"volumeMode": "Filesystem",
		"capacity": {"storage": "100Gi"},
		"storageClassName": "",
		"persistentVolumeReclaimPolicy": "Retain",
		"claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": "db", "name": sprintf("data-cassandra-%d", [o])},
		"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": sprintf("vol-0a0%d", [o]), "fsType": "ext4"},
		"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": zone_key, "operator": "In", "values": [zones[o]]}]}]}},
	},
}

pvc(o) := {
	"apiVersion": "v1",
	"kind": "PersistentVolumeClaim",
	"metadata": {
		"name": sprintf("data-cassandra-%d", [o]),
		"namespace": "db",
		"labels": labels(o),
		"annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"},
	},
	"spec": {
		"accessModes": ["ReadWriteOnce"],
		"volumeMode": "Filesystem",
		"storageClassName": "",
		"volumeName": sprintf("db-data-cassandra-%d", [o]),
		"resources": {"requests": {"storage": "100Gi"}},
	},
}

entry(o) := {
	"statefulSet": "cassandra", "ordinal": o, "claimTemplate": "data",
	"sourceInstance": sprintf("i-0%d", [o]), "sourceDevice": "/dev/xvdf",
	"sourceVolume": sprintf("vol-0b0%d", [o]), "sourceZone": zones[o],
	"targetVolume": sprintf("vol-0a0%d", [o]), "targetZone": zones[o],
	"sizeGiB": 100, "volumeType": "gp3", "encrypted": true, "fsType": "ext4",
}

lock := {
	"apiVersion": "graft.graftctl.io/v1alpha1", "kind": "Lock", "migration": "m",
	"sourceRegion": "us-east-1", "targetRegion": "us-east-1",
	"volumes": [entry(0), entry(1)],
}

kustomization := {
	"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
	"namespace": "db", "resources": ["base", "persistentvolumes.yaml", "persistentvolumeclaims.yaml"],
}

# Indexes into base, for json.patch paths.
i_sts := 0

i_pv0 := 1

i_pv1 := 2

i_pvc0 := 3

i_pvc1 := 4

i_kust := 5

i_lock := 6

base := [
	{"path": "base/statefulset.yaml", "contents": sts},
	{"path": "persistentvolumes.yaml", "contents": pv(0)},
	{"path": "persistentvolumes.yaml", "contents": pv(1)},
	{"path": "persistentvolumeclaims.yaml", "contents": pvc(0)},
	{"path": "persistentvolumeclaims.yaml", "contents": pvc(1)},
	{"path": "kustomization.yaml", "contents": kustomization},
	{"path": "graft.lock", "contents": lock},
]

# at builds a JSON pointer into the contents of base[i].
at(i, p) := sprintf("/%d/contents%s", [i, p])

op(o, i, p, v) := {"op": o, "path": at(i, p), "value": v}

rm(i, p) := {"op": "remove", "path": at(i, p)}

patched(ops) := json.patch(base, ops)

appended(doc) := array.concat(base, [{"path": "extra.yaml", "contents": doc}])

# ids are the rule ids that fire on an input.
ids(inp) := x if {
	d := graft.deny with input as inp
	w := graft.warn with input as inp
	x := {f.id | some f in d} | {f.id | some f in w}
}

findings(inp) := x if {
	d := graft.deny with input as inp
	w := graft.warn with input as inp
	x := d | w
}

affinity_path := "/spec/nodeAffinity/required/nodeSelectorTerms/0/matchExpressions/0"

# argocd is base under Argo CD: sync options and waves on the storage.
argocd := patched([
	rm(i_pv0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
	rm(i_pv1, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
	rm(i_pvc0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
	rm(i_pvc1, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
	op("add", i_pv0, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Prune=false,Delete=false"),
	op("add", i_pv1, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Prune=false, Delete=false"),
	op("add", i_pvc0, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Prune=false,Delete=false"),
	op("add", i_pvc1, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Prune=false,Delete=false"),
	op("add", i_pv0, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "-2"),
	op("add", i_pv1, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "-2"),
	op("add", i_pvc0, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "-1"),
	op("add", i_pvc1, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "-1"),
])

argocd_patched(ops) := json.patch(argocd, ops)

test_base_passes if {
	ids(base) == set()
}

test_argocd_base_passes if {
	ids(argocd) == set()
	graft.engines == {"argocd"} with input as argocd
}

test_flux_detected if {
	graft.engines == {"flux"} with input as base
}

test_no_engine_requires_nothing if {
	inp := patched([
		rm(i_pv0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
		rm(i_pv1, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
		rm(i_pvc0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
		rm(i_pvc1, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
	])
	graft.engines == set() with input as inp
	ids(inp) == set()
}

test_findings_carry_details if {
	some f in findings(patched([op("replace", i_pv0, "/spec/persistentVolumeReclaimPolicy", "Delete")]))
	f.id == "GRAFT040"
	f.level == "deny"
	f.kind == "PersistentVolume"
	f.name == "db-data-cassandra-0"
	f.file == "persistentvolumes.yaml"
	f.field == "spec.persistentVolumeReclaimPolicy"
	f.found == "Delete"
	f.expected == "Retain"
	contains(f.msg, "[GRAFT040] PersistentVolume db-data-cassandra-0")
}

test_rule_catalogue_complete if {
	every id in {f.id | some f in findings([])} {
		graft.rules[id]
	}
	count(graft.rules) >= 30
}
