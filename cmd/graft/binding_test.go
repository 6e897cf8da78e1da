package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// TestRenderRecordsBinding: graft render records the binding it rendered
// in graft.lock, which graft check holds the overlay to: a record older
// than binding modes gains the static one, a change of mode is recorded
// (and logged), an unchanged one is not rewritten, and an overlay whose
// binding the record does not hold is denied.
func TestRenderRecordsBinding(t *testing.T) {
	root, specPath := exampleTree(t, "cassandra-3node")
	lockPath := filepath.Join(root, record.DefaultFile)
	overlay := filepath.Join(root, "overlays", "cassandra-3node")
	binding := func() *record.Binding {
		t.Helper()
		rec, err := record.Load(lockPath)
		must(t, err)
		return rec.Binding
	}
	if b := binding(); b != nil {
		t.Fatalf("the example's record already holds a binding %+v", b)
	}
	if code, _, stderr := graft(t, "render", "--spec", specPath, "--dry-run"); code != exitOK || binding() != nil {
		t.Fatalf("render --dry-run: exit %d, binding %+v (a dry run writes nothing)\n%s", code, binding(), stderr)
	}
	code, _, stderr := graft(t, "render", "--spec", specPath)
	if b := binding(); code != exitOK || b == nil || *b != (record.Binding{Mode: spec.BindingStatic}) || !strings.Contains(stderr, "binding recorded") {
		t.Fatalf("render: exit %d, binding %+v, want static recorded\n%s", code, b, stderr)
	}
	before, err := os.Stat(lockPath)
	must(t, err)
	if code, _, stderr := graft(t, "render", "--spec", specPath); code != exitOK || strings.Contains(stderr, "binding recorded") {
		t.Fatalf("second render: exit %d, recorded again\n%s", code, stderr)
	}
	if after, _ := os.Stat(lockPath); !after.ModTime().Equal(before.ModTime()) {
		t.Error("an unchanged binding rewrote graft.lock")
	}

	replaceIn(t, specPath, "  target:\n", "  target:\n    storageClassName: gp3-retain\n    binding:\n      mode: provisioned\n")
	code, _, stderr = graft(t, "render", "--spec", specPath)
	want := record.Binding{Mode: spec.BindingProvisioned, StorageClassName: "gp3-retain", StorageClass: spec.StorageClassDeclare}
	if b := binding(); code != exitOK || b == nil || *b != want {
		t.Fatalf("provisioned render: exit %d, binding %+v, want %+v\n%s", code, b, want, stderr)
	}
	if code, stdout, _ := graft(t, "check", overlay, "--spec", specPath); code != exitOK {
		t.Fatalf("check of the provisioned overlay: exit %d\n%s", code, stdout)
	}
	// The record says static, the overlay is provisioned: denied.
	replaceIn(t, lockPath, "  mode: provisioned\n", "  mode: static\n")
	replaceIn(t, lockPath, "  storageClass: declare\n", "")
	if code, stdout, _ := graft(t, "check", overlay, "--spec", specPath); code != exitFinding || !strings.Contains(stdout, "GRAFT036") {
		t.Fatalf("check of a provisioned overlay against a static record: exit %d, want %d with GRAFT036\n%s", code, exitFinding, stdout)
	}
}
