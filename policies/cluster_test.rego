# EKS Auto Mode and recorded drivers: GRAFT030 (the record's driver) and
# GRAFT025 (Auto Mode's zone key and compute-type requirement).
package graft_test

import data.graft

expr0 := "/spec/nodeAffinity/required/nodeSelectorTerms/0/matchExpressions"

auto_requirement := {"key": "eks.amazonaws.com/compute-type", "operator": "In", "values": ["auto"]}

# auto_mode_ops turn the fixture into graft's Auto Mode output: the record
# names the driver, and each PV uses it, the kubernetes zone key and the
# compute-type requirement.
auto_mode_ops := [o |
	some i in [0, 1]
	some o in [
		op("add", i_lock, sprintf("/volumes/%d/csiDriver", [i]), "ebs.csi.eks.amazonaws.com"),
		op("add", i_lock, sprintf("/volumes/%d/clusterTags", [i]), {"eks:eks-cluster-name": "prod"}),
		op("replace", i_pv0 + i, "/spec/csi/driver", "ebs.csi.eks.amazonaws.com"),
		op("replace", i_pv0 + i, concat("", [expr0, "/0/key"]), "topology.kubernetes.io/zone"),
		op("add", i_pv0 + i, concat("", [expr0, "/-"]), auto_requirement),
	]
]

auto_mode := patched(auto_mode_ops)

test_auto_mode_passes if {
	ids(auto_mode) == set()
}

add_on_tags := {"ebs.csi.aws.com/cluster": "true", "ebs.csi.aws.com/cluster-name": "prod"}

test_recorded_add_on_driver_passes if {
	ids(patched([
		op("add", i_lock, "/volumes/0/csiDriver", "ebs.csi.aws.com"),
		op("add", i_lock, "/volumes/0/clusterTags", add_on_tags),
	])) == set()
}

test_graft026_add_on_driver_without_tags if {
	ids(patched([op("add", i_lock, "/volumes/0/csiDriver", "ebs.csi.aws.com")])) == {"GRAFT026"}
}

test_graft026_add_on_cluster_tag_false if {
	inp := patched([
		op("add", i_lock, "/volumes/0/csiDriver", "ebs.csi.aws.com"),
		op("add", i_lock, "/volumes/0/clusterTags", object.union(add_on_tags, {"ebs.csi.aws.com/cluster": "false"})),
	])
	some f in findings(inp)
	f.id == "GRAFT026"
	f.field == `volumes[0].clusterTags["ebs.csi.aws.com/cluster"]`
	f.expected == "true"
}

test_graft026_auto_mode_without_tag if {
	ids(json.patch(auto_mode, [rm(i_lock, "/volumes/1/clusterTags")])) == {"GRAFT026"}
}

test_graft026_auto_mode_two_clusters if {
	ids(json.patch(auto_mode, [op("replace", i_lock, "/volumes/1/clusterTags/eks:eks-cluster-name", "staging")])) == {"GRAFT026"}
}

test_graft026_no_driver_needs_no_tags if {
	not "GRAFT026" in ids(base)
}

test_graft030_auto_mode_driver_without_record if {
	# The record names no driver: the PV must use ebs.csi.aws.com.
	ids(patched([op("replace", i_pv0, "/spec/csi/driver", "ebs.csi.eks.amazonaws.com")])) == {"GRAFT030", "GRAFT025"}
}

test_graft030_add_on_driver_for_auto_mode_record if {
	ids(json.patch(auto_mode, [op("replace", i_pv1, "/spec/csi/driver", "ebs.csi.aws.com")])) == {"GRAFT030"}
}

test_graft030_unknown_recorded_driver if {
	inp := patched([
		op("add", i_lock, "/volumes/0/csiDriver", "x.csi.example.com"),
		op("replace", i_pv0, "/spec/csi/driver", "x.csi.example.com"),
	])
	ids(inp) == {"GRAFT030"}
}

test_graft030_names_the_recorded_driver if {
	some f in findings(json.patch(auto_mode, [op("replace", i_pv0, "/spec/csi/driver", "ebs.csi.aws.com")]))
	f.id == "GRAFT030"
	f.expected == "ebs.csi.eks.amazonaws.com"
	f.found == "ebs.csi.aws.com"
}

test_graft025_ebs_zone_key if {
	ids(json.patch(auto_mode, [op("replace", i_pv0, concat("", [expr0, "/0/key"]), "topology.ebs.csi.aws.com/zone")])) == {"GRAFT025"}
}

test_graft025_no_compute_type if {
	ids(json.patch(auto_mode, [rm(i_pv1, concat("", [expr0, "/1"]))])) == {"GRAFT025"}
}

test_graft025_compute_type_not_auto if {
	ids(json.patch(auto_mode, [op("replace", i_pv1, concat("", [expr0, "/1/values"]), ["auto", "hybrid"])])) == {"GRAFT025"}
}

test_graft025_compute_type_notin if {
	ids(json.patch(auto_mode, [op("replace", i_pv1, concat("", [expr0, "/1/operator"]), "NotIn")])) == {"GRAFT025"}
}

test_graft025_second_term_without_compute_type if {
	# Two terms are ORed: a node matching the second would not be Auto Mode.
	term := {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-1a"]}]}
	"GRAFT025" in ids(json.patch(auto_mode, [op("add", i_pv0, "/spec/nodeAffinity/required/nodeSelectorTerms/-", term)]))
}

test_graft025_recorded_auto_mode_pv_of_add_on if {
	# The record says Auto Mode: the add-on's zone key is wrong even on a
	# PV that names the wrong driver (GRAFT030 reports the driver).
	inp := json.patch(auto_mode, [
		op("replace", i_pv0, "/spec/csi/driver", "ebs.csi.aws.com"),
		rm(i_pv0, concat("", [expr0, "/1"])),
	])
	ids(inp) == {"GRAFT030", "GRAFT025"}
}
