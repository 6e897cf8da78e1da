//go:build !unix

package testkit

import (
	"os"
	"os/exec"
)

func ownGroup(*exec.Cmd) {}

// signalGroup kills p: there are no process groups to signal.
func signalGroup(p *os.Process, _ bool) { _ = p.Kill() }
