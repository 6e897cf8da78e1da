package render_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/testkit"
)

// kustomizationOf reads a kustomization graft wrote, marker line first.
// storageRootsFor is how many storage roots a migration of members members
// of up to two claim templates is split into.
func storageRootsFor(members int) int {
	return (members + render.ShardMembers - 1) / render.ShardMembers
}

func kustomizationOf(t *testing.T, data []byte, migration string) types.Kustomization {
	t.Helper()
	line, rest, _ := bytes.Cut(data, []byte("\n"))
	if !strings.HasPrefix(string(line), render.Marker+" Migration "+migration+":") {
		t.Errorf("kustomization starts with %q, want graft's marker for %s", line, migration)
	}
	var k types.Kustomization
	mustUnmarshal(t, rest, &k)
	return k
}

// TestRootsLayout: up to ShardMembers members the overlay is one root, as
// it always was; one member more splits it into a workload root (base,
// patches, namespace) and storage roots of at most ShardMembers members,
// with the namespace on the PVCs and no transformer. Every claim is in
// exactly one root, and the builds of all roots hold every object once.
func TestRootsLayout(t *testing.T) {
	for _, c := range []struct{ sets, ordinals, roots int }{
		{1, render.ShardMembers, 0}, {1, render.ShardMembers + 1, 2}, {3, 40, storageRootsFor(120)}, {2, 75, storageRootsFor(150)},
	} {
		t.Run(fmt.Sprintf("%dx%d", c.sets, c.ordinals), func(t *testing.T) {
			m, rec, out := syntheticMigration(t, c.sets, c.ordinals)
			res, err := render.Render(m, rec, render.Options{OutDir: out})
			if err != nil {
				t.Fatal(err)
			}
			top := kustomizationOf(t, res.Files[render.KustomizationFile], m.Metadata.Name)
			roots, err := render.StorageRoots(out)
			if err != nil || len(roots) != c.roots {
				t.Fatalf("StorageRoots = %v, %v; want %d roots", roots, err, c.roots)
			}
			if len(res.Builds) != c.roots+1 {
				t.Errorf("%d builds, want %d", len(res.Builds), c.roots+1)
			}
			if c.roots == 0 {
				if !slices.Contains(top.Resources, render.PVFile) || !slices.Contains(top.Resources, render.PVCFile) {
					t.Errorf("one root: resources %v, want the PV and PVC files", top.Resources)
				}
				return
			}
			if !slices.Equal(top.Resources, []string{m.Spec.GitOps.Base}) || top.Namespace != m.Spec.Target.Namespace || len(top.Patches) != c.sets {
				t.Errorf("workload root: resources %v, namespace %q, %d patches; want only the base, %q, %d", top.Resources, top.Namespace, len(top.Patches), m.Spec.Target.Namespace, c.sets)
			}
			seen := map[string]int{}
			for _, root := range roots {
				k := kustomizationOf(t, res.Files[root+"/"+render.KustomizationFile], m.Metadata.Name)
				if k.Namespace != "" || len(k.Patches)+len(k.Transformers)+len(k.Replacements)+len(k.Components) > 0 || k.NamePrefix != "" || len(k.Labels)+len(k.CommonLabels)+len(k.CommonAnnotations) > 0 {
					t.Errorf("%s: a storage root has a transformer: %+v", root, k)
				}
				objs := parseBuilt(t, res.Builds[root])
				members := map[string]bool{}
				for name, pvc := range objs.pvcs {
					seen[name]++
					if pvc.Namespace != m.Spec.Target.Namespace {
						t.Errorf("%s: PVC %s in namespace %q, want %q", root, name, pvc.Namespace, m.Spec.Target.Namespace)
					}
					if pv, ok := objs.pvs[pvc.Spec.VolumeName]; !ok || pv.Spec.ClaimRef.Name != name {
						t.Errorf("%s: PVC %s's PV %s is not in its root", root, name, pvc.Spec.VolumeName)
					}
					members[pvc.Labels[spec.LabelStatefulSet]+"/"+pvc.Labels[spec.LabelOrdinal]] = true
				}
				if len(members) > render.ShardMembers || len(objs.pvs) != len(objs.pvcs) || len(objs.sets) > 0 {
					t.Errorf("%s: %d members, %d PVs, %d PVCs, %d StatefulSets; want at most %d members, a PV per PVC, no StatefulSet", root, len(members), len(objs.pvs), len(objs.pvcs), len(objs.sets), render.ShardMembers)
				}
				if fi, err := os.Stat(filepath.Join(out, root, render.PVFile)); err != nil || fi.Size() == 0 {
					t.Errorf("%s was not written: %v", root, err)
				}
			}
			if len(seen) != len(rec.Volumes) {
				t.Errorf("%d claims across the roots, want %d", len(seen), len(rec.Volumes))
			}
			for name, n := range seen {
				if n != 1 {
					t.Errorf("claim %s is in %d roots", name, n)
				}
			}
			all := parseBuilt(t, res.Built)
			if len(all.pvs) != len(rec.Volumes) || len(all.pvcs) != len(rec.Volumes) || len(all.sets) != c.sets {
				t.Errorf("Built holds %d PVs, %d PVCs, %d StatefulSets; want %d, %d, %d", len(all.pvs), len(all.pvcs), len(all.sets), len(rec.Volumes), len(rec.Volumes), c.sets)
			}
			if w := parseBuilt(t, res.Builds[render.WorkloadRoot]); len(w.pvs)+len(w.pvcs) > 0 || len(w.sets) != c.sets {
				t.Errorf("workload root builds %d PVs, %d PVCs, %d StatefulSets; want only the StatefulSets", len(w.pvs), len(w.pvcs), len(w.sets))
			}
		})
	}
}

