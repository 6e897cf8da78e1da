package record

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// TestLoadHostilePath: the record's path (--lock, or beside the user's
// spec) is quoted when unsafe in Load's errors: a missing record and one
// that does not parse are refused on the lines graft writes.
func TestLoadHostilePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), termtexttest.Hostile, DefaultFile)
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), strconv.Quote(path)) {
		t.Fatalf("err = %v, want the missing record named quoted", err)
	}
	termtexttest.Check(t, "the missing record's error", err.Error()+"\n", 1)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("migration: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), strconv.Quote(path)) {
		t.Fatalf("err = %v, want the record named quoted", err)
	}
	termtexttest.Check(t, "the bad record's error", err.Error()+"\n", 1)
	if first, _, _ := strings.Cut(err.Error(), "\n"); !strings.HasPrefix(first, strconv.Quote(path)+": ") {
		t.Errorf("the first line does not start with the quoted path: %q", first)
	}
}
