//go:build linux

package atomic

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchange swaps the directories at a and b in one step (renameat2 with
// RENAME_EXCHANGE): no moment in which either path is missing.
func exchange(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}

// exchangeUnsupported tells the error of a kernel or filesystem that
// cannot exchange (before Linux 3.15, NFS, …): ReplaceDir then swaps in
// two renames.
func exchangeUnsupported(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP)
}

// unsupportedExchange is the error of a filesystem that cannot exchange.
var unsupportedExchange error = unix.EINVAL
