# Volumes: each PV is the cloned EBS volume graft.lock records for its
# claim, through the EBS CSI driver, never a source volume and never
# shared.
package graft

volume_id_pattern := `^vol-[0-9a-f]+$`

pv_handle(pv) := pv.spec.csi.volumeHandle

handle_ok(h) if regex.match(volume_id_pattern, h)

duplicated_handle(h) if count(pv_by_handle[h]) > 1

has_csi(pv) if is_object(pv.spec.csi)

capacity_is(pv, gib) if pv_capacity(pv) == gib * 1073741824

# GRAFT030
deny contains f if {
	some d in pv_docs
	not has_csi(d.contents)
	f := denied("GRAFT030", d, "spec.csi", "unset", sprintf("a csi source with driver %s", [csi_driver]), "the volume must be mounted through the EBS CSI driver")
}

# The driver is the one graft.lock records for the PV's claim
# (ebs.csi.aws.com when it records none, or has no entry): pv_record, in
# mount.rego (defined once: each definition is evaluated on every call).

wrong_driver(driver, want) if driver != want

wrong_driver(driver, _) if not driver in csi_drivers

deny contains f if {
	some d in pv_docs
	has_csi(d.contents)
	driver := object.get(d.contents.spec.csi, "driver", "unset")
	want := recorded_driver(pv_record(d.contents))
	wrong_driver(driver, want)
	f := denied("GRAFT030", d, "spec.csi.driver", driver, want, "wrong CSI driver: graft.lock records the driver the cluster attaches the volume with")
}

# GRAFT031
deny contains f if {
	some d in pv_docs
	is_object(d.contents.spec.csi)
	h := object.get(d.contents.spec.csi, "volumeHandle", "unset")
	not handle_ok(h)
	f := denied("GRAFT031", d, "spec.csi.volumeHandle", h, sprintf("a bare volume id matching %s", [volume_id_pattern]), "the EBS CSI driver takes the bare id, not an ARN or an aws:// URL")
}

# GRAFT032: the volume is the record's. A malformed, shared or source
# handle is reported by its own rule instead.
deny contains f if {
	record
	some c in claimed_pvs
	d := c.d
	claim := d.contents.spec.claimRef.name
	not record_by_claim[claim]
	f := denied("GRAFT032", d, "spec.claimRef.name", claim, "a claim graft.lock records a cloned volume for", "graft.lock has no volume for this claim")
}

deny contains f if {
	some c in claimed_pvs
	d := c.d
	rec := c.rec
	rec != null
	h := d.contents.spec.csi.volumeHandle
	h != rec.targetVolume
	handle_ok(h)
	not h in source_volumes
	not duplicated_handle(h)
	f := denied("GRAFT032", d, "spec.csi.volumeHandle", h, rec.targetVolume, sprintf("graft.lock records %s as the volume of %s", [rec.targetVolume, d.contents.spec.claimRef.name]))
}

# GRAFT033
deny contains f if {
	some h, g in pv_by_handle
	count(g) > 1
	some d in g
	f := denied("GRAFT033", d, "spec.csi.volumeHandle", h, sprintf("a volume no other PersistentVolume uses (%d use it)", [count(g)]), "two pods would write to one disk")
}

# GRAFT034
deny contains f if {
	some c in claimed_pvs
	d := c.d
	has_csi(d.contents)
	rec := c.rec
	rec != null
	fs := object.get(d.contents, ["spec", "csi", "fsType"], "unset")
	fs != rec.fsType
	f := denied("GRAFT034", d, "spec.csi.fsType", fs, rec.fsType, sprintf("the filesystem on %s is %s", [rec.targetVolume, rec.fsType]))
}

# A record entry must name the filesystem: without it the rule above could
# not compare, and would deny nothing.
recorded_fstype(v) if {
	is_string(v.fsType)
	v.fsType != ""
}

deny contains f if {
	some i, v in record_volumes
	not recorded_fstype(v)
	f := denied("GRAFT034", record_doc, sprintf("volumes[%d].fsType", [i]), object.get(v, "fsType", "unset"), "the filesystem type of the volume (ext4, xfs, …)", "the PV's fsType cannot be checked")
}

# GRAFT035
deny contains f if {
	some d in pv_docs
	h := pv_handle(d.contents)
	h in source_volumes
	f := denied("GRAFT035", d, "spec.csi.volumeHandle", h, "a cloned volume, never a source volume", "the legacy instance's own disk must never be handed to Kubernetes")
}

# GRAFT036: every volume of the record is delivered: its StatefulSet is
# in the input with its claim template, and a PVC and a PV exist for it
# (GRAFT001 reports the missing PVC of a member the StatefulSet runs,
# GRAFT004 a member it does not run). An input that holds nothing of the
# record is denied once per missing object.
pv_claim_names := {e.d.contents.spec.claimRef.name | some e in pv_claim_entries}

pvc_names := {d.contents.metadata.name | some d in pvc_docs}

