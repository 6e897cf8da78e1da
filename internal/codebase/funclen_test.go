package codebase

import (
	"fmt"
	"go/ast"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/internal/testkit"
)

// maxFuncLines is the longest a function of graft may be (the simulator,
// generator/ec2sim, aside): longer ones are split at their seams.
const maxFuncLines = 80

func TestFunctionsAreShort(t *testing.T) {
	checked := 0
	for _, f := range testkit.GoFiles(t, filepath.Join("..", ".."), false, "cmd", "generator") {
		if strings.HasPrefix(f.Rel, "generator/ec2sim/") {
			continue
		}
		for name, n := range funcLengths(f) {
			checked++
			if n > maxFuncLines {
				t.Errorf("%s: %s is %d lines, more than %d: split it at a seam", f.Rel, name, n, maxFuncLines)
			}
		}
	}
	if checked < 300 {
		t.Fatalf("checked only %d functions: is the test running in internal/codebase?", checked)
	}
}

// funcLengths is the length in lines of each function of a file, by name
// (a method as Type.Name).
func funcLengths(f testkit.GoFile) map[string]int {
	out := map[string]int{}
	for _, d := range f.File.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		name := fd.Name.Name
		if fd.Recv != nil && len(fd.Recv.List) == 1 {
			name = fmt.Sprintf("%s.%s", recvName(fd.Recv.List[0].Type), name)
		}
		out[name] = f.Fset.Position(fd.End()).Line - f.Fset.Position(fd.Pos()).Line + 1
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
