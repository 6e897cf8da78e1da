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

with_flux(ops) := array.concat(base, [{"path": "flux-kustomization.yaml", "contents": json.patch(flux_ks, ops)}])

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
		{"repoURL": "https://example.com/gitops.git", "targetRevision": "main", "path": "overlays/m/storage"},
		{"repoURL": "https://example.com/gitops.git", "targetRevision": "main", "path": "overlays/m"},
	]},
])

with_argo(app, ops) := array.concat(argocd, [{"path": "argocd-application.yaml", "contents": json.patch(app, ops)}])

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
