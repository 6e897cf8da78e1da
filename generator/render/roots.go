package render

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// ShardMembers is the most members (StatefulSet pods, each with one PV and
// one PVC per claim template) one build root holds. An overlay of at most
// that many members is one root, as it always was; a larger one is split
// into a workload root (the overlay directory itself: the base, the
// StatefulSet patches and the namespace) and storage roots of at most
// ShardMembers members each, which carry their namespace on their objects
// and have no transformer. kustomize's build is quadratic in the objects of
// one root (kubernetes-sigs/kustomize#5084), so a root of bounded size
// builds in bounded time and the whole overlay in linear time; the README
// has the measurements behind the size.
const ShardMembers = 25

// ShardObjects bounds the PVs and PVCs of one root: with more than two
// claim templates, a root holds fewer members (at least one), since the
// build's cost is in its objects.
const ShardObjects = 4 * ShardMembers

// shardSize is the most members one root holds when each has templates
// claim templates.
func shardSize(templates int) int {
	return max(1, min(ShardMembers, ShardObjects/(2*max(1, templates))))
}

// WorkloadRoot is the name of the workload root in Result.Builds: the
// overlay directory itself.
const WorkloadRoot = "."

// storageRootPattern matches the directory names of storage roots.
var storageRootPattern = regexp.MustCompile(`^storage-[0-9]{3,}$`)

// StorageRoot is the directory, inside the overlay directory, of the i-th
// (from 0) storage root of a split overlay.
func StorageRoot(i int) string { return fmt.Sprintf("storage-%03d", i+1) }

