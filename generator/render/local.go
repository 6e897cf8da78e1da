package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/termtext"
)

// maxKustomizations bounds the kustomizations checkLocal visits.
const maxKustomizations = 1000

// checkLocal refuses a kustomization, or one it refers to, that loads
// anything that is not a regular file (of at most boundedio.MaxFileBytes)
// or a directory on this disk: a FIFO or a device blocks kustomize, or is
// read without end; kustomize fetches
// an http(s) URL or clones a git repository for any entry of resources,
// components, bases, generators, transformers or validators that is not
// local. What graft checks must be what Flux or Argo CD apply, and a
// remote resource can change between the two (and graft reaches no
// network).
func checkLocal(dir string) error {
	seen := map[string]bool{}
	var visit func(dir string) error
	visit = func(dir string) error {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		if seen[abs] {
			return nil
		}
		if seen[abs] = true; len(seen) > maxKustomizations {
			return fmt.Errorf("more than %d kustomizations refer to each other from %s", maxKustomizations, termtext.Value(dir))
		}
		var file string
		for _, name := range konfig.RecognizedKustomizationFileNames() {
			if fi, err := os.Stat(filepath.Join(abs, name)); err == nil && fi.Mode().IsRegular() {
				file = filepath.Join(abs, name)
				break
			}
		}
		if file == "" {
			return nil // kustomize reports it
		}
		data, err := boundedio.ReadFile(context.Background(), file, boundedio.MaxFileBytes)
		if err != nil {
			return err
		}
		var k types.Kustomization
		if err := yaml.Unmarshal(data, &k); err != nil {
			return nil // kustomize reports it, with its own message
		}
		// Files kustomize loads through the same loader, a URL included.
		yamlFiles, dataFiles := KustomizationFiles(&k)
		files := append(yamlFiles, dataFiles...)
		for _, list := range []struct {
			field   string
			entries []string
		}{{"resources", k.Resources}, {"components", k.Components}, {"bases", k.Bases}, {"generators", k.Generators}, {"transformers", k.Transformers}, {"validators", k.Validators},
			{"file", files}} {
			for _, e := range list.entries {
				p := filepath.Join(abs, filepath.FromSlash(e))
				if filepath.IsAbs(e) {
					p = e
				}
				fi, err := os.Stat(p)
				switch {
				case err != nil:
					return fmt.Errorf("%s: %s entry %q is not a file or directory here (%s); graft builds only from local files: a remote resource (a URL, a git repository) can change between the check and the apply",
						termtext.Value(file), list.field, e, termtext.Line(err.Error()))
				case fi.IsDir():
					if err := visit(p); err != nil {
						return err
					}
				case !fi.Mode().IsRegular():
					return fmt.Errorf("%s: %s entry %q is not a regular file (%s); kustomize would read it without end or block on it", termtext.Value(file), list.field, e, fi.Mode().Type())
				case fi.Size() > boundedio.MaxFileBytes:
					return fmt.Errorf("%s: %s entry %q: %w", termtext.Value(file), list.field, e, &boundedio.TooLargeError{Name: p, Size: fi.Size(), Limit: boundedio.MaxFileBytes})
				}
			}
		}
		return nil
	}
	return visit(dir)
}

// KustomizationFiles lists the files a kustomization makes kustomize read
// besides its resources, components, bases and plugins (generators,
// transformers, validators): YAML (patches, replacements, CRDs,
// configurations, the OpenAPI schema) and data (the generators' sources).
// Inline patches and empty entries are left out. render's local-only rule
// and check's input bounds both use it.
func KustomizationFiles(k *types.Kustomization) (yamlFiles, dataFiles []string) {
	keep := func(list *[]string, f string) {
		if f != "" && !strings.Contains(f, "\n") { // else inline
			*list = append(*list, f)
		}
	}
	for _, p := range append(append([]types.Patch(nil), k.Patches...), k.PatchesJson6902...) {
		keep(&yamlFiles, p.Path)
	}
	for _, p := range k.PatchesStrategicMerge {
		keep(&yamlFiles, string(p))
	}
	for _, r := range k.Replacements {
		keep(&yamlFiles, r.Path)
	}
	for _, f := range append(append(append([]string(nil), k.Crds...), k.Configurations...), k.OpenAPI["path"]) {
		keep(&yamlFiles, f)
	}
	sources := func(g types.GeneratorArgs) {
		for _, f := range g.FileSources {
			if _, path, ok := strings.Cut(f, "="); ok {
				f = path
			}
			keep(&dataFiles, f)
		}
		for _, f := range append(append([]string(nil), g.EnvSources...), g.EnvSource) {
			keep(&dataFiles, f)
		}
	}
	for _, g := range k.ConfigMapGenerator {
		sources(g.GeneratorArgs)
	}
	for _, g := range k.SecretGenerator {
		sources(g.GeneratorArgs)
	}
	return yamlFiles, dataFiles
}
