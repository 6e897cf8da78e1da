//go:build unix

package atomic

import (
	"io/fs"
	"syscall"
)

// processUmask reads the process's umask. Reading it means setting it, so
// it is read once, at start-up, before graft creates any file (as
// google/renameio does).
func processUmask() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(m)
}