// StorageRoots lists the storage roots of the overlay directory dir, in
// apply order: its subdirectories named as StorageRoot names them whose
// kustomization.yaml graft wrote for the migration that wrote dir's. An
// overlay of one root has none.
func StorageRoots(dir string) ([]string, error) {
	migration, ok := owner(filepath.Join(dir, KustomizationFile))
	if !ok {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var roots []string
	for _, e := range entries {
		if !e.IsDir() || !storageRootPattern.MatchString(e.Name()) {
			continue
		}
		o, ok := owner(filepath.Join(dir, e.Name(), KustomizationFile))
		if !ok || o != migration {
			return nil, fmt.Errorf("%s is named as a storage root of migration %q's overlay but its %s was not written by graft for that migration", termtext.Value(filepath.Join(dir, e.Name())), migration, KustomizationFile)
		}
		roots = append(roots, e.Name())
	}
	return roots, nil
}

// OverlayOf returns the overlay directory that dir is a storage root of,
// if it is one: its name is a storage root's, and graft wrote its
// kustomization.yaml and its parent's for the same migration.
func OverlayOf(dir string) (string, bool) {
	dir = filepath.Clean(dir)
	if !storageRootPattern.MatchString(filepath.Base(dir)) {
		return "", false
	}
	parent := filepath.Dir(dir)
	o, ok := owner(filepath.Join(dir, KustomizationFile))
	po, pok := owner(filepath.Join(parent, KustomizationFile))
	return parent, ok && pok && o == po
}

// podKey names one member: a StatefulSet pod.
type podKey struct {
	sts     string
	ordinal int
}

// shard groups members (sorted by claim name) into storage roots of at
// most shardSize pods, in the order of the spec's StatefulSets and then
// of their ordinals, so that new ordinals go into the last roots and the
// others keep theirs. Each root's members stay sorted by claim name.
func shard(m *spec.Migration, members []member) [][]member {
	byPod := map[podKey][]member{}
	for _, mb := range members {
		k := podKey{mb.vol.StatefulSet, mb.vol.Ordinal}
		byPod[k] = append(byPod[k], mb)
	}
	var pods []podKey
	for _, sts := range m.Spec.Target.StatefulSets {
		for o := sts.Ordinals.Start; o < sts.Ordinals.Start+sts.Replicas; o++ {
			pods = append(pods, podKey{sts.Name, o})
		}
	}
	var shards [][]member
	size := shardSize(len(m.Spec.Source.Devices))
	for i := 0; i < len(pods); i += size {
		var s []member
		for _, p := range pods[i:min(i+size, len(pods))] {
			s = append(s, byPod[p]...)
		}
		sort.Slice(s, func(i, j int) bool { return s[i].vol.ClaimName() < s[j].vol.ClaimName() })
		shards = append(shards, s)
	}
	return shards
}

// newKustomization is a kustomization graft writes: kustomize's type, and
// the legacy sort order, so that every kustomize client (krusty, Flux,
// kubectl and Argo CD's kustomize) orders storage before workloads.
func newKustomization(namespace string, resources ...string) types.Kustomization {
	return types.Kustomization{
		TypeMeta: types.TypeMeta{
			APIVersion: types.KustomizationVersion,
			Kind:       types.KustomizationKind,
		},
		Namespace:   namespace,
		Resources:   resources,
		SortOptions: &types.SortOptions{Order: types.LegacySortOrder},
	}
}

// storageFiles writes into files, under dir ("" for the overlay directory
// itself), the PV and PVC files of members, and the StorageClass when
// withClass; it returns their names, for a kustomization's resources.
func (r *renderer) storageFiles(files map[string][]byte, dir string, members []member, withClass bool, wave int) ([]string, error) {
	pvs := make([]any, 0, len(members))
	pvcs := make([]any, 0, len(members))
	for _, mb := range members {
		pvs = append(pvs, r.persistentVolume(mb))
		pvcs = append(pvcs, r.persistentVolumeClaim(mb))
	}
	var err error
	if files[path.Join(dir, PVFile)], err = marshalDocuments(pvs); err != nil {
		return nil, err
	}
	if files[path.Join(dir, PVCFile)], err = marshalDocuments(pvcs); err != nil {
		return nil, err
	}
	names := []string{PVFile, PVCFile}
	if withClass {
		if files[path.Join(dir, StorageClassFile)], err = marshalDocuments([]any{r.storageClass(wave)}); err != nil {
			return nil, err
		}
		names = append(names, StorageClassFile)
	}
	return names, nil
}

// storageRoots writes the storage roots of a split overlay: each a
// kustomization of its PVs and PVCs (the first also of the declared
// StorageClass), without namespace or any transformer. The roots are
// marshalled in parallel, on GOMAXPROCS. It returns the roots' directories.
func (r *renderer) storageRoots(files map[string][]byte, shards [][]member, wave int) ([]string, error) {
	roots := make([]string, len(shards))
	parts := make([]map[string][]byte, len(shards))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, s := range shards {
		roots[i], parts[i] = StorageRoot(i), map[string][]byte{}
		g.Go(func() error {
			resources, err := r.storageFiles(parts[i], roots[i], s, i == 0 && r.m.Spec.Target.Binding.DeclaresStorageClass(), wave)
			if err != nil {
				return err
			}
			return r.writeKustomization(parts[i], roots[i], newKustomization("", resources...))
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, p := range parts {
		maps.Copy(files, p)
	}
	return roots, nil
}

// writeKustomization writes dir's kustomization.yaml, graft's marker first.
func (r *renderer) writeKustomization(files map[string][]byte, dir string, k types.Kustomization) error {
	data, err := yaml.Marshal(k)
	if err != nil {
		return err
	}
	files[path.Join(dir, KustomizationFile)] = append([]byte(ownerLine(r.m.Metadata.Name)), data...)
	return nil
}

// rootsOf lists the build roots among files (relative paths): the
// directories holding a kustomization.yaml, WorkloadRoot for the top.
func rootsOf(files map[string][]byte) []string {
	var roots []string
	for name := range files {
		if path.Base(name) == KustomizationFile {
			roots = append(roots, path.Dir(name))
		}
	}
	slices.Sort(roots)
	return roots
}

// writeFiles writes files (relative slash paths) under dir. The
// overlay's kustomization.yaml, which carries graft's marker, goes first:
// a build directory a killed render left holds it as soon as it holds
// anything, so the next render can tell it is its own and remove it
// (removeStaleBuilds).
func writeFiles(ctx context.Context, dir string, files map[string][]byte) error {
	names := slices.Sorted(maps.Keys(files))
	if i := slices.Index(names, KustomizationFile); i > 0 {
		names = append([]string{KustomizationFile}, slices.Delete(names, i, i+1)...)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("render: %w", err)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("render: %w", termtext.Error(err))
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return fmt.Errorf("render: %w", termtext.Error(err))
		}
	}
	return nil
}

// buildRoots builds every root of the overlay in dir, at most GOMAXPROCS
// at a time, and returns each root's output by its name. The first
// failure stops the builds not yet started.
func buildRoots(ctx context.Context, dir string, roots []string) (map[string][]byte, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	out := make([][]byte, len(roots))
	for i, root := range roots {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			built, err := buildContext(gctx, filepath.Join(dir, filepath.FromSlash(root)))
			if err != nil && gctx.Err() == nil {
				if root != WorkloadRoot {
					err = fmt.Errorf("storage root %s: %w", root, err)
				}
			}
			out[i] = built
			return err
		})
	}
	err := g.Wait()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("render: %w; nothing was written", ctxErr)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the overlay does not build, nothing was written: %s", ErrInvalid, termtext.Line(err.Error()))
	}
	builds := make(map[string][]byte, len(roots))
	for i, root := range roots {
		builds[root] = out[i]
	}
	return builds, nil
}

