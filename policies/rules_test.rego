# One or more failing cases per rule, each expecting exactly its rule, and
# passing variants for the rules with several accepted shapes. The
# uncorrupted input (fixture_test.rego) is every rule's passing case.
package graft_test

import data.graft

# --- GRAFT000: input shape

test_graft000_not_combined if {
	ids({"kind": "PersistentVolume"}) == {"GRAFT000"}
}

test_graft000_no_record if {
	ids(array.slice(base, 0, 6)) == {"GRAFT000"}
}

test_graft000_two_records if {
	ids(appended(lock)) == {"GRAFT000"}
}

# --- names

test_graft001_missing_claim if {
	ids(json.patch(base, [{"op": "remove", "path": "/4"}])) == {"GRAFT001"}
}

test_graft001_ordinals_start if {
	# Numbered from 1, the StatefulSet wants data-cassandra-2, not -0.
	# Member 0's claim and volume are not strays: GRAFT004 reports that
	# the StatefulSet no longer runs member 0.
	ids(patched([op("add", i_sts, "/spec/ordinals", {"start": 1})])) == {"GRAFT001", "GRAFT004"}
}

test_graft001_zero_replicas_wants_nothing if {
	inp := patched([op("replace", i_sts, "/spec/replicas", 0)])
	not "GRAFT001" in ids(inp)
}

test_graft002_duplicate_pvc if {
	ids(appended(pvc(1))) == {"GRAFT002"}
}

test_graft002_duplicate_pv if {
	ids(appended(pv(1))) == {"GRAFT002", "GRAFT033"}
}

test_graft002_colliding_claim_names if {
	# Template "data" of "a-cassandra" and template "data-a" of "cassandra"
	# both name their first claim data-a-cassandra-0.
	s1 := json.patch(sts, [
		{"op": "replace", "path": "/metadata/name", "value": "a-cassandra"},
		{"op": "replace", "path": "/spec/replicas", "value": 1},
		{"op": "add", "path": "/spec/volumeClaimTemplates/0/spec/selector/matchLabels/x", "value": "1"},
	])
	s2 := json.patch(sts, [
		{"op": "replace", "path": "/spec/volumeClaimTemplates/0/metadata/name", "value": "data-a"},
		{"op": "replace", "path": "/spec/replicas", "value": 1},
		{"op": "add", "path": "/spec/volumeClaimTemplates/0/spec/selector/matchLabels/x", "value": "2"},
	])
	inp := [{"path": "a.yaml", "contents": s1}, {"path": "b.yaml", "contents": s2}, {"path": "graft.lock", "contents": {"apiVersion": "graft.graftctl.io/v1alpha1", "kind": "Lock", "volumes": []}}]
	"GRAFT002" in ids(inp)
}

test_graft003_stray_pvc_and_pv if {
	p := json.patch(pv(1), [
		{"op": "replace", "path": "/metadata/name", "value": "db-data-cassandra-2"},
		{"op": "replace", "path": "/spec/claimRef/name", "value": "data-cassandra-2"},
		{"op": "replace", "path": "/spec/csi/volumeHandle", "value": "vol-0a02"},
	])
	c := json.patch(pvc(1), [
		{"op": "replace", "path": "/metadata/name", "value": "data-cassandra-2"},
		{"op": "replace", "path": "/spec/volumeName", "value": "db-data-cassandra-2"},
	])
	inp := array.concat(base, [{"path": "x", "contents": p}, {"path": "y", "contents": c}])
	ids(inp) == {"GRAFT003"}
}

test_graft003_wrong_namespace if {
	"GRAFT003" in ids(patched([op("replace", i_pvc0, "/metadata/namespace", "default")]))
}

# --- binding

test_graft010_no_volume_name if {
	ids(patched([rm(i_pvc0, "/spec/volumeName")])) == {"GRAFT010"}
}

test_graft010_dangling_volume_name if {
	ids(patched([op("replace", i_pvc0, "/spec/volumeName", "nope")])) == {"GRAFT010"}
}

test_graft011_claim_ref_elsewhere if {
	"GRAFT011" in ids(patched([op("replace", i_pv0, "/spec/claimRef/name", "data-cassandra-1")]))
}

test_graft011_no_claim_ref if {
	ids(patched([rm(i_pv0, "/spec/claimRef")])) == {"GRAFT011"}
}

test_graft011_incomplete_claim_ref if {
	"GRAFT011" in ids(patched([rm(i_pv0, "/spec/claimRef/namespace")]))
}

