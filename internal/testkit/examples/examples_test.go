package examples

import (
	"os"
	"testing"
)

// TestLoad: every example loads from any working directory, its spec
// named like its directory and its record belonging to that spec.
func TestLoad(t *testing.T) {
	entries, err := os.ReadDir(Dir(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	loaded := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m, rec := Load(t, e.Name())
		if m.Metadata.Name != e.Name() || rec.Migration != m.Metadata.Name || len(rec.Volumes) == 0 {
			t.Errorf("%s: spec %q, record of %q with %d volumes", e.Name(), m.Metadata.Name, rec.Migration, len(rec.Volumes))
		}
		loaded++
	}
	if loaded < 3 {
		t.Fatalf("loaded %d examples, want at least 3", loaded)
	}
}
