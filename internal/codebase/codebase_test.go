// Package codebase holds the rules graft's source keeps, tree-wide: the
// package graph, function length, no measured figures in comments, and
// the standard library's sorted keys. It has tests only.
package codebase

import (
	"go/ast"
	"go/build"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/graftctl/graft/internal/testkit"
)

// deps returns the module's packages that the package in dir imports,
// directly or not, by reading the import clauses of its non-test files
// (as go list -deps does, with the default build constraints).
func deps(t *testing.T, module, root, dir string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	queue := []string{dir}
	for len(queue) > 0 && len(seen) < 1000 {
		d := queue[0]
		queue = queue[1:]
		p, err := build.ImportDir(d, build.ImportComment)
		if err != nil {
			t.Fatalf("read the imports of %s: %v", d, err)
		}
		for _, imp := range p.Imports {
			rel, ok := strings.CutPrefix(imp, module+"/")
			if !ok || seen[imp] {
				continue
			}
			seen[imp] = true
			queue = append(queue, filepath.Join(root, filepath.FromSlash(rel)))
		}
	}
	return seen
}

// TestImportBoundaries holds the package graph's rules: check reads back
// the ownership tags through package ownership, never through ebs, so the
// checker does not depend on the cloner it checks.
func TestImportBoundaries(t *testing.T) {
	const module = "github.com/graftctl/graft"
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []struct{ pkg, imports, forbidden string }{
		{"generator/check", "generator/ownership", "generator/ebs"},
		{"generator/check", "", "generator/ec2sim"},
	} {
		got := deps(t, module, root, filepath.Join(root, rule.pkg))
		if rule.imports != "" && !got[module+"/"+rule.imports] {
			t.Errorf("%s does not import %s; it must use that package's one definition", rule.pkg, rule.imports)
		}
		if got[module+"/"+rule.forbidden] {
			t.Errorf("%s imports %s (directly or through another package); it must not", rule.pkg, rule.forbidden)
		}
	}
}

// benchFigure matches a measured figure in a comment: a time with a
// fraction or a range of times, "about" a time or a size, a speed-up, the
// highest memory use. A rate (a time per unit, as a model states) is no figure.
var benchFigure = regexp.MustCompile(`(?i)\b\d+\.\d+ ?(s|ms|µs|ns|min)\b|\d+(\.\d+)?[–-]\d+(\.\d+)? ?(s|ms|min)\b|about \d[\d.,]* ?(s|ms|µs|ns|min|MB|MiB|GB|KB)\b|\d[\d.]*\s?(x|×) (faster|slower)|peak (RSS|memory)`)

// TestNoBenchmarkFiguresInComments: the README's performance table is the
// one place of measured figures; a comment states a target or a bound the
// code enforces, never what a run measured (which goes stale).
func TestNoBenchmarkFiguresInComments(t *testing.T) {
	allowed := map[string]bool{
		`"0.3 s"`: true, // snaptime documents its output format
	}
	for _, f := range testkit.GoFiles(t, filepath.Join("..", ".."), true, "generator", "cmd") {
		for _, g := range f.File.Comments {
			for _, c := range g.List {
				for _, m := range benchFigure.FindAllStringIndex(c.Text, -1) {
					fig := c.Text[m[0]:m[1]]
					if ctx := c.Text[max(0, m[0]-1):min(len(c.Text), m[1]+1)]; allowed[ctx] || strings.HasPrefix(c.Text[m[1]:], "/") {
						continue
					}
					t.Errorf("%s:%d: a measured figure in a comment (%q); put it in the README's performance table", f.Rel, f.Fset.Position(c.Pos()).Line, fig)
				}
			}
		}
	}
}

// TestNoHandSortedKeys: the sorted keys of a map are
// slices.Sorted(maps.Keys(m)), not a loop that appends each key and a sort
// after it (graft had four helpers and their inline copies).
func TestNoHandSortedKeys(t *testing.T) {
	for _, f := range testkit.GoFiles(t, filepath.Join("..", ".."), false, "generator", "cmd") {
		ast.Inspect(f.File, func(n ast.Node) bool {
			b, ok := n.(*ast.BlockStmt)
			if !ok {
				return true
			}
			for i, s := range b.List {
				keys := appendedKey(s)
				if keys == "" {
					continue
				}
				for _, later := range b.List[i+1:] {
					if sorts(later, keys) {
						t.Errorf("%s:%d: the keys of a map collected into %s and sorted by hand; use slices.Sorted(maps.Keys(m))", f.Rel, f.Fset.Position(s.Pos()).Line, keys)
					}
				}
			}
			return true
		})
	}
}

// appendedKey returns x for `for k := range m { x = append(x, k) }`.
func appendedKey(s ast.Stmt) string {
	r, ok := s.(*ast.RangeStmt)
	if !ok || r.Key == nil || r.Value != nil || len(r.Body.List) != 1 {
		return ""
	}
	k, ok := r.Key.(*ast.Ident)
	if !ok {
		return ""
	}
	as, ok := r.Body.List[0].(*ast.AssignStmt)
	if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
		return ""
	}
	x, ok := as.Lhs[0].(*ast.Ident)
	call, isCall := as.Rhs[0].(*ast.CallExpr)
	if !ok || !isCall || len(call.Args) != 2 {
		return ""
	}
	if fn, ok := call.Fun.(*ast.Ident); !ok || fn.Name != "append" {
		return ""
	}
	a0, ok0 := call.Args[0].(*ast.Ident)
	a1, ok1 := call.Args[1].(*ast.Ident)
	if !ok0 || !ok1 || a0.Name != x.Name || a1.Name != k.Name {
		return ""
	}
	return x.Name
}

// sorts reports whether s is sort.Strings(x), sort.Ints(x) or
// slices.Sort(x).
func sorts(s ast.Stmt, x string) bool {
	e, ok := s.(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := e.X.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	arg, argOK := call.Args[0].(*ast.Ident)
	if !ok || !argOK || arg.Name != x {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (pkg.Name == "sort" && (sel.Sel.Name == "Strings" || sel.Sel.Name == "Ints") || pkg.Name == "slices" && sel.Sel.Name == "Sort")
}
