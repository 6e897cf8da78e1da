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

# The sync-options values of the storage and the StatefulSets, each once
# (graft writes one or two), so that a value is split once, not once per
# object; Argo CD reads each comma-separated item trimmed
# (gitops-engine pkg/sync/resource/annotations.go GetAnnotationCSVs).
delivered_sync_options := {v | some d in storage_and_sts_docs; v := d.contents.metadata.annotations[argo_sync_options]}

sync_option_items(v) := {trim_space(o) | some o in split(v, ",")}

forcing_values := {v |
	some v in delivered_sync_options
	some o in sync_option_items(v)
	lower(o) in forcing_options
}

deny contains f if {
	count(forcing_values) > 0
	some d in storage_and_sts_docs
	v := d.contents.metadata.annotations[argo_sync_options]
	v in forcing_values
	f := denied("GRAFT044", d, akey(argo_sync_options), v, "no Replace=true or Force=true", "Argo CD would delete and re-create the object")
}

# Flux reads its per-object flags from the labels as well as the
# annotations, in any case (fluxcd/pkg ssa/utils/meta.go AnyInMetadata:
# a non-empty value, strings.EqualFold). The objects are scanned only for
# the flags some object of the input sets (annotation_keys, lib.rego, and
# label_keys hold every key once).
flux_reconcile := "kustomize.toolkit.fluxcd.io/reconcile"

flux_ssa := "kustomize.toolkit.fluxcd.io/ssa"

label_keys := {k | some d in docs; some k, _ in d.contents.metadata.labels}

flux_flags_set := {k | some k in {flux_force, flux_reconcile, flux_ssa}; k in annotation_keys} | {k | some k in {flux_force, flux_reconcile, flux_ssa}; k in label_keys}

lkey(k) := sprintf("metadata.labels[%s]", [json.marshal(k)])

# flux_meta: [field, value] of Flux's flag k on o, lower-cased, from its
# annotations and its labels.
flux_meta(o, k) := {[akey(k), v, lower(v)] | v := annotations(o)[k]; v != ""} | {[lkey(k), v, lower(v)] | v := labels(o)[k]; v != ""}

flux_forced(o) := {[field, v] |
	flux_force in flux_flags_set
	some [field, v, l] in flux_meta(o, flux_force)
	l == "enabled"
}

deny contains f if {
	flux_force in flux_flags_set
	some d in storage_and_sts_docs
	some [field, v] in flux_forced(d.contents)
	f := denied("GRAFT044", d, field, v, "unset or disabled", "Flux would delete and re-create the object")
}

# A hook is no resource of the Application: Argo CD creates it in its sync
# phase and deletes it by its hook-delete-policy (BeforeHookCreation, the
# default, deletes it at every sync before creating it again), or never
# applies it (Skip); Argo CD takes Helm's hook annotation for its own.
hook_annotations := {"argocd.argoproj.io/hook", "helm.sh/hook"}

hook_keys_set := {k | some k in hook_annotations; k in annotation_keys}

hook_findings(d, what) := {f |
	some k in hook_keys_set
	v := annotations(d.contents)[k]
	f := denied("GRAFT044", d, akey(k), v, "unset", sprintf("Argo CD would delete and re-create the %s at every sync as a hook, or skip it", [what]))
}

