# GRAFT077: the GitOps engine applies the overlay as the gate built it.
package graft_test

import data.graft

# flux_ks is the Flux Kustomization graft renders beside the overlay.
flux_ks := {
	"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
	"metadata": {"name": "graft-m", "namespace": "flux-system"},
	"spec": {
		"interval": "10m", "retryInterval": "1m", "timeout": "15m",
		"path": "./overlays/m", "prune": true, "wait": true, "force": false,
		"sourceRef": {"kind": "GitRepository", "name": "flux-system"},
		"dependsOn": [{"name": "cassandra-namespace"}],
		"healthChecks": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": "data-cassandra-0", "namespace": "db"}],
	},
}

# The fixture's overlay at overlays/m, the repository path graft's engine
# objects name (GRAFT081): its kustomization.yaml is there.
at_m(inp) := json.patch(inp, [{"op": "replace", "path": sprintf("/%d/path", [i_kust]), "value": "overlays/m/kustomization.yaml"}])

with_flux(ops) := array.concat(at_m(base), [{"path": "overlays/m/flux-kustomization.yaml", "contents": json.patch(flux_ks, ops)}])

# argo_app is the Argo CD Application graft renders, with one source or
# with storage roots as sources.
argo_app := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "graft-m", "namespace": "argocd"},
	"spec": {
		"project": "default",
		"source": {"repoURL": "https://example.com/gitops.git", "targetRevision": "main", "path": "overlays/m"},
		"destination": {"server": "https://kubernetes.default.svc", "namespace": "db"},
		"syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["ServerSideApply=true", "PruneLast=true", "CreateNamespace=true"]},
	},
}

argo_sources_app := json.patch(argo_app, [
	{"op": "remove", "path": "/spec/source"},
	{"op": "add", "path": "/spec/sources", "value": [
		{"repoURL": "https://example.com/gitops.git", "targetRevision": "main", "path": "overlays/m/storage-001"},
		{"repoURL": "https://example.com/gitops.git", "targetRevision": "main", "path": "overlays/m"},
	]},
])

# A storage root of a split overlay: its kustomization, in the input as
# graft check adds it.
storage_root := {"path": "overlays/m/storage-001/kustomization.yaml", "contents": {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["persistentvolumes.yaml"]}}

with_argo(app, ops) := array.concat(at_m(argocd), array.concat(storage_roots_of(app), [{"path": "overlays/m/argocd-application.yaml", "contents": json.patch(app, ops)}]))

storage_roots_of(app) := [storage_root] if app.spec.sources

storage_roots_of(app) := [] if not app.spec.sources

graft077(inp) := {[f.field, f.found] | some f in graft.deny with input as inp; f.id == "GRAFT077"}

test_rendered_engine_objects_pass if {
	ids(with_flux([])) == set()
	ids(with_argo(argo_app, [])) == set()
	ids(with_argo(argo_sources_app, [])) == set()
	# Fields that change no object are the operator's choice.
	ids(with_flux([
		{"op": "add", "path": "/spec/serviceAccountName", "value": "kustomize-controller"},
		{"op": "add", "path": "/spec/deletionPolicy", "value": "Delete"},
		{"op": "add", "path": "/spec/suspend", "value": false},
	])) == set()
	ids(with_argo(argo_app, [{"op": "add", "path": "/spec/source/kustomize", "value": {"version": "v5.4.3"}}])) == set()
}

test_graft077_flux_common_metadata if {
	# commonMetadata overrides the claims' prune protection.
	inp := with_flux([{"op": "add", "path": "/spec/commonMetadata", "value": {"annotations": {"kustomize.toolkit.fluxcd.io/prune": "enabled"}}}])
	graft077(inp) == {["spec.commonMetadata", `{"annotations":{"kustomize.toolkit.fluxcd.io/prune":"enabled"}}`]}
	ids(inp) == {"GRAFT077"}
}

