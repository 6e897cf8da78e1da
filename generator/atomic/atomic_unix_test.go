//go:build unix

package atomic

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/lock"
)

// TestWriteFileNeverReplacesWhatIsNoFile: WriteFile writes through a
// symlink to a file (the link stays a link), and refuses, leaving it as
// it is, a FIFO (a device such as /dev/null alike: graft init --spec
// /dev/null --force replaced it with a file), a directory or a dangling
// symlink; a missing directory is named.
func TestWriteFileNeverReplacesWhatIsNoFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.lock")
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "graft.lock")
	if err := os.Symlink("real.lock", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(target); string(got) != "new\n" {
		t.Errorf("the symlink's file holds %q, want the new content", got)
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink("nowhere", dangling); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo:     "is a FIFO; graft writes only regular files, and would replace it",
		sub:      "is a directory; graft writes only regular files",
		dangling: "is a symlink that leads to no file",
		filepath.Join(dir, "missing", "graft.yaml"): "the directory " + filepath.Join(dir, "missing") + " does not exist",
	} {
		before, _ := os.Lstat(path)
		err := WriteFile(path, []byte("x\n"), 0o644)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WriteFile(%s): %v, want an error with %q", path, err, want)
		}
		if after, _ := os.Lstat(path); before != nil && (after == nil || after.Mode() != before.Mode()) {
			t.Errorf("WriteFile(%s) replaced it", path)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 5 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestWriteFileRemovesKilledWritesTemps: the temporary file a killed write
// left beside the file is removed by the next write of it; one a live
// write holds, a recent one, a directory or another file's are not.
func TestWriteFileRemovesKilledWritesTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "graft.lock")
	old := time.Now().Add(-time.Hour)
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		return p
	}
	killed := mk(".graft.lock.tmp-1")
	live := mk(".graft.lock.tmp-2")
	f, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ok, err := lock.TryFile(f); !ok || err != nil {
		t.Fatalf("TryFile: %v %v", ok, err)
	}
	recent := filepath.Join(dir, ".graft.lock.tmp-3")
	if err := os.WriteFile(recent, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	other := mk(".graft.inventory.json.tmp-4")
	asDir := filepath.Join(dir, ".graft.lock.tmp-5")
	if err := os.Mkdir(asDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(killed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed write's temporary file is left (%v)", err)
	}
	for _, p := range []string{live, recent, other, asDir} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed (%v)", p, err)
		}
	}
}
