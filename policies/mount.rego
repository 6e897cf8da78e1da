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

# A flag is unset when absent or null; anything but false is not
# read-write (the API rejects what is not a boolean).
flag_set(o, k) if not object.get(o, k, null) in {false, null}

# root_rw_mount: read-write at the root of the volume.
root_rw_mount(m) if {
	not flag_set(m, "readOnly")
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
		["readOnly", object.get(m, "readOnly", false), false],
		["subPath", object.get(m, "subPath", ""), "unset: the data is at the root of the volume"],
		["subPathExpr", object.get(m, "subPathExpr", ""), "unset: the data is at the root of the volume"],
	]
	mount_defect(m, d[0])
]

mount_defect(m, "readOnly") if flag_set(m, "readOnly")

mount_defect(m, k) if {
	k in {"subPath", "subPathExpr"}
	set_string(m, k)
}

# GRAFT038
deny contains f if {
	some d in pv_docs
	v := d.contents.spec.csi.readOnly
	not v in {false, null}
	f := denied("GRAFT038", d, "spec.csi.readOnly", v, false, "the driver would publish the volume read-only")
}

ro_option(o) if {
	some x in split(o, ",")
	trim_space(x) == "ro"
}

deny contains f if {
	some d in pv_docs
	some i, o in d.contents.spec.mountOptions
	ro_option(o)
	f := denied("GRAFT038", d, sprintf("spec.mountOptions[%d]", [i]), o, "no ro option", "the volume would be mounted read-only")
}

deny contains f if {
	some d in pv_docs
	o := d.contents.metadata.annotations[mount_options_annotation]
	ro_option(o)
	f := denied("GRAFT038", d, akey(mount_options_annotation), o, "no ro option", "the kubelet takes the annotation's mount options over spec.mountOptions, and would mount the volume read-only")
}

# GRAFT039: the EBS CSI driver mounts the partition a "partition" volume
# attribute names (other than "0") instead of the whole volume, and
# formats it if it holds no filesystem; graft clones whole volumes.
deny contains f if {
	some d in pv_docs
	p := d.contents.spec.csi.volumeAttributes.partition
	not p in {"0", 0}
	f := denied("GRAFT039", d, "spec.csi.volumeAttributes.partition", p, "unset: the filesystem is on the whole volume", "the driver would mount a partition of the volume, not the cloned filesystem")
}
