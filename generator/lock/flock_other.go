//go:build !unix

package lock

import (
	"errors"
	"os"
	"runtime"
)

// errUnsupported: graft takes no migration lock it cannot make hold, so
// it refuses to run a writing command at all (fail closed).
var errUnsupported = errors.New("graft cannot lock a migration on " + runtime.GOOS + " (flock(2) is needed)")

func flock(*os.File) (bool, error) { return false, errUnsupported }

func samefile(*os.File, string) (bool, error) { return false, errUnsupported }

func alive(int) bool { return true }

const openFlags = 0

func ownFile(*os.File, string) error { return errUnsupported }

func notWritable(err error) bool { return errors.Is(err, os.ErrPermission) }
