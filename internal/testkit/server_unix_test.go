//go:build unix

package testkit

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gone reports whether process pid has exited (a zombie has).
func gone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && strings.Contains(string(stat), ") Z ")
}

// TestServerStopsItsGroup: what a server started (Gitea's git) stops with
// it.
func TestServerStopsItsGroup(t *testing.T) {
	child := 0
	t.Run("parent", func(t *testing.T) {
		s, _ := helperServer(t, "parent")
		for deadline := time.Now().Add(10 * time.Second); child == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			fmt.Sscanf(Tail(s.Log, 100), "child %d", &child)
		}
		if child == 0 {
			t.Fatalf("the helper said no child pid: %q", Tail(s.Log, 1000))
		}
	})
	if child == 0 {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for !gone(child) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("the server's child %d still runs after the server stopped", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
