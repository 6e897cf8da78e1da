package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// exampleTree copies the 3-node example's base into a temporary tree.
func exampleTree(t *testing.T) (root string, m *spec.Migration, rec *record.Record) {
	t.Helper()
	ex := filepath.Join("..", "..", "testdata", "examples", "cassandra-3node")
	m, err := spec.Load(filepath.Join(ex, "graft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if rec, err = record.Load(filepath.Join(ex, "graft.lock")); err != nil {
		t.Fatal(err)
	}
	root = t.TempDir()
	base := filepath.Join("..", "..", "overlays", "cassandra-3node", filepath.FromSlash(m.Spec.GitOps.Base))
	if err := os.CopyFS(filepath.Join(root, "base"), os.DirFS(base)); err != nil {
		t.Fatal(err)
	}
	m.Spec.GitOps.Base = "../../base"
	return root, m, rec
}

// TestCancelledRenderWritesNothing: a render whose context is done before
// it starts, or while kustomize builds, writes nothing, leaves the previous
// overlay as it was, and returns at once rather than when the build ends.
func TestCancelledRenderWritesNothing(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		root, m, rec := exampleTree(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := RenderContext(ctx, m, rec, Options{OutDir: filepath.Join(root, "overlays", "x")})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if _, err := os.Stat(filepath.Join(root, "overlays")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a cancelled render made %s (%v)", filepath.Join(root, "overlays"), err)
		}
	})
	for _, previous := range []bool{false, true} {
		name := "cancelled during the build, new directory"
		if previous {
			name = "cancelled during the build, previous overlay"
		}
		t.Run(name, func(t *testing.T) {
			root, m, rec := exampleTree(t)
			out := filepath.Join(root, "overlays", "x")
			var before []byte
			if previous {
				if _, err := Render(m, rec, Options{OutDir: out}); err != nil {
					t.Fatal(err)
				}
				before, _ = os.ReadFile(filepath.Join(out, KustomizationFile))
				rec.Volumes[0].TargetVolume = "vol-0ffffffffffffffff"
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const slow = 2 * time.Second
			old := buildOverlay
			t.Cleanup(func() { buildOverlay = old })
			buildOverlay = func(dir string) ([]byte, error) {
				cancel() // the signal arrives during the build
				time.Sleep(slow)
				return old(dir)
			}
			start := time.Now()
			_, err := RenderContext(ctx, m, rec, Options{OutDir: out})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if d := time.Since(start); d >= slow {
				t.Errorf("the cancelled render returned after %s, when its build ended, not at once", d)
			}
			if !previous {
				if _, err := os.Stat(filepath.Join(root, "overlays")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a cancelled render left %s (%v)", filepath.Join(root, "overlays"), err)
				}
				return
			}
			after, err := os.ReadFile(filepath.Join(out, KustomizationFile))
			if err != nil || string(after) != string(before) {
				t.Errorf("the previous overlay changed (%v)", err)
			}
			pvs, _ := os.ReadFile(filepath.Join(out, PVFile))
			if len(pvs) == 0 || contains(pvs, "vol-0ffffffffffffffff") {
				t.Errorf("the cancelled render's volumes reached the overlay:\n%s", pvs)
			}
			entries, _ := os.ReadDir(filepath.Join(root, "overlays"))
			if len(entries) != 1 {
				t.Errorf("overlays/ holds %d entries, want only x (temporary directories left?)", len(entries))
			}
		})
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

// TestFailedRenderRemovesOnlyWhatItMade: a render that fails removes the
// directories it made for the overlay, but not a file someone else put in
// them meanwhile (they were removed whole).
func TestFailedRenderRemovesOnlyWhatItMade(t *testing.T) {
	root, m, rec := exampleTree(t)
	out := filepath.Join(root, "overlays", "team", "x")
	m.Spec.GitOps.Base = "../../../base"
	theirs := filepath.Join(root, "overlays", "notes.txt")
	prev := buildOverlay
	defer func() { buildOverlay = prev }()
	buildOverlay = func(dir string) ([]byte, error) {
		if err := os.WriteFile(theirs, []byte("mine\n"), 0o644); err != nil {
			return nil, err
		}
		return nil, errors.New("the build failed")
	}
	if _, err := RenderContext(context.Background(), m, rec, Options{OutDir: out}); err == nil || !strings.Contains(err.Error(), "the build failed") {
		t.Fatalf("render: %v, want the build's failure", err)
	}
	if _, err := os.Stat(theirs); err != nil {
		t.Errorf("a file written beside the overlay while it was built was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "overlays", "team")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the directory render made for the overlay is left (%v)", err)
	}
}
