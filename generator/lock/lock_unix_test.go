//go:build linux

package lock

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/graftctl/graft/internal/testkit"
)

// TestAcquireFullDisk: a lock whose holder cannot be written (a full disk)
// is not taken, the error names the file and the cause, and no lock file
// is left behind (it was, empty, in the user's directory).
func TestAcquireFullDisk(t *testing.T) {
	dir := testkit.SmallDisk(t, "16k")
	testkit.FillDisk(t, dir, 0)
	path := filepath.Join(dir, "graft.lock"+Suffix)
	l, err := Acquire(path, Holder{Command: "render"})
	if l != nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
		t.Errorf("Acquire on a full disk: %v, %v; want no lock and an error naming %s and the cause", l, err, path)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock file is left behind (%v)", err)
	}
}
