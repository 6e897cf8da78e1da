//go:build !unix

package testkit

import "errors"

func mkfifo(string) error { return errors.ErrUnsupported }
