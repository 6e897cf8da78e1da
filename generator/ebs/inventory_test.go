package ebs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/internal/testkit"
)

// TestLoadInventoryIsBounded: the inventory is read like every other input:
// at most boundedio.MaxFileBytes, and not past a signal (a FIFO with no
// writer in its place must not keep graft alive).
func TestLoadInventoryIsBounded(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(boundedio.MaxFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ebs.LoadInventory(t.Context(), big); !errors.Is(err, boundedio.ErrTooLarge) {
		t.Fatalf("an inventory over the limit: %v, want boundedio.ErrTooLarge", err)
	}
	if inv, err := ebs.LoadInventory(t.Context(), filepath.Join(dir, "missing.json")); inv != nil || err != nil {
		t.Fatalf("a missing inventory: %v, %v, want nil, nil", inv, err)
	}
	testkit.WantDeadlineOnFIFO(t, "fifo.json", func(ctx context.Context, path string) error {
		_, err := ebs.LoadInventory(ctx, path)
		return err
	})
}
