package check

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// TestHostileNamesInTextFindings: a Kubernetes name, namespace and label
// of an overlay, and the overlay's file name, are written by whoever
// writes the pull request; in check's text report (and its GitHub
// annotations) they cannot add a line or reach the terminal raw. Each
// finding is two lines, the verdict one.
func TestHostileNamesInTextFindings(t *testing.T) {
	h := termtexttest.HostileUTF8
	doc := strings.NewReplacer("HOSTILE", termtexttest.YAMLQuoted(h)).Replace(`apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: HOSTILE
  namespace: HOSTILE
  labels:
    graft.graftctl.io/migration: HOSTILE
    graft.graftctl.io/statefulset: HOSTILE
    graft.graftctl.io/ordinal: HOSTILE
    graft.graftctl.io/claim-template: HOSTILE
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: HOSTILE
  volumeName: HOSTILE
  resources: {requests: {storage: 1Gi}}
`)
	path := filepath.Join(t.TempDir(), termtexttest.Hostile+".yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := Load(context.Background(), []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := engine(t).Check(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 {
		t.Fatal("no finding: the test shows nothing")
	}
	named := false
	for _, f := range rep.Findings {
		named = named || f.Name == h
	}
	if !named {
		t.Fatalf("no finding names the hostile object: %+v", rep.Findings)
	}
	var text, gh bytes.Buffer
	if err := NewText(&text).Write(rep); err != nil {
		t.Fatal(err)
	}
	termtexttest.Check(t, "the text report", text.String(), 2*len(rep.Findings)+1)
	if err := NewGitHub(&gh).Write(rep); err != nil {
		t.Fatal(err)
	}
	termtexttest.Check(t, "the GitHub annotations", gh.String(), len(rep.Findings)+1)
}

// TestHostilePathsInInputErrors: a path named in check's input errors (a
// file of the pull request, a directory given) is quoted when a terminal
// would act on it: the error stays one line.
func TestHostilePathsInInputErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), termtexttest.Hostile)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, termtexttest.Hostile+".yaml")
	if err := os.WriteFile(broken, []byte("a: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, paths := range [][]string{{filepath.Join(dir, "missing")}, {broken}, {dir}} {
		_, err := Load(context.Background(), paths, nil)
		if err == nil {
			t.Fatalf("Load(%q): no error", paths)
		}
		termtexttest.Check(t, fmt.Sprintf("Load(%q)", paths), err.Error()+"\n", 1)
	}
}
