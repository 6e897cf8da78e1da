package check

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzLoad: the input loader over in-memory inputs, as stdin, as a file
// and as a resource and a patch of a kustomize directory (the
// kustomization itself is fixed: no fuzzed input may make krusty fetch a
// remote base). It never panics, fails only with ErrInput, reads a
// document the same from stdin and from a file, stays within
// boundedio.MaxDocuments, and every object it returns can be located and
// converted for OPA.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n"), []byte("- op: add\n  path: /data/x\n  value: y\n"))
	f.Add([]byte("apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: pv\nspec:\n  capacity: {storage: 1Gi}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: w}\n"))
	f.Add([]byte("- a\n- b\n"), []byte(""))
	f.Add([]byte("a: &a [x, *a]\n"), []byte("{"))
	for _, s := range decodeSeeds {
		f.Add([]byte(s), []byte(s))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, resource, patch []byte) {
		if len(resource)+len(patch) > 64<<10 {
			return
		}
		check := func(what string, in *Input, err error) {
			if err != nil {
				if !errors.Is(err, ErrInput) {
					t.Fatalf("%s: error does not wrap ErrInput: %v", what, err)
				}
				return
			}
			if _, err := in.astValue(); err != nil {
				t.Fatalf("%s: documents do not convert for OPA: %v", what, err)
			}
			for _, d := range in.Docs {
				m, _ := d.Contents.(map[string]any)
				kind, _ := m["kind"].(string)
				md, _ := m["metadata"].(map[string]any)
				name, _ := md["name"].(string)
				fd := Finding{File: d.Path, Kind: kind, Name: name, Field: `spec["a.b"][0].c`}
				in.locate(&fd)
			}
		}
		fromStdin, errStdin := Load(ctx, []string{Stdin}, bytes.NewReader(resource))
		check("stdin", fromStdin, errStdin)

		dir := t.TempDir()
		file := filepath.Join(dir, "r.yaml")
		if err := os.WriteFile(file, resource, 0o644); err != nil {
			t.Fatal(err)
		}
		fromFile, errFile := Load(ctx, []string{file}, nil)
		check("file", fromFile, errFile)
		if (errStdin == nil) != (errFile == nil) {
			t.Fatalf("stdin: %v; file: %v", errStdin, errFile)
		}
		if errStdin == nil {
			if len(fromStdin.Docs) != len(fromFile.Docs) {
				t.Fatalf("%d documents from stdin, %d from the file", len(fromStdin.Docs), len(fromFile.Docs))
			}
			for i := range fromStdin.Docs {
				if !reflect.DeepEqual(fromStdin.Docs[i].Contents, fromFile.Docs[i].Contents) {
					t.Fatalf("document %d differs between stdin and the file", i)
				}
			}
		}

		if err := os.WriteFile(filepath.Join(dir, "p.yaml"), patch, 0o644); err != nil {
			t.Fatal(err)
		}
		kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [r.yaml]\npatches:\n- path: p.yaml\n  target: {kind: ConfigMap, name: a}\n"
		if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
			t.Fatal(err)
		}
		fromDir, err := Load(ctx, []string{dir}, nil)
		check("directory", fromDir, err)
	})
}
