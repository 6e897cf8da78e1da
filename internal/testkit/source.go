package testkit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// GoFile is a Go file of graft's tree, parsed with its comments.
type GoFile struct {
	// Rel is its path relative to the root, slash-separated
	// ("generator/ebs/plan.go").
	Rel  string
	Fset *token.FileSet
	File *ast.File
}

// GoFiles parses the Go files below root/top for each top, in walk order:
// testdata directories are skipped, and so are _test.go files unless tests
// is true. An error fails the test; so does finding no file.
func GoFiles(t testing.TB, root string, tests bool, tops ...string) []GoFile {
	t.Helper()
	fset := token.NewFileSet()
	var out []GoFile
	for _, top := range tops {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir() && d.Name() == "testdata":
				return filepath.SkipDir
			case d.IsDir() || !strings.HasSuffix(path, ".go") || !tests && strings.HasSuffix(path, "_test.go"):
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, path)
			out = append(out, GoFile{Rel: filepath.ToSlash(rel), Fset: fset, File: f})
			return err
		})
		if err != nil {
			t.Fatalf("parse the Go files below %s: %v", filepath.Join(root, top), err)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Go files below %s in %s", strings.Join(tops, ", "), root)
	}
	return out
}
