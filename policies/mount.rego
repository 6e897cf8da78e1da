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

# GRAFT019, against the base: the overlay mounts each claim template
# where and as the base mounts it. graft check builds the base an overlay
# lists in its resources and adds a BaseMounts document (README.md): each
# base StatefulSet's claim template mounts. A patch that moves mountPath,
# adds a subPath, sets readOnly or moves the mount to another container
# would start the application on an empty directory, or read-only.
# Without such a document (stdin, YAML files) only the rules above apply.
base_mount_docs := [d |
	some d in docs_of_kind("BaseMounts")
	startswith(object.get(d.contents, "apiVersion", ""), "graft.graftctl.io/")
]

# One entry per base mount and overlay StatefulSet of the same name; paths
# are the base's mount paths of that claim template in that container.
base_mounts := [{"sts": d, "bm": bm, "paths": paths} |
	some b in base_mount_docs
	some name, mounts in object.get(b.contents, "statefulSets", {})
	is_array(mounts)
	some d in object.get(sts_by_name, name, [])
	some bm in mounts
	paths := {p |
		some o in mounts
		o.container == bm.container
		o.claimTemplate == bm.claimTemplate
		p := mount_path_key(o)
	}
]

# A StatefulSet the record delivers to must come from a base when the
# overlay has one: one the overlay declares itself has nothing to be
# compared with.
base_sts_names := {n | some b in base_mount_docs; some n, _ in object.get(b.contents, "statefulSets", {})}

deny contains f if {
	count(base_mount_docs) > 0
	some n in record_sts_names
	some d in object.get(sts_by_name, n, [])
	not n in base_sts_names
	f := denied(
		"GRAFT019", d, "metadata.name",
		sprintf("StatefulSet %s, in no base of the overlay (%s)", [n, concat(", ", sort([b.contents.base | some b in base_mount_docs]))]),
		"a StatefulSet of the base, whose mounts the overlay keeps",
		"its mounts cannot be compared with the base's",
	)
}

# An init container runs on the member's claims before the application,
# at every start of the pod. One the base does not have mounting a claim
# template (a patch that adds a "clean" or "restore" step) could change the
# data graft delivers; the base's own (a chown, say) are its own. With a
# BaseMounts document, every init container mount of a claim template
# must be one the base has: the same init container, the same template.
base_init_mounts := {[n, m.container, m.claimTemplate] |
	some b in base_mount_docs
	some n, ms in object.get(b.contents, "initContainerMounts", {})
	is_array(ms)
	some m in ms
}

deny contains f if {
	count(base_mount_docs) > 0
	some ct in claim_templates
	n := ct.sts.contents.metadata.name
	n in base_sts_names
	some i, c in object.get(pod_spec(ct.sts.contents), "initContainers", [])
	some j, m in object.get(c, "volumeMounts", [])
	m.name == ct.template.metadata.name
	not [n, object.get(c, "name", ""), m.name] in base_init_mounts
	f := denied(
		"GRAFT019", ct.sts, sprintf("spec.template.spec.initContainers[%d].volumeMounts[%d]", [i, j]),
		sprintf("init container %s mounting claim template %s", [json.marshal(object.get(c, "name", "")), m.name]),
		sprintf("no init container mount of claim template %s but the base's (%s)", [m.name, show(sort([x | some [n2, x, t] in base_init_mounts; n2 == n; t == m.name]))]),
		"an init container the base does not have would run on the member's data before the application, at every start",
	)
}

named_containers(s, name) := [i | some i, c in object.get(pod_spec(s), "containers", []); c.name == name]

container_mounts(s, i, t) := [{"c": i, "m": j, "mount": m} |
	some j, m in object.get(pod_spec(s).containers[i], "volumeMounts", [])
	m.name == t
]

# mount_value: a string field of a mount, "" when unset or null.
mount_value(m, k) := v if {
	v := object.get(m, k, "")
	v != null
} else := ""

base_mount_want(bm) := sprintf("container %s mounting claim template %s at %s, as the base does", [bm.container, bm.claimTemplate, bm.mountPath])

deny contains f if {
	some e in base_mounts
	count(named_containers(e.sts.contents, e.bm.container)) == 0
	f := denied(
		"GRAFT019", e.sts, "spec.template.spec.containers",
		sprintf("no container %s", [e.bm.container]),
		base_mount_want(e.bm),
		"the member would start without its data where the base has it",
	)
}

# No mount of the claim template at the base's path: each mount of it at
# a path the base does not use is reported, or else the container's mounts.
unmatched_base_mount(e, i) := mounts if {
	mounts := container_mounts(e.sts.contents, i, e.bm.claimTemplate)
	every x in mounts {
		mount_path_key(x.mount) != mount_path_key(e.bm)
	}
}

