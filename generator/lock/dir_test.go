package lock

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestTryDir: a directory held by TryDir cannot be taken again (flock is
// per open file, so a second TryDir in this process conflicts as another
// process's would) until it is released, and the lock follows the
// directory when it is renamed, as render's build directory is.
func TestTryDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, ".graft-render-1")
	must(t, os.Mkdir(dir, 0o755))
	l, ok, err := TryDir(dir)
	if err != nil || !ok {
		t.Fatalf("TryDir of a free directory: ok %v, %v", ok, err)
	}
	if _, ok, err := TryDir(dir); ok || err != nil {
		t.Fatalf("TryDir of a held directory: ok %v, %v; want it refused without error", ok, err)
	}
	moved := filepath.Join(root, "overlay")
	must(t, os.Rename(dir, moved))
	if _, ok, _ := TryDir(moved); ok {
		t.Fatal("the lock did not follow the renamed directory")
	}
	l.Release()
	l.Release() // twice is harmless
	l2, ok, err := TryDir(moved)
	if err != nil || !ok {
		t.Fatalf("TryDir after Release: ok %v, %v", ok, err)
	}
	l2.Release()
	if _, _, err := TryDir(filepath.Join(root, "missing")); err == nil {
		t.Error("TryDir of a missing directory: no error")
	}
	file := filepath.Join(root, "file")
	must(t, os.WriteFile(file, nil, 0o644))
	if _, ok, err := TryDir(file); ok || err == nil {
		t.Errorf("TryDir of a file: ok %v, %v; want an error", ok, err)
	}
}

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
