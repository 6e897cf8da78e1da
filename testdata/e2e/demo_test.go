package e2e

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/testdata/e2e/harness"
)

// TestDemoOverlay runs `graft demo --workdir DIR` (the whole pipeline against
// graft's EC2 stand-in) and lands every overlay it renders on the cluster,
// with the same assertions as the example overlays.
func TestDemoOverlay(t *testing.T) {
	if graftBin == "" {
		t.Fatalf("graft could not be built: %v", graftErr)
	}
	work := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, graftBin, "demo", "--workdir", work)
	cmd.Dir = work
	cmd.Stdin = nil
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("graft demo --workdir %s: %v\n%s", work, err, lastN(out.String(), 40))
	}
	t.Logf("graft demo took %s", time.Since(start).Round(time.Millisecond))

	// The overlays: directories with a kustomization whose build holds PVs.
	var overlays []string
	err := filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "kustomization.yaml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(data), "persistentvolume") || strings.Contains(string(data), "PersistentVolume") {
			overlays = append(overlays, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(overlays) == 0 {
		t.Fatalf("graft demo rendered no overlay under %s\n%s", work, lastN(out.String(), 40))
	}
	for _, dir := range overlays {
		rel, _ := filepath.Rel(work, dir)
		t.Run(strings.ReplaceAll(rel, string(filepath.Separator), "_"), func(t *testing.T) {
			if code, out := graftCheck(t, dir, lockFor(t, dir)); code != 0 {
				t.Errorf("graft check %s: exit %d, want 0\n%s", dir, code, out)
			}
			b := mustBuild(t, dir)
			ensureZones(t, b)
			if errs := deploy(t, b); len(errs) > 0 {
				t.Fatalf("server-side apply failed:\n%s", harness.JoinApplyErrors(errs))
			}
			assertLanded(t, b)
		})
	}
}
