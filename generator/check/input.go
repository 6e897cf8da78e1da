package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	yamlv3 "go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/termtext"
)

// Document is one element of the policies' input: the shape `conftest test
// --combine` gives, one YAML document with the file it came from.
type Document struct {
	Path     string `json:"path"`
	Contents any    `json:"contents"`
}

// Input is what the policies evaluate: the documents, plus where each came
// from in its file, for findings with a line.
type Input struct {
	Docs []Document
	// baseDocs are the BaseMounts documents derived from the overlays'
	// bases (addBases): the policies see them after Docs; they are not
	// objects of the input, and Report.Objects does not count them.
	baseDocs []Document
	// files in the order they were read.
	files []string
	// sources locates objects in their files by file, kind and name.
	sources map[sourceKey]*yamlv3.Node
	// declared maps an object to the one file that declares it ("" when
	// several do).
	declared map[objectKey]string
	// patches locates the JSON 6902 operations that set fields of an
	// object, by kind and name.
	patches map[objectKey][]patchOp
	// records locates the record's volumes by target volume id.
	records map[string]int
	// raw holds the files read, and indexed those whose lines are known.
	raw     map[string][]byte
	indexed map[string]bool
	// kustomizations holds the kustomization files read.
	kustomizations map[string][]byte
	// dirs are the kustomize directories of the input, whose objects are
	// attributed to their files when a finding needs it.
	resources map[string][]string
	resolved  map[string]bool
	// bases are the local kustomize directories each kustomize directory
	// of the input lists in resources (or bases): graft's overlay lists
	// its base there.
	bases map[string][]string
	// graftOverlays are the kustomize directories of the input that graft
	// wrote (graft.lock inside, or its PV or PVC file in resources).
	graftOverlays map[string]bool
	// recordPath is the record's file, recordNode its document's node
	// (AddRecord's parse, for the lines of its volumes).
	recordPath string
	recordNode *yamlv3.Node
	// ctx bounds the reads (Load's context; Background for LoadBuilt).
	ctx context.Context
	// total is the bytes read and nfiles the files of kustomize
	// directories met, against boundedio's limits.
	total  int64
	nfiles int
}

// recordLine returns the line of a target volume in the record.
func (in *Input) recordLine(volume string) int {
	if in.records == nil {
		in.records = map[string]int{}
		nodes, err := []*yamlv3.Node{in.recordNode}, error(nil)
		if in.recordNode == nil {
			nodes, err = splitYAML(in.raw[in.recordPath])
		}
		if err == nil && len(nodes) == 1 {
			if vols := mapValue(nodes[0], "volumes"); vols != nil {
				for _, v := range vols.Content {
					if t := mapValue(v, "targetVolume"); t != nil {
						in.records[t.Value] = t.Line
					}
				}
			}
		}
	}
	return in.records[volume]
}

// Stdin is the PATH that reads standard input.
const Stdin = "-"

type sourceKey struct{ file, kind, name string }

type objectKey struct{ kind, name string }

type patchOp struct {
	pointer string
	file    string
	value   *yamlv3.Node // the op's value node
	line    int
}

func newInput(ctx context.Context) *Input {
	in := &Input{}
	in.ensure()
	in.ctx = ctx
	return in
}

func (in *Input) context() context.Context {
	if in.ctx == nil {
		return context.Background()
	}
	return in.ctx
}

// ensure makes the indexes of an Input built as a literal usable.
func (in *Input) ensure() {
	if in.sources != nil {
		return
	}
	*in = Input{Docs: in.Docs, baseDocs: in.baseDocs, files: in.files, recordPath: in.recordPath, sources: map[sourceKey]*yamlv3.Node{}, declared: map[objectKey]string{}, patches: map[objectKey][]patchOp{}, raw: map[string][]byte{}, indexed: map[string]bool{}, kustomizations: map[string][]byte{}, resources: map[string][]string{}, resolved: map[string]bool{}, bases: map[string][]string{}, graftOverlays: map[string]bool{}}

}

// documents are the input's documents as the policies see them: Docs,
// then the BaseMounts documents.
func (in *Input) documents() []Document {
	if len(in.baseDocs) == 0 {
		return in.Docs
	}
	return append(append([]Document(nil), in.Docs...), in.baseDocs...)
}

