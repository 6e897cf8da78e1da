# Zones: an EBS volume lives in one zone, and a pod whose volume is in a
# zone its node affinity or its pod template rule out stays Pending.
package graft

pv_zone_field := "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]"

# member_zone_entries: the zone of each PV meant for an expected claim.
# A member is [namespace, StatefulSet, ordinal].
member_zone_entries := [{"m": [e.namespace, e.sts, e.ordinal], "s": key(e.namespace, e.sts), "z": z, "sd": e.sts_doc} |
	some c in claimed_pvs
	d := c.d
	e := c.e
	z := pv_zone(d.contents)
]

member_keys := {x.m | some x in member_zone_entries}

member_zone_pairs := {[x.m, x.z] | some x in member_zone_entries}

# Grouped only when some member has more than one zone.
member_zones := {m: zs |
	count(member_zone_pairs) > count(member_keys)
	some m in member_keys
	zs := {x.z | some x in member_zone_entries; m = x.m}
}

sts_keys := {x.s | some x in member_zone_entries}

sts_member_zones := {s: pairs | some s in sts_keys; pairs := {[x.m, x.z] | some x in member_zone_entries; s = x.s}}

# Every zone graft knows of: the record's and the PVs'.
known_zones := {v.targetZone | some v in record_volumes} | {x.z | some x in member_zone_entries}

# GRAFT020
deny contains f if {
	some d in pv_docs
	not pv_zone(d.contents)
	f := denied(
		"GRAFT020", d, "spec.nodeAffinity",
		object.get(d.contents, ["spec", "nodeAffinity"], "unset"),
		sprintf("required.nodeSelectorTerms with one term, no matchFields, holding one zone expression, on %s, operator In, one zone", [concat(" or ", sort(zone_keys))]),
		"the volume's zone must be stated once, so pods are scheduled where the volume is",
	)
}

# The scheduler's VolumeZone plugin reads a PV's zone and region labels
# (GA and beta) as well as its node affinity, and admits only nodes that
# carry one of the label's zones ("__" separates several,
# LabelZonesToSet): a label naming another zone leaves the member no node.
pv_zone_labels := {"topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"}

pv_region_labels := {"topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"}

label_values(v) := {x | some x in split(v, "__")}

# AWS zones are named after their region: us-east-1a, us-east-1-bos-1a.
zone_in_region(z, r) if {
	startswith(z, r)
	regex.match(`^([a-z]|-[a-z0-9-]+)$`, substring(z, count(r), -1))
}

label_allows_zone(k, v, z) if {
	k in pv_zone_labels
	z in label_values(v)
}

label_allows_zone(k, v, z) if {
	k in pv_region_labels
	some r in label_values(v)
	zone_in_region(z, r)
}

pv_topology_labels := pv_zone_labels | pv_region_labels

deny contains f if {
	some d in pv_docs
	ls := labels(d.contents)
	some k in pv_topology_labels
	v := ls[k]
	z := pv_zone(d.contents)
	not label_allows_zone(k, v, z)
	f := denied(
		"GRAFT020", d, sprintf("metadata.labels[%s]", [json.marshal(k)]), v,
		sprintf("unset, or a value that holds %s, the zone of the node affinity", [z]),
		"the scheduler's VolumeZone plugin would admit only nodes of the label's zone, where the volume is not: the member would never be scheduled",
	)
}

# GRAFT021
deny contains f if {
	some c in claimed_pvs
	d := c.d
	z := pv_zone(d.contents)
	rec := c.rec
	rec != null
	rec.targetZone != z
	f := denied("GRAFT021", d, pv_zone_field, z, rec.targetZone, sprintf("graft.lock places %s in %s", [rec.targetVolume, rec.targetZone]))
}

# GRAFT022
deny contains f if {
	some c in claimed_pvs
	d := c.d
	e := c.e
	z := pv_zone(d.contents)
	not zone_allowed(e.sts_doc.contents, z)
	f := denied(
		"GRAFT022", d, pv_zone_field, z,
		sprintf("a zone the pod template of StatefulSet %s allows (%s)", [e.sts, concat(", ", sort(pinned_zones(e.sts_doc.contents)))]),
		sprintf("pod %s-%d could never be scheduled next to its volume", [e.sts, e.ordinal]),
	)
}

