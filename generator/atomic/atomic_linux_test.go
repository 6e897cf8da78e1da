//go:build linux

package atomic

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteFileFullDisk: a write that runs out of space fails naming the
// file and the cause (not graft's temporary file), leaves the old content
// as it was and no temporary file.
func TestWriteFileFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a small tmpfs (%v): needs root", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	path := filepath.Join(dir, "graft.lock")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close()
	for range 1 << 10 { // 64k is 16 pages: bounded well before
		if _, err := filler.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	err = WriteFile(path, bytes.Repeat([]byte("new\n"), 4096), 0o644)
	if !errors.Is(err, syscall.ENOSPC) || err.Error() != "write "+path+": no space left on device" {
		t.Errorf("WriteFile on a full disk: %v; want %q", err, "write "+path+": no space left on device")
	}
	if data, _ := os.ReadFile(path); string(data) != "old\n" {
		t.Errorf("the old content is now %q", data)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