# mount_path_key: a mount's path as compared ("" when not a string, which
# matches no path).
mount_path_key(m) := clean_mount_path(m.mountPath) if {
	is_string(m.mountPath)
} else := ""

deny contains f if {
	some e in base_mounts
	some i in named_containers(e.sts.contents, e.bm.container)
	some x in unmatched_base_mount(e, i)
	not mount_path_key(x.mount) in e.paths
	f := denied("GRAFT019", e.sts, mount_field(null, x, "mountPath"), mount_value(x.mount, "mountPath"), e.bm.mountPath, sprintf("the base mounts claim template %s in container %s there: the application would start on an empty directory", [e.bm.claimTemplate, e.bm.container]))
}

deny contains f if {
	some e in base_mounts
	some i in named_containers(e.sts.contents, e.bm.container)
	mounts := unmatched_base_mount(e, i)
	every x in mounts {
		mount_path_key(x.mount) in e.paths
	}
	f := denied(
		"GRAFT019", e.sts, sprintf("spec.template.spec.containers[%d].volumeMounts", [i]),
		sprintf("claim template %s mounted at %s", [e.bm.claimTemplate, show(sort([mount_value(x.mount, "mountPath") | some x in mounts]))]),
		sprintf("a volumeMount of %s at %s, as the base has", [e.bm.claimTemplate, e.bm.mountPath]),
		"the application would start on an empty directory",
	)
}

# Another volume mounted at or under the base's mount of the claim (an
# emptyDir over the data directory) hides the data; those the base mounts
# there (its "nested" mounts) are its own.
clean_mount_path(p) := regex.replace(regex.replace(p, "/+", "/"), "(.)/$", "$1")

mount_under(p, dir) if clean_mount_path(p) == clean_mount_path(dir)

mount_under(p, dir) if startswith(clean_mount_path(p), concat("", [trim_suffix(clean_mount_path(dir), "/"), "/"]))

deny contains f if {
	some e in base_mounts
	some i in named_containers(e.sts.contents, e.bm.container)
	some j, m in object.get(pod_spec(e.sts.contents).containers[i], "volumeMounts", [])
	m.name != e.bm.claimTemplate
	p := mount_value(m, "mountPath")
	is_string(p)
	mount_under(p, e.bm.mountPath)
	not clean_mount_path(p) in {x | some x in object.get(e.bm, "nested", [])}
	f := denied(
		"GRAFT019", e.sts, mount_field(null, {"c": i, "m": j}, "mountPath"), p,
		sprintf("no other volume at or under %s than the base mounts there (%s)", [e.bm.mountPath, show(object.get(e.bm, "nested", []))]),
		sprintf("volume %s would hide the data of claim template %s in container %s", [show(m.name), e.bm.claimTemplate, e.bm.container]),
	)
}

# The mount at the base's path: the same subPath and subPathExpr, and not
# readOnly unless the base's is. A defect the rule above reports already
# (no read-write root mount at all) is not reported twice.
deny contains f if {
	some e in base_mounts
	some i in named_containers(e.sts.contents, e.bm.container)
	some x in container_mounts(e.sts.contents, i, e.bm.claimTemplate)
	mount_path_key(x.mount) == mount_path_key(e.bm)
	some k in ["subPath", "subPathExpr", "readOnly"]
	base_mount_differs(x.mount, e.bm, k)
	not root_rule_reports(e.sts, x.mount, e.bm.claimTemplate, k)
	f := denied("GRAFT019", e.sts, mount_field(null, x, k), object.get(x.mount, k, ""), object.get(e.bm, k, ""), sprintf("the base mounts claim template %s in container %s so: the application would not see its data as it does today", [e.bm.claimTemplate, e.bm.container]))
}

base_mount_differs(m, bm, k) if {
	k in {"subPath", "subPathExpr"}
	mount_value(m, k) != mount_value(bm, k)
}

base_mount_differs(m, bm, "readOnly") if {
	flag_set(m, "readOnly")
	not flag_set(bm, "readOnly")
}