test_graft012_uid if {
	ids(patched([op("add", i_pv0, "/spec/claimRef/uid", "abc")])) == {"GRAFT012"}
}

test_graft013_pv_class if {
	ids(patched([op("replace", i_pv0, "/spec/storageClassName", "gp3")])) == {"GRAFT013"}
}

test_graft013_pvc_class_unset if {
	ids(patched([rm(i_pvc0, "/spec/storageClassName")])) == {"GRAFT013"}
}

test_graft013_pvc_class_differs if {
	ids(patched([op("replace", i_pvc0, "/spec/storageClassName", "gp3")])) == {"GRAFT013"}
}

test_graft013_template_class if {
	ids(patched([op("replace", i_sts, "/spec/volumeClaimTemplates/0/spec/storageClassName", "gp3")])) == {"GRAFT013"}
}

test_graft013_class_everywhere_passes if {
	ids(patched([
		op("replace", i_sts, "/spec/volumeClaimTemplates/0/spec/storageClassName", "static"),
		op("replace", i_pv0, "/spec/storageClassName", "static"),
		op("replace", i_pv1, "/spec/storageClassName", "static"),
		op("replace", i_pvc0, "/spec/storageClassName", "static"),
		op("replace", i_pvc1, "/spec/storageClassName", "static"),
	])) == set()
}

test_graft014_pv_mode if {
	ids(patched([op("replace", i_pv0, "/spec/accessModes", ["ReadWriteMany"])])) == {"GRAFT014"}
}

test_graft014_pv_no_modes if {
	ids(patched([op("replace", i_pv0, "/spec/accessModes", [])])) == {"GRAFT014"}
}

test_graft014_volume_mode if {
	ids(patched([op("add", i_pvc0, "/spec/volumeMode", "Block")])) == {"GRAFT014"}
}

test_graft014_template_volume_mode if {
	ids(patched([op("add", i_sts, "/spec/volumeClaimTemplates/0/spec/volumeMode", "Block")])) == {"GRAFT014"}
}

test_graft015_pvc_request if {
	ids(patched([op("replace", i_pvc0, "/spec/resources/requests/storage", "200Gi")])) == {"GRAFT015"}
}

test_graft015_template_request if {
	ids(patched([op("replace", i_sts, "/spec/volumeClaimTemplates/0/spec/resources/requests/storage", "1Ti")])) == {"GRAFT015"}
}

test_graft015_unreadable_capacity if {
	"GRAFT015" in ids(patched([op("replace", i_pv0, "/spec/capacity/storage", "lots")]))
}

test_graft016_labels if {
	ids(patched([op("replace", i_pv0, "/metadata/labels/graft.graftctl.io~1migration", "other")])) == {"GRAFT016"}
}

test_graft016_match_expressions if {
	sel := {"matchExpressions": [
		{"key": "graft.graftctl.io/statefulset", "operator": "In", "values": ["cassandra"]},
		{"key": "graft.graftctl.io/claim-template", "operator": "NotIn", "values": ["commitlog"]},
		{"key": "graft.graftctl.io/migration", "operator": "Exists"},
		{"key": "legacy", "operator": "DoesNotExist"},
	]}
	ok := patched([op("replace", i_sts, "/spec/volumeClaimTemplates/0/spec/selector", sel)])
	ids(ok) == set()
	bad := json.patch(ok, [op("add", i_pv0, "/metadata/labels/legacy", "yes")])
	ids(bad) == {"GRAFT016"}
}

test_graft017_selector_overlap if {
	# A second StatefulSet whose template selects every PV of the migration.
	other := json.patch(sts, [
		{"op": "replace", "path": "/metadata/name", "value": "other"},
		{"op": "replace", "path": "/spec/replicas", "value": 0},
		{"op": "replace", "path": "/spec/volumeClaimTemplates/0/spec/selector", "value": {"matchLabels": {"graft.graftctl.io/migration": "m"}}},
	])
	ids(appended(other)) == {"GRAFT017"}
}

test_graft017_empty_selector if {
	other := json.patch(sts, [
		{"op": "replace", "path": "/metadata/name", "value": "other"},
		{"op": "replace", "path": "/spec/replicas", "value": 0},
		{"op": "replace", "path": "/spec/volumeClaimTemplates/0/spec/selector", "value": {}},
	])
	ids(appended(other)) == {"GRAFT017"}
}

