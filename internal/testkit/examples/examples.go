// Package examples gives tests the migrations under testdata/examples:
// each example's graft.yaml and graft.lock, loaded. It is apart from
// testkit because it imports spec and record, which testkit's users
// include.
package examples

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// Dir is the directory of the example name (testdata/examples/<name> of
// graft's module), wherever the test runs from.
func Dir(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "examples", name)
}

// Load loads the spec and the record of the example name and fails the
// test on an error.
func Load(t testing.TB, name string) (*spec.Migration, *record.Record) {
	t.Helper()
	dir := Dir(name)
	m, err := spec.Load(filepath.Join(dir, "graft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := record.Load(filepath.Join(dir, record.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	return m, rec
}

// Text is the file of the example name (graft.yaml or graft.lock) with
// edits applied: pairs of a text and what replaces its first occurrence,
// in order. An edit whose text is not there fails the test: a fixture
// built from an example does not drift from it unseen.
func Text(t testing.TB, name, file string, edits ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Dir(name), file))
	if err != nil {
		t.Fatal(err)
	}
	if len(edits)%2 != 0 {
		t.Fatalf("examples.Text(%s, %s): %d edits, expected pairs of from and to", name, file, len(edits))
	}
	text := string(data)
	for i := 0; i < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			t.Fatalf("example %s/%s: no %q to replace", name, file, edits[i])
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	return text
}