// Value is the input as the policies see it.
func (in *Input) Value() []any {
	docs := in.documents()
	paths := repoPaths(docs)
	out := make([]any, len(docs))
	for i, d := range docs {
		out[i] = map[string]any{"path": paths[d.Path], "contents": d.Contents}
	}
	return out
}

// repoPaths maps each document's path to the path the policies see: its
// path in its git repository (below the nearest directory that holds a
// .git) when it is in one, else its absolute path; stdin stays "-". The
// rule that proves the engine applies the directory checked (GRAFT081)
// compares the engine's repository path with the end of the overlay's, so
// `graft check .` from inside the overlay reads as `graft check
// overlays/x` from the repository root. Findings name files as given
// (Check maps them back).
func repoPaths(docs []Document) map[string]string {
	out := map[string]string{}
	roots := map[string]string{} // directory -> its repository root, "" for none
	for _, d := range docs {
		if _, done := out[d.Path]; done {
			continue
		}
		out[d.Path] = d.Path
		if d.Path == Stdin || d.Path == "" {
			continue
		}
		abs, err := filepath.Abs(d.Path)
		if err != nil {
			continue
		}
		out[d.Path] = filepath.ToSlash(abs)
		if root := repoRoot(filepath.Dir(abs), roots); root != "" {
			if rel, err := filepath.Rel(root, abs); err == nil {
				out[d.Path] = filepath.ToSlash(rel)
			}
		}
	}
	return out
}

// repoRoot is the nearest directory at or above dir that holds a .git
// (a repository's directory, or a worktree's file), or "".
func repoRoot(dir string, memo map[string]string) string {
	if root, ok := memo[dir]; ok {
		return root
	}
	root := ""
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		root = dir
	} else if parent := filepath.Dir(dir); parent != dir {
		root = repoRoot(parent, memo)
	}
	memo[dir] = root
	return root
}

// astValue is Value as OPA takes it.
func (in *Input) astValue() (ast.Value, error) {
	return in.policyValue(repoPaths(in.documents()))
}

// policyValue is Value as OPA takes it, each document's path given by
// paths (repoPaths). The documents are converted in parallel: at thousands
// of objects the conversion is a measurable share of a check.
func (in *Input) policyValue(paths map[string]string) (ast.Value, error) {
	docs := in.documents()
	terms := make([]*ast.Term, len(docs))
	errs := make([]error, len(docs))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(docs)/256))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(docs); i += workers {
				d := docs[i]
				contents, err := ast.InterfaceToValue(d.Contents)
				if err != nil {
					errs[i] = err
					continue
				}
				terms[i] = ast.ObjectTerm(
					ast.Item(ast.InternedTerm("path"), ast.StringTerm(paths[d.Path])),
					ast.Item(ast.InternedTerm("contents"), ast.NewTerm(contents)),
				)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ast.NewArray(terms...), nil
}

// Files returns the files the input was read from.
func (in *Input) Files() []string { return append([]string(nil), in.files...) }

// Load reads PATHs: kustomize directories (built with krusty), YAML files,
// or "-" for stdin, within the limits of package boundedio. It returns
// ctx.Err() as soon as ctx is done, even while a read of stdin is blocked;
// the Input keeps ctx for AddRecord.
func Load(ctx context.Context, paths []string, stdin io.Reader) (*Input, error) {
	return boundedio.UntilDone(ctx, func() (*Input, error) {
		in := newInput(ctx)
		for _, p := range paths {
			if err := in.add(p, stdin); err != nil {
				return nil, err
			}
		}
		return in, nil
	})
}

func (in *Input) add(p string, stdin io.Reader) error {
	if p == Stdin {
		if stdin == nil {
			stdin = strings.NewReader("")
		}
		data, err := boundedio.Read(in.context(), stdin, "stdin", boundedio.MaxFileBytes)
		if err != nil {
			return fmt.Errorf("%w: read stdin: %w", ErrInput, err)
		}
		if err := in.count("stdin", int64(len(data))); err != nil {
			return err
		}
		return in.addYAML(Stdin, data)
	}
	p = filepath.Clean(p)
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist: expected an overlay directory, a YAML file or - for stdin", ErrInput, termtext.Value(p))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInput, err)
	}
	if info.IsDir() {
		if overlay, ok := render.OverlayOf(p); ok {
			return fmt.Errorf("%w: %s is a storage root of the overlay %s, which graft checks as a whole (the rules compare every root's objects): check %s", ErrInput, termtext.Value(p), termtext.Value(overlay), termtext.Value(overlay))
		}
		return in.addKustomization(p)
	}
	// A file named on the command line may be a FIFO (bash's <(…)) or a
	// device: it is read within the limit.
	data, err := in.readFile(p, false)
	if err != nil {
		return err
	}
	return in.addYAML(p, data)
}

