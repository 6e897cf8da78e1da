//go:build unix

package lock

import "syscall"

func syscallMkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }
