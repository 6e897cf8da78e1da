//go:build linux

package lock

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestAcquireFullDisk: a lock whose holder cannot be written (a full disk)
// is not taken, the error names the file and the cause, and no lock file
// is left behind (it was, empty, in the user's directory).
func TestAcquireFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16k"); err != nil {
		t.Skipf("cannot mount a small tmpfs (%v): needs root", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	filler, err := os.Create(filepath.Join(dir, "filler"))
	must(t, err)
	defer filler.Close()
	for range 1 << 10 { // 16k is 4 pages: bounded well before
		if _, err := filler.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	path := filepath.Join(dir, "graft.lock"+Suffix)
	l, err := Acquire(path, Holder{Command: "render"})
	if l != nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
		t.Errorf("Acquire on a full disk: %v, %v; want no lock and an error naming %s and the cause", l, err, path)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock file is left behind (%v)", err)
	}
}