# claim_expected: some StatefulSet of the input looks for the claim.
claim_expected(e) if {
	some d in sts_by_name[e.v.statefulSet]
	expected[key(ns(d.contents), e.k)]
}

member_of(v) := sprintf("member %s-%d, claim template %s", [v.statefulSet, v.ordinal, v.claimTemplate])

# Only for kind statefulset: an operator or a chart creates the other
# kinds' StatefulSets (workload.rego, GRAFT070-GRAFT075).
deny contains f if {
	statefulset_kind
	some i, v in record_volumes
	not v.statefulSet in overlay_sts_names
	f := denied(
		"GRAFT036", record_doc, sprintf("volumes[%d].statefulSet", [i]),
		sprintf("no StatefulSet %s in the input", [v.statefulSet]),
		sprintf("StatefulSet %s with claim template %s and ordinal %d in [start, start+replicas)", [v.statefulSet, v.claimTemplate, v.ordinal]),
		sprintf("%s of %s has no StatefulSet to use it", [v.targetVolume, member_of(v)]),
	)
}

deny contains f if {
	some [n, t] in record_templates
	some d in sts_by_name[n]
	not bound_template(d.contents, t)
	f := denied(
		"GRAFT036", d, "spec.volumeClaimTemplates",
		sprintf("no claim template %s%s", [t, bound_template_mark]),
		sprintf("claim template %s%s, for the volumes graft.lock records for it", [t, bound_template_wanted]),
		"recorded volumes have no claim template to be mounted through",
	)
}

bound_template_mark := " with a selector" if not provisioned

bound_template_mark := "" if provisioned

bound_template_wanted := " selecting graft's PersistentVolumes" if not provisioned

bound_template_wanted := "" if provisioned

deny contains f if {
	some e in record_entries
	claim := e.k
	not claim in pvc_names
	not claim_expected(e)
	i := e.i
	v := e.v
	f := denied(
		"GRAFT036", record_doc, sprintf("volumes[%d]", [i]),
		sprintf("no PersistentVolumeClaim %s", [claim]),
		sprintf("PersistentVolumeClaim %s, bound to the PersistentVolume of %s", [claim, v.targetVolume]),
		sprintf("%s is not delivered to %s", [v.targetVolume, member_of(v)]),
	)
}

deny contains f if {
	some e in record_entries
	v := e.v
	not pv_by_handle[v.targetVolume]
	claim := e.k
	not claim in pv_claim_names
	i := e.i
	f := denied(
		"GRAFT036", record_doc, sprintf("volumes[%d].targetVolume", [i]),
		sprintf("no PersistentVolume for %s", [v.targetVolume]),
		sprintf("a PersistentVolume with volumeHandle %s and claimRef %s", [v.targetVolume, claim]),
		sprintf("%s is not delivered to %s", [v.targetVolume, member_of(v)]),
	)
}

# GRAFT037
deny contains f if {
	some c in claimed_pvs
	d := c.d
	rec := c.rec
	rec != null
	not capacity_is(d.contents, rec.sizeGiB)
	f := denied("GRAFT037", d, "spec.capacity.storage", object.get(d.contents, ["spec", "capacity", "storage"], "unset"), sprintf("%dGi", [rec.sizeGiB]), sprintf("graft.lock records %s as %dGiB", [rec.targetVolume, rec.sizeGiB]))
}

# GRAFT026: a volume graft.lock records for a cluster's driver records the
# tags that driver's IAM policy attaches it by (spec.target.cluster), all
# naming one cluster. A record that names no driver needs none.
driver_tags := {
	"ebs.csi.aws.com": {"ebs.csi.aws.com/cluster": "true", "ebs.csi.aws.com/cluster-name": null},
	"ebs.csi.eks.amazonaws.com": {"eks:eks-cluster-name": null},
}

tag_ok(tags, k, null) if is_string(tags[k])

tag_ok(tags, k, v) if {
	v != null
	tags[k] == v
}

deny contains f if {
	some i, v in record_volumes
	some k, want in driver_tags[v.csiDriver]
	tags := object.get(v, "clusterTags", {})
	not tag_ok(tags, k, want)
	f := denied(
		"GRAFT026", record_doc, sprintf("volumes[%d].clusterTags[%s]", [i, json.marshal(k)]), object.get(tags, k, "unset"),
		cond_expected(want), sprintf("graft.lock records %s for %s but not the tag its IAM policy attaches the volume by", [v.csiDriver, v.targetVolume]),
	)
}

cond_expected(null) := "the cluster's name"

cond_expected(v) := v if v != null

recorded_clusters := {c |
	some v in record_volumes
	some k in ["eks:eks-cluster-name", "ebs.csi.aws.com/cluster-name"]
	c := v.clusterTags[k]
}

deny contains f if {
	count(recorded_clusters) > 1
	f := denied("GRAFT026", record_doc, "volumes[].clusterTags", sort(recorded_clusters), "one cluster name", "graft.lock tags its volumes for more than one cluster")
}
