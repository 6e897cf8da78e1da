package atomic

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// TestWriteFileHostilePath: WriteFile's errors name the path, the
// user's; they are one line whatever it holds.
func TestWriteFileHostilePath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), termtexttest.Hostile)
	// No such directory.
	err := WriteFile(filepath.Join(dir, "graft.lock"), []byte("x"), 0o644)
	if err == nil {
		t.Fatal("wrote into a directory that is not there")
	}
	termtexttest.Check(t, "the missing directory's error", err.Error()+"\n", 1)
	// A directory where the file would go.
	if err := os.MkdirAll(filepath.Join(dir, "graft.lock"), 0o755); err != nil {
		t.Fatal(err)
	}
	err = WriteFile(filepath.Join(dir, "graft.lock"), []byte("x"), 0o644)
	if err == nil {
		t.Fatal("replaced a directory")
	}
	termtexttest.Check(t, "the directory's error", err.Error()+"\n", 1)
	// A symlink that leads nowhere.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "none", "x"), link); err != nil {
		t.Fatal(err)
	}
	err = WriteFile(link, []byte("x"), 0o644)
	if err == nil {
		t.Fatal("wrote through a dangling symlink")
	}
	termtexttest.Check(t, "the dangling symlink's error", err.Error()+"\n", 1)
}
