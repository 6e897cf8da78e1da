package codebase

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function of graft may be (the simulator,
// generator/ec2sim, aside): longer ones are split at their seams.
const maxFuncLines = 80

func TestFunctionsAreShort(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	for _, top := range []string{"cmd", "generator"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
			if d.IsDir() && rel == "generator/ec2sim" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
				return nil
			}
			for name, n := range funcLengths(t, path) {
				checked++
				if n > maxFuncLines {
					t.Errorf("%s: %s is %d lines, more than %d: split it at a seam", rel, name, n, maxFuncLines)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 300 {
		t.Fatalf("checked only %d functions: is the test running in internal/codebase?", checked)
	}
}

// funcLengths is the length in lines of each function of a file, by name
// (a method as Type.Name).
func funcLengths(t *testing.T, path string) map[string]int {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, d := range file.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		name := fd.Name.Name
		if fd.Recv != nil && len(fd.Recv.List) == 1 {
			name = fmt.Sprintf("%s.%s", recvName(fd.Recv.List[0].Type), name)
		}
		out[name] = fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
	}
	return out
}

func recvName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return recvName(x.X)
	case *ast.IndexExpr:
		return recvName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return "?"
}