deny contains f if {
	count(hook_keys_set) > 0
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

# Argo CD's RespectIgnoreDifferences=true applies the live values of the
# Application's ignoreDifferences fields instead of the built ones
# (argo-cd controller/sync.go normalizeTargetResources): another
# transformation of the built overlay.
deny contains f if {
	some d in argo_application_docs
	some i, o in as_array(object.get(d.contents, ["spec", "syncPolicy", "syncOptions"], null))
	o == "RespectIgnoreDifferences=true"
	count(as_array(object.get(d.contents, ["spec", "ignoreDifferences"], null))) > 0
	f := denied(
		"GRAFT077", d, sprintf("spec.syncPolicy.syncOptions[%d]", [i]), o, "unset, or no spec.ignoreDifferences",
		"Argo CD would apply the cluster's values of the ignored fields instead of the built ones, so the objects applied are not the ones proven right",
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

# GRAFT082: the engine applies every object graft delivers, and as written.
#
# Flux skips an object that carries, as a label or an annotation in any
# case, kustomize.toolkit.fluxcd.io/reconcile: disabled or
# kustomize.toolkit.fluxcd.io/ssa: Ignore (the ExclusionSelector), and one
# that exists in the cluster when it carries ssa: IfNotPresent (the
# IfNotPresentSelector): kustomize-controller
# internal/controller/kustomization_controller.go apply, fluxcd/pkg
# ssa/manager_apply.go shouldSkipApply. A skipped PV, PVC, StatefulSet or
# operator resource is not delivered: the member starts without its claim,
# or on an object of that name already in the cluster (another volume, the
# StatefulSet without graft's patch), which the gate never saw; a skipped
# Flux Kustomization leaves the cluster's own, whatever it applies. ssa:
# Merge only keeps fields other managers set (Cleanup.Exclusions): every
# field graft writes is applied, so it is allowed.
flux_skip_values := {flux_reconcile: {"disabled"}, flux_ssa: {"ignore", "ifnotpresent"}}

flux_skipped_docs := array.concat(owned_docs, flux_kustomization_docs)

deny contains f if {
	some k, skip in flux_skip_values
	k in flux_flags_set
	some d in flux_skipped_docs
	some [field, v, l] in flux_meta(d.contents, k)
	l in skip
	f := denied(
		"GRAFT082", d, field, v, "unset (or ssa: Merge)",
		"Flux would not apply the object (or keep one of that name already in the cluster), so what runs is not what the gate proved",
	)
}

# Argo CD's Validate=false applies with field validation Ignore
# (gitops-engine pkg/sync/sync_context.go processCreateTasks,
# pkg/utils/kube/resource_ops.go newApplyOptionsCommon): a field the
# cluster's API does not know (spec.ordinals before Kubernetes 1.26, a
# rack's zone pin in an older CRD) is dropped without an error, and the
# member runs without it. The item is matched exactly, as
# HasAnnotationOption and SyncOptions.HasOption match it.
unvalidated_values := {v |
	some v in delivered_sync_options
	"Validate=false" in sync_option_items(v)
}

deny contains f if {
	count(unvalidated_values) > 0
	some d in storage_and_sts_docs
	v := d.contents.metadata.annotations[argo_sync_options]
	v in unvalidated_values
	f := denied("GRAFT082", d, akey(argo_sync_options), v, "no Validate=false", "Argo CD would apply the object without field validation: a field the cluster does not know is dropped silently, not refused")
}

deny contains f if {
	v := annotations(cr)[argo_sync_options]
	"Validate=false" in sync_option_items(v)
	f := denied("GRAFT082", cr_doc, akey(argo_sync_options), v, "no Validate=false", sprintf("Argo CD would apply the %s without field validation: a field its CRD does not know (a zone pin, a claim spec field) is dropped silently, not refused", [cr.kind]))
}

deny contains f if {
	some d in argo_application_docs
	some i, o in as_array(object.get(d.contents, ["spec", "syncPolicy", "syncOptions"], null))
	o == "Validate=false"
	f := denied("GRAFT082", d, sprintf("spec.syncPolicy.syncOptions[%d]", [i]), o, "no Validate=false", "Argo CD would apply every object without field validation: a field the cluster does not know is dropped silently, not refused")
}

# GRAFT083: a suspended Flux Kustomization applies nothing until it is
# resumed (kustomize-controller kustomization_controller.go: Reconcile
# returns before the build, and the finalizer deletes nothing). No member
# starts on the wrong data (a workload root waits for suspended storage
# roots: GRAFT081 proves it depends on them, from one source, whose
# revision the dependency check compares), but the merge delivers nothing.
warn contains f if {
	some d in flux_kustomization_docs
	d.contents.spec.suspend == true
	f := warned("GRAFT083", d, "spec.suspend", true, false, "Flux applies nothing of this root until the Kustomization is resumed")
}

# GRAFT081: the engine applies exactly graft's build roots: each root of
# the input (the directory of each kustomization.yaml graft check read:
# the overlay directory and its storage-NNN roots) once, by one engine,
# from one source, the storage roots before the workload's.
#
# A path is compared with the roots by its components (no empty or "."
# components, so "./overlays/x/" is overlays/x). The repository root is
# not in the input: an engine path proves a root when the root's path, as
# graft check was given it, ends with it, and every engine path then names
# its root under one and the same repository root. A path the gate cannot
# resolve is denied: an absolute one (Argo CD refuses it, util/app/path
# Path; Flux resolves it within the source, kustomize-controller's
# securejoin.SecureJoin), one with ".." (Flux clamps it at the source root,
# Argo CD resolves it against the repository, and neither sees symlinks
# the gate cannot), and the repository root itself (an unset path), where
# graft writes no overlay.
path_parts(p) := [c | some c in split(p, "/"); c != ""; c != "."]

root_entries := [{"k": concat("/", dir), "parts": dir, "d": d} |
	some d in kustomization_docs
	parts := path_parts(object.get(d, "path", ""))
	dir := array.slice(parts, 0, count(parts) - 1)
]

root_keys := {e.k | some e in root_entries}

root_lasts := {e.parts[count(e.parts) - 1] | some e in root_entries; count(e.parts) > 0}

roots_by_last := {l: es | some l in root_lasts; es := [e | some e in root_entries; count(e.parts) > 0; e.parts[count(e.parts) - 1] == l]}

# The paths an Application applies: its sources', or its source's
# (ApplicationSpec.HasMultipleSources: sources win when there are any).
argo_app_paths(app) := [[sprintf("spec.sources[%d].path", [i]), object.get(s, "path", "")] |
	some i, s in as_array(object.get(app, ["spec", "sources"], null))
] if count(as_array(object.get(app, ["spec", "sources"], null))) > 0

argo_app_paths(app) := [["spec.source.path", object.get(app, ["spec", "source", "path"], "")]] if {
	count(as_array(object.get(app, ["spec", "sources"], null))) == 0
}

engine_paths := array.concat(
	[{"d": d, "field": "spec.path", "path": object.get(d.contents, ["spec", "path"], ""), "engine": "flux"} | some d in flux_kustomization_docs],
	[{"d": d, "field": field, "path": p, "engine": "argocd"} | some d in argo_application_docs; some [field, p] in argo_app_paths(d.contents)],
)

engine_path_defect(p) := "not a string" if {
	not is_string(p)
} else := "an absolute path: Argo CD refuses it, Flux resolves it within the source, and the gate cannot tell which directory that is" if {
	startswith(p, "/")
} else := "a path with \"..\": the engines resolve it each their own way (Flux clamps it at the source root), and the gate cannot prove which directory it is" if {
	".." in split(p, "/")
} else := "the repository root, which holds no overlay of graft's" if {
	count(path_parts(p)) == 0
}

# [engine path index, root, repository prefix] for each root whose path
# ends with the engine path.
path_matches := {[i, r.k, q] |
	some i, x in engine_paths
	not engine_path_defect(x.path)
	e := path_parts(x.path)
	some r in object.get(roots_by_last, e[count(e) - 1], [])
	n := count(r.parts) - count(e)
	n >= 0
	array.slice(r.parts, n, count(r.parts)) == e
	q := concat("/", array.slice(r.parts, 0, n))
}

repo_prefixes := {q | some [_, _, q] in path_matches}

repo_prefix := q if {
	count(repo_prefixes) == 1
	some q in repo_prefixes
}

matched_paths := {i | some [i, _, _] in path_matches}

# The engine paths that apply each root, under the one repository root.
root_appliers := {r: is | some r in root_keys; is := [i | some [i, r2, q] in path_matches; r2 == r; q == repo_prefix]}

roots_shown := concat(", ", sort([sprintf("%q", [r]) | some r in root_keys]))

deny contains f if {
	some x in engine_paths
	why := engine_path_defect(x.path)
	f := denied("GRAFT081", x.d, x.field, x.path, "the repository path of one of graft's build roots", sprintf("the engine would apply %s", [why]))
}

deny contains f if {
	some i, x in engine_paths
	not engine_path_defect(x.path)
	not i in matched_paths
	f := denied(
		"GRAFT081", x.d, x.field, x.path, sprintf("the repository path of one of graft's build roots, which the input holds as %s (graft check checks an overlay by the path that ends with its repository path, as the CI workflow does from the repository root)", [roots_shown]),
		"the engine would apply a directory the gate did not check",
	)
}

deny contains f if {
	count(repo_prefixes) > 1
	some i in matched_paths
	x := engine_paths[i]
	f := denied(
		"GRAFT081", x.d, x.field, x.path, "paths of graft's build roots under one repository root",
		sprintf("the engine's paths name the input's roots under different repository roots (%s): one of them applies another directory", [concat(", ", sort([sprintf("%q", [q]) | some q in repo_prefixes]))]),
	)
}

repo_path(r) := r if repo_prefix == ""

# A root outside the repository root keeps the path graft check was given.
repo_path(r) := trim_prefix(r, concat("", [repo_prefix, "/"])) if repo_prefix != ""

deny contains f if {
	repo_prefix
	some r, is in root_appliers
	count(is) == 0
	x := engine_paths[0]
	f := denied(
		"GRAFT081", x.d, x.field, sprintf("no path of the engine applies %s", [repo_path(r)]), sprintf("a path %s, applied once", [repo_path(r)]),
		"the engine would not apply that build root of graft's: its objects would never be created",
	)
}

deny contains f if {
	some r, is in root_appliers
	count(is) > 1
	some i in is
	x := engine_paths[i]
	f := denied(
		"GRAFT081", x.d, x.field, x.path, sprintf("%s applied once (here it is applied %d times)", [repo_path(r), count(is)]),
		"two engine objects, or two sources, would apply the same objects: each prunes and orders them on its own",
	)
}

# A root's kustomization may list directories above it (graft's base,
# "../../bases/cassandra"), which the engine resolves from its path within
# the repository: an engine path too short for them is not the overlay's
# repository path (only a tail of it), or one the engine cannot build
# (Flux's loader keeps to the source root, fluxcd/pkg kustomize; Argo CD
# clones the repository and nothing above it).
path_steps(parts) := [s | some c in parts; s := path_step(c)]

path_step("..") := -1

path_step(c) := 1 if c != ".."

# path_low: how many levels above its directory a relative path reaches
# (0 for none).
path_low(p) := 0 - min(array.concat([0], [sum(array.slice(st, 0, i + 1)) | st := path_steps(path_parts(p)); some i, _ in st]))

kustomization_dirs := ["resources", "bases", "components"]

deny contains f if {
	repo_prefix
	some [i, r, q] in path_matches
	q == repo_prefix
	x := engine_paths[i]
	some e in root_entries
	e.k == r
	some field in kustomization_dirs
	some res in as_array(object.get(e.d.contents, field, null))
	is_string(res)
	not contains(res, "://")
	not startswith(res, "/")
	up := path_low(res)
	up > count(path_parts(x.path))
	f := denied(
		"GRAFT081", x.d, x.field, x.path, sprintf("the overlay's repository path, from which %s's %s entry %s stays in the repository (%d levels above it)", [e.d.path, field, res, up]),
		"from this path the overlay's base resolves outside the repository: the path is not the overlay's (only a tail of it), or the engine cannot build it",
	)
}

# One engine applies every root: Flux's Kustomizations and Argo CD's
# Applications do not wait for one another, and Argo CD orders sync waves
# within one Application only (its sources are synced together).
root_engines := {engine_paths[i].engine | some [i, _, _] in path_matches}

root_apps := {engine_paths[i].d.contents.metadata.name | some [i, _, _] in path_matches; engine_paths[i].engine == "argocd"}

deny contains f if {
	count(root_engines) > 1
	some i in matched_paths
	x := engine_paths[i]
	x.engine == "argocd"
	f := denied("GRAFT081", x.d, x.field, x.path, "every build root applied by one engine", "Flux and Argo CD would each apply some of graft's roots, neither after the other: the StatefulSet could run before its claims exist")
}

deny contains f if {
	count(root_apps) > 1
	some i in matched_paths
	x := engine_paths[i]
	x.engine == "argocd"
	f := denied("GRAFT081", x.d, x.field, x.path, "every build root a source of one Application", sprintf("Argo CD orders sync waves within one Application only (%s): the StatefulSet could sync before its claims exist", [concat(", ", sort(root_apps))]))
}

# An engine object is one per kind, namespace and name in the cluster: of
# two Kustomizations (or Applications) of one name, the one applied last
# replaces the other, and its roots are never applied.
engine_doc_keys := [[d.contents.kind, flux_ns(d.contents), object.get(d.contents, ["metadata", "name"], "")] |
	some d in array.concat(flux_kustomization_docs, argo_application_docs)
]

deny contains f if {
	some d in array.concat(flux_kustomization_docs, argo_application_docs)
	k := [d.contents.kind, flux_ns(d.contents), object.get(d.contents, ["metadata", "name"], "")]
	n := count([x | some x in engine_doc_keys; x == k])
	n > 1
	f := denied("GRAFT081", d, "metadata.name", k[2], sprintf("a name no other %s in namespace %q has", [k[0], k[1]]), sprintf("%d %ss of one name: the one applied last replaces the others, whose roots are never applied", [n, k[0]]))
}

# One source: the Kustomizations of graft's roots name one sourceRef (its
# namespace defaults to the Kustomization's) and one kubeConfig; an
# Application's sources one repoURL and targetRevision. Roots from two
# sources may be of two revisions (Flux's dependency check compares
# revisions of one source only: checkDependencies), or clusters. What
# source and revision that is the gate cannot know: graft.lock records
# neither.
flux_ns(k) := object.get(k, ["metadata", "namespace"], "")

flux_source(k) := {
	"sourceRef": object.union({"namespace": flux_ns(k)}, as_object(object.get(k, ["spec", "sourceRef"], null))),
	"kubeConfig": object.get(k, ["spec", "kubeConfig"], null),
}

root_flux_docs := [engine_paths[i].d | some i in matched_paths; engine_paths[i].engine == "flux"]

root_flux_sources := {flux_source(d.contents) | some d in root_flux_docs}

deny contains f if {
	count(root_flux_sources) > 1
	some d in root_flux_docs
	f := denied("GRAFT081", d, "spec.sourceRef", flux_source(d.contents), "the source (and kubeConfig) of every other Kustomization of graft's roots", sprintf("graft's roots would come from %d sources or clusters, perhaps at other revisions", [count(root_flux_sources)]))
}

deny contains f if {
	some d in argo_application_docs
	srcs := [s | some [_, s] in argo_sources(d.contents)]
	count(srcs) > 1
	pairs := {[object.get(s, "repoURL", ""), object.get(s, "targetRevision", "")] | some s in srcs}
	count(pairs) > 1
	f := denied("GRAFT081", d, "spec.sources", sort(pairs), "one repoURL and targetRevision for every source", "graft's roots would come from other repositories or revisions than one another")
}

# An Application with a sourceHydrator syncs the hydrated manifests of
# its syncSource, not its source's path (ApplicationSpec.HasMultipleSources
# and GetSource defer to it).
deny contains f if {
	some d in argo_application_docs
	h := d.contents.spec.sourceHydrator
	h != null
	f := denied("GRAFT081", d, "spec.sourceHydrator", h, "unset", "Argo CD would apply the hydrated manifests of another branch and path, not graft's roots")
}

# Flux applies the storage roots before the workload root: the workload's
# Kustomization depends on each storage root's (name, and namespace,
# which defaults to its own: checkDependencies), without a readyExpr
# (which replaces Flux's readiness check with a CEL expression the gate
# cannot evaluate). Otherwise the StatefulSet controller could create the
# members' claims itself, from the claim templates: pending in the static
# mode, on new, empty volumes in the provisioned mode.
flux_root_docs := {r: ds | some r in root_keys; ds := [engine_paths[i].d | some i in root_appliers[r]; engine_paths[i].engine == "flux"]}

storage_root_pairs := [[e.k, w] |
	some e in root_entries
	count(e.parts) > 0
	w := concat("/", array.slice(e.parts, 0, count(e.parts) - 1))
	w in root_keys
]

dependency_of(kw, ks) := dep if {
	some dep in as_array(object.get(kw, ["spec", "dependsOn"], null))
	dep.name == ks.metadata.name
	object.get(dep, "namespace", flux_ns(kw)) == flux_ns(ks)
}

deny contains f if {
	some [s, w] in storage_root_pairs
	ks := flux_root_docs[s][0]
	kw := flux_root_docs[w][0]
	not dependency_of(kw.contents, ks.contents)
	f := denied(
		"GRAFT081", kw, "spec.dependsOn", object.get(kw.contents, ["spec", "dependsOn"], "unset"),
		sprintf("an entry for Kustomization %s, which applies storage root %s", [object.get(ks.contents, ["metadata", "name"], ""), repo_path(s)]),
		"Flux could apply the workload before the storage root: the StatefulSet controller would create the claims itself, from its templates (on new, empty volumes in the provisioned mode)",
	)
}

deny contains f if {
	some [s, w] in storage_root_pairs
	ks := flux_root_docs[s][0]
	kw := flux_root_docs[w][0]
	dep := dependency_of(kw.contents, ks.contents)
	e := dep.readyExpr
	e != ""
	f := denied("GRAFT081", kw, "spec.dependsOn", dep, sprintf("the entry for Kustomization %s without readyExpr", [ks.contents.metadata.name]), "with readyExpr Flux skips its own readiness check of the storage root for a CEL expression the gate cannot evaluate")
}