// TestRootsReplacedAsOne: a split overlay is graft's to replace (every
// root carries the marker), shrinking it to one root or growing it again
// leaves no root behind, and a killed render's split build is removed.
func TestRootsReplacedAsOne(t *testing.T) {
	m, rec, out := syntheticMigration(t, 2, 60)
	must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out})))
	stale := filepath.Join(filepath.Dir(out), ".graft-render-123")
	testkit.CopyDir(t, out, stale)
	must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out})))
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed render's split build %s is still there (%v)", stale, err)
	}
	// Shrunk to one root, then grown again.
	full := rec.Volumes
	for i := range m.Spec.Target.StatefulSets {
		m.Spec.Target.StatefulSets[i].Replicas = 10
	}
	rec.Volumes = slices.DeleteFunc(slices.Clone(full), func(v record.Volume) bool { return v.Ordinal >= 10 })
	must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out})))
	if roots, err := render.StorageRoots(out); err != nil || len(roots) != 0 {
		t.Errorf("shrunk to 20 members: storage roots %v (%v), want none", roots, err)
	}
	if left, _ := filepath.Glob(filepath.Join(out, "storage-*")); len(left) > 0 {
		t.Errorf("shrunk to one root, %v left behind", left)
	}
	for i := range m.Spec.Target.StatefulSets {
		m.Spec.Target.StatefulSets[i].Replicas = 60
	}
	rec.Volumes = full
	must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out})))
	if roots, err := render.StorageRoots(out); err != nil || len(roots) != storageRootsFor(120) {
		t.Errorf("grown to 120 members: storage roots %v (%v), want %d", roots, err, storageRootsFor(120))
	}
	// A foreign directory named as a storage root is not graft's.
	must(t, os.MkdirAll(filepath.Join(out, "storage-999"), 0o755))
	must(t, os.WriteFile(filepath.Join(out, "storage-999", render.KustomizationFile), []byte("resources: []\n"), 0o644))
	if _, err := render.StorageRoots(out); err == nil || !strings.Contains(err.Error(), "storage-999") {
		t.Errorf("StorageRoots accepted a storage root graft did not write: %v", err)
	}
}

