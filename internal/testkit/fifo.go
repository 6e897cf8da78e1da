package testkit

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// Mkfifo makes a FIFO at path, and skips the test where the system has
// none.
func Mkfifo(t testing.TB, path string) {
	t.Helper()
	if err := mkfifo(path); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// WantDeadlineOnFIFO checks that read, given a FIFO nobody writes to (name,
// in a temporary directory) and a context with a short deadline, returns
// that context's error at once rather than block.
func WantDeadlineOnFIFO(t testing.TB, name string, read func(ctx context.Context, path string) error) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), name)
	Mkfifo(t, fifo)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := read(ctx, fifo)
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > 5*time.Second {
		t.Fatalf("reading the FIFO %s: %v after %v, want the context's error at once", name, err, took)
	}
}
