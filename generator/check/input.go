package check

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
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
	// dirs are the kustomize directories of the input, whose objects are
	// attributed to their files when a finding needs it.
	resources map[string][]string
	resolved  map[string]bool
	// recordPath is the record's file.
	recordPath string
}

// recordLine returns the line of a target volume in the record.
func (in *Input) recordLine(volume string) int {
	if in.records == nil {
		in.records = map[string]int{}
		nodes, err := splitYAML(in.raw[in.recordPath])
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

func newInput() *Input {
	in := &Input{}
	in.ensure()
	return in
}

// ensure makes the indexes of an Input built as a literal usable.
func (in *Input) ensure() {
	if in.sources != nil {
		return
	}
	*in = Input{Docs: in.Docs, files: in.files, recordPath: in.recordPath, sources: map[sourceKey]*yamlv3.Node{}, declared: map[objectKey]string{}, patches: map[objectKey][]patchOp{}, raw: map[string][]byte{}, indexed: map[string]bool{}, resources: map[string][]string{}, resolved: map[string]bool{}}

}

// Value is the input as the policies see it.
func (in *Input) Value() []any {
	out := make([]any, len(in.Docs))
	for i, d := range in.Docs {
		out[i] = map[string]any{"path": d.Path, "contents": d.Contents}
	}
	return out
}

// astValue is Value as OPA takes it. The documents are converted in
// parallel: at thousands of objects the conversion is a measurable share
// of a check.
func (in *Input) astValue() (ast.Value, error) {
	terms := make([]*ast.Term, len(in.Docs))
	errs := make([]error, len(in.Docs))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(in.Docs)/256))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(in.Docs); i += workers {
				d := in.Docs[i]
				contents, err := ast.InterfaceToValue(d.Contents)
				if err != nil {
					errs[i] = err
					continue
				}
				terms[i] = ast.ObjectTerm(
					ast.Item(ast.InternedTerm("path"), ast.StringTerm(d.Path)),
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
// or "-" for stdin.
func Load(paths []string, stdin io.Reader) (*Input, error) {
	in := newInput()
	for _, p := range paths {
		if err := in.add(p, stdin); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func (in *Input) add(p string, stdin io.Reader) error {
	if p == Stdin {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("%w: read stdin: %v", ErrInput, err)
		}
		return in.addYAML(Stdin, data)
	}
	p = filepath.Clean(p)
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	if info.IsDir() {
		return in.addKustomization(p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	return in.addYAML(p, data)
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
// at hand (render returns it), so that it is not built a second time.
func LoadBuilt(dir string, built []byte) (*Input, error) {
	in := newInput()
	if err := in.addBuilt(filepath.Clean(dir), built); err != nil {
		return nil, err
	}
	return in, nil
}

// addKustomization builds dir with krusty and adds it.
func (in *Input) addKustomization(dir string) error {
	if kustomizationFile(dir) == "" {
		return fmt.Errorf("%w: %s is a directory without a kustomization.yaml", ErrInput, dir)
	}
	built, err := render.Build(dir)
	if err != nil {
		return fmt.Errorf("%w: kustomize build %s: %v", ErrInput, dir, err)
	}
	return in.addBuilt(dir, built)
}

// addBuilt attributes each built object of dir to the file that declares
// it, and adds the kustomization itself and the engine object graft renders
// beside it.
func (in *Input) addBuilt(dir string, built []byte) error {
	kfile := kustomizationFile(dir)
	if kfile == "" {
		return fmt.Errorf("%w: %s is a directory without a kustomization.yaml", ErrInput, dir)
	}
	// Only the kustomizations are read now; the files of the objects are
	// parsed when a finding needs a line.
	declared := map[string]bool{}
	in.resources[dir] = nil
	if err := in.indexKustomization(dir, dir, map[string]bool{}, declared); err != nil {
		return err
	}
	in.files = append(in.files, dir)
	docs, err := decodeYAML(built)
	if err != nil {
		return fmt.Errorf("%w: kustomize build %s: %v", ErrInput, dir, err)
	}
	for _, contents := range docs {
		in.Docs = append(in.Docs, Document{Path: dir, Contents: contents})
	}
	// The kustomization, for the rules about it.
	data, err := os.ReadFile(kfile)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	if err := in.addYAML(kfile, data); err != nil {
		return err
	}
	// The engine object graft renders beside the overlay is applied on its
	// own, not through the kustomization; its options matter too.
	for _, name := range []string{render.FluxFile, render.ArgoFile} {
		p := filepath.Join(dir, name)
		if declared[p] {
			continue
		}
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("%w: %v", ErrInput, err)
		}
		if err := in.addYAML(p, data); err != nil {
			return err
		}
	}
	return nil
}

// kustomizationRefs is what check reads of a kustomization to find the
// files of its objects.
type kustomizationRefs struct {
	Resources  []string `json:"resources"`
	Bases      []string `json:"bases"`
	Components []string `json:"components"`
	Patches    []struct {
		Path   string `json:"path"`
		Target *struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"target"`
	} `json:"patches"`
	PatchesJSON6902 []struct {
		Path   string `json:"path"`
		Target *struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"target"`
	} `json:"patchesJson6902"`
}

// indexKustomization records where the objects of a kustomization tree
// are declared. Remote resources are skipped: their objects are
// attributed to the overlay directory.
func (in *Input) indexKustomization(top, dir string, seen, declared map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	kfile := kustomizationFile(dir)
	if kfile == "" {
		return nil
	}
	data, err := os.ReadFile(kfile)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	var k kustomizationRefs
	if err := yaml.Unmarshal(data, &k); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInput, kfile, err)
	}
	refs := append(append(append([]string(nil), k.Resources...), k.Bases...), k.Components...)
	for _, r := range refs {
		if strings.Contains(r, "://") || strings.HasPrefix(r, "git@") {
			continue
		}
		p := filepath.Join(dir, r)
		info, err := os.Stat(p)
		if err != nil {
			continue // krusty reported it already, or it is remote
		}
		if info.IsDir() {
			if err := in.indexKustomization(top, p, seen, declared); err != nil {
				return err
			}
			continue
		}
		declared[p] = true
		in.resources[top] = append(in.resources[top], p)
	}
	type target struct{ kind, name, path string }
	var targets []target
	for _, pt := range k.Patches {
		if pt.Path != "" && pt.Target != nil {
			targets = append(targets, target{pt.Target.Kind, pt.Target.Name, pt.Path})
		}
	}
	for _, pt := range k.PatchesJSON6902 {
		if pt.Path != "" && pt.Target != nil {
			targets = append(targets, target{pt.Target.Kind, pt.Target.Name, pt.Path})
		}
	}
	for _, t := range targets {
		p := filepath.Join(dir, t.path)
		in.indexPatch(objectKey{t.kind, t.name}, p)
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
	data, err := os.ReadFile(p)
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
		return fmt.Errorf("%w: %s: %v", ErrInput, p, err)
	}
	in.files = append(in.files, p)
	in.raw[p] = data
	for _, contents := range docs {
		// A document whose top level is a list (conftest flattens them too).
		if list, ok := contents.([]any); ok {
			for _, c := range list {
				in.Docs = append(in.Docs, Document{Path: p, Contents: c})
			}
			continue
		}
		in.Docs = append(in.Docs, Document{Path: p, Contents: contents})
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
		if data, err = os.ReadFile(p); err != nil {
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
// read it (the raw YAML, as conftest would parse it).
func (in *Input) AddRecord(path string) (*record.Record, error) {
	// The record is validated while its document is decoded.
	var rec *record.Record
	var recErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		rec, recErr = record.Load(path)
	}()
	data, readErr := os.ReadFile(path)
	var docs []any
	var err error
	if readErr == nil {
		docs, err = decodeYAML(data)
	}
	<-done
	if recErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, recErr)
	}
	if readErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, readErr)
	}
	if err != nil || len(docs) != 1 {
		return nil, fmt.Errorf("%w: %s: not one YAML document: %v", ErrInput, path, err)
	}
	contents := docs[0]
	in.files = append(in.files, path)
	in.Docs = append(in.Docs, Document{Path: path, Contents: contents})
	in.raw[path] = data
	in.recordPath = path
	return rec, nil
}

// splitYAML parses a YAML stream into its non-empty documents.
func splitYAML(data []byte) ([]*yamlv3.Node, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var out []*yamlv3.Node
	for {
		var doc yamlv3.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(doc.Content) == 0 {
			continue
		}
		n := doc.Content[0]
		if n.Kind == yamlv3.ScalarNode && n.Tag == "!!null" {
			continue
		}
		out = append(out, n)
	}
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
