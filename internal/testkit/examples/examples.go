// Package examples gives tests the migrations under testdata/examples:
// each example's graft.yaml and graft.lock, loaded. It is apart from
// testkit because it imports spec and record, which testkit's users
// include.
package examples

import (
	"path/filepath"
	"runtime"
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