// readFile reads a file within the per-file and total limits. A file of a
// kustomize directory (inDir) is admitted first: it must be a regular file
// and counts against MaxFiles.
func (in *Input) readFile(p string, inDir bool) ([]byte, error) {
	if inDir {
		if _, err := in.admit(p); err != nil {
			return nil, err
		}
	}
	data, err := boundedio.ReadFile(in.context(), p, boundedio.MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	if err := in.count(p, int64(len(data))); err != nil {
		return nil, err
	}
	return data, nil
}

// admit checks a file of a kustomize directory before anything reads it:
// one more file (at most MaxFiles), a regular file (not a directory, a
// device, a FIFO or a socket) of at most MaxFileBytes. It returns the size.
func (in *Input) admit(p string) (int64, error) {
	in.nfiles++
	if in.nfiles > boundedio.MaxFiles {
		return 0, fmt.Errorf("%w: %w", ErrInput, &boundedio.TooLargeError{Name: "the kustomize directories given", Size: -1, Limit: boundedio.MaxFiles, Unit: "files"})
	}
	size, err := boundedio.RegularFile(p)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInput, err)
	}
	if size > boundedio.MaxFileBytes {
		return 0, fmt.Errorf("%w: %w", ErrInput, &boundedio.TooLargeError{Name: p, Size: size, Limit: boundedio.MaxFileBytes})
	}
	return size, nil
}

// bound admits a file krusty will read (see bound1). A path that does not
// exist, or is a directory, is left to krusty to report (it may be an
// inline patch, or a generator given inline).
func (in *Input) bound(p string, yamlFile bool) error {
	if info, err := os.Stat(p); err != nil || info.IsDir() {
		return nil
	}
	return in.bound1(p, yamlFile)
}

// bound1 admits a file krusty will read and counts it against the total.
// A YAML file with aliases is decoded first, within the alias budget and
// the nesting limit: krusty expands aliases without a bound, and a
// recursive one overflows its stack, which kills graft.
func (in *Input) bound1(p string, yamlFile bool) error {
	size, err := in.admit(p)
	if err != nil {
		return err
	}
	if err := in.count(p, size); err != nil {
		return err
	}
	if !yamlFile {
		return nil
	}
	data, err := boundedio.ReadFile(in.context(), p, boundedio.MaxFileBytes)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInput, err)
	}
	if bytes.IndexByte(data, '*') < 0 {
		return nil // no alias
	}
	if _, err := decodeStream(data); errors.Is(err, errDepth) || errors.Is(err, errAliases) {
		return fmt.Errorf("%w: %s: %w", ErrInput, termtext.Value(p), err)
	}
	return nil
}

// count adds n bytes read from name to the total.
func (in *Input) count(name string, n int64) error {
	in.total += n
	if in.total > boundedio.MaxTotalBytes {
		return fmt.Errorf("%w: %w", ErrInput, &boundedio.TooLargeError{Name: "the input (all files, up to " + name + ")", Size: -1, Limit: boundedio.MaxTotalBytes})
	}
	return nil
}

// kustomizationFile returns the kustomization file of dir, or "".
func kustomizationFile(dir string) string {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	return ""
}

// LoadBuilt reads the kustomize directory dir whose build output is already
// at hand (render returns it), so that it is not built a second time. The
// limits of Load apply. A split overlay needs every root's build: see
// LoadBuilds.
func LoadBuilt(dir string, built []byte) (*Input, error) {
	return LoadBuilds(dir, map[string][]byte{render.WorkloadRoot: built})
}

// LoadBuilds reads the overlay directory dir with the build output of each
// of its roots at hand (render.Result.Builds: by the root's directory
// relative to dir, render.WorkloadRoot for dir itself). The roots given
// must be exactly the overlay's.
func LoadBuilds(dir string, builds map[string][]byte) (*Input, error) {
	in := newInput(context.Background())
	if err := in.addOverlay(filepath.Clean(dir), builds); err != nil {
		return nil, err
	}
	return in, nil
}