root_rule_reports(d, m, t, k) if {
	some ct in claim_templates
	ct.sts == d
	ct.template.metadata.name == t
	every x in template_mounts(d.contents, t) {
		not root_rw_mount(x.mount)
	}
	mount_defect(m, k)
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
# formats it if it holds no filesystem (aws-ebs-csi-driver#812). The PV
# mounts what graft.lock records: the partition of a volume that has one
# (spec.source.devices[].partition), as the decimal string the driver
# reads, and the whole volume otherwise. A PV no record entry claims
# mounts the whole volume too (GRAFT003 reports it as a stray).
pv_partition(pv) := object.get(pv, ["spec", "csi", "volumeAttributes", "partition"], "0")

# The partition a record entry (null: none) says to mount, "0" for the
# whole volume; undefined for a partition that is not a number graft
# writes.
recorded_partition(null) := "0"

recorded_partition(rec) := partition_names[object.get(rec, "partition", 0)] if is_object(rec)

max_partition := 128

# The partitions a record may name, whole numbers from 0 to max_partition,
# as the PV's volumeAttributes write them: a lookup (1.0 finds 1; 1.5, -1,
# "1" and 129 find nothing).
partition_names := {p: format_int(p, 10) | some p in numbers.range(0, max_partition)}

has_record(pv) if record_by_claim[pv.spec.claimRef.name]

pv_record(pv) := record_by_claim[pv.spec.claimRef.name][0]

pv_record(pv) := null if not has_record(pv)

partition_expected("0") := "unset: the filesystem is on the whole volume"

partition_expected(p) := sprintf("%q: graft.lock records the filesystem on partition %s", [p, p]) if p != "0"

partition_found(pv) := "unset" if pv_partition(pv) == "0"

partition_found(pv) := pv_partition(pv) if pv_partition(pv) != "0"

partition_wrong("0") := "the driver would mount a partition of the volume, not the cloned filesystem"

partition_wrong(p) := sprintf("the driver would mount another part of the volume than partition %s, which holds the cloned filesystem", [p]) if p != "0"

deny contains f if {
	some d in pv_docs
	want := recorded_partition(pv_record(d.contents))
	pv_partition(d.contents) != want
	f := denied("GRAFT039", d, "spec.csi.volumeAttributes.partition", partition_found(d.contents), partition_expected(want), partition_wrong(want))
}

deny contains f if {
	some i, v in record_volumes
	not recorded_partition(v)
	f := denied("GRAFT039", record_doc, sprintf("volumes[%d].partition", [i]), object.get(v, "partition", "unset"), sprintf("a partition number from 1 to %d, or none for the whole volume", [max_partition]), "the partition the volume's PV must mount is unknown")
}

# GRAFT078: each member gets its own claims through the claim templates
# (the StatefulSet controller names them <template>-<sts>-<ordinal>). A
# volume of the pod template that names a claim graft delivers by
# claimName gives every member that one claim: the members whose volumes
# are in other zones can never be scheduled, and those that are may write
# another member's data. The controller replaces a pod volume named like a
# claim template, so only the others are read.
delivered_claim_keys := pvc_keys | expected_keys

deny contains f if {
	some d in sts_docs
	ps := pod_spec(d.contents)
	templates := {t.metadata.name | some t in object.get(d.contents, ["spec", "volumeClaimTemplates"], [])}
	some i, v in object.get(ps, "volumes", [])
	not v.name in templates
	c := v.persistentVolumeClaim.claimName
	key(ns(d.contents), c) in delivered_claim_keys
	f := denied(
		"GRAFT078", d, sprintf("spec.template.spec.volumes[%d].persistentVolumeClaim.claimName", [i]), c,
		"no claim graft delivers: each member mounts its own through the claim templates",
		sprintf("every member of %s would mount the volume of claim %s", [d.contents.metadata.name, c]),
	)
}

# GRAFT084: the kubelet gives a volume that supports fsGroup (the EBS CSI
# driver's, whose CSIDriver says fsGroupPolicy ReadWriteOnceWithFSType;
# graft always sets csi.fsType) the pod's fsGroup before it mounts it. With
# fsGroupChangePolicy Always, the default, it walks every file and
# directory of the volume at every mount to change their group and mode
# (k8s.io/kubernetes pkg/volume/volume_linux.go, SetVolumeOwnership;
# KEP-695); OnRootMismatch walks it only while the volume's root does not
# match. A migrated volume holds all the node's data, so each pod start
# would wait for a walk of millions of files.
warn contains f if {
	some d in {ct.sts | some ct in claim_templates}
	sc := pod_spec(d.contents).securityContext
	sc.fsGroup != null
	policy := object.get(sc, "fsGroupChangePolicy", "Always")
	policy != "OnRootMismatch"
	f := warned(
		"GRAFT084", d, "spec.template.spec.securityContext.fsGroupChangePolicy",
		object.get(sc, "fsGroupChangePolicy", "unset"), "OnRootMismatch",
		sprintf("with fsGroup %v and policy %s the kubelet changes the group and mode of every file on the migrated volumes at each start of a pod, which on a volume of millions of files delays the start by minutes to hours", [sc.fsGroup, policy]),
	)
}
