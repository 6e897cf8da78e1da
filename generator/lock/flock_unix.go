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

// openFlags: never follow a symlink at the lock's path, never block
// opening a FIFO there.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// ownFile refuses a lock file that is not a regular file with one name:
// graft truncates and rewrites it, and removes it when it is done.
func ownFile(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s); graft keeps its lock only in a regular file of its own: remove it and run again", path, fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return fmt.Errorf("%s has %d names (a hard link: another name of the same file, graft.lock perhaps); graft would overwrite that file: remove %s (the other names keep the file) and run again", path, st.Nlink, path)
	}
	return nil
}

// notWritable reports whether err says the lock file may not be created
// there: no permission, or a read-only filesystem.
func notWritable(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EROFS)
}
