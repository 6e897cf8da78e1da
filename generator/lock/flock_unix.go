//go:build unix

package lock

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// flock takes an exclusive flock(2) on f without waiting; false means
// another open file description holds it.
func flock(f *os.File) (bool, error) {
	for range 100 { // EINTR only
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		default:
			return false, err
		}
	}
	return false, syscall.EINTR
}

// samefile reports whether the open f is still the file at path.
func samefile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
	return os.SameFile(a, b), nil
}

// alive reports whether a process with that pid exists on this host.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
