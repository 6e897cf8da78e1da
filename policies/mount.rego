# Mounts: the member's container gets its data, read-write, at the root of
# the volume. The StatefulSet controller adds one pod volume per claim
# template (replacing a pod volume of the same name); a container sees it
# only through a volumeMount, and the kubelet mounts a CSI volume read-only
# when the PV says csi.readOnly or a mount option says ro (the EBS CSI
# driver adds "ro" for a read-only publish).
package graft

mount_options_annotation := "volume.beta.kubernetes.io/mount-options"

# The containers' mounts of claim template t of StatefulSet s.
template_mounts(s, t) := [{"c": i, "m": j, "mount": m} |
	some i, c in object.get(pod_spec(s), "containers", [])
	some j, m in object.get(c, "volumeMounts", [])
	m.name == t
]

set_string(m, k) if {
	is_string(m[k])
	m[k] != ""
}

# root_rw_mount: read-write at the root of the volume.
root_rw_mount(m) if {
	not m.readOnly == true
	not set_string(m, "subPath")
	not set_string(m, "subPathExpr")
}

mount_field(ct, x, k) := sprintf("spec.template.spec.containers[%d].volumeMounts[%d].%s", [x.c, x.m, k])

# GRAFT019
deny contains f if {
	some ct in claim_templates
	t := ct.template.metadata.name
	count(template_mounts(ct.sts.contents, t)) == 0
	f := denied(
		"GRAFT019", ct.sts, "spec.template.spec.containers",
		sprintf("no container mounts claim template %s", [t]),
		sprintf("a container with a volumeMount named %s", [t]),
		"the member would start without its data",
	)
}

# Only when no container mounts the volume read-write at its root: a
# sidecar may read the data, or part of it.
deny contains f if {
	some ct in claim_templates
	t := ct.template.metadata.name
	mounts := template_mounts(ct.sts.contents, t)
	every x in mounts {
		not root_rw_mount(x.mount)
	}
	some x in mounts
	some defect in mount_defects(x.mount)
	f := denied("GRAFT019", ct.sts, mount_field(ct, x, defect[0]), defect[1], defect[2], sprintf("no container mounts claim template %s read-write at its root, so the member would not see its data", [t]))
}

mount_defects(m) := [d |
	some d in [
		["readOnly", true, false],
		["subPath", object.get(m, "subPath", ""), "unset: the data is at the root of the volume"],
		["subPathExpr", object.get(m, "subPathExpr", ""), "unset: the data is at the root of the volume"],
	]
	mount_defect(m, d[0])
]

mount_defect(m, "readOnly") if m.readOnly == true

mount_defect(m, k) if {
	k in {"subPath", "subPathExpr"}
	set_string(m, k)
}

# GRAFT038
deny contains f if {
	some d in pv_docs
	d.contents.spec.csi.readOnly == true
	f := denied("GRAFT038", d, "spec.csi.readOnly", true, false, "the driver would publish the volume read-only")
}

ro_option(o) if {
	some x in split(o, ",")
	trim_space(x) == "ro"
}

deny contains f if {
	some d in pv_docs
	some i, o in object.get(d.contents, ["spec", "mountOptions"], [])
	ro_option(o)
	f := denied("GRAFT038", d, sprintf("spec.mountOptions[%d]", [i]), o, "no ro option", "the volume would be mounted read-only")
}

deny contains f if {
	some d in pv_docs
	o := annotations(d.contents)[mount_options_annotation]
	ro_option(o)
	f := denied("GRAFT038", d, akey(mount_options_annotation), o, "no ro option", "the kubelet takes the annotation's mount options over spec.mountOptions, and would mount the volume read-only")
}
