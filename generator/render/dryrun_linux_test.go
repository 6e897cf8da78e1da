//go:build linux

package render_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/internal/testkit"
)

// TestDryRunReadOnlyCheckout: a dry run needs no directory it may write
// in: in a read-only checkout (a bind mount remounted read-only) it builds
// what it builds in a writable one. Before: "mkdir overlays: read-only
// file system".
func TestDryRunReadOnlyCheckout(t *testing.T) {
	m, rec, out := syntheticMigration(t, 1, 3)
	root := filepath.Dir(filepath.Dir(out)) // holds base/ and overlays/
	want, err := render.Render(m, rec, render.Options{OutDir: out, DryRun: true})
	must(t, err)
	ro := testkit.ReadOnlyView(t, root)
	rel, err := filepath.Rel(root, out)
	must(t, err)
	got, err := render.Render(m, rec, render.Options{OutDir: filepath.Join(ro, rel), DryRun: true})
	if err != nil {
		t.Fatalf("a dry run in a read-only checkout: %v", err)
	}
	if !bytes.Equal(got.Built, want.Built) {
		t.Error("the dry run in a read-only checkout built another overlay")
	}
}

// TestRenderReadOnlyParent: a render whose output directory's parent is
// read-only names the output directory, the parent and the cause, not the
// build directory graft would have made there.
func TestRenderReadOnlyParent(t *testing.T) {
	m, rec, out := syntheticMigration(t, 1, 3)
	must(t, os.MkdirAll(filepath.Dir(out), 0o755))
	root := filepath.Dir(filepath.Dir(out))
	ro := testkit.ReadOnlyView(t, root)
	rel, err := filepath.Rel(root, out)
	must(t, err)
	roOut := filepath.Join(ro, rel)
	_, err = render.Render(m, rec, render.Options{OutDir: roOut})
	if err == nil || !strings.Contains(err.Error(), roOut) || !strings.Contains(err.Error(), "in "+filepath.Dir(roOut)+": read-only file system") || strings.Contains(err.Error(), ".graft-render-") {
		t.Errorf("render into a read-only parent: %v; want the output directory, its parent and the cause", err)
	}
}
