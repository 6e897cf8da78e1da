# Safety: nothing in the overlay lets Kubernetes or a GitOps engine delete,
# prune or re-create the storage, or rewrite the StatefulSet's immutable
# selectors.
package graft

storage_docs := array.concat(pv_docs, pvc_docs)

# GRAFT040
deny contains f if {
	some d in pv_docs
	policy := object.get(d.contents, ["spec", "persistentVolumeReclaimPolicy"], "unset")
	policy != "Retain"
	f := denied("GRAFT040", d, "spec.persistentVolumeReclaimPolicy", policy, "Retain", "deleting the claim must not delete the volume")
}

# GRAFT041
deny contains f if {
	some d in sts_docs
	some field in ["whenDeleted", "whenScaled"]
	d.contents.spec.persistentVolumeClaimRetentionPolicy[field] == "Delete"
	f := denied("GRAFT041", d, sprintf("spec.persistentVolumeClaimRetentionPolicy.%s", [field]), "Delete", "Retain", "the controller would delete the migrated claims")
}

# GRAFT042
deny contains f if {
	"flux" in engines
	some d in storage_docs
	v := object.get(d.contents, ["metadata", "annotations", flux_prune], "unset")
	v != "disabled"
	f := denied("GRAFT042", d, akey(flux_prune), v, "disabled", "Flux would prune the object when it leaves the source")
}

deny contains f if {
	"argocd" in engines
	some d in storage_docs
	opts := sync_options(d.contents)
	some want in ["Prune=false", "Delete=false"]
	not want in opts
	f := denied("GRAFT042", d, akey(argo_sync_options), object.get(annotations(d.contents), argo_sync_options, "unset"), "Prune=false,Delete=false", sprintf("without %s Argo CD may delete the object", [want]))
}

# An annotation Argo CD cannot read as an integer ("-1.5", "1e0", " -1")
# does not set the wave: Argo CD takes the Helm hook weight or 0.
wave_unreadable(o) if {
	v := annotations(o)[argo_sync_wave]
	not argo_int(v)
}

# GRAFT043
storage_sts(d) := pv_claim(d.contents).sts_doc if d.contents.kind == "PersistentVolume"

storage_sts(d) := expected[key(ns(d.contents), d.contents.metadata.name)][0].sts_doc if d.contents.kind == "PersistentVolumeClaim"

deny contains f if {
	"argocd" in engines
	some d in storage_docs
	wave_unreadable(d.contents)
	f := denied("GRAFT043", d, akey(argo_sync_wave), annotations(d.contents)[argo_sync_wave], "an integer, as strconv.Atoi reads it", sprintf("Argo CD cannot read the sync wave, and syncs the object in wave %d (Helm's hook weight, else 0)", [sync_wave(d.contents)]))
}

deny contains f if {
	"argocd" in engines
	some d in storage_docs
	sd := storage_sts(d)
	sts_wave := sync_wave(sd.contents)
	w := sync_wave(d.contents)
	w >= sts_wave
	f := denied("GRAFT043", d, akey(argo_sync_wave), sprintf("%v", [w]), sprintf("less than %v, the wave of StatefulSet %s", [sts_wave, sd.contents.metadata.name]), "the StatefulSet could create its claims before these exist")
}

# GRAFT044
forcing_options := {"replace=true", "force=true"}

# The objects whose annotations the GitOps engines read, once.
storage_and_sts_docs := array.concat(storage_docs, sts_docs)

deny contains f if {
	some d in storage_and_sts_docs
	v := d.contents.metadata.annotations[argo_sync_options]
	some o in split(v, ",")
	lower(trim_space(o)) in forcing_options
	f := denied("GRAFT044", d, akey(argo_sync_options), annotations(d.contents)[argo_sync_options], "no Replace=true or Force=true", "Argo CD would delete and re-create the object")
}

# Flux reads its per-object flags from the labels as well as the
# annotations, in any case (fluxcd/pkg ssa AnyInMetadata: EqualFold).
flux_forced(o) := {[akey(flux_force), v] |
	v := annotations(o)[flux_force]
	lower(v) == "enabled"
} | {[sprintf("metadata.labels[%s]", [json.marshal(flux_force)]), v] |
	v := labels(o)[flux_force]
	lower(v) == "enabled"
}

deny contains f if {
	some d in storage_and_sts_docs
	some [field, v] in flux_forced(d.contents)
	f := denied("GRAFT044", d, field, v, "unset or disabled", "Flux would delete and re-create the object")
}

# A hook is no resource of the Application: Argo CD creates it in its sync
# phase and deletes it by its hook-delete-policy (BeforeHookCreation, the
# default, deletes it at every sync before creating it again), or never
# applies it (Skip); Argo CD takes Helm's hook annotation for its own.
hook_annotations := {"argocd.argoproj.io/hook", "helm.sh/hook"}

hook_findings(d, what) := {f |
	some k in hook_annotations
	v := annotations(d.contents)[k]
	f := denied("GRAFT044", d, akey(k), v, "unset", sprintf("Argo CD would delete and re-create the %s at every sync as a hook, or skip it", [what]))
}

deny contains f if {
	some d in storage_and_sts_docs
	some f in hook_findings(d, "object")
}

deny contains f if {
	some d in flux_kustomization_docs
	d.contents.spec.force == true
	f := denied("GRAFT044", d, "spec.force", true, false, "Flux would re-create objects whose immutable fields change, StatefulSets and volumes included")
}

