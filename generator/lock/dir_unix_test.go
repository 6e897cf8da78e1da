//go:build unix

package lock

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestTryDirKilledHolder: the directory of a process that was SIGKILLed
// while it held it is free at once: it is a leftover, not in use.
func TestTryDirKilledHolder(t *testing.T) {
	flockCmd, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("no flock(1) to hold the directory from another process")
	}
	dir := t.TempDir()
	// -o: the lock is flock(1)'s alone, not inherited by sleep; the
	// whole group is killed (sleep too, which may hold the lock for a
	// moment after the fork).
	holder := exec.Command(flockCmd, "-x", "-o", dir, "sleep", "60")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, holder.Start())
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, ok, _ := TryDir(dir)
		l.Release()
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("flock(1) did not take the directory in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	must(t, syscall.Kill(-holder.Process.Pid, syscall.SIGKILL))
	_ = holder.Wait()
	// The kernel releases the lock as the group's last process exits,
	// which Wait (of flock(1) alone) does not wait for.
	deadline = time.Now().Add(10 * time.Second)
	for {
		l, ok, err := TryDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the directory is still held 10 s after its holder was killed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNotWritable: a lock file that may not be created (no permission, a
// read-only filesystem) is told apart, for Acquire's message naming --lock.
func TestNotWritable(t *testing.T) {
	for err, want := range map[error]bool{
		&os.PathError{Op: "open", Path: "x", Err: syscall.EACCES}: true,
		&os.PathError{Op: "open", Path: "x", Err: syscall.EPERM}:  true,
		&os.PathError{Op: "open", Path: "x", Err: syscall.EROFS}:  true,
		&os.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}: false,
	} {
		if got := notWritable(err); got != want {
			t.Errorf("notWritable(%v) = %t, want %t", err, got, want)
		}
	}
}
