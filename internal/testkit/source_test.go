package testkit

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestGoFiles: the Go files below the tops, tests only when asked,
// testdata never; a file that does not parse, or no file, fails the test.
func TestGoFiles(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"a/x.go", "a/b/y.go", "a/x_test.go", "a/testdata/z.go", "c/w.go"} {
		WriteFile(t, filepath.Join(root, p), "package p\n\n// F is\nfunc F() {}\n")
	}
	WriteFile(t, filepath.Join(root, "a", "notes.txt"), "not go")
	rels := func(files []GoFile) []string {
		var out []string
		for _, f := range files {
			if f.File.Name.Name != "p" || len(f.File.Comments) != 1 {
				t.Errorf("%s: package %s, %d comments: not parsed with its comments", f.Rel, f.File.Name.Name, len(f.File.Comments))
			}
			out = append(out, f.Rel)
		}
		return out
	}
	if got, want := rels(GoFiles(t, root, false, "a")), []string{"a/b/y.go", "a/x.go"}; !slices.Equal(got, want) {
		t.Errorf("GoFiles without tests = %v, want %v", got, want)
	}
	if got, want := rels(GoFiles(t, root, true, "a", "c")), []string{"a/b/y.go", "a/x.go", "a/x_test.go", "c/w.go"}; !slices.Equal(got, want) {
		t.Errorf("GoFiles with tests = %v, want %v", got, want)
	}
	WriteFile(t, filepath.Join(root, "d", "bad.go"), "package p\nfunc {")
	for _, top := range []string{"d", "missing", "a/testdata"} {
		r := &recorder{TB: t}
		GoFiles(r, root, true, top)
		if len(r.fatal) == 0 {
			t.Errorf("GoFiles of %s did not fail the test", top)
		}
	}
}
