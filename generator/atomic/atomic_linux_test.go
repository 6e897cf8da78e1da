//go:build linux

package atomic

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/graftctl/graft/internal/testkit"
)

// TestWriteFileFullDisk: a write that runs out of space fails naming the
// file and the cause (not graft's temporary file), leaves the old content
// as it was and no temporary file.
func TestWriteFileFullDisk(t *testing.T) {
	dir := testkit.SmallDisk(t, "64k")
	path := filepath.Join(dir, "graft.lock")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.FillDisk(t, dir, 0)
	err := WriteFile(path, bytes.Repeat([]byte("new\n"), 4096), 0o644)
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