deny contains f if {
	some d in argo_application_docs
	some i, o in d.contents.spec.syncPolicy.syncOptions
	lower(trim_space(o)) in forcing_options
	f := denied("GRAFT044", d, sprintf("spec.syncPolicy.syncOptions[%d]", [i]), o, "no Replace=true or Force=true", "Argo CD would delete and re-create objects")
}

# GRAFT045
deny contains f if {
	some d in kustomization_docs
	count(object.get(d.contents, "commonLabels", {})) > 0
	f := denied("GRAFT045", d, "commonLabels", d.contents.commonLabels, "unset", "commonLabels rewrites the StatefulSet's selector, which is immutable")
}

deny contains f if {
	some d in kustomization_docs
	some i, l in object.get(d.contents, "labels", [])
	l.includeSelectors == true
	f := denied("GRAFT045", d, sprintf("labels[%d].includeSelectors", [i]), true, false, "labels with includeSelectors rewrite the StatefulSet's selector, which is immutable")
}

# GRAFT046
warn contains f if {
	some c in claimed_pvs
	d := c.d
	ann := annotations(d.contents)
	some a in provenance_annotations
	not ann[a]
	f := warned("GRAFT046", d, akey(a), "unset", "the provenance graft.lock records", "a reviewer cannot tell where the volume came from")
}

# provenance_agrees: the PV's three provenance annotations are graft.lock's
# (the rule below then has nothing to report).
provenance_agrees(ann, rec) if {
	ann["graft.graftctl.io/source-volume"] == rec.sourceVolume
	ann["graft.graftctl.io/source-instance"] == rec.sourceInstance
	ann["graft.graftctl.io/source-zone"] == rec.sourceZone
}

warn contains f if {
	some c in claimed_pvs
	d := c.d
	rec := c.rec
	rec != null
	ann := d.contents.metadata.annotations
	not provenance_agrees(ann, rec)
	some pair in [
		["graft.graftctl.io/source-volume", rec.sourceVolume],
		["graft.graftctl.io/source-instance", rec.sourceInstance],
		["graft.graftctl.io/source-zone", rec.sourceZone],
	]
	v := ann[pair[0]]
	v != pair[1]
	f := warned("GRAFT046", d, akey(pair[0]), v, pair[1], "the provenance disagrees with graft.lock")
}

# GRAFT077: the GitOps engine applies the overlay as the gate built it.
# A Flux Kustomization builds its path with kustomize and then applies its
# own transformations (fluxcd/pkg kustomize.Generator: targetNamespace,
# patches, images, and since v1 namePrefix, nameSuffix and components;
# commonMetadata overrides any label or annotation of the same key, the
# prune protection included; postBuild substitutes variables in every
# object). An Argo CD Application does the same through
# spec.source.kustomize, or renders the path without kustomize at all
# (directory, helm, plugin). None of those transformations is in the
# input, so an object the gate proved right could be applied otherwise:
# only the fields that change no object are allowed.
flux_spec_fields := {
	"interval", "retryInterval", "timeout", "path", "prune", "wait", "force",
	"sourceRef", "dependsOn", "healthChecks", "healthCheckExprs",
	"serviceAccountName", "suspend", "kubeConfig", "decryption", "deletionPolicy",
}

deny contains f if {
	some d in flux_kustomization_docs
	some k, v in object.get(d.contents, "spec", {})
	not k in flux_spec_fields
	f := denied(
		"GRAFT077", d, sprintf("spec.%s", [k]), v, "unset",
		"Flux would transform the built overlay after the gate checked it (or does what graft cannot check), so the objects applied are not the ones proven right",
	)
}

# The fields of an Application's kustomize source that change no object.
argo_kustomize_fields := {"version", "kubeVersion", "apiVersions"}

# Argo CD renders a source with kustomize when its path holds a
# kustomization and it names no other tool.
argo_source_tools := {"directory", "helm", "plugin", "chart"}

# argo_sources: [field, source] of an Application's source and sources.
argo_sources(app) := array.concat(
	[["spec.source", s] | s := object.get(app, ["spec", "source"], null); is_object(s)],
	[[sprintf("spec.sources[%d]", [i]), s] | some i, s in object.get(app, ["spec", "sources"], []); is_object(s)],
)

deny contains f if {
	some d in argo_application_docs
	some [field, src] in argo_sources(d.contents)
	some k, v in object.get(src, "kustomize", {})
	not k in argo_kustomize_fields
	f := denied(
		"GRAFT077", d, sprintf("%s.kustomize.%s", [field, k]), v, "unset",
		"Argo CD would transform the built overlay after the gate checked it, so the objects applied are not the ones proven right",
	)
}

deny contains f if {
	some d in argo_application_docs
	some [field, src] in argo_sources(d.contents)
	some k in argo_source_tools
	v := src[k]
	f := denied(
		"GRAFT077", d, sprintf("%s.%s", [field, k]), v, "unset: the overlay is built with kustomize",
		"Argo CD would render the source with another tool than kustomize, so the objects applied are not the ones proven right",
	)
}

# GRAFT080: no ownerReferences on the storage, the StatefulSets or the
# operator's resource. The garbage collector deletes an object all of
# whose owners are absent, and an owner is found by uid, which no manifest
# can know before the owner is created: the claims (and the PVs with them)
# would be deleted as soon as they are applied, or with their owner, as
# the StatefulSet controller's own retention policy Delete does.
owned_docs := array.concat(storage_and_sts_docs, cr_docs)

deny contains f if {
	some d in owned_docs
	refs := d.contents.metadata.ownerReferences
	not refs in {null, []}
	f := denied(
		"GRAFT080", d, "metadata.ownerReferences", refs, "unset",
		"the garbage collector would delete the object when its owner is absent (an owner uid no manifest can know) or deleted",
	)
}