// addKustomization admits and indexes the files of dir's kustomization
// tree, then builds it with krusty and adds it; an overlay graft split into
// build roots is added as one input, every root built (see addOverlay).
func (in *Input) addKustomization(dir string) error {
	return in.addOverlay(dir, nil)
}

// addOverlay adds the kustomize directory dir and, when it is a split
// overlay of graft's, its storage roots (render.StorageRoots), as one
// input: the cross-document rules see every root's objects, each
// attributed to its root's file. Every root's files are admitted and
// indexed first; the roots are built (unless builds holds their output) in
// parallel, on GOMAXPROCS.
func (in *Input) addOverlay(dir string, builds map[string][]byte) error {
	storage, err := render.StorageRoots(dir)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	roots := append(storage, render.WorkloadRoot)
	dirs := make([]string, len(roots))
	declared := make([]map[string]bool, len(roots))
	for i, r := range roots {
		dirs[i] = filepath.Join(dir, r)
		if declared[i], err = in.indexTree(dirs[i]); err != nil {
			return err
		}
	}
	built := make([][]byte, len(roots))
	if builds == nil {
		if built, err = in.buildRoots(dirs); err != nil {
			return err
		}
	} else {
		for i, r := range roots {
			if built[i] = builds[r]; built[i] == nil {
				return fmt.Errorf("%w: %s: no build output of its root %s given (the overlay's roots are %v)", ErrInput, termtext.Value(dir), termtext.Value(r), roots)
			}
		}
		if len(builds) != len(roots) {
			return fmt.Errorf("%w: %s: build outputs of %d roots given, the overlay has %d (%v)", ErrInput, termtext.Value(dir), len(builds), len(roots), roots)
		}
	}
	for i := range roots {
		if err := in.addBuilt(dirs[i], built[i], declared[i]); err != nil {
			return err
		}
	}
	if len(storage) > 0 {
		// The storage roots take their base from the workload root, which
		// graft wrote and must list one.
		in.graftOverlays[dir] = true
		for _, d := range dirs[:len(storage)] {
			in.graftOverlays[d] = false
		}
	}
	return in.addBases(dir)
}

// buildRoots builds the kustomize directories dirs with krusty, at most
// GOMAXPROCS at a time, while the input's context lives.
func (in *Input) buildRoots(dirs []string) ([][]byte, error) {
	built := make([][]byte, len(dirs))
	_, err := boundedio.UntilDone(in.context(), func() (struct{}, error) {
		var g errgroup.Group
		g.SetLimit(runtime.GOMAXPROCS(0))
		for i, d := range dirs {
			g.Go(func() error {
				if err := in.context().Err(); err != nil {
					return err
				}
				b, err := render.Build(d)
				if err != nil {
					return fmt.Errorf("%w: kustomize build %s: %v", ErrInput, termtext.Value(d), err)
				}
				built[i] = b
				return nil
			})
		}
		return struct{}{}, g.Wait()
	})
	if ctxErr := in.context().Err(); ctxErr != nil {
		return nil, ctxErr
	}
	return built, err
}

// indexTree records where the objects of dir's kustomization tree are
// declared, admitting every local file krusty will read against the
// limits first. It returns the files the tree declares.
func (in *Input) indexTree(dir string) (map[string]bool, error) {
	if kustomizationFile(dir) == "" {
		return nil, fmt.Errorf("%w: %s is a directory without a kustomization.yaml", ErrInput, termtext.Value(dir))
	}
	declared := map[string]bool{}
	in.resources[dir] = nil
	in.bases[dir] = nil
	if err := in.indexKustomization(dir, dir, map[string]bool{}, declared); err != nil {
		return nil, err
	}
	return declared, nil
}

// addBuilt attributes each built object of dir to the file that declares
// it, and adds the kustomization itself and the engine object graft renders
// beside it.
func (in *Input) addBuilt(dir string, built []byte, declared map[string]bool) error {
	if err := in.count("kustomize build "+dir, int64(len(built))); err != nil {
		return err
	}
	in.files = append(in.files, dir)
	docs, err := decodeYAML(built)
	if err != nil {
		return fmt.Errorf("%w: kustomize build %s: %v", ErrInput, termtext.Value(dir), err)
	}
	for _, contents := range docs {
		if err := in.addDoc(dir, contents); err != nil {
			return err
		}
	}
	// The kustomization, for the rules about it (read by indexTree).
	kfile := kustomizationFile(dir)
	if err := in.addYAML(kfile, in.kustomizations[kfile]); err != nil {
		return err
	}
	// The engine object graft renders beside the overlay is applied on its
	// own, not through the kustomization; its options matter too.
	for _, name := range []string{render.FluxFile, render.ArgoFile} {
		p := filepath.Join(dir, name)
		if declared[p] {
			continue
		}
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			continue
		}
		data, err := in.readFile(p, true)
		if err != nil {
			return err
		}
		if err := in.addYAML(p, data); err != nil {
			return err
		}
	}
	return nil
}

