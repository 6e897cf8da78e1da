//go:build unix

package atomic

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