# A nodeName in the pod template bypasses the scheduler, which places each
# member next to its volume: every member would be sent to that node,
# whatever zone its volume is in.
deny contains f if {
	some d in {ct.sts | some ct in claim_templates}
	n := pod_spec(d.contents).nodeName
	n != ""
	f := denied(
		"GRAFT022", d, "spec.template.spec.nodeName", n, "unset",
		"every member would run on that one node, and a member whose volume is in another zone could never attach it",
	)
}

# GRAFT023: a hard zone spread constraint counts the members per zone; the
# PVs pin each member, so the counts must stay within maxSkew over the
# zones pods may use (the pinned zones, else every zone graft knows of).
spread_domains(s) := pinned_zones(s) if count(pinned_zones(s)) > 0

spread_domains(s) := known_zones if count(pinned_zones(s)) == 0

warn contains f if {
	some sd in sts_docs
	s := sd.contents
	some i, c in object.get(pod_spec(s), "topologySpreadConstraints", [])
	c.topologyKey in pod_zone_keys
	c.whenUnsatisfiable == "DoNotSchedule"
	pairs := sts_member_zones[key(ns(s), s.metadata.name)]
	domains := spread_domains(s)
	counts := {z: n | some z in domains; n := count([m | some [m, z2] in pairs; z2 == z])}
	skew := max([n | some n in counts]) - min([n | some n in counts])
	skew > object.get(c, "maxSkew", 1)
	f := warned(
		"GRAFT023", sd, sprintf("spec.template.spec.topologySpreadConstraints[%d].maxSkew", [i]),
		object.get(c, "maxSkew", 1),
		sprintf("at least %d, the skew of the members' volume zones %s", [skew, json.marshal(counts)]),
		"pods pinned to their volumes' zones could break the spread constraint and stay Pending",
	)
}

# GRAFT024
deny contains f if {
	some x in member_zone_entries
	zs := member_zones[x.m]
	count(zs) > 1
	f := denied("GRAFT024", x.sd, "spec.volumeClaimTemplates", sort(zs), "one zone", sprintf("the volumes of member %s/%s/%d are in different zones, so its pod can never be scheduled", x.m))
}

# GRAFT025: EKS Auto Mode labels its nodes topology.kubernetes.io/zone and
# eks.amazonaws.com/compute-type=auto; a PV of its driver (by the PV or by
# graft.lock) states its zone with that key and requires that label, as
# the awslabs migration tool writes it.
auto_mode_pv(pv) if pv.spec.csi.driver == auto_mode_driver

auto_mode_pv(pv) if recorded_driver(pv_record(pv)) == auto_mode_driver

# The PVs of Auto Mode's driver, found once for both rules below (the test
# fails for every PV of the other driver, and a function's false is not
# cached, so each rule would evaluate it again for every PV).
auto_mode_pv_docs := [d | some d in pv_docs; auto_mode_pv(d.contents)]

pv_terms(pv) := object.get(pv, ["spec", "nodeAffinity", "required", "nodeSelectorTerms"], [])

requires_auto(term) if {
	some e in object.get(term, "matchExpressions", [])
	e.key == compute_type_label
	e.operator == "In"
	e.values == ["auto"]
}

deny contains f if {
	some d in auto_mode_pv_docs
	some i, term in pv_terms(d.contents)
	some j, e in object.get(term, "matchExpressions", [])
	e.key in zone_keys
	e.key != "topology.kubernetes.io/zone"
	f := denied(
		"GRAFT025", d, sprintf("spec.nodeAffinity.required.nodeSelectorTerms[%d].matchExpressions[%d].key", [i, j]), e.key, "topology.kubernetes.io/zone",
		"EKS Auto Mode nodes carry no other zone label: the pod would never be scheduled",
	)
}

deny contains f if {
	some d in auto_mode_pv_docs
	some i, term in pv_terms(d.contents)
	not requires_auto(term)
	f := denied(
		"GRAFT025", d, sprintf("spec.nodeAffinity.required.nodeSelectorTerms[%d].matchExpressions", [i]), object.get(term, "matchExpressions", "unset"),
		sprintf("a requirement %s In [auto]", [compute_type_label]),
		"a volume of EKS Auto Mode's driver is attached only on Auto Mode nodes",
	)
}