test_graft017_unknown_label_matches_nothing if {
	other := json.patch(sts, [
		{"op": "replace", "path": "/metadata/name", "value": "other"},
		{"op": "replace", "path": "/spec/replicas", "value": 0},
		{"op": "replace", "path": "/spec/volumeClaimTemplates/0/spec/selector", "value": {"matchLabels": {"nobody": "x"}}},
	])
	ids(appended(other)) == set()
}

# --- zones

test_graft020_two_zones if {
	ids(patched([op("replace", i_pv0, concat("", [affinity_path, "/values"]), ["us-east-1a", "us-east-1b"])])) == {"GRAFT020"}
}

test_graft020_no_affinity if {
	ids(patched([rm(i_pv0, "/spec/nodeAffinity")])) == {"GRAFT020"}
}

test_graft020_two_terms if {
	term := {"matchExpressions": [{"key": zone_key, "operator": "In", "values": ["us-east-1a"]}]}
	ids(patched([op("add", i_pv0, "/spec/nodeAffinity/required/nodeSelectorTerms/-", term)])) == {"GRAFT020"}
}

# The zone's shape, exactly: one term, one zone expression, one value; a
# value, a term or an expression that is not a list is no zone either.
test_graft020_shapes_that_are_not_one_zone if {
	values := concat("", [affinity_path, "/values"])
	every o in [
		op("replace", i_pv0, values, "us-east-1a"),
		op("replace", i_pv0, values, "a"),
		op("replace", i_pv0, values, {"z": "us-east-1a"}),
		op("replace", i_pv0, values, []),
		op("replace", i_pv0, "/spec/nodeAffinity/required/nodeSelectorTerms", {"0": {}}),
		op("replace", i_pv0, "/spec/nodeAffinity/required/nodeSelectorTerms", "t"),
		op("replace", i_pv0, "/spec/nodeAffinity/required/nodeSelectorTerms", []),
		op("replace", i_pv0, "/spec/nodeAffinity/required/nodeSelectorTerms/0/matchExpressions", "e"),
		op("replace", i_pv0, concat("", [affinity_path, "/operator"]), "NotIn"),
	] {
		"GRAFT020" in ids(patched([o]))
	}
}

test_graft020_ebs_key_passes if {
	ids(patched([op("replace", i_pv0, concat("", [affinity_path, "/key"]), "topology.ebs.csi.aws.com/zone")])) == set()
}

test_graft021_zone if {
	ids(patched([op("replace", i_pv0, concat("", [affinity_path, "/values"]), ["us-east-1c"])])) == {"GRAFT021"}
}