// TestRootsEngineObjects: a split overlay's Flux file holds one
// Kustomization per storage root (wait, health checks on exactly its
// PVCs, no targetNamespace) and the workload's, which depends on all of
// them; the Argo CD Application lists every root in spec.sources.
func TestRootsEngineObjects(t *testing.T) {
	for _, engine := range []string{spec.EngineFlux, spec.EngineArgoCD} {
		t.Run(engine, func(t *testing.T) {
			m, rec, out := syntheticMigration(t, 2, 60)
			m.Spec.GitOps.Engine, m.Spec.GitOps.EngineObject = engine, true
			m.Spec.GitOps.OverlayPath, m.Spec.GitOps.SourceRef, m.Spec.GitOps.DependsOn = "overlays/big", "repo", []string{"infra"}
			res, err := render.Render(m, rec, render.Options{OutDir: out, DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if engine == spec.EngineArgoCD {
				var sources []string
				for i := range storageRootsFor(120) {
					sources = append(sources, "overlays/big/"+render.StorageRoot(i))
				}
				checkArgoSources(t, res.Files[render.ArgoFile], append(sources, "overlays/big"))
				return
			}
			checkFluxRoots(t, res, storageRootsFor(120))
		})
	}
}

func checkArgoSources(t *testing.T, data []byte, want []string) {
	t.Helper()
	var app struct {
		Spec struct {
			Source  map[string]any
			Sources []struct{ RepoURL, TargetRevision, Path string }
		}
	}
	must(t, yaml.Unmarshal(data, &app))
	var paths []string
	for _, s := range app.Spec.Sources {
		paths = append(paths, s.Path)
		if s.RepoURL == "" || s.TargetRevision == "" {
			t.Errorf("source %+v lacks repoURL or targetRevision", s)
		}
	}
	if app.Spec.Source != nil || !slices.Equal(paths, want) {
		t.Errorf("Application source %v, sources %v; want no source and sources %v", app.Spec.Source, paths, want)
	}
}

func checkFluxRoots(t *testing.T, res *render.Result, roots int) {
	t.Helper()
	type kust struct {
		Metadata struct{ Name string }
		Spec     map[string]any
	}
	var docs []kust
	for _, doc := range bytes.Split(res.Files[render.FluxFile], []byte("\n---\n")) {
		var k kust
		must(t, yaml.Unmarshal(doc, &k))
		docs = append(docs, k)
	}
	if len(docs) != roots+1 {
		t.Fatalf("%d Flux Kustomizations, want %d", len(docs), roots+1)
	}
	workload := docs[roots]
	var deps []string
	for _, d := range workload.Spec["dependsOn"].([]any) {
		deps = append(deps, d.(map[string]any)["name"].(string))
	}
	for i, d := range docs[:roots] {
		root := render.StorageRoot(i)
		claims := parseBuilt(t, res.Builds[root]).pvcs
		checks, _ := d.Spec["healthChecks"].([]any)
		if d.Spec["wait"] != true || d.Spec["path"] != "./overlays/big/"+root || len(checks) != len(claims) || d.Spec["targetNamespace"] != nil {
			t.Errorf("%s's Kustomization: wait %v, path %v, %d health checks for %d claims, targetNamespace %v", root, d.Spec["wait"], d.Spec["path"], len(checks), len(claims), d.Spec["targetNamespace"])
		}
		for _, c := range checks {
			if _, ok := claims[c.(map[string]any)["name"].(string)]; !ok {
				t.Errorf("%s's Kustomization checks %v, not one of its claims", root, c)
			}
		}
		if !slices.Contains(deps, d.Metadata.Name) {
			t.Errorf("the workload depends on %v, not on %s", deps, d.Metadata.Name)
		}
	}
	if !slices.Contains(deps, "infra") || workload.Spec["targetNamespace"] != nil || workload.Spec["path"] != "./overlays/big" {
		t.Errorf("workload Kustomization: dependsOn %v (want infra too), targetNamespace %v, path %v", deps, workload.Spec["targetNamespace"], workload.Spec["path"])
	}
}

// TestRootsKustomizeCLI: every root of a split overlay builds under
// `kubectl kustomize` (Argo CD's and kubectl's kustomize) exactly as krusty
// built it for render.
func TestRootsKustomizeCLI(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is needed to compare with the kustomize command line (.ci/run installs it): %v", err)
	}
	m, rec, out := syntheticMigration(t, 2, 40)
	res, err := render.Render(m, rec, render.Options{OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Builds) < 3 {
		t.Fatalf("%d roots, want a split overlay", len(res.Builds))
	}
	for root, want := range res.Builds {
		got, err := exec.Command(kubectl, "kustomize", filepath.Join(out, root)).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v", root, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: kubectl kustomize and krusty differ:\n--- kubectl\n%.2000s\n--- krusty\n%.2000s", root, got, want)
		}
	}
}

