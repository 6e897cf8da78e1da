package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/lock"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/internal/testkit"
)

// treeState is every entry under root, by relative path: a file's
// content, or "/" for a directory.
func treeState(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		if d.IsDir() {
			out[rel] = "/"
			return nil
		}
		data, err := os.ReadFile(p)
		out[rel] = string(data)
		return err
	}))
	return out
}

// sameTree reports whether two states are equal, and the first path they
// differ at.
func sameTree(a, b map[string]string) (bool, string) {
	for p, v := range a {
		if w, ok := b[p]; !ok || w != v {
			return false, p
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			return false, p
		}
	}
	return true, ""
}

// withoutLeftovers is state without what a killed command may leave for
// the next one to clear: a build directory, a file being written, the
// migration's lock file (which names the killed holder).
func withoutLeftovers(state map[string]string) map[string]string {
	out := map[string]string{}
	for p, v := range state {
		if !strings.Contains(p, ".graft-render-") && !strings.Contains(p, ".tmp-") && !strings.HasSuffix(p, lock.Suffix) {
			out[p] = v
		}
	}
	return out
}

// withoutFreshEmptyBuild drops an empty build directory beside the
// overlay: a render killed between making it and locking it leaves one,
// which the next render keeps for a while (render's staleBuild: a live
// render's looks the same for that moment) and removes later; git does
// not commit an empty directory.
func withoutFreshEmptyBuild(state map[string]string) map[string]string {
	out := maps.Clone(state)
	for p, v := range state {
		if v != "/" || !strings.HasPrefix(filepath.Base(p), ".graft-render-") {
			continue
		}
		empty := true
		for q := range state {
			if strings.HasPrefix(q, p+string(filepath.Separator)) {
				empty = false
				break
			}
		}
		if empty {
			delete(out, p)
		}
	}
	return out
}

// signalSweep is the delays at which a write is interrupted: from at once
// to past its end, across the time d it takes.
func signalSweep(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d * time.Duration(i) / time.Duration(n-2)
	}
	return out
}

// TestSignalDuringRender: a real `graft render` that replaces an overlay,
// sent SIGINT or SIGTERM at moments across its run, leaves the old tree or
// the new, whole (no half overlay, nothing set aside, no build directory),
// and the next render finishes the new one. Killed (SIGKILL), it leaves
// the old overlay or the new, whole, and its leftovers (a build directory,
// a temporary file) go with the next render.
func TestSignalDuringRender(t *testing.T) {
	oldRoot, specPath := exampleTree(t, "cassandra-3node")
	if code, _, stderr := graft(t, "render", "--spec", specPath); code != exitOK {
		t.Fatalf("render: %d %s", code, stderr)
	}
	lockPath := filepath.Join(oldRoot, "graft.lock")
	data, err := os.ReadFile(lockPath)
	must(t, err)
	must(t, os.WriteFile(lockPath, bytes.ReplaceAll(data, []byte("vol-49637af02ffd17625"), []byte("vol-0ffffffffffffffff")), 0o644))
	old := treeState(t, oldRoot)
	newRoot := t.TempDir()
	testkit.CopyDir(t, oldRoot, newRoot)
	start := time.Now()
	cmd, stderr := graftProcess(t, "render", "--spec", filepath.Join(newRoot, "graft.yaml"))
	if code := exitCode(t, cmd); code != exitOK {
		t.Fatalf("render: %d %s", code, stderr)
	}
	took := time.Since(start)
	want := treeState(t, newRoot)
	if same, _ := sameTree(old, want); same {
		t.Fatal("the second render changed nothing; the test proves nothing")
	}
	interrupted := 0
	for i, delay := range signalSweep(took, 15) {
		root := t.TempDir()
		testkit.CopyDir(t, oldRoot, root)
		cmd, stderr := graftProcess(t, "render", "--spec", filepath.Join(root, "graft.yaml"))
		sig := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL}[i%3]
		time.Sleep(delay)
		_ = cmd.Process.Signal(sig)
		code := exitCode(t, cmd)
		if code != exitOK {
			interrupted++
		}
		got := treeState(t, root)
		if sig == syscall.SIGKILL {
			got = withoutLeftovers(got)
		}
		isOld, atOld := sameTree(old, got)
		isNew, at := sameTree(want, got)
		if !isOld && !isNew {
			t.Errorf("%v after %s (exit %d): the tree is neither the old nor the new one (at %s and %s)\n%s", sig, delay, code, atOld, at, stderr)
		}
		if code, _, stderr := graft(t, "render", "--spec", filepath.Join(root, "graft.yaml")); code != exitOK {
			t.Errorf("the render after %v: exit %d %s", sig, code, stderr)
		} else if same, at := sameTree(want, withoutFreshEmptyBuild(treeState(t, root))); !same {
			t.Errorf("the render after %v did not finish the new tree (at %s)", sig, at)
		}
	}
	if interrupted == 0 {
		t.Error("no signal interrupted a render; the test proves nothing")
	}
	t.Logf("a render takes %s; %d of the runs were interrupted", took.Round(time.Millisecond), interrupted)
}

