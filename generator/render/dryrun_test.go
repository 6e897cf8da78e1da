package render_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/graftctl/graft/generator/render"
)

// TestDryRunWritesNothingBeside: a dry run builds exactly what a render
// writes and builds (one root or several, through a symlinked parent),
// and needs no directory it may write in: in a read-only checkout it
// builds all the same. Before, it made the overlay's parent and a build
// directory beside the overlay (a read-only checkout refused it: "mkdir
// overlays: read-only file system").
func TestDryRunWritesNothingBeside(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sets, ord int
		symlink   bool
	}{{"one root", 1, 3, false}, {"several roots", 2, 60, false}, {"symlinked parent", 1, 3, true}} {
		t.Run(tc.name, func(t *testing.T) {
			m, rec, out := syntheticMigration(t, tc.sets, tc.ord)
			if tc.symlink {
				real := filepath.Join(filepath.Dir(filepath.Dir(out)), "real-overlays")
				must(t, os.MkdirAll(real, 0o755))
				must(t, os.Symlink(real, filepath.Dir(out)))
			}
			dry, err := render.Render(m, rec, render.Options{OutDir: out, DryRun: true})
			must(t, err)
			if _, err := os.Lstat(filepath.Join(filepath.Dir(out), filepath.Base(out))); !os.IsNotExist(err) {
				t.Errorf("a dry run made %s (%v)", out, err)
			}
			wet, err := render.Render(m, rec, render.Options{OutDir: out})
			must(t, err)
			if !bytes.Equal(dry.Built, wet.Built) {
				t.Errorf("the dry run built %d bytes, the render %d: not the same overlay", len(dry.Built), len(wet.Built))
			}
		})
	}
	t.Run("a file as the output directory", func(t *testing.T) {
		m, rec, out := syntheticMigration(t, 1, 3)
		must(t, os.MkdirAll(filepath.Dir(out), 0o755))
		must(t, os.WriteFile(out, []byte("notes\n"), 0o644))
		if _, err := render.Render(m, rec, render.Options{OutDir: out, DryRun: true}); !errors.Is(err, render.ErrInvalid) {
			t.Errorf("a dry run into a file: %v; want ErrInvalid, as the render itself", err)
		}
	})
}