pod_affinity(exprs) := op("add", i_sts, "/spec/template/spec/affinity", {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": exprs}]}}})

test_graft022_pod_affinity_in if {
	ids(patched([pod_affinity([{"key": zone_key, "operator": "In", "values": ["us-east-1a"]}])])) == {"GRAFT022"}
}

test_graft022_pod_affinity_not_in if {
	ids(patched([pod_affinity([{"key": zone_key, "operator": "NotIn", "values": ["us-east-1b"]}])])) == {"GRAFT022"}
}

test_graft022_pod_affinity_does_not_exist if {
	ids(patched([pod_affinity([{"key": zone_key, "operator": "DoesNotExist"}])])) == {"GRAFT022"}
}

test_graft022_node_selector if {
	ids(patched([op("add", i_sts, "/spec/template/spec/nodeSelector", {"topology.kubernetes.io/zone": "us-east-1b"})])) == {"GRAFT022"}
}

test_graft022_allowed_shapes_pass if {
	ids(patched([pod_affinity([
		{"key": zone_key, "operator": "In", "values": ["us-east-1a", "us-east-1b"]},
		{"key": "failure-domain.beta.kubernetes.io/zone", "operator": "Exists"},
		{"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]},
	])])) == set()
	ids(patched([pod_affinity([{"key": zone_key, "operator": "NotIn", "values": ["us-east-1c"]}])])) == set()
}

spread := {"maxSkew": 1, "topologyKey": zone_key, "whenUnsatisfiable": "DoNotSchedule"}

both_in_a := [
	op("replace", i_pv1, concat("", [affinity_path, "/values"]), ["us-east-1a"]),
	op("replace", i_lock, "/volumes/1/targetZone", "us-east-1a"),
	op("replace", i_pv1, "/metadata/annotations/graft.graftctl.io~1source-zone", "us-east-1a"),
	op("replace", i_lock, "/volumes/1/sourceZone", "us-east-1a"),
]

# A second StatefulSet, "other", of one member whose volume is in zone z,
# delivered in full.
other_sts := json.patch(sts, [
	{"op": "replace", "path": "/metadata/name", "value": "other"},
	{"op": "replace", "path": "/spec/replicas", "value": 1},
	{"op": "replace", "path": "/spec/volumeClaimTemplates/0/spec/selector/matchLabels/graft.graftctl.io~1statefulset", "value": "other"},
])

other_pv(z) := json.patch(pv(0), [
	{"op": "replace", "path": "/metadata/name", "value": "db-data-other-0"},
	{"op": "replace", "path": "/metadata/labels/graft.graftctl.io~1statefulset", "value": "other"},
	{"op": "replace", "path": "/metadata/annotations/graft.graftctl.io~1source-instance", "value": "i-09"},
	{"op": "replace", "path": "/metadata/annotations/graft.graftctl.io~1source-volume", "value": "vol-0b09"},
	{"op": "replace", "path": "/metadata/annotations/graft.graftctl.io~1source-zone", "value": z},
	{"op": "replace", "path": "/spec/claimRef/name", "value": "data-other-0"},
	{"op": "replace", "path": "/spec/csi/volumeHandle", "value": "vol-0a09"},
	{"op": "replace", "path": concat("", [affinity_path, "/values"]), "value": [z]},
])

other_pvc := json.patch(pvc(0), [
	{"op": "replace", "path": "/metadata/name", "value": "data-other-0"},
	{"op": "replace", "path": "/metadata/labels/graft.graftctl.io~1statefulset", "value": "other"},
	{"op": "replace", "path": "/spec/volumeName", "value": "db-data-other-0"},
])

other_entry(z) := json.patch(entry(0), [
	{"op": "replace", "path": "/statefulSet", "value": "other"},
	{"op": "replace", "path": "/sourceInstance", "value": "i-09"},
	{"op": "replace", "path": "/sourceVolume", "value": "vol-0b09"},
	{"op": "replace", "path": "/sourceZone", "value": z},
	{"op": "replace", "path": "/targetVolume", "value": "vol-0a09"},
	{"op": "replace", "path": "/targetZone", "value": z},
])

with_other(inp, z) := array.concat(
	json.patch(inp, [op("add", i_lock, "/volumes/-", other_entry(z))]),
	[{"path": "other.yaml", "contents": other_sts}, {"path": "other-pv.yaml", "contents": other_pv(z)}, {"path": "other-pvc.yaml", "contents": other_pvc}],
)

test_other_statefulset_passes if {
	ids(with_other(base, "us-east-1c")) == set()
}

test_graft023_spread_skew if {
	# Zone us-east-1c is known through the other StatefulSet's volume.
	inp := with_other(patched(array.concat(both_in_a, [op("add", i_sts, "/spec/template/spec/topologySpreadConstraints", [spread])])), "us-east-1c")
	ids(inp) == {"GRAFT023"}
	some f in graft.warn with input as inp
	f.level == "warn"
}

test_graft023_spread_met if {
	ids(patched([op("add", i_sts, "/spec/template/spec/topologySpreadConstraints", [spread])])) == set()
}

test_graft023_pinned_domains if {
	inp := patched(array.concat(both_in_a, [
		op("add", i_sts, "/spec/template/spec/topologySpreadConstraints", [spread]),
		pod_affinity([{"key": zone_key, "operator": "In", "values": ["us-east-1a", "us-east-1b"]}]),
	]))
	ids(inp) == {"GRAFT023"}
}

test_graft024_member_zones if {
	# A second claim template whose volume of member 0 is in another zone.
	t2 := json.patch(sts.spec.volumeClaimTemplates[0], [
		{"op": "replace", "path": "/metadata/name", "value": "log"},
		{"op": "replace", "path": "/spec/selector/matchLabels/graft.graftctl.io~1claim-template", "value": "log"},
	])
	p := json.patch(pv(1), [
		{"op": "replace", "path": "/metadata/name", "value": "db-log-cassandra-0"},
		{"op": "replace", "path": "/metadata/labels/graft.graftctl.io~1claim-template", "value": "log"},
		{"op": "replace", "path": "/spec/claimRef/name", "value": "log-cassandra-0"},
		{"op": "replace", "path": "/spec/csi/volumeHandle", "value": "vol-0a05"},
	])
	c := json.patch(pvc(0), [
		{"op": "replace", "path": "/metadata/name", "value": "log-cassandra-0"},
		{"op": "replace", "path": "/spec/volumeName", "value": "db-log-cassandra-0"},
	])
	e := json.patch(entry(1), [
		{"op": "replace", "path": "/claimTemplate", "value": "log"},
		{"op": "replace", "path": "/ordinal", "value": 0},
		{"op": "replace", "path": "/targetVolume", "value": "vol-0a05"},
		{"op": "replace", "path": "/sourceVolume", "value": "vol-0b01"},
	])
	inp := array.concat(
		patched([
			op("add", i_sts, "/spec/volumeClaimTemplates/-", t2),
			op("add", i_sts, "/spec/template/spec/containers/0/volumeMounts/-", {"name": "log", "mountPath": "/var/log/cassandra"}),
			op("replace", i_sts, "/spec/replicas", 1),
			rm(i_lock, "/volumes/1"),
			op("add", i_lock, "/volumes/-", e),
		]),
		[{"path": "x", "contents": p}, {"path": "y", "contents": c}],
	)
	clean := [d | some d in inp; not object.get(d.contents, ["metadata", "name"], "") in {"db-data-cassandra-1", "data-cassandra-1"}]
	ids(clean) == {"GRAFT024"}
}

# --- volumes

test_graft030_no_csi if {
	ids(patched([rm(i_pv0, "/spec/csi"), op("add", i_pv0, "/spec/awsElasticBlockStore", {"volumeID": "vol-0a00"})])) == {"GRAFT030"}
}

test_graft030_driver if {
	ids(patched([op("replace", i_pv0, "/spec/csi/driver", "x")])) == {"GRAFT030"}
}

test_graft031_handle if {
	ids(patched([op("replace", i_pv0, "/spec/csi/volumeHandle", "arn:aws:ec2:us-east-1:1:volume/vol-0a00")])) == {"GRAFT031"}
}

test_graft032_handle if {
	ids(patched([op("replace", i_pv0, "/spec/csi/volumeHandle", "vol-0fff")])) == {"GRAFT032"}
}

test_graft032_no_record_entry if {
	ids(patched([rm(i_lock, "/volumes/0")])) == {"GRAFT032"}
}

test_graft033_shared if {
	ids(patched([op("replace", i_pv1, "/spec/csi/volumeHandle", "vol-0a00")])) == {"GRAFT033"}
}

test_graft034_fstype if {
	ids(patched([op("replace", i_pv0, "/spec/csi/fsType", "xfs")])) == {"GRAFT034"}
}

# Without csi.fsType the kubelet skips fsGroup ownership changes on the
# volume (aws-ebs-csi-driver#1365): a PV that lacks it is denied.
test_graft034_fstype_unset if {
	what(patched([rm(i_pv0, "/spec/csi/fsType")])) == {["GRAFT034", "spec.csi.fsType", "unset"]}
	what(patched([op("replace", i_pv1, "/spec/csi/fsType", "")])) == {["GRAFT034", "spec.csi.fsType", ""]}
}

# A record entry without a filesystem type cannot prove a PV's: it is
# denied, not taken as agreement.
test_graft034_record_without_fstype if {
	what(patched([rm(i_lock, "/volumes/0/fsType")])) == {["GRAFT034", "volumes[0].fsType", "unset"]}
	what(patched([op("replace", i_lock, "/volumes/1/fsType", 4)])) == {["GRAFT034", "volumes[1].fsType", "4"], ["GRAFT034", "spec.csi.fsType", "ext4"]}
	what(patched([op("replace", i_lock, "/volumes/1/fsType", ""), op("replace", i_pv1, "/spec/csi/fsType", "")])) == {["GRAFT034", "volumes[1].fsType", ""]}
}

test_graft035_source if {
	ids(patched([op("replace", i_pv0, "/spec/csi/volumeHandle", "vol-0b00")])) == {"GRAFT035"}
}

test_graft036_undelivered if {
	ids(patched([op("add", i_lock, "/volumes/-", json.patch(entry(0), [
		{"op": "replace", "path": "/claimTemplate", "value": "log"},
		{"op": "replace", "path": "/targetVolume", "value": "vol-0a07"},
	]))])) == {"GRAFT036"}
}

test_graft037_capacity if {
	ids(patched([op("replace", i_pv0, "/spec/capacity/storage", "200Gi")])) == {"GRAFT037"}
}

# --- safety

test_graft040_reclaim if {
	ids(patched([rm(i_pv0, "/spec/persistentVolumeReclaimPolicy")])) == {"GRAFT040"}
}

test_graft041_retention if {
	ids(patched([op("replace", i_sts, "/spec/persistentVolumeClaimRetentionPolicy/whenScaled", "Delete")])) == {"GRAFT041"}
}

test_graft042_flux if {
	ids(patched([op("replace", i_pvc0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune", "enabled")])) == {"GRAFT042"}
}

test_graft042_flux_engine_object if {
	flux := {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "x"}, "spec": {"prune": true, "path": "./overlays/m"}}
	inp := array.concat(at_m(patched([
		rm(i_pv0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
		rm(i_pv1, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
		rm(i_pvc0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
		rm(i_pvc1, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune"),
	])), [{"path": "flux.yaml", "contents": flux}])
	ids(inp) == {"GRAFT042"}
}

test_graft042_argocd if {
	ids(argocd_patched([op("replace", i_pv0, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Prune=false")])) == {"GRAFT042"}
}

test_graft042_argocd_application if {
	app := {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "x"}, "spec": {"source": {"path": "overlays/m"}, "syncPolicy": {"syncOptions": ["PruneLast=true"]}}}
	ids(array.concat(at_m(base), [{"path": "app.yaml", "contents": app}])) == {"GRAFT042", "GRAFT043"}
}

test_graft043_wave if {
	ids(argocd_patched([op("replace", i_pvc0, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "0")])) == {"GRAFT043"}
}

test_graft043_wave_not_a_number if {
	ids(argocd_patched([op("replace", i_pv0, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "soon")])) == {"GRAFT043"}
}

test_graft043_statefulset_wave if {
	ids(argocd_patched([op("add", i_sts, "/metadata/annotations", {"argocd.argoproj.io/sync-wave": "-2"})])) == {"GRAFT043"}
}

test_graft044_argocd_replace if {
	ids(argocd_patched([op("replace", i_pv0, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Prune=false,Delete=false,Replace=true")])) == {"GRAFT044"}
}

test_graft044_flux_force if {
	ids(patched([op("add", i_sts, "/metadata/annotations", {"kustomize.toolkit.fluxcd.io/force": "enabled"})])) == {"GRAFT044"}
}

test_graft044_flux_kustomization_force if {
	flux := {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "x"}, "spec": {"force": true, "path": "overlays/m"}}
	ids(array.concat(at_m(base), [{"path": "flux.yaml", "contents": flux}])) == {"GRAFT044"}
}

test_graft044_application_replace if {
	app := {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "x"}, "spec": {"source": {"path": "overlays/m"}, "syncPolicy": {"syncOptions": ["Replace=true"]}}}
	ids(array.concat(at_m(argocd), [{"path": "app.yaml", "contents": app}])) == {"GRAFT044"}
}

test_graft045_common_labels if {
	ids(patched([op("add", i_kust, "/commonLabels", {"app": "x"})])) == {"GRAFT045"}
}

test_graft045_labels_include_selectors if {
	ids(patched([op("add", i_kust, "/labels", [{"pairs": {"app": "x"}, "includeSelectors": true}])])) == {"GRAFT045"}
}

test_graft045_labels_without_selectors_pass if {
	ids(patched([op("add", i_kust, "/labels", [{"pairs": {"app": "x"}}])])) == set()
}

test_graft046_missing if {
	ids(patched([rm(i_pv0, "/metadata/annotations/graft.graftctl.io~1source-volume")])) == {"GRAFT046"}
}

test_graft046_differs if {
	ids(patched([op("replace", i_pv0, "/metadata/annotations/graft.graftctl.io~1source-instance", "i-09")])) == {"GRAFT046"}
}

test_show_formats_non_strings if {
	graft.show(["a"]) == `["a"]`
	graft.show("a") == "a"
}

test_graft016_selector_on_ordinal if {
	# A selector on the ordinal label is matched PV by PV: only member 0's
	# volume carries ordinal "0".
	ids(patched([op("add", i_sts, "/spec/volumeClaimTemplates/0/spec/selector/matchLabels/graft.graftctl.io~1ordinal", "0")])) == {"GRAFT016"}
	expr := {"key": "graft.graftctl.io/ordinal", "operator": "In", "values": ["1"]}
	ids(patched([op("add", i_sts, "/spec/volumeClaimTemplates/0/spec/selector/matchExpressions", [expr])])) == {"GRAFT016"}
}

test_graft017_selector_on_ordinal if {
	other := json.patch(sts, [
		{"op": "replace", "path": "/metadata/name", "value": "other"},
		{"op": "replace", "path": "/spec/replicas", "value": 0},
		{"op": "replace", "path": "/spec/volumeClaimTemplates/0/spec/selector", "value": {"matchLabels": {"graft.graftctl.io/ordinal": "1"}}},
	])
	ids(appended(other)) == {"GRAFT017"}
}

# --- zones the scheduler reads besides the PV's one zone expression

# The term ANDs its expressions: a second zone, on the beta key, leaves no
# node; matchFields names nodes the gate cannot place in a zone.
test_graft020_second_zone_on_the_beta_key if {
	beta := {"key": "failure-domain.beta.kubernetes.io/zone", "operator": "In", "values": ["us-east-1b"]}
	ids(patched([op("add", i_pv0, "/spec/nodeAffinity/required/nodeSelectorTerms/0/matchExpressions/-", beta)])) == {"GRAFT020"}
	# The beta key alone is no zone graft states.
	ids(patched([op("replace", i_pv0, concat("", [affinity_path, "/key"]), "failure-domain.beta.kubernetes.io/zone")])) == {"GRAFT020"}
}

test_graft020_match_fields if {
	fields := [{"key": "metadata.name", "operator": "In", "values": ["ip-10-0-0-1.ec2.internal"]}]
	ids(patched([op("add", i_pv0, "/spec/nodeAffinity/required/nodeSelectorTerms/0/matchFields", fields)])) == {"GRAFT020"}
	ids(patched([op("add", i_pv0, "/spec/nodeAffinity/required/nodeSelectorTerms/0/matchFields", [])])) == set()
}

pv_label(k, v) := op("add", i_pv0, sprintf("/metadata/labels/%s", [replace(k, "/", "~1")]), v)

test_graft020_zone_label_of_another_zone if {
	inp := patched([pv_label("topology.kubernetes.io/zone", "us-east-1b")])
	what(inp) == {["GRAFT020", `metadata.labels["topology.kubernetes.io/zone"]`, "us-east-1b"]}
	every l in [
		pv_label("failure-domain.beta.kubernetes.io/zone", "us-east-1c"),
		pv_label("topology.kubernetes.io/region", "eu-west-1"),
		pv_label("failure-domain.beta.kubernetes.io/region", "us-east-"),
		pv_label("topology.kubernetes.io/region", "us-east-1a"),
	] {
		ids(patched([l])) == {"GRAFT020"}
	}
}

test_graft020_zone_labels_that_hold_the_zone_pass if {
	ids(patched([
		pv_label("topology.kubernetes.io/zone", "us-east-1a"),
		pv_label("failure-domain.beta.kubernetes.io/zone", "us-east-1b__us-east-1a"),
		pv_label("topology.kubernetes.io/region", "us-east-1"),
		op("add", i_pv1, "/metadata/labels/topology.kubernetes.io~1region", "us-west-2__us-east-1"),
	])) == set()
	# A Local Zone is named after its region too.
	graft.zone_in_region("us-east-1-bos-1a", "us-east-1")
	not graft.zone_in_region("us-east-11a", "us-east-1")
}

# An empty term matches no node; a term with matchFields names nodes the
# gate cannot place; a nodeName bypasses the scheduler.
pod_terms(ts) := op("add", i_sts, "/spec/template/spec/affinity", {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": ts}}})

test_graft022_pod_affinity_terms_that_admit_no_known_zone if {
	ids(patched([pod_terms([{}])])) == {"GRAFT022"}
	ids(patched([pod_terms([{"matchExpressions": []}])])) == {"GRAFT022"}
	ids(patched([pod_terms([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}])])) == {"GRAFT022"}
	# One term that admits the zone is enough (terms are ORed).
	ids(patched([pod_terms([{}, {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}]}])])) == set()
}

test_graft022_node_name if {
	inp := patched([op("add", i_sts, "/spec/template/spec/nodeName", "ip-10-0-0-1.ec2.internal")])
	what(inp) == {["GRAFT022", "spec.template.spec.nodeName", "ip-10-0-0-1.ec2.internal"]}
	ids(patched([op("add", i_sts, "/spec/template/spec/nodeName", "")])) == set()
}

# --- the PV controller's binding state

test_graft012_claim_marked_bound if {
	inp := patched([op("add", i_pvc0, "/metadata/annotations/pv.kubernetes.io~1bind-completed", "yes")])
	what(inp) == {["GRAFT012", `metadata.annotations["pv.kubernetes.io/bind-completed"]`, "yes"]}
	ids(patched([op("add", i_pv1, "/metadata/annotations/pv.kubernetes.io~1bound-by-controller", "yes")])) == {"GRAFT012"}
	ids(patched([op("add", i_pvc1, "/metadata/annotations/pv.kubernetes.io~1bound-by-controller", "yes")])) == {"GRAFT012"}
}

# --- the record

test_graft002_record_entry_twice if {
	# The same claim again, with another zone: which is the member's?
	dup := json.patch(entry(1), [{"op": "replace", "path": "/targetZone", "value": "us-east-1a"}])
	inp := patched([op("add", i_lock, "/volumes/-", dup)])
	what(inp) == {
		["GRAFT002", "volumes[1]", "claim data-cassandra-1, which 2 entries of graft.lock record a volume for"],
		["GRAFT002", "volumes[2]", "claim data-cassandra-1, which 2 entries of graft.lock record a volume for"],
	}
}

# --- GRAFT079: namespaces stated

test_graft079_claim_namespace_unstated if {
	# Without a namespace the claim is applied where the applier says,
	# while its PV's claimRef names db.
	inp := patched([rm(i_pvc0, "/metadata/namespace"), op("replace", i_pv0, "/spec/claimRef/namespace", "default")])
	"GRAFT079" in ids(inp)
	some f in findings(inp)
	f.id == "GRAFT079"
	f.kind == "PersistentVolumeClaim"
	f.found == "unset"
	"GRAFT079" in ids(patched([op("replace", i_pvc1, "/metadata/namespace", "")]))
}

test_graft079_statefulset_namespace_unstated if {
	# Everything in "default", as the rules would read it: only the
	# StatefulSet's unstated namespace is wrong.
	inp := patched([
		rm(i_sts, "/metadata/namespace"),
		op("replace", i_pvc0, "/metadata/namespace", "default"),
		op("replace", i_pvc1, "/metadata/namespace", "default"),
		op("replace", i_pv0, "/spec/claimRef/namespace", "default"),
		op("replace", i_pv1, "/spec/claimRef/namespace", "default"),
	])
	what(inp) == {["GRAFT079", "metadata.namespace", "unset"]}
}

# More members than any input holds claims for: denied once, without
# enumerating two billion claims.
test_graft001_replicas_beyond_any_input if {
	inp := patched([op("replace", i_sts, "/spec/replicas", 2000000000)])
	what(inp) == {["GRAFT001", "spec.replicas", "2000000000"]}
}

# --- GRAFT043: the wave as Argo CD reads it (gitops-engine syncwaves.Wave)

test_graft043_wave_argo_cannot_read if {
	# strconv.Atoi reads no fraction or exponent: Argo CD syncs the PV in
	# wave 0, with the StatefulSet.
	every w in ["-1.5", "-2.0", "-1e0", " -1"] {
		ids(argocd_patched([op("replace", i_pv0, "/metadata/annotations/argocd.argoproj.io~1sync-wave", w)])) == {"GRAFT043"}
	}
	ids(argocd_patched([op("replace", i_pv0, "/metadata/annotations/argocd.argoproj.io~1sync-wave", "-02")])) == set()
	ids(argocd_patched([op("add", i_sts, "/metadata/annotations", {"argocd.argoproj.io/sync-wave": "+1"})])) == set()
}

test_graft043_helm_hook_weight_sets_the_wave if {
	# Without a sync-wave Argo CD takes Helm's hook weight: this
	# StatefulSet syncs in wave -5, before the PVs (-2) and PVCs (-1).
	inp := argocd_patched([op("add", i_sts, "/metadata/annotations", {"helm.sh/hook-weight": "-5"})])
	ids(inp) == {"GRAFT043"}
	count([f | some f in findings(inp); f.id == "GRAFT043"]) == 4
	# A PV whose wave Argo CD cannot read falls back to its hook weight.
	graft.sync_wave({"metadata": {"annotations": {"argocd.argoproj.io/sync-wave": "x", "helm.sh/hook-weight": "-3"}}}) == -3
}