// addDoc adds one document, within MaxDocuments.
func (in *Input) addDoc(p string, contents any) error {
	if len(in.Docs) >= boundedio.MaxDocuments {
		return fmt.Errorf("%w: %w", ErrInput, &boundedio.TooLargeError{Name: "the input (up to " + p + ")", Size: -1, Limit: boundedio.MaxDocuments, Unit: "YAML documents"})
	}
	// The BaseMounts document is graft's to derive from the base: one
	// given in the input could stand in for the base (see addBases).
	if o, ok := contents.(map[string]any); ok && o["kind"] == BaseMountsKind {
		if v, _ := o["apiVersion"].(string); strings.HasPrefix(v, "graft.graftctl.io/") {
			return fmt.Errorf("%w: %s: kind %s, apiVersion %s: reserved; expected Kubernetes objects (graft check derives the base's mounts by building the base)", ErrInput, termtext.Value(p), BaseMountsKind, termtext.Value(v))
		}
	}
	in.Docs = append(in.Docs, Document{Path: p, Contents: contents})
	return nil
}

// indexKustomization records where the objects of a kustomization tree
// are declared, and admits every local file krusty reads for it (see
// bound). Remote resources are skipped: their objects are attributed to
// the overlay directory.
func (in *Input) indexKustomization(top, dir string, seen, declared map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	kfile := kustomizationFile(dir)
	if kfile == "" {
		return nil
	}
	data, err := in.readFile(kfile, true)
	if err != nil {
		return err
	}
	in.kustomizations[kfile] = data
	var k types.Kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInput, termtext.Value(kfile), err)
	}
	// The other files krusty reads: patches, generators' sources, CRDs,
	// replacements, plugin configurations, the OpenAPI schema.
	yamlFiles, dataFiles := render.KustomizationFiles(&k)
	yamlFiles = append(yamlFiles, k.Generators...)
	yamlFiles = append(yamlFiles, k.Transformers...)
	yamlFiles = append(yamlFiles, k.Validators...)
	for i, f := range append(yamlFiles, dataFiles...) {
		if f == "" || strings.ContainsAny(f, "\n") {
			continue // inline
		}
		if err := in.bound(filepath.Join(dir, f), i < len(yamlFiles)); err != nil {
			return err
		}
	}
	if dir == top {
		_, err := os.Lstat(filepath.Join(dir, record.DefaultFile))
		in.graftOverlays[top] = err == nil || slices.Contains(k.Resources, render.PVFile) || slices.Contains(k.Resources, render.PVCFile)
	}
	refs := append(append(append([]string(nil), k.Resources...), k.Bases...), k.Components...)
	for _, r := range refs {
		if strings.Contains(r, "://") || strings.HasPrefix(r, "git@") {
			continue
		}
		p := filepath.Join(dir, r)
		info, err := os.Stat(p)
		if err != nil {
			continue // krusty reports it, or it is remote
		}
		if info.IsDir() {
			if dir == top && !slices.Contains(k.Components, r) && kustomizationFile(p) != "" {
				in.bases[top] = append(in.bases[top], p)
			}
			if err := in.indexKustomization(top, p, seen, declared); err != nil {
				return err
			}
			continue
		}
		if err := in.bound1(p, true); err != nil {
			return err
		}
		declared[p] = true
		in.resources[top] = append(in.resources[top], p)
	}
	for _, pt := range append(append([]types.Patch(nil), k.Patches...), k.PatchesJson6902...) {
		if pt.Path != "" && pt.Target != nil {
			in.indexPatch(objectKey{pt.Target.Kind, pt.Target.Name}, filepath.Join(dir, pt.Path))
		}
	}
	return nil
}

