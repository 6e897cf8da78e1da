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

deny contains f if {
	some d in pv_docs
	driver := object.get(d.contents.spec.csi, "driver", "unset")
	driver != csi_driver
	f := denied("GRAFT030", d, "spec.csi.driver", driver, csi_driver, "wrong CSI driver")
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
	h := pv_handle(d.contents)
	handle_ok(h)
	not h in source_volumes
	not duplicated_handle(h)
	rec := c.rec
	rec != null
	h != rec.targetVolume
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

# GRAFT035
deny contains f if {
	some d in pv_docs
	h := pv_handle(d.contents)
	h in source_volumes
	f := denied("GRAFT035", d, "spec.csi.volumeHandle", h, "a cloned volume, never a source volume", "the legacy instance's own disk must never be handed to Kubernetes")
}

# GRAFT036
overlay_sts_names := {n | some d in sts_docs; n := d.contents.metadata.name}

sts_by_name := {n: g | some n in overlay_sts_names; g := [d | some d in sts_docs; n = d.contents.metadata.name]}

pv_claim_names := {e.d.contents.spec.claimRef.name | some e in pv_claim_entries}

deny contains f if {
	some v in record_volumes
	v.statefulSet in overlay_sts_names
	not pv_by_handle[v.targetVolume]
	not claim_name(v.claimTemplate, v.statefulSet, v.ordinal) in pv_claim_names
	some d in sts_by_name[v.statefulSet]
	f := denied(
		"GRAFT036", d, "spec.volumeClaimTemplates",
		sprintf("no PersistentVolume for %s", [v.targetVolume]),
		sprintf("a PersistentVolume for %s, the volume graft.lock records for %s", [v.targetVolume, claim_name(v.claimTemplate, v.statefulSet, v.ordinal)]),
		"a cloned volume is not delivered",
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
