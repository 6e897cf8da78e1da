package render

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// messages is a slog handler that keeps each record's message as it is,
// unescaped by any output format: what render itself wrote.
type messages struct{ got *[]string }

func (messages) Enabled(context.Context, slog.Level) bool { return true }
func (h messages) Handle(_ context.Context, r slog.Record) error {
	*h.got = append(*h.got, r.Message)
	return nil
}
func (h messages) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h messages) WithGroup(string) slog.Handler      { return h }

// TestWarnNamespaceOrderHostileNamespace: the warning names the
// namespace the base declares on one line, whatever it holds (the spec
// takes a DNS label, but the message does not rely on it).
func TestWarnNamespaceOrderHostileNamespace(t *testing.T) {
	ns := termtexttest.HostileUTF8
	var q strings.Builder
	for _, r := range ns {
		fmt.Fprintf(&q, "\\U%08x", r)
	}
	m := &spec.Migration{}
	m.Spec.GitOps.Engine = spec.EngineFlux
	m.Spec.Target.Namespace = ns
	builds := map[string][]byte{
		WorkloadRoot:   []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"" + q.String() + "\"\n"),
		StorageRoot(0): []byte("apiVersion: v1\nkind: PersistentVolumeClaim\n"),
	}
	var got []string
	warnNamespaceOrder(m, builds, slog.New(messages{&got}))
	if len(got) != 1 {
		t.Fatalf("warnings %q, want one", got)
	}
	termtexttest.Check(t, "the namespace warning", got[0]+"\n", 1)
}

// TestStorageRootsHostileDir: a storage root that is not graft's is named
// by its path on one line, whatever the overlay directory is called.
func TestStorageRootsHostileDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), termtexttest.Hostile)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, StorageRoot(0)), 0o755))
	must(os.WriteFile(filepath.Join(dir, KustomizationFile), []byte(ownerLine("m")), 0o644))
	must(os.WriteFile(filepath.Join(dir, StorageRoot(0), KustomizationFile), []byte("resources: []\n"), 0o644))
	_, err := StorageRoots(dir)
	if err == nil {
		t.Fatal("a storage root graft did not write was taken")
	}
	termtexttest.Check(t, "StorageRoots' error", err.Error()+"\n", 1)
}

// TestEnsureDirHostilePath: the file system's error names the output
// directory's path; render's error stays one line and still wraps the
// file system's (errors.Is).
func TestEnsureDirHostilePath(t *testing.T) {
	file := filepath.Join(t.TempDir(), termtexttest.Hostile)
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ensureDir(filepath.Join(file, "x"))
	if err == nil {
		t.Fatal("made a directory under a file")
	}
	termtexttest.Check(t, "ensureDir's error", err.Error()+"\n", 1)
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("the cause is lost: %v", err)
	}
}