// resolve attributes the objects of a kustomize directory to the files
// that declare them, once.
func (in *Input) resolve(top string) {
	if in.resolved[top] {
		return
	}
	in.resolved[top] = true
	for _, p := range in.resources[top] {
		in.indexLines(p)
		for k := range in.sources {
			if k.file != p {
				continue
			}
			ok := objectKey{k.kind, k.name}
			if f, dup := in.declared[ok]; dup && f != p {
				in.declared[ok] = ""
			} else {
				in.declared[ok] = p
			}
		}
	}
}

// indexPatch records the operations of a JSON 6902 patch file. Strategic
// merge patches are not indexed; their fields are found in the base.
func (in *Input) indexPatch(obj objectKey, p string) {
	data, err := boundedio.ReadFile(in.context(), p, boundedio.MaxFileBytes)
	if err != nil {
		return
	}
	nodes, err := splitYAML(data)
	if err != nil || len(nodes) != 1 || nodes[0].Kind != yamlv3.SequenceNode {
		return
	}
	for _, op := range nodes[0].Content {
		if op.Kind != yamlv3.MappingNode {
			continue
		}
		path := mapValue(op, "path")
		if path == nil || path.Kind != yamlv3.ScalarNode {
			continue
		}
		in.patches[obj] = append(in.patches[obj], patchOp{pointer: path.Value, file: p, value: mapValue(op, "value"), line: op.Line})
	}
}

// addYAML adds every document of a YAML stream. Documents are decoded as
// conftest decodes them (sigs.k8s.io/yaml); lines are found later, and
// only for files with findings.
func (in *Input) addYAML(p string, data []byte) error {
	docs, err := decodeYAML(data)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInput, termtext.Value(p), err)
	}
	in.files = append(in.files, p)
	in.raw[p] = data
	for _, contents := range docs {
		// A document whose top level is a list (conftest flattens them too).
		if list, ok := contents.([]any); ok {
			for _, c := range list {
				if err := in.addDoc(p, c); err != nil {
					return err
				}
			}
			continue
		}
		if err := in.addDoc(p, contents); err != nil {
			return err
		}
	}
	return nil
}

// indexLines parses a file read earlier for the lines of its objects.
func (in *Input) indexLines(p string) {
	if in.indexed[p] {
		return
	}
	in.indexed[p] = true
	data, ok := in.raw[p]
	if !ok {
		var err error
		if data, err = boundedio.ReadFile(in.context(), p, boundedio.MaxFileBytes); err != nil {
			return
		}
	}
	nodes, err := splitYAML(data)
	if err != nil {
		return
	}
	for _, n := range nodes {
		kind, name := nodeKindName(n)
		if kind == "" {
			continue
		}
		k := sourceKey{p, kind, name}
		if _, dup := in.sources[k]; !dup {
			in.sources[k] = n
		}
	}
}

// AddRecord validates the record at path and adds it, as the policies
// read it (the raw YAML, as conftest would parse it). It honours the
// context the Input was loaded with, and the limits of package boundedio.
func (in *Input) AddRecord(path string) (*record.Record, error) {
	ctx := in.context()
	return boundedio.UntilDone(ctx, func() (*record.Record, error) {
		data, err := record.ReadFile(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInput, err)
		}
		if err := in.count(path, int64(len(data))); err != nil {
			return nil, err
		}
		// One parse of the file, its documents' nodes; from them the
		// record, validated, for graft (record.ParseNode, which parses
		// the bytes again only to explain an error), and its document as
		// conftest decodes it, for the policies.
		raw, total, parseErr := documentNodes(data)
		var rec *record.Record
		if parseErr == nil && total == 1 && len(raw) == 1 {
			rec, err = record.ParseNode(path, data, raw[0])
		} else {
			rec, err = record.ParseFile(path, data)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInput, err)
		}
		nodes, decodeErr := contentNodes(raw), parseErr
		var docs []any
		if decodeErr == nil {
			docs, decodeErr = nodeValues(nodes, len(data))
		}
		if decodeErr != nil || len(docs) != 1 {
			return nil, fmt.Errorf("%w: %s: not one YAML document: %v", ErrInput, termtext.Value(path), decodeErr)
		}
		in.recordNode = nodes[0]
		in.files = append(in.files, path)
		if err := in.addDoc(path, docs[0]); err != nil {
			return nil, err
		}
		in.raw[path] = data
		in.recordPath = path
		return rec, nil
	})
}

