package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/internal/testkit"
)

// zeros is an endless reader, like /dev/zero on stdin.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// silent blocks in Read until closed, like a terminal nobody types on.
type silent chan struct{}

func (s silent) Read([]byte) (int, error) { <-s; return 0, io.EOF }

// sparse makes a file of size bytes that takes no disk space.
func sparse(t *testing.T, p string, size int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// kustomization writes dir/kustomization.yaml.
func kustomization(t *testing.T, dir, body string) string {
	writeFile(t, filepath.Join(dir, "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"+body)
	return dir
}

// TestLoadBounded: input over a limit is an input error (exit 2) that
// names the file, its size (or "more than N") and the limit, and nothing
// huge is read or kept.
func TestLoadBounded(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	sparse(t, big, boundedio.MaxFileBytes+1)
	fifo := filepath.Join(dir, "d-fifo", "fifo.yaml")
	if err := os.MkdirAll(filepath.Dir(fifo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	kustomization(t, filepath.Dir(fifo), "resources: [fifo.yaml]\n")
	dev := kustomization(t, filepath.Join(dir, "d-dev"), "resources: [zero.yaml]\n")
	if err := os.Symlink("/dev/zero", filepath.Join(dev, "zero.yaml")); err != nil {
		t.Fatal(err)
	}
	gen := kustomization(t, filepath.Join(dir, "d-gen"), "configMapGenerator:\n- name: c\n  files: [key=data/big.bin]\n")
	sparse(t, filepath.Join(gen, "data", "big.bin"), boundedio.MaxFileBytes+1)
	fifoGen := kustomization(t, filepath.Join(dir, "d-genenv"), "secretGenerator:\n- name: s\n  envs: [fifo.env]\n")
	if err := syscall.Mkfifo(filepath.Join(fifoGen, "fifo.env"), 0o600); err != nil {
		t.Fatal(err)
	}
	patch := kustomization(t, filepath.Join(dir, "d-patch"), "resources: [a.yaml]\npatches:\n- path: p.yaml\n  target: {kind: ConfigMap}\n")
	writeFile(t, filepath.Join(patch, "a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	if err := syscall.Mkfifo(filepath.Join(patch, "p.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Five sparse files of 60 MiB: each under the per-file limit, all
	// together over the total.
	total := kustomization(t, filepath.Join(dir, "d-total"), "resources: [a.yaml, b.yaml, c.yaml, d.yaml, e.yaml]\n")
	for _, n := range "abcde" {
		sparse(t, filepath.Join(total, string(n)+".yaml"), 60<<20)
	}
	many := filepath.Join(dir, "d-many")
	var res strings.Builder
	for i := range boundedio.MaxFiles {
		name := fmt.Sprintf("r%d.yaml", i)
		res.WriteString("- " + name + "\n")
		writeFile(t, filepath.Join(many, name), "")
	}
	kustomization(t, many, "resources:\n"+res.String())

	// A resource with a recursive alias overflowed krusty's stack (a
	// fatal error, no recover); one with an alias bomb expanded without
	// bound.
	recursive := kustomization(t, filepath.Join(dir, "d-recursive"), "resources: [r.yaml]\n")
	writeFile(t, filepath.Join(recursive, "r.yaml"), "a: &a [x, *a]\n")
	bomb := kustomization(t, filepath.Join(dir, "d-bomb"), "resources: [r.yaml]\npatches:\n- path: p.yaml\n")

	var docs strings.Builder
	for range boundedio.MaxDocuments + 1 {
		docs.WriteString("---\na: 1\n")
	}
	laughs := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		p := string(i - 1)
		laughs += fmt.Sprintf("%c: &%c [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", i, i, p, p, p, p, p, p, p, p, p, p)
	}

	writeFile(t, filepath.Join(bomb, "r.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	writeFile(t, filepath.Join(bomb, "p.yaml"), laughs)

	cases := []struct {
		name  string
		paths []string
		stdin io.Reader
		want  []string
	}{
		{"device", []string{"/dev/zero"}, nil, []string{"/dev/zero: more than 67108864 bytes, over graft's limit of 67108864 bytes"}},
		{"big file", []string{big}, nil, []string{big + ": 67108865 bytes, over graft's limit of 67108864 bytes"}},
		{"endless stdin", []string{Stdin}, zeros{}, []string{"stdin: more than 67108864 bytes"}},
		{"FIFO in a directory", []string{filepath.Dir(fifo)}, nil, []string{fifo, "not a regular file (a FIFO)"}},
		{"device in a directory", []string{dev}, nil, []string{"zero.yaml", "not a regular file (a character device)"}},
		{"big generator source", []string{gen}, nil, []string{"big.bin: 67108865 bytes, over graft's limit"}},
		{"FIFO as a generator's env file", []string{fifoGen}, nil, []string{"fifo.env", "a FIFO"}},
		{"FIFO patch", []string{patch}, nil, []string{"p.yaml", "a FIFO"}},
		{"total", []string{total}, nil, []string{"the input (all files, up to " + filepath.Join(total, "e.yaml") + "): more than 268435456 bytes"}},
		{"files", []string{many}, nil, []string{"the kustomize directories given: more than 10000 files, over graft's limit of 10000 files"}},
		{"documents", []string{Stdin}, strings.NewReader(docs.String()), []string{"more than 200000 YAML documents"}},
		{"nesting", []string{Stdin}, strings.NewReader(strings.Repeat("[", 300) + strings.Repeat("]", 300)), []string{"nested more than 200 levels"}},
		{"billion laughs", []string{Stdin}, strings.NewReader(laughs), []string{"aliases expand the document too much"}},
		{"recursive alias in a resource", []string{recursive}, nil, []string{filepath.Join(recursive, "r.yaml"), "recursive alias"}},
		{"billion laughs in a patch", []string{bomb}, nil, []string{filepath.Join(bomb, "p.yaml"), "aliases expand the document too much"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			in, err := Load(ctx, c.paths, c.stdin)
			if err == nil || in != nil || !errors.Is(err, ErrInput) {
				t.Fatalf("got %v, %v; want an ErrInput", in, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestLoadUnderLimits: the limits leave room for large valid inputs.
func TestLoadUnderLimits(t *testing.T) {
	dir := kustomization(t, t.TempDir(), "resources: [a.yaml]\nconfigMapGenerator:\n- name: c\n  files: [k1=data/k1, data/k2]\n  envs: [data/env]\n")
	writeFile(t, filepath.Join(dir, "a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	writeFile(t, filepath.Join(dir, "data", "k1"), "v1")
	writeFile(t, filepath.Join(dir, "data", "k2"), "v2")
	writeFile(t, filepath.Join(dir, "data", "env"), "K=v\n")
	in, err := Load(context.Background(), []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Docs) != 3 { // a, the generated ConfigMap, the kustomization
		t.Errorf("%d documents, want 3", len(in.Docs))
	}
	var docs strings.Builder
	for range boundedio.MaxDocuments {
		docs.WriteString("---\na: 1\n")
	}
	in, err = Load(context.Background(), []string{Stdin}, strings.NewReader(docs.String()))
	if err != nil || len(in.Docs) != boundedio.MaxDocuments {
		t.Fatalf("%d documents: %v", boundedio.MaxDocuments, err)
	}
}

// TestLoadCancel: SIGINT or SIGTERM (a cancelled context) stops a load at
// once, even one of an endless stdin, or of a stdin or a FIFO blocked in a
// read.
func TestLoadCancel(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		paths []string
		stdin io.Reader
	}{
		"endless stdin": {[]string{Stdin}, io.MultiReader(strings.NewReader("a: 1\n"), zeros{})},
		"silent stdin":  {[]string{Stdin}, make(silent)},
		"silent FIFO":   {[]string{fifo}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			start := time.Now()
			_, err := Load(ctx, c.paths, c.stdin)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Load returned %v after the cancel", d)
			}
		})
	}
	// AddRecord honours the Load's context too.
	ctx, cancel := context.WithCancel(context.Background())
	in, err := Load(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := in.AddRecord(fifo); !errors.Is(err, context.Canceled) {
		t.Errorf("AddRecord of a silent FIFO: %v", err)
	}
}

// TestLoadMemory: memory is proportional to the input; the ratio of bytes
// allocated to bytes read is reported (go test -v) and bounded.
func TestLoadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	overlay, lockPath := synthetic(t, 10, 100)
	info, err := os.Stat(overlay)
	if err != nil {
		t.Fatal(err)
	}
	lockInfo, err := os.Stat(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	size := float64(info.Size() + lockInfo.Size())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	in, err := Load(context.Background(), []string{overlay}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.AddRecord(lockPath); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	allocated := float64(after.TotalAlloc - before.TotalAlloc)
	runtime.GC()
	runtime.ReadMemStats(&after)
	live := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	runtime.KeepAlive(in)
	t.Logf("1,000 members: %.1f MB read, %.1f bytes allocated and %.1f bytes live per input byte", size/1e6, allocated/size, live/size)
	if allocated/size > 60 || live/size > 20 {
		t.Errorf("%.1f bytes allocated, %.1f live per input byte: more than 60 and 20", allocated/size, live/size)
	}
}

// baseStatefulSet is a base's StatefulSet whose claim template data is
// mounted by two containers (and an init container, which does not count).
const baseStatefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: base-ns
spec:
  template:
    spec:
      initContainers:
        - name: init
          volumeMounts:
            - {name: data, mountPath: /init}
      containers:
        - name: main
          volumeMounts:
            - {name: data, mountPath: /var/lib/db}
            - {name: conf, mountPath: /etc/db}
            - {name: conf, mountPath: /var/lib/db//conf/}
            - {name: logs, mountPath: /var/lib/db-logs}
        - name: backup
          volumeMounts:
            - {name: data, mountPath: /backup, subPath: snaps, readOnly: true}
            - {name: data, mountPath: /expr, subPathExpr: $(POD_NAME), readOnly: false}
  volumeClaimTemplates:
    - metadata: {name: data}
`

// TestLoadBaseMounts: an overlay graft wrote is given with its base's
// claim template mounts; other inputs without, and an overlay whose base
// is missing or does not build is an input error.
func TestLoadBaseMounts(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	base := kustomization(t, filepath.Join(root, "base"), "resources:\n- statefulset.yaml\n")
	writeFile(t, filepath.Join(base, "statefulset.yaml"), baseStatefulSet)
	overlay := kustomization(t, filepath.Join(root, "overlay"), "namespace: other\nresources:\n- ../base\n- persistentvolumes.yaml\n")
	writeFile(t, filepath.Join(overlay, "persistentvolumes.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")

	in, err := Load(ctx, []string{overlay}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.baseDocs) != 1 {
		t.Fatalf("%d BaseMounts documents, want 1", len(in.baseDocs))
	}
	want := map[string]any{
		"apiVersion": "graft.graftctl.io/v1alpha1",
		"kind":       BaseMountsKind,
		"base":       filepath.ToSlash(base),
		"statefulSets": map[string]any{"db": []any{
			map[string]any{"container": "main", "claimTemplate": "data", "mountPath": "/var/lib/db", "subPath": "", "subPathExpr": "", "readOnly": false, "nested": []any{"/var/lib/db/conf"}},
			map[string]any{"container": "backup", "claimTemplate": "data", "mountPath": "/backup", "subPath": "snaps", "subPathExpr": "", "readOnly": true, "nested": []any{}},
			map[string]any{"container": "backup", "claimTemplate": "data", "mountPath": "/expr", "subPath": "", "subPathExpr": "$(POD_NAME)", "readOnly": false, "nested": []any{}},
		}},
		"initContainerMounts": map[string]any{"db": []any{map[string]any{"container": "init", "claimTemplate": "data"}}},
	}
	if got := in.baseDocs[0].Contents; !reflect.DeepEqual(got, want) {
		t.Errorf("BaseMounts document\n%#v\nwant\n%#v", got, want)
	}
	// The policies see it after the objects; it is not one of them.
	if v := in.Value(); len(v) != len(in.Docs)+1 || !reflect.DeepEqual(v[len(v)-1].(map[string]any)["contents"], want) {
		t.Errorf("the policies' input does not end with the BaseMounts document: %d values for %d documents", len(v), len(in.Docs))
	}
	// LoadBuilt (graft run) adds it too.
	built, err := render.Build(overlay)
	if err != nil {
		t.Fatal(err)
	}
	if in, err := LoadBuilt(overlay, built); err != nil || len(in.baseDocs) != 1 {
		t.Errorf("LoadBuilt: %v, %d BaseMounts documents, want 1", err, len(in.baseDocs))
	}

	// No base: stdin, YAML files, a plain base directory.
	for _, paths := range [][]string{{Stdin}, {filepath.Join(base, "statefulset.yaml")}, {base}} {
		in, err := Load(ctx, paths, strings.NewReader(baseStatefulSet))
		if err != nil {
			t.Errorf("%v: %v", paths, err)
			continue
		}
		if len(in.baseDocs) != 0 {
			t.Errorf("%v: %d BaseMounts documents, want none", paths, len(in.baseDocs))
		}
	}

	// A BaseMounts document in the input could stand in for the base: it
	// is refused, from stdin as from an overlay's resources.
	spoof := "apiVersion: graft.graftctl.io/v1alpha1\nkind: BaseMounts\nstatefulSets: {db: []}\n"
	if _, err := Load(ctx, []string{Stdin}, strings.NewReader(spoof)); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "kind BaseMounts, apiVersion graft.graftctl.io/v1alpha1: reserved") {
		t.Errorf("BaseMounts on stdin: %v, want an input error", err)
	}
	writeFile(t, filepath.Join(overlay, "persistentvolumes.yaml"), spoof+"metadata: {name: b}\n")
	if _, err := Load(ctx, []string{overlay}, nil); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("BaseMounts in an overlay: %v, want an input error", err)
	}
	// Another group's kind of that name is an object like any other.
	if _, err := Load(ctx, []string{Stdin}, strings.NewReader("apiVersion: example.com/v1\nkind: BaseMounts\n")); err != nil {
		t.Errorf("example.com BaseMounts: %v", err)
	}

	// An overlay graft wrote (its PV file, or graft.lock, in it) that lists
	// no base directory: nothing to compare with, so an input error.
	flat := kustomization(t, filepath.Join(root, "flat"), "resources:\n- statefulset.yaml\n- persistentvolumes.yaml\n")
	writeFile(t, filepath.Join(flat, "statefulset.yaml"), baseStatefulSet)
	writeFile(t, filepath.Join(flat, "persistentvolumes.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	locked := kustomization(t, filepath.Join(root, "locked"), "resources:\n- statefulset.yaml\n")
	writeFile(t, filepath.Join(locked, "statefulset.yaml"), baseStatefulSet)
	writeFile(t, filepath.Join(locked, "graft.lock"), "kind: Lock\n")
	for _, dir := range []string{flat, locked} {
		_, err := Load(ctx, []string{dir}, nil)
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "lists no base in resources") {
			t.Errorf("%s: %v, want an input error naming the missing base", dir, err)
		}
	}
	// Without a StatefulSet in it (kind claims-only: the chart creates
	// it) there are no mounts to compare, and no base is needed.
	claims := kustomization(t, filepath.Join(root, "claims"), "resources:\n- persistentvolumes.yaml\n")
	writeFile(t, filepath.Join(claims, "persistentvolumes.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	if in, err := Load(ctx, []string{claims}, nil); err != nil || len(in.baseDocs) != 0 {
		t.Errorf("an overlay of claims only: %v, want it loaded without a base", err)
	}

	// A base that does not build is an input error, naming the base.
	broken := kustomization(t, filepath.Join(root, "broken"), "resources:\n- missing.yaml\n")
	in = newInput(ctx)
	in.bases[overlay] = []string{broken}
	if err := in.addBases(overlay); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "the base "+broken) {
		t.Errorf("broken base: %v, want an input error naming %s", err, broken)
	}
	if len(in.baseDocs) != 0 {
		t.Errorf("broken base: %d BaseMounts documents added", len(in.baseDocs))
	}
}

// TestDocumentNodesKeepsNoEmptyDocument: a stream of empty and null
// documents, as many as the file's bytes allow, is counted but not kept
// (memory is bounded by the documents with content, which are bounded by
// boundedio.MaxDocuments); and graft.lock with a second, empty document is
// judged by record.ParseFile, not the one-document fast path.
func TestDocumentNodesKeepsNoEmptyDocument(t *testing.T) {
	docs, total, err := documentNodes([]byte(strings.Repeat("---\n", 50000) + strings.Repeat("--- ~\n", 50000) + "--- {a: 1}\n"))
	if err != nil || len(docs) != 1 || total != 100001 {
		t.Fatalf("kept %d documents of %d (err %v), want 1 of 100001", len(docs), total, err)
	}
	lock := filepath.Join(fixtureRoot, "pass", "flux-3node", "graft.lock")
	data, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range []string{"", "---\n", "--- ~\n"} {
		path := filepath.Join(t.TempDir(), "graft.lock")
		testkit.WriteFile(t, path, string(data)+extra)
		_, gotErr := newInput(context.Background()).AddRecord(path)
		_, wantErr := record.ParseFile(path, []byte(string(data)+extra))
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("graft.lock + %q: AddRecord says %v, record.ParseFile %v", extra, gotErr, wantErr)
		}
	}
}