// TestSignalDuringFinalClone: a final clone stopped by a signal (its
// context done, as signalContext makes it) at moments across its run
// leaves a record graft reads (or none), and the next clone resumes it:
// every member's volumes recorded, each created once.
func TestSignalDuringFinalClone(t *testing.T) {
	measure := newCLISim(t)
	if code, _, stderr := graft(t, "clone", "--spec", measure.spec, "--phase", "precopy", "--yes"); code != exitOK {
		t.Fatalf("precopy: %d %s", code, stderr)
	}
	start := time.Now()
	if code, _, stderr := graft(t, "clone", "--spec", measure.spec, "--phase", "final", "--yes"); code != exitOK {
		t.Fatalf("final: %d %s", code, stderr)
	}
	took := time.Since(start)
	full, err := record.Load(filepath.Join(filepath.Dir(measure.spec), "graft.lock"))
	must(t, err)
	interrupted := 0
	for _, delay := range signalSweep(took, 8) {
		s := newCLISim(t)
		lockPath := filepath.Join(filepath.Dir(s.spec), "graft.lock")
		if code, _, stderr := graft(t, "clone", "--spec", s.spec, "--phase", "precopy", "--yes"); code != exitOK {
			t.Fatalf("precopy: %d %s", code, stderr)
		}
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(delay, cancel)
		var stderr bytes.Buffer
		code := run(ctx, []string{"clone", "--spec", s.spec, "--phase", "final", "--yes"}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
		timer.Stop()
		cancel()
		if code != exitOK {
			interrupted++
		}
		if _, err := os.Stat(lockPath); !errors.Is(err, os.ErrNotExist) {
			if _, err := record.Load(lockPath); err != nil {
				t.Errorf("after %s (exit %d): graft.lock does not load: %v\n%s", delay, code, err, stderr.String())
			}
		}
		leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(s.spec), ".*.tmp-*"))
		if len(leftovers) > 0 {
			t.Errorf("after %s: temporary files left: %v", delay, leftovers)
		}
		if code, _, stderr := graft(t, "clone", "--spec", s.spec, "--phase", "final", "--yes"); code != exitOK {
			t.Fatalf("the clone after %s: exit %d %s", delay, code, stderr)
		}
		rec, err := record.Load(lockPath)
		must(t, err)
		if len(rec.Volumes) != len(full.Volumes) {
			t.Errorf("after %s and a resume: %d volumes recorded, want %d", delay, len(rec.Volumes), len(full.Volumes))
		}
		if n := len(s.sims["us-east-1"].Created()); n != len(measure.sims["us-east-1"].Created()) {
			t.Errorf("after %s and a resume: %d resources created, want %d (as without the signal)", delay, n, len(measure.sims["us-east-1"].Created()))
		}
	}
	if interrupted == 0 {
		t.Error("no signal interrupted a clone; the test proves nothing")
	}
	t.Logf("a final clone takes %s; %d of the runs were interrupted", took.Round(time.Millisecond), interrupted)
}

// TestSignalDuringPublish: a publish stopped by a signal (its context
// done) at moments across its run leaves the migration's files as they
// were and the remote without graft's branch or with the whole commit,
// and the next publish finishes it.
func TestSignalDuringPublish(t *testing.T) {
	bare, specPath := publishEnv(t)
	start := time.Now()
	if code, _, stderr := graft(t, "--spec", specPath, "publish", "--repo", bare); code != exitOK {
		t.Fatalf("publish: %d %s", code, stderr)
	}
	took := time.Since(start)
	const branch = "graft/cassandra-3node"
	wantTree := pubGit(t, bare, "rev-parse", branch+"^{tree}")
	interrupted, pushed := 0, 0
	// A publish takes longer than the first did with a warm cache: sweep
	// to twice that.
	for _, delay := range signalSweep(2*took, 6) {
		bare, specPath := publishEnv(t)
		before := treeState(t, filepath.Dir(specPath))
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(delay, cancel)
		var stderr bytes.Buffer
		code := run(ctx, []string{"--spec", specPath, "publish", "--repo", bare}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
		timer.Stop()
		cancel()
		if code != exitOK {
			interrupted++
		}
		if same, at := sameTree(before, withoutLeftovers(treeState(t, filepath.Dir(specPath)))); !same {
			t.Errorf("after %s (exit %d): the migration's files changed (at %s)\n%s", delay, code, at, stderr.String())
		}
		if heads := pubGit(t, bare, "branch", "--list", branch); heads != "" {
			pushed++
			if tree := pubGit(t, bare, "rev-parse", branch+"^{tree}"); tree != wantTree {
				t.Errorf("after %s (exit %d): the remote's %s holds tree %s, want the whole overlay's %s", delay, code, branch, tree, wantTree)
			}
		}
		if code, _, stderr := graft(t, "--spec", specPath, "publish", "--repo", bare); code != exitOK {
			t.Errorf("the publish after %s: exit %d %s", delay, code, stderr)
		} else if tree := pubGit(t, bare, "rev-parse", branch+"^{tree}"); tree != wantTree {
			t.Errorf("the publish after %s pushed tree %s, want %s", delay, tree, wantTree)
		}
	}
	if interrupted == 0 {
		t.Error("no signal interrupted a publish; the test proves nothing")
	}
	t.Logf("a publish takes %s; %d of the runs were interrupted, %d had pushed", took.Round(time.Millisecond), interrupted, pushed)
}