// splitYAML parses a YAML stream into its non-empty documents.
func splitYAML(data []byte) ([]*yamlv3.Node, error) {
	docs, _, err := documentNodes(data)
	if err != nil {
		return nil, err
	}
	return contentNodes(docs), nil
}

// documentNodes parses a YAML stream into its documents that are neither
// empty nor null (their document nodes), and counts every document, empty
// ones too (which it does not keep: a stream of empty documents costs no
// memory); a document with content after boundedio.MaxDocuments kept ones
// is an error.
func documentNodes(data []byte) (docs []*yamlv3.Node, total int, err error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	for {
		doc := &yamlv3.Node{}
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			return docs, total, nil
		}
		if err != nil {
			return nil, 0, err
		}
		total++
		if len(doc.Content) == 0 {
			continue
		}
		if len(docs) >= boundedio.MaxDocuments {
			return nil, 0, tooManyDocuments()
		}
		if content(doc) != nil {
			docs = append(docs, doc)
		}
	}
}

// contentNodes are the top nodes of documentNodes' documents.
func contentNodes(docs []*yamlv3.Node) []*yamlv3.Node {
	out := make([]*yamlv3.Node, len(docs))
	for i, doc := range docs {
		out[i] = doc.Content[0]
	}
	return out
}

// content is the top node of a document, nil for an empty or null one.
func content(doc *yamlv3.Node) *yamlv3.Node {
	if len(doc.Content) == 0 {
		return nil
	}
	n := doc.Content[0]
	if n.Kind == yamlv3.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	return n
}

func nodeKindName(n *yamlv3.Node) (string, string) {
	if n.Kind != yamlv3.MappingNode {
		return "", ""
	}
	kind := ""
	if k := mapValue(n, "kind"); k != nil {
		kind = k.Value
	}
	name := ""
	if md := mapValue(n, "metadata"); md != nil {
		if nm := mapValue(md, "name"); nm != nil {
			name = nm.Value
		}
	}
	return kind, name
}

