package codebase

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// directive matches a replace or exclude directive, alone or as a block.
// A regexp, not golang.org/x/mod/modfile: graft's go.mod does not carry a
// dependency for one test of two keywords at the start of a line.
var directive = regexp.MustCompile(`(?m)^\s*(replace|exclude)\b.*$`)

// TestNoReplaceInGoMod: `go install github.com/graftctl/graft/cmd/graft@latest`
// refuses a module whose go.mod has replace or exclude directives, so
// graft's own has none; the test-only nested modules (testdata/e2e,
// testdata/gitea/server) carry theirs.
func TestNoReplaceInGoMod(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^module github.com/graftctl/graft$`).Match(data) {
		t.Fatal("../../go.mod is not graft's")
	}
	for _, d := range directive.FindAll(data, -1) {
		t.Errorf("go.mod has %q: go install ...@latest would refuse graft", d)
	}
}
