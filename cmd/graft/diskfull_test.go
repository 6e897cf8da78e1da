//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/internal/testkit"
)

// TestFullDisk: a render, a discover and a final clone that run out of
// space (at every point from the first file to the last) exit 2 naming
// the path and the cause, and leave the tree as it was (no half overlay,
// no build directory, no temporary file); once there is space, the same
// command succeeds.
func TestFullDisk(t *testing.T) {
	const tmpInfix = ".tmp-"
	t.Run("render", func(t *testing.T) {
		disk := testkit.SmallDisk(t, "2m")
		src, _ := exampleTree(t, "cassandra-3node")
		failed := 0
		defer func() { t.Logf("%d renders ran out of space", failed) }()
		for _, free := range []int64{0, 4 << 10, 8 << 10, 12 << 10, 16 << 10, 24 << 10, 32 << 10, 48 << 10} {
			root := filepath.Join(disk, "tree")
			must(t, os.RemoveAll(root))
			testkit.CopyDir(t, src, root)
			specPath := filepath.Join(root, "graft.yaml")
			filler := testkit.FillDisk(t, disk, free)
			before := treeState(t, root)
			code, _, stderr := graft(t, "render", "--spec", specPath)
			if code == exitOK {
				must(t, os.Remove(filler))
				continue // room enough
			}
			failed++
			t.Logf("%d bytes free: %s", free, stderr)
			if code != exitError || !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, root) {
				t.Errorf("%d bytes free: exit %d, %s; want exit 2 naming the path and the cause", free, code, stderr)
			}
			if same, at := sameTree(before, treeState(t, root)); !same {
				t.Errorf("%d bytes free: the failed render left the tree changed (at %s)\n%s", free, at, stderr)
			}
			must(t, os.Remove(filler))
			if code, _, stderr := graft(t, "render", "--spec", specPath); code != exitOK {
				t.Errorf("%d bytes free, then room: exit %d %s", free, code, stderr)
			}
		}
	})
	t.Run("discover and clone", func(t *testing.T) {
		disk := testkit.SmallDisk(t, "2m")
		s := newCLISim(t)
		data, err := os.ReadFile(s.spec)
		must(t, err)
		specPath := filepath.Join(disk, "m", "graft.yaml")
		must(t, os.MkdirAll(filepath.Dir(specPath), 0o755))
		must(t, os.WriteFile(specPath, data, 0o644))
		lockPath := filepath.Join(filepath.Dir(specPath), "graft.lock")
		for _, args := range [][]string{{"discover"}, {"clone", "--phase", "final", "--yes"}} {
			for _, free := range []int64{0, 4 << 10, 8 << 10} {
				filler := testkit.FillDisk(t, disk, free)
				before := treeState(t, filepath.Dir(specPath))
				code, _, stderr := graft(t, append(args, "--spec", specPath)...)
				if code != exitOK {
					t.Logf("%v, %d bytes free: %s", args, free, stderr)
					if code != exitError || !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, filepath.Dir(specPath)) {
						t.Errorf("%v, %d bytes free: exit %d, %s; want exit 2 naming the path and the cause", args, free, code, stderr)
					}
					// The record grows member by member (each write whole):
					// it may hold the members that finished.
					after := treeState(t, filepath.Dir(specPath))
					if _, err := record.Load(lockPath); err != nil && after["graft.lock"] != "" {
						t.Errorf("%v, %d bytes free: graft.lock does not load: %v", args, free, err)
					}
					if old, ok := before["graft.lock"]; ok {
						after["graft.lock"] = old
					} else {
						delete(after, "graft.lock")
					}
					if same, at := sameTree(before, after); !same {
						t.Errorf("%v, %d bytes free: the tree changed (at %s)", args, free, at)
					}
					if strings.Contains(stderr, tmpInfix) {
						t.Errorf("%v, %d bytes free: the message names graft's temporary file, not the file written: %s", args, free, stderr)
					}
				}
				must(t, os.Remove(filler))
			}
			if code, _, stderr := graft(t, append(args, "--spec", specPath)...); code != exitOK {
				t.Errorf("%v with room: exit %d %s", args, code, stderr)
			}
		}
	})
}