// joinBuilds is the output of every root, in apply order: the storage
// roots, then the workload root; each stream ends in a newline, and the
// next begins with a document separator.
func joinBuilds(builds map[string][]byte) []byte {
	if len(builds) == 1 {
		return builds[WorkloadRoot]
	}
	roots := slices.Sorted(maps.Keys(builds))
	roots = append(slices.DeleteFunc(roots, func(r string) bool { return r == WorkloadRoot }), WorkloadRoot)
	var out []byte
	for _, r := range roots {
		b := builds[r]
		if len(b) == 0 {
			continue
		}
		if len(out) > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, b...)
		if !strings.HasSuffix(string(b), "\n") {
			out = append(out, '\n')
		}
	}
	return out
}

// BuildOverlay builds every root of a migration's overlay directory (its
// storage roots, in apply order, then the workload root at dir), in
// parallel, and returns their output as one YAML stream: what the cluster
// is given, for the stages that read the whole overlay (preflight). An
// overlay of one root is Build(dir).
func BuildOverlay(dir string) ([]byte, error) {
	roots, err := StorageRoots(dir)
	if err != nil {
		return nil, err
	}
	dirs := append(make([]string, 0, len(roots)+1), dir)
	for _, r := range roots {
		dirs = append(dirs, filepath.Join(dir, r))
	}
	built := make([][]byte, len(dirs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, d := range dirs {
		g.Go(func() (err error) {
			built[i], err = Build(d)
			if err != nil {
				return fmt.Errorf("%s: %w", d, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, b := range append(built[1:], built[0]) {
		if out.Len() > 0 && len(b) > 0 {
			out.WriteString("---\n")
		}
		out.Write(b)
	}
	return out.Bytes(), nil
}

// warnNamespaceOrder warns when Flux would wait forever on a split
// overlay: the base declares the target namespace, so the workload root
// creates it, but the workload's Kustomization depends on the storage
// roots', whose claims cannot be applied before the namespace exists.
// Without spec.gitops.dependsOn (a Kustomization that makes the namespace
// first) nothing else does, unless the namespace exists already.
func warnNamespaceOrder(m *spec.Migration, builds map[string][]byte, log *slog.Logger) {
	g := m.Spec.GitOps
	if log == nil || len(builds) < 2 || g.Engine != spec.EngineFlux || len(g.DependsOn) > 0 {
		return
	}
	ns := m.Spec.Target.Namespace
	for _, doc := range bytes.Split(builds[WorkloadRoot], []byte("\n---\n")) {
		var obj struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if yaml.Unmarshal(doc, &obj) == nil && obj.Kind == "Namespace" && obj.Metadata.Name == ns {
			log.Warn("the base declares Namespace "+termtext.Value(ns)+", which only the workload root applies; under Flux the storage roots come first, and their claims wait for the namespace: create it before (a Kustomization listed in spec.gitops.dependsOn), or make sure it exists", "namespace", ns)
			return
		}
	}
}