// mapValue returns the value of key in a mapping node.
func mapValue(n *yamlv3.Node, key string) *yamlv3.Node {
	if n == nil || n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// BaseMountsKind is the kind of the document that carries a base's mounts
// to the policies (policies/README.md, GRAFT019).
const BaseMountsKind = "BaseMounts"

// addBases builds, with krusty and within the limits of the overlay's
// build (indexTree admitted its files already), each local kustomize
// directory that dir lists in resources, and adds one BaseMounts document
// per base: the mounts of its StatefulSets' claim templates, which the
// policies compare with the built overlay's. A base that does not build
// is an error (ErrInput, exit 2): the overlay cannot be compared with it,
// and the gate fails closed rather than pass it unchecked; so is an
// overlay graft wrote that lists no base directory at all, unless no
// StatefulSet is in the input: then there are no mounts to compare (the
// workload kinds whose operator or chart creates the StatefulSets; kind
// claims-only needs no base), and the policies deny a record whose
// StatefulSet is missing (GRAFT036).
func (in *Input) addBases(dir string) error {
	if len(in.bases[dir]) == 0 && in.graftOverlays[dir] && in.hasStatefulSet() {
		return fmt.Errorf("%w: %s: the overlay lists no base in resources: expected the local kustomize directory spec.gitops.base names (graft render lists it first), to compare the overlay's mounts with the base's", ErrInput, termtext.Value(kustomizationFile(dir)))
	}
	for _, base := range in.bases[dir] {
		built, err := boundedio.UntilDone(in.context(), func() ([]byte, error) { return render.Build(base) })
		if err != nil {
			if ctxErr := in.context().Err(); ctxErr != nil {
				return ctxErr
			}
			return fmt.Errorf("%w: the base %s of the overlay %s, built to compare its mounts with the overlay's: kustomize build: %v", ErrInput, termtext.Value(base), termtext.Value(dir), err)
		}
		if err := in.count("kustomize build "+base, int64(len(built))); err != nil {
			return err
		}
		docs, err := decodeYAML(built)
		if err != nil {
			return fmt.Errorf("%w: kustomize build %s: %v", ErrInput, termtext.Value(base), err)
		}
		if len(in.Docs)+len(in.baseDocs) >= boundedio.MaxDocuments {
			return fmt.Errorf("%w: %w", ErrInput, &boundedio.TooLargeError{Name: "the input (up to the base " + base + ")", Size: -1, Limit: boundedio.MaxDocuments, Unit: "YAML documents"})
		}
		in.baseDocs = append(in.baseDocs, Document{Path: base, Contents: baseMounts(base, docs)})
	}
	return nil
}

// hasStatefulSet reports whether an apps/v1 StatefulSet is among the
// documents.
func (in *Input) hasStatefulSet() bool {
	for _, d := range in.Docs {
		if o, _ := d.Contents.(map[string]any); o["kind"] == "StatefulSet" && o["apiVersion"] == "apps/v1" {
			return true
		}
	}
	return false
}

// baseMounts returns the BaseMounts document of a built base: for each
// apps/v1 StatefulSet, by name without namespace, the volumeMounts of its
// claim templates in its regular containers, and which init containers
// mount which claim templates.
func baseMounts(base string, docs []any) map[string]any {
	sets := map[string]any{}
	inits := map[string]any{}
	for _, d := range docs {
		o, _ := d.(map[string]any)
		if o["kind"] != "StatefulSet" || o["apiVersion"] != "apps/v1" {
			continue
		}
		name, _ := dig(o, "metadata", "name").(string)
		templates := map[string]bool{}
		vcts, _ := dig(o, "spec", "volumeClaimTemplates").([]any)
		for _, t := range vcts {
			if n, ok := dig(t, "metadata", "name").(string); ok {
				templates[n] = true
			}
		}
		inits[name] = claimMounts(o, "initContainers", templates, inits[name], func(cname, t string, _ map[string]any, _ []any) any {
			return map[string]any{"container": cname, "claimTemplate": t}
		})
		sets[name] = claimMounts(o, "containers", templates, sets[name], regularMount)
	}
	return map[string]any{
		"apiVersion":          "graft.graftctl.io/v1alpha1",
		"kind":                BaseMountsKind,
		"base":                filepath.ToSlash(base),
		"statefulSets":        sets,
		"initContainerMounts": inits,
	}
}

// claimMounts appends to have (a []any, or nil) an entry for each
// volumeMount of a claim template in StatefulSet o's pod-template list
// field (containers or initContainers), as entry makes it from the
// container's name, the template, the mount and the container's mounts.
func claimMounts(o map[string]any, field string, templates map[string]bool, have any, entry func(container, template string, mount map[string]any, mounts []any) any) []any {
	out, _ := have.([]any)
	if out == nil {
		out = []any{}
	}
	containers, _ := dig(o, "spec", "template", "spec", field).([]any)
	for _, c := range containers {
		cname, _ := dig(c, "name").(string)
		vms, _ := dig(c, "volumeMounts").([]any)
		for _, vm := range vms {
			m, _ := vm.(map[string]any)
			if t, _ := m["name"].(string); templates[t] {
				out = append(out, entry(cname, t, m, vms))
			}
		}
	}
	return out
}

// regularMount is a regular container's mount of claim template t, as the
// policies read it, with the container's other mounts at or under it (a
// config volume inside the data directory): the base's, so not a volume
// the overlay lays over the data.
func regularMount(container, t string, m map[string]any, mounts []any) any {
	mp, _ := m["mountPath"].(string)
	subPath, _ := m["subPath"].(string)
	subPathExpr, _ := m["subPathExpr"].(string)
	nested := []any{}
	for _, other := range mounts {
		o, _ := other.(map[string]any)
		op, _ := o["mountPath"].(string)
		if o["name"] != t && op != "" && mp != "" && underPath(op, mp) {
			nested = append(nested, cleanMountPath(op))
		}
	}
	return map[string]any{
		"container":     container,
		"claimTemplate": t,
		"mountPath":     mp,
		"subPath":       subPath,
		"subPathExpr":   subPathExpr,
		"readOnly":      m["readOnly"] != nil && m["readOnly"] != false,
		"nested":        nested,
	}
}

// cleanMountPath is a mount path as the policies compare it: path.Clean's
// (no repeated or trailing slash); the policies' clean_mount_path does
// the same for the absolute paths the API admits.
func cleanMountPath(p string) string { return path.Clean(p) }

// underPath tells whether mount path p is dir or inside it.
func underPath(p, dir string) bool {
	p, dir = cleanMountPath(p), cleanMountPath(dir)
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// dig returns the value at a path of map keys, or nil.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
