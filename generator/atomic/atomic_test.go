package atomic

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