// TestBuildOverlay: the whole of a split overlay, every root, as one
// stream: every PV and PVC of the record and the StatefulSets, each once;
// an overlay of one root is its build.
func TestBuildOverlay(t *testing.T) {
	for _, c := range []struct{ sets, ordinals int }{{1, 3}, {3, 40}} {
		m, rec, out := syntheticMigration(t, c.sets, c.ordinals)
		res, err := render.Render(m, rec, render.Options{OutDir: out})
		if err != nil {
			t.Fatal(err)
		}
		built, err := render.BuildOverlay(out)
		if err != nil {
			t.Fatal(err)
		}
		objs := parseBuilt(t, built)
		if len(objs.pvs) != len(rec.Volumes) || len(objs.pvcs) != len(rec.Volumes) || len(objs.sets) != c.sets {
			t.Errorf("%dx%d: %d PVs, %d PVCs, %d StatefulSets; want %d, %d, %d", c.sets, c.ordinals, len(objs.pvs), len(objs.pvcs), len(objs.sets), len(rec.Volumes), len(rec.Volumes), c.sets)
		}
		if len(res.Builds) == 1 && !bytes.Equal(built, res.Builds[render.WorkloadRoot]) {
			t.Errorf("one root: BuildOverlay differs from its build")
		}
	}
}

// TestEngineObjectNameLength: a migration name that makes one of the
// Flux Kustomizations or the Argo CD Application longer than a label value
// (63 characters) is refused, naming metadata.name, and nothing is written;
// the longest name that fits renders.
func TestEngineObjectNameLength(t *testing.T) {
	for _, tc := range []struct {
		engine  string
		members int
		fits    int // the longest migration name that renders
	}{
		{spec.EngineFlux, 10, 63 - len("graft-")},
		{spec.EngineFlux, 120, 63 - len("graft-") - len("-storage-001")},
		{spec.EngineArgoCD, 120, 63 - len("graft-")},
	} {
		t.Run(fmt.Sprintf("%s/members=%d", tc.engine, tc.members), func(t *testing.T) {
			for _, n := range []int{tc.fits, tc.fits + 1} {
				m, rec, out := syntheticMigration(t, 2, tc.members/2)
				m.Metadata.Name = strings.Repeat("a", n)
				rec.Migration = m.Metadata.Name
				m.Spec.GitOps.Engine, m.Spec.GitOps.EngineObject = tc.engine, true
				_, err := render.Render(m, rec, render.Options{OutDir: out})
				if n == tc.fits {
					if err != nil {
						t.Fatalf("name of %d characters: %v", n, err)
					}
					continue
				}
				if !errors.Is(err, render.ErrInvalid) || !strings.Contains(err.Error(), "metadata.name") || !strings.Contains(err.Error(), fmt.Sprintf("expected at most 63, so a migration name of at most %d characters", tc.fits)) {
					t.Fatalf("name of %d characters: %v; want ErrInvalid naming metadata.name and the limit", n, err)
				}
				if _, statErr := os.Stat(out); !errors.Is(statErr, fs.ErrNotExist) {
					t.Errorf("a refused render left %s behind (%v)", out, statErr)
				}
			}
		})
	}
}

// TestNamespaceOrderWarning: a split overlay under Flux whose base declares
// the target namespace is warned about (the storage roots' claims would
// wait for a namespace only the workload root applies), unless
// spec.gitops.dependsOn names what creates it first; one root is never.
func TestNamespaceOrderWarning(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ordinals  int
		dependsOn []string
		warn      bool
	}{
		{"split", 30, nil, true},
		{"split with dependsOn", 30, []string{"namespaces"}, false},
		{"one root", 5, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, rec, out := syntheticMigration(t, 2, tc.ordinals)
			base := filepath.Join(filepath.Dir(filepath.Dir(out)), "base")
			must(t, os.WriteFile(filepath.Join(base, "namespace.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: db\n"), 0o644))
			kust, err := os.ReadFile(filepath.Join(base, "kustomization.yaml"))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(base, "kustomization.yaml"), append(kust, "  - namespace.yaml\n"...), 0o644))
			m.Spec.GitOps.Engine, m.Spec.GitOps.DependsOn = spec.EngineFlux, tc.dependsOn
			var logs bytes.Buffer
			if _, err := render.Render(m, rec, render.Options{OutDir: out, DryRun: true, Log: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(logs.String(), "the base declares Namespace db"); got != tc.warn {
				t.Errorf("warned %t, want %t:\n%s", got, tc.warn, logs.String())
			}
		})
	}
}
