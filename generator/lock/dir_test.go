package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

// TestWaitDir: WaitDir takes a directory once its holder lets it go, gives
// up when its bound passes with the lock still held, and stops at once
// when its context is done.
func TestWaitDir(t *testing.T) {
	dir := t.TempDir()
	held, ok, err := TryDir(dir)
	if err != nil || !ok {
		t.Fatalf("TryDir: %v %v", ok, err)
	}
	if _, ok, err := WaitDir(context.Background(), dir, 100*time.Millisecond); err != nil || ok {
		t.Errorf("WaitDir on a held directory: ok %v, %v; want false once the bound passed", ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := WaitDir(ctx, dir, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitDir with a done context: %v, want context.Canceled", err)
	}
	time.AfterFunc(100*time.Millisecond, held.Release)
	l, ok, err := WaitDir(context.Background(), dir, 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("WaitDir after the holder let go: %v %v", ok, err)
	}
	l.Release()
}
