package render

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestKilledBuildLeftoversGo: a build directory a render killed before it
// wrote anything (empty) goes with the next render; and one killed while
// it wrote holds the overlay's kustomization.yaml (graft's marker) first,
// so the next render can tell it is its own. Before, an empty one stayed,
// and one killed after its Flux or Argo CD file but before
// kustomization.yaml could not be told from a stranger's and stayed.
func TestKilledBuildLeftoversGo(t *testing.T) {
	root, m, rec := exampleTree(t)
	out := filepath.Join(root, "overlays", "x")
	killed := filepath.Join(root, "overlays", buildPrefix+"1")
	if err := os.MkdirAll(killed, 0o755); err != nil {
		t.Fatal(err)
	}
	recent := filepath.Join(root, "overlays", buildPrefix+"2") // a live render's, just made
	if err := os.Mkdir(recent, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(killed, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := Render(m, rec, Options{OutDir: out}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(killed); !os.IsNotExist(err) {
		t.Errorf("the empty build directory of a killed render is left (%v)", err)
	}
	if _, err := os.Lstat(recent); err != nil {
		t.Errorf("a build directory made a moment ago was removed (%v)", err)
	}

	dir := t.TempDir()
	files := map[string][]byte{"a-flux.yaml": []byte("x\n"), KustomizationFile: []byte(ownerLine("m")), "z.yaml": []byte("z\n")}
	if err := os.Mkdir(filepath.Join(dir, "a-flux.yaml"), 0o755); err != nil { // its write fails, as a kill would stop it
		t.Fatal(err)
	}
	if err := writeFiles(context.Background(), dir, files); err == nil {
		t.Fatal("writeFiles over a directory did not fail")
	}
	if o, ok := owner(filepath.Join(dir, KustomizationFile)); !ok || o != "m" {
		t.Errorf("a build stopped at its first file holds no marker (%q, %v): kustomization.yaml must be written first", o, ok)
	}
}