test_graft077_flux_transformations if {
	every k, v in {
		"patches": [{"patch": "- op: replace\n  path: /spec/persistentVolumeReclaimPolicy\n  value: Delete", "target": {"kind": "PersistentVolume"}}],
		"targetNamespace": "other",
		"namePrefix": "x-",
		"nameSuffix": "-x",
		"images": [{"name": "cassandra", "newTag": "5"}],
		"components": ["../wipe"],
		"postBuild": {"substitute": {"zone": "us-east-1b"}},
		"patchesStrategicMerge": [{"kind": "PersistentVolume"}],
		"unknownField": true,
	} {
		graft077(with_flux([{"op": "add", "path": sprintf("/spec/%s", [k]), "value": v}])) == {[sprintf("spec.%s", [k]), graft.show(v)]}
	}
}

test_graft077_argo_kustomize_source if {
	inp := with_argo(argo_app, [{"op": "add", "path": "/spec/source/kustomize", "value": {"commonAnnotations": {"argocd.argoproj.io/sync-options": "Prune=true"}, "version": "v5.4.3"}}])
	graft077(inp) == {["spec.source.kustomize.commonAnnotations", `{"argocd.argoproj.io/sync-options":"Prune=true"}`]}
	every k, v in {"namePrefix": "x-", "replicas": [{"name": "cassandra", "count": 1}], "patches": [{"patch": "[]"}], "namespace": "other", "components": ["c"]} {
		graft077(with_argo(argo_app, [{"op": "add", "path": "/spec/source/kustomize", "value": {k: v}}])) == {[sprintf("spec.source.kustomize.%s", [k]), graft.show(v)]}
	}
}

test_graft077_argo_sources if {
	inp := with_argo(argo_sources_app, [{"op": "add", "path": "/spec/sources/1/kustomize", "value": {"nameSuffix": "-x"}}])
	graft077(inp) == {["spec.sources[1].kustomize.nameSuffix", "-x"]}
}

test_graft077_argo_other_tool if {
	inp := with_argo(argo_app, [{"op": "add", "path": "/spec/source/directory", "value": {"recurse": true}}])
	graft077(inp) == {["spec.source.directory", `{"recurse":true}`]}
	graft077(with_argo(argo_sources_app, [{"op": "add", "path": "/spec/sources/0/helm", "value": {}}])) == {["spec.sources[0].helm", "{}"]}
}

# --- GRAFT044: a hook is deleted and re-created at every sync

test_graft044_storage_as_a_hook if {
	inp := argocd_patched([op("add", i_pvc0, "/metadata/annotations/argocd.argoproj.io~1hook", "PreSync")])
	what(inp) == {["GRAFT044", `metadata.annotations["argocd.argoproj.io/hook"]`, "PreSync"]}
	ids(argocd_patched([op("add", i_pv1, "/metadata/annotations/argocd.argoproj.io~1hook", "Skip")])) == {"GRAFT044"}
	# Helm's hook annotation, which Argo CD takes for its own, on the
	# StatefulSet; both annotations on one object are two findings.
	inp2 := argocd_patched([op("add", i_sts, "/metadata/annotations", {"helm.sh/hook": "post-install", "argocd.argoproj.io/hook": "Sync"})])
	count([f | some f in findings(inp2); f.id == "GRAFT044"]) == 2
}

# --- GRAFT080: owned objects are garbage collected

owner := [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "cassandra", "uid": "0b0e1f5a-0000-4000-8000-000000000000"}]

test_graft080_owner_references if {
	inp := patched([op("add", i_pvc0, "/metadata/ownerReferences", owner)])
	what(inp) == {["GRAFT080", "metadata.ownerReferences", json.marshal(owner)]}
	ids(patched([op("add", i_pv1, "/metadata/ownerReferences", owner)])) == {"GRAFT080"}
	ids(patched([op("add", i_sts, "/metadata/ownerReferences", owner)])) == {"GRAFT080"}
	# No owner is no owner.
	ids(patched([op("add", i_pv1, "/metadata/ownerReferences", null), op("add", i_pvc1, "/metadata/ownerReferences", [])])) == set()
}

