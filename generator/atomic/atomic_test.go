package atomic

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "graft.lock")
	for _, content := range []string{"first\n", "second\n"} {
		if err := WriteFile(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q (%v), want %q", got, err, content)
		}
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), []byte("x"), 0o644); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// TestWriteFileContextDone: once the context is done nothing is written,
// and no temporary file is left.
func TestWriteFileContextDone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "graft.lock")
	if err := WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteFileContext(ctx, path, []byte("new\n"), 0o644); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Errorf("content %q after a cancelled write", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// TestWriteFileUmask: the file gets perm less the umask, as with
// os.WriteFile, whether it is new or replaces one.
func TestWriteFileUmask(t *testing.T) {
	for _, c := range []struct{ umask, perm, want os.FileMode }{
		{0o022, 0o644, 0o644},
		{0o077, 0o644, 0o600},
		{0o027, 0o666, 0o640},
	} {
		withUmask(t, c.umask)
		path := filepath.Join(t.TempDir(), "graft.yaml")
		for range 2 {
			if err := WriteFile(path, []byte("x\n"), c.perm); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != c.want {
				t.Errorf("umask %#o, perm %#o: mode %#o (%v), want %#o", c.umask, c.perm, fi.Mode().Perm(), err, c.want)
			}
		}
	}
}

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
