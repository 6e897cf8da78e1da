package examples

import (
	"os"
	"strings"
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

// TestText: an example's file with its edits applied in order, each to the
// first occurrence; an edit whose text is missing fails the test.
func TestText(t *testing.T) {
	raw, err := os.ReadFile(Dir("cassandra-3node") + "/graft.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := Text(t, "cassandra-3node", "graft.yaml"); got != string(raw) {
		t.Errorf("without edits, Text is not the file:\n%s", got)
	}
	got := Text(t, "cassandra-3node", "graft.yaml", "replicas: 3", "replicas: 5", "replicas: 5", "replicas: 7", "cassandra", "scylla")
	if want := strings.Replace(strings.Replace(string(raw), "replicas: 3", "replicas: 7", 1), "cassandra", "scylla", 1); got != want {
		t.Errorf("edited:\n%s\nwant:\n%s", got, want)
	}
	for _, edits := range [][]string{{"replicas: 42", "replicas: 1"}, {"replicas: 3"}} {
		ft := &fatalRecorder{TB: t}
		func() {
			defer func() { _ = recover() }()
			Text(ft, "cassandra-3node", "graft.yaml", edits...)
		}()
		if ft.msg == "" {
			t.Errorf("edits %q: no failure", edits)
		}
	}
}

// fatalRecorder records a Fatalf and stops the calling function, as
// testing.T does, without failing the test that uses it.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	panic("fatal")
}