# Flux reads its force flag from labels too, in any case (AnyInMetadata).
test_graft044_flux_force_in_a_label_or_another_case if {
	inp := patched([op("add", i_pv0, "/metadata/labels/kustomize.toolkit.fluxcd.io~1force", "enabled")])
	what(inp) == {["GRAFT044", `metadata.labels["kustomize.toolkit.fluxcd.io/force"]`, "enabled"]}
	ids(patched([op("add", i_pvc0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1force", "Enabled")])) == {"GRAFT044"}
	ids(patched([op("add", i_sts, "/metadata/labels", {"kustomize.toolkit.fluxcd.io/force": "ENABLED"})])) == {"GRAFT044"}
	ids(patched([op("add", i_pvc0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1force", "disabled")])) == set()
}

# --- GRAFT081: the engine applies exactly graft's roots

graft081(inp) := {[f.field, f.found] | some f in graft.deny with input as inp; f.id == "GRAFT081"}

test_graft081_flux_applies_another_directory if {
	inp := with_flux([{"op": "replace", "path": "/spec/path", "value": "./overlays/other"}])
	graft081(inp) == {["spec.path", "./overlays/other"]}
	ids(inp) == {"GRAFT081"}
	# A longer path than the root's, as graft check was given it.
	graft081(with_flux([{"op": "replace", "path": "/spec/path", "value": "./gitops/overlays/m"}])) == {["spec.path", "./gitops/overlays/m"]}
}

test_graft081_paths_that_normalise_to_the_root_pass if {
	every p in ["overlays/m", "overlays/m/", "./overlays//m", "overlays/./m/."] {
		ids(with_flux([{"op": "replace", "path": "/spec/path", "value": p}])) == set()
	}
	# graft check given the overlay by an absolute path or from below the
	# repository root: the root's path ends with the engine's.
	ids(json.patch(with_flux([]), [{"op": "replace", "path": sprintf("/%d/path", [i_kust]), "value": "/home/u/gitops/overlays/m/kustomization.yaml"}])) == set()
	ids(json.patch(with_flux([]), [{"op": "replace", "path": sprintf("/%d/path", [i_kust]), "value": "../../overlays/m/kustomization.yaml"}])) == set()
}

test_graft081_paths_the_gate_cannot_resolve if {
	every p in ["/overlays/m", "overlays/x/../m", "../overlays/m", "", ".", "./"] {
		graft081(with_flux([{"op": "replace", "path": "/spec/path", "value": p}])) == {["spec.path", p]}
	}
	graft081(with_flux([{"op": "remove", "path": "/spec/path"}])) == {["spec.path", ""]}
	graft081(with_flux([{"op": "replace", "path": "/spec/path", "value": 7}])) == {["spec.path", "7"]}
	graft081(with_argo(argo_app, [{"op": "replace", "path": "/spec/source/path", "value": "/overlays/m"}])) == {["spec.source.path", "/overlays/m"]}
	# graft check given the overlay as "." cannot tell where it is.
	graft081(json.patch(with_flux([]), [{"op": "replace", "path": sprintf("/%d/path", [i_kust]), "value": "kustomization.yaml"}])) == {["spec.path", "./overlays/m"]}
}

# A split overlay's Flux Kustomizations, as render writes them.
flux_storage_ks := json.patch(flux_ks, [
	{"op": "replace", "path": "/metadata/name", "value": "graft-m-storage-001"},
	{"op": "replace", "path": "/spec/path", "value": "./overlays/m/storage-001"},
])

flux_workload_ks := json.patch(flux_ks, [
	{"op": "add", "path": "/spec/dependsOn/-", "value": {"name": "graft-m-storage-001"}},
])

with_split_flux(storage, workload) := array.concat(at_m(base), [
	storage_root,
	{"path": "overlays/m/flux-kustomization.yaml", "contents": storage},
	{"path": "overlays/m/flux-kustomization.yaml", "contents": workload},
])

test_graft081_split_overlay_passes if {
	ids(with_split_flux(flux_storage_ks, flux_workload_ks)) == set()
	# The dependency's namespace, when stated, is the storage root's.
	ids(with_split_flux(flux_storage_ks, json.patch(flux_workload_ks, [{"op": "add", "path": "/spec/dependsOn/1/namespace", "value": "flux-system"}]))) == set()
	ids(with_argo(argo_sources_app, [])) == set()
}

test_graft081_root_missing_or_twice if {
	# The storage root is applied by nothing.
	inp := array.concat(at_m(base), [storage_root, {"path": "overlays/m/flux-kustomization.yaml", "contents": flux_ks}])
	graft081(inp) == {["spec.path", "no path of the engine applies overlays/m/storage-001"]}
	# Named by the repository path, whatever path graft check was given.
	outside := json.patch(inp, [
		{"op": "replace", "path": sprintf("/%d/path", [i_kust]), "value": "/srv/gitops/overlays/m/kustomization.yaml"},
		{"op": "replace", "path": sprintf("/%d/path", [count(base)]), "value": "/srv/gitops/overlays/m/storage-001/kustomization.yaml"},
	])
	graft081(outside) == {["spec.path", "no path of the engine applies overlays/m/storage-001"]}
	# A root of another directory than the repository's keeps its path.
	elsewhere := array.concat(outside, [{"path": "/srv/other/kustomization.yaml", "contents": storage_root.contents}])
	["spec.path", "no path of the engine applies srv/other"] in graft081(elsewhere)
	# The workload root twice, and no storage root.
	inp2 := with_split_flux(json.patch(flux_storage_ks, [{"op": "replace", "path": "/spec/path", "value": "overlays/m"}]), flux_workload_ks)
	graft081(inp2) == {["spec.path", "overlays/m"], ["spec.path", "./overlays/m"], ["spec.path", "no path of the engine applies overlays/m/storage-001"]}
	# An Application source left out.
	inp3 := with_argo(argo_sources_app, [{"op": "remove", "path": "/spec/sources/0"}])
	graft081(inp3) == {["spec.sources[0].path", "no path of the engine applies overlays/m/storage-001"]}
}

test_graft081_roots_under_two_repository_roots if {
	# m/storage-001 ends the storage root's path too, under another
	# repository root than overlays/m's.
	inp := with_split_flux(json.patch(flux_storage_ks, [{"op": "replace", "path": "/spec/path", "value": "m/storage-001"}]), flux_workload_ks)
	graft081(inp) == {["spec.path", "m/storage-001"], ["spec.path", "./overlays/m"]}
}

test_graft081_workload_does_not_wait_for_storage if {
	inp := with_split_flux(flux_storage_ks, flux_ks)
	graft081(inp) == {["spec.dependsOn", `[{"name":"cassandra-namespace"}]`]}
	ids(inp) == {"GRAFT081"}
	# A dependency of that name in another namespace is another one.
	inp2 := with_split_flux(flux_storage_ks, json.patch(flux_workload_ks, [{"op": "add", "path": "/spec/dependsOn/1/namespace", "value": "apps"}]))
	ids(inp2) == {"GRAFT081"}
	# A CEL readiness expression replaces Flux's check.
	inp3 := with_split_flux(flux_storage_ks, json.patch(flux_workload_ks, [{"op": "add", "path": "/spec/dependsOn/1/readyExpr", "value": "true"}]))
	graft081(inp3) == {["spec.dependsOn", `{"name":"graft-m-storage-001","readyExpr":"true"}`]}
}

test_graft081_roots_from_two_sources if {
	inp := with_split_flux(json.patch(flux_storage_ks, [{"op": "replace", "path": "/spec/sourceRef/name", "value": "old-revision"}]), flux_workload_ks)
	count(graft081(inp)) == 2
	ids(inp) == {"GRAFT081"}
	ids(with_split_flux(json.patch(flux_storage_ks, [{"op": "add", "path": "/spec/kubeConfig", "value": {"secretRef": {"name": "other-cluster"}}}]), flux_workload_ks)) == {"GRAFT081"}
	# A sourceRef namespace stated as the default is the same source.
	ids(with_split_flux(json.patch(flux_storage_ks, [{"op": "add", "path": "/spec/sourceRef/namespace", "value": "flux-system"}]), flux_workload_ks)) == set()
	inp2 := with_argo(argo_sources_app, [{"op": "replace", "path": "/spec/sources/0/targetRevision", "value": "v1"}])
	graft081(inp2) == {["spec.sources", `[["https://example.com/gitops.git","main"],["https://example.com/gitops.git","v1"]]`]}
}

test_graft081_roots_split_across_engines_or_applications if {
	app_storage := json.patch(argo_app, [{"op": "replace", "path": "/spec/source/path", "value": "overlays/m/storage-001"}, {"op": "replace", "path": "/metadata/name", "value": "graft-m-storage"}])
	inp := array.concat(at_m(argocd), [storage_root, {"path": "a.yaml", "contents": app_storage}, {"path": "b.yaml", "contents": argo_app}])
	graft081(inp) == {["spec.source.path", "overlays/m/storage-001"], ["spec.source.path", "overlays/m"]}
	inp2 := array.concat(at_m(argocd), [storage_root, {"path": "a.yaml", "contents": app_storage}, {"path": "b.yaml", "contents": flux_ks}])
	graft081(inp2) == {["spec.source.path", "overlays/m/storage-001"]}
}

test_graft081_sources_win_and_hydrator if {
	# With sources, Argo CD ignores source.
	ids(with_argo(argo_sources_app, [{"op": "add", "path": "/spec/source", "value": {"repoURL": "https://example.com/gitops.git", "path": "overlays/other"}}])) == {"GRAFT081"}
	ids(with_argo(argo_app, [{"op": "add", "path": "/spec/sourceHydrator", "value": {"drySource": {"path": "overlays/m"}, "syncSource": {"targetBranch": "env", "path": "m"}}}])) == {"GRAFT081"}
}

# --- GRAFT082: the engine applies every object as written

graft082(inp) := {[f.kind, f.field, f.found] | some f in graft.deny with input as inp; f.id == "GRAFT082"}

test_graft082_flux_skips_the_object if {
	inp := patched([op("add", i_pv0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1reconcile", "disabled")])
	graft082(inp) == {["PersistentVolume", `metadata.annotations["kustomize.toolkit.fluxcd.io/reconcile"]`, "disabled"]}
	ids(inp) == {"GRAFT082"}
	ids(patched([op("add", i_pvc0, "/metadata/labels/kustomize.toolkit.fluxcd.io~1ssa", "Ignore")])) == {"GRAFT082"}
	ids(patched([op("add", i_sts, "/metadata/annotations", {"kustomize.toolkit.fluxcd.io/ssa": "IFNOTPRESENT"})])) == {"GRAFT082"}
	# Merge applies every field graft writes; enabled reconciles.
	ids(patched([op("add", i_pvc0, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1ssa", "Merge"), op("add", i_pv1, "/metadata/annotations/kustomize.toolkit.fluxcd.io~1reconcile", "enabled")])) == set()
	# The Kustomization itself, which its parent would not apply.
	graft082(with_flux([{"op": "add", "path": "/metadata/labels", "value": {"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}}])) == {["Kustomization", `metadata.labels["kustomize.toolkit.fluxcd.io/reconcile"]`, "disabled"]}
}

test_graft082_argo_without_validation if {
	inp := argocd_patched([op("replace", i_pvc0, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Prune=false, Delete=false, Validate=false")])
	graft082(inp) == {["PersistentVolumeClaim", `metadata.annotations["argocd.argoproj.io/sync-options"]`, "Prune=false, Delete=false, Validate=false"]}
	ids(inp) == {"GRAFT082"}
	# Argo CD matches the item exactly.
	ids(argocd_patched([op("replace", i_pvc0, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Prune=false,Delete=false,validate=false")])) == set()
	inp2 := with_argo(argo_app, [{"op": "add", "path": "/spec/syncPolicy/syncOptions/-", "value": "Validate=false"}])
	graft082(inp2) == {["Application", "spec.syncPolicy.syncOptions[3]", "Validate=false"]}
}

# --- GRAFT083: a suspended Kustomization applies nothing

test_graft083_suspended if {
	inp := with_flux([{"op": "add", "path": "/spec/suspend", "value": true}])
	{[f.id, f.field] | some f in graft.warn with input as inp; f.id == "GRAFT083"} == {["GRAFT083", "spec.suspend"]}
	ids(inp) == {"GRAFT083"}
	not "GRAFT083" in {f.id | some f in graft.warn with input as with_flux([])}
}

# --- GRAFT077: Argo CD applies the cluster's values of ignored fields

test_graft077_respect_ignore_differences if {
	ignored := [{"group": "apps", "kind": "StatefulSet", "jsonPointers": ["/spec/replicas"]}]
	inp := with_argo(argo_app, [{"op": "add", "path": "/spec/syncPolicy/syncOptions/-", "value": "RespectIgnoreDifferences=true"}, {"op": "add", "path": "/spec/ignoreDifferences", "value": ignored}])
	graft077(inp) == {["spec.syncPolicy.syncOptions[3]", "RespectIgnoreDifferences=true"]}
	# Without the option the differences are only not shown.
	ids(with_argo(argo_app, [{"op": "add", "path": "/spec/ignoreDifferences", "value": ignored}])) == set()
}

test_graft081_engine_objects_of_one_name if {
	# The storage root's Kustomization named as the workload's: only one
	# of them exists in the cluster.
	inp := with_split_flux(json.patch(flux_storage_ks, [{"op": "replace", "path": "/metadata/name", "value": "graft-m"}]), flux_workload_ks)
	{[f.field, f.found] | some f in graft.deny with input as inp; f.id == "GRAFT081"; f.field == "metadata.name"} == {["metadata.name", "graft-m"]}
	count([f | some f in graft.deny with input as inp; f.id == "GRAFT081"; f.field == "metadata.name"]) == 1
	# In another namespace it is another Kustomization.
	ids(with_split_flux(json.patch(flux_storage_ks, [{"op": "replace", "path": "/metadata/name", "value": "graft-m"}, {"op": "replace", "path": "/metadata/namespace", "value": "apps"}, {"op": "add", "path": "/spec/sourceRef/namespace", "value": "flux-system"}]), json.patch(flux_workload_ks, [{"op": "replace", "path": "/spec/dependsOn/1", "value": {"name": "graft-m", "namespace": "apps"}}]))) == set()
}

test_graft081_path_too_short_for_the_base if {
	# "m" ends overlays/m, but from m the base two levels up is outside
	# the repository: m is only a tail of the overlay's path.
	with_base := json.patch(with_flux([{"op": "replace", "path": "/spec/path", "value": "./m"}]), [{"op": "replace", "path": sprintf("/%d/contents/resources/0", [i_kust]), "value": "../../bases/cassandra"}])
	graft081(with_base) == {["spec.path", "./m"]}
	ids(json.patch(with_flux([]), [{"op": "replace", "path": sprintf("/%d/contents/resources/0", [i_kust]), "value": "../../bases/cassandra"}])) == set()
	# The levels a path reaches, however it gets there.
	graft.path_low("../../bases/cassandra") == 2
	graft.path_low("a/../../b/../../c") == 2
	graft.path_low("base") == 0
	# Remote and absolute resources are not the repository's.
	ids(json.patch(with_flux([{"op": "replace", "path": "/spec/path", "value": "./m"}]), [{"op": "replace", "path": sprintf("/%d/contents/resources/0", [i_kust]), "value": "https://example.com/../../../x"}])) == set()
}
