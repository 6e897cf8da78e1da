package render

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestConcurrentRendersOfTwoMigrations: two renders of two migrations into
// one output directory at once, both past their first look at it (it does
// not exist yet) before either writes: one overlay is put in place, whole,
// and the other render refuses with ErrInvalid naming the overlay's
// migration. Before, the second set the first's overlay aside, put its own
// in place and deleted the first's: both succeeded.
func TestConcurrentRendersOfTwoMigrations(t *testing.T) {
	root, m, rec := exampleTree(t)
	out := filepath.Join(root, "overlays", "x")
	mB, recB := *m, *rec
	mB.Metadata.Name, recB.Migration = "other", "other"

	// Each build waits until both renders are building.
	var arrived sync.WaitGroup
	arrived.Add(2)
	var mu sync.Mutex
	seen := map[string]bool{}
	prev := buildOverlay
	t.Cleanup(func() { buildOverlay = prev })
	buildOverlay = func(dir string) ([]byte, error) {
		mu.Lock()
		build := firstElem(dir, root)
		first := !seen[build]
		seen[build] = true
		mu.Unlock()
		if first {
			arrived.Done()
			waited := make(chan struct{})
			go func() { arrived.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(20 * time.Second):
				return nil, errors.New("the other render never built")
			}
		}
		return prev(dir)
	}
	errs := make([]error, 2)
	var done sync.WaitGroup
	for i, run := range []func() error{
		func() error { _, err := RenderContext(context.Background(), m, rec, Options{OutDir: out}); return err },
		func() error {
			_, err := RenderContext(context.Background(), &mB, &recB, Options{OutDir: out})
			return err
		},
	} {
		done.Add(1)
		go func() { defer done.Done(); errs[i] = run() }()
	}
	done.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("renders: %v and %v; want exactly one refused", errs[0], errs[1])
	}
	winner, loser := m.Metadata.Name, errs[1]
	if errs[0] != nil {
		winner, loser = mB.Metadata.Name, errs[0]
	}
	if !errors.Is(loser, ErrInvalid) || !strings.Contains(loser.Error(), `is the overlay of migration "`+winner+`"`) {
		t.Errorf("the refused render says %v; want ErrInvalid naming migration %q", loser, winner)
	}
	if o, ok := owner(filepath.Join(out, KustomizationFile)); !ok || o != winner {
		t.Errorf("the overlay in place is migration %q's (%v), want %q's", o, ok, winner)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "overlays"))
	if len(entries) != 1 {
		t.Errorf("overlays/ holds %d entries, want only x (a build or aside directory left?)", len(entries))
	}
}

// firstElem is the build directory dir lies in, under root: the build of
// one render, whatever root of its overlay is built.
func firstElem(dir, root string) string {
	rel, _ := filepath.Rel(filepath.Join(root, "overlays"), dir)
	return strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
}

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

// TestParentRemovedBesideARender: a render that fails beside this one
// removes the parent directory it made while that is still empty, which
// can be just after this render made (or found) it and before it makes
// its build directory there. The render makes it again and puts the
// overlay in place; before, it failed with "no such file or directory".
// A parent that keeps vanishing is a named error, after a bounded number
// of attempts, and leaves nothing behind.
func TestParentRemovedBesideARender(t *testing.T) {
	root, m, rec := exampleTree(t)
	parent := filepath.Join(root, "overlays")
	out := filepath.Join(parent, "x")
	if err := os.RemoveAll(parent); err != nil {
		t.Fatal(err)
	}
	removals := 0
	removeParent := func(dir string, times int) func() {
		return func() {
			if removals < times {
				if err := os.Remove(dir); err != nil {
					t.Errorf("remove the empty parent as a failing render would: %v", err)
				}
				removals++
			}
		}
	}
	t.Cleanup(func() { testHookBuildDir = func() {} })

	testHookBuildDir = removeParent(parent, 2)
	if _, err := Render(m, rec, Options{OutDir: out}); err != nil {
		t.Fatalf("a render whose parent another render removed failed: %v", err)
	}
	if removals != 2 {
		t.Fatalf("the parent was removed %d times, want 2", removals)
	}
	if o, ok := owner(filepath.Join(out, KustomizationFile)); !ok || o != m.Metadata.Name {
		t.Errorf("the overlay is not in place (owner %q, %v)", o, ok)
	}

	out2 := filepath.Join(root, "elsewhere", "y")
	removals = 0
	testHookBuildDir = removeParent(filepath.Dir(out2), buildDirAttempts)
	_, err := Render(m, rec, Options{OutDir: out2})
	if err == nil || !strings.Contains(err.Error(), "cannot make the directory the overlay is built in") || !strings.Contains(err.Error(), filepath.Dir(out2)) {
		t.Fatalf("a parent that always vanishes: err %v, want the build directory's error naming %s", err, filepath.Dir(out2))
	}
	if removals != buildDirAttempts {
		t.Errorf("made the parent %d times, want %d", removals, buildDirAttempts)
	}
	if _, err := os.Lstat(filepath.Dir(out2)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed render left %s behind (%v)", filepath.Dir(out2), err)
	}
}

// TestAncestorRemovedWhileTheParentIsMade: a render beside this one that
// fails removes an ancestor it made while this render's MkdirAll walks
// down (then it fails: no such file or directory): the parent is made
// again, a bounded number of times, and the render goes on; an error
// other than a vanished directory is returned at once.
func TestAncestorRemovedWhileTheParentIsMade(t *testing.T) {
	root, m, rec := exampleTree(t)
	out := filepath.Join(root, "overlays", "x")
	fresh := func() {
		t.Helper()
		if err := os.RemoveAll(filepath.Dir(out)); err != nil {
			t.Fatal(err)
		}
	}
	fresh()
	calls, failures := 0, 2
	vanished := func(err error) func(string) (func(), error) {
		return func(dir string) (func(), error) {
			calls++
			if calls <= failures {
				return nil, fmt.Errorf("render: %w", &fs.PathError{Op: "mkdir", Path: dir, Err: err})
			}
			return ensureDir(dir)
		}
	}
	t.Cleanup(func() { makeParent = ensureDir })
	makeParent = vanished(syscall.ENOENT)
	if _, err := Render(m, rec, Options{OutDir: out}); err != nil {
		t.Fatalf("a render whose parent's ancestor vanished while it was made failed: %v", err)
	}
	if calls != failures+1 {
		t.Errorf("made the parent %d times, want %d", calls, failures+1)
	}
	if o, ok := owner(filepath.Join(out, KustomizationFile)); !ok || o != m.Metadata.Name {
		t.Errorf("the overlay is not in place (owner %q, %v)", o, ok)
	}

	fresh()
	calls, failures = 0, buildDirAttempts+5
	if _, err := Render(m, rec, Options{OutDir: out}); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an ancestor that always vanishes: %v, want the mkdir error", err)
	}
	if calls != buildDirAttempts {
		t.Errorf("made the parent %d times, want %d (bounded)", calls, buildDirAttempts)
	}

	fresh()
	calls, failures = 0, 1
	makeParent = vanished(syscall.EACCES)
	if _, err := Render(m, rec, Options{OutDir: out}); err == nil || !errors.Is(err, fs.ErrPermission) || calls != 1 {
		t.Errorf("permission denied: %v after %d attempt(s), want it returned after 1", err, calls)
	}
}
