package render_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// editFile replaces from with to in the file at p, once.
func editFile(t *testing.T, p, from, to string) {
	t.Helper()
	data, err := os.ReadFile(p)
	must(t, err)
	if !strings.Contains(string(data), from) {
		t.Fatalf("%q not in %s", from, p)
	}
	must(t, os.WriteFile(p, []byte(strings.Replace(string(data), from, to, 1)), 0o644))
}

// checkRefusal fails t unless err is render's refusal in exactly lines
// lines with no raw byte a terminal acts on, naming each of named
// quoted (as %q quotes it), and nothing was written at out.
func checkRefusal(t *testing.T, err error, out string, lines int, named ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("rendered: the test shows nothing")
	}
	termtexttest.Check(t, "render's error", err.Error()+"\n", lines)
	for _, n := range named {
		if !strings.Contains(err.Error(), strconv.Quote(n)) {
			t.Errorf("the error does not name %q quoted:\n%s", n, err)
		}
	}
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Errorf("a refused render left %s", out)
	}
}

// TestHostileBaseNamesInErrors: the names of the kustomize base's objects
// (the operator resource, its racks, nodeSets and claim templates, the
// zones of its affinities) are written by whoever writes the base; in
// render's refusal they are quoted when a terminal would act on them and
// cannot add a line: a problem list is its header and one line a problem,
// a refusal of one problem one line.
func TestHostileBaseNamesInErrors(t *testing.T) {
	h := termtexttest.YAMLQuoted(termtexttest.HostileUTF8)
	cases := []struct {
		name, example, file, from, to string
		lines                         int
	}{
		// findResource: "(it has <apiVersion> <name>)".
		{"resource name", "cass-operator-6node", "cassandradatacenter.yaml", "name: dc1", "name: " + h, 1},
		{"rack names", "cass-operator-6node", "cassandradatacenter.yaml", "    - name: r2\n", "    - name: " + h + "\n", 2},
		{"rack zone", "cass-operator-6node", "cassandradatacenter.yaml", "    - name: r1\n", "    - name: r1\n      nodeAffinityLabels:\n        topology.kubernetes.io/zone: " + h + "\n", 2},
		{"additional volume", "cass-operator-6node", "cassandradatacenter.yaml", "      - name: commitlog\n", "      - name: " + h + "\n", 2},
		{"nodeSet name", "eck-logging", "elasticsearch.yaml", "    - name: warm\n", "    - name: " + h + "\n", 2},
		{"nodeSet claim template", "eck-logging", "elasticsearch.yaml", "            name: elasticsearch-data\n", "            name: " + h + "\n", 2},
		{"nodeSet zone", "eck-logging", "elasticsearch.yaml", "      podTemplate:\n        spec:\n", "      podTemplate:\n        spec:\n          affinity:\n            nodeAffinity:\n              requiredDuringSchedulingIgnoredDuringExecution:\n                nodeSelectorTerms:\n                  - matchExpressions:\n                      - {key: topology.kubernetes.io/zone, operator: In, values: [" + h + "]}\n", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, m, rec := copyExample(t, c.example)
			editFile(t, filepath.Join(root, "base", c.file), c.from, c.to)
			out := filepath.Join(root, "overlays", "x")
			_, err := render.Render(m, rec, render.Options{OutDir: out})
			checkRefusal(t, err, out, c.lines, termtexttest.HostileUTF8)
		})
	}
}

// TestHostileBaseStatefulSetNames: a plain base's StatefulSet names are
// listed quoted when the spec names another one.
func TestHostileBaseStatefulSetNames(t *testing.T) {
	root, m, rec := copyExample(t, "cassandra-3node")
	base := filepath.Join(root, "base")
	files, err := filepath.Glob(filepath.Join(base, "*.yaml"))
	must(t, err)
	edited := false
	for _, f := range files {
		data, err := os.ReadFile(f)
		must(t, err)
		if strings.Contains(string(data), "kind: StatefulSet") && !edited {
			name := m.Spec.Target.StatefulSets[0].Name
			editFile(t, f, "name: "+name+"\n", "name: "+termtexttest.YAMLQuoted(termtexttest.HostileUTF8)+"\n")
			edited = true
		}
	}
	if !edited {
		t.Fatal("no StatefulSet in the base")
	}
	out := filepath.Join(root, "overlays", "x")
	_, err = render.Render(m, rec, render.Options{OutDir: out})
	checkRefusal(t, err, out, 2, termtexttest.HostileUTF8)
}

// TestHostileBaseBuildError: kustomize's own error quotes the base's
// words (here a name given to two objects); it reaches render's refusal
// on one line.
func TestHostileBaseBuildError(t *testing.T) {
	root, m, rec := copyExample(t, "cass-operator-6node")
	p := filepath.Join(root, "base", "cassandradatacenter.yaml")
	data, err := os.ReadFile(p)
	must(t, err)
	doc := strings.Replace(string(data), "name: dc1", "name: "+termtexttest.YAMLQuoted(termtexttest.HostileUTF8), 1)
	must(t, os.WriteFile(p, []byte(doc+"\n---\n"+doc), 0o644))
	out := filepath.Join(root, "overlays", "x")
	_, err = render.Render(m, rec, render.Options{OutDir: out})
	checkRefusal(t, err, out, 1)
	if !strings.Contains(err.Error(), "does not build") {
		t.Errorf("not kustomize's refusal: %v", err)
	}
}

// TestHostileBasePathInErrors: spec.gitops.base holds no control
// character, but may hold a bidi override or a line separator; a base
// that is not there, and a file of a base kustomization under a
// directory of any name, are named on one line.
func TestHostileBasePathInErrors(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		root, m, rec := copyExample(t, "cass-operator-6node")
		m.Spec.GitOps.Base = "../../base\u202eexe.txt\u2066\u2028\u200b"
		out := filepath.Join(root, "overlays", "x")
		_, err := render.Render(m, rec, render.Options{OutDir: out})
		checkRefusal(t, err, out, 1)
		if !strings.Contains(err.Error(), "is not a directory") {
			t.Errorf("not the missing base's refusal: %v", err)
		}
	})
	t.Run("entry", func(t *testing.T) {
		root, m, rec := copyExample(t, "cass-operator-6node")
		// A resources entry naming a directory whose kustomization lists
		// a file that is not there: the refusal names that kustomization
		// by its path.
		sub := filepath.Join(root, "base", termtexttest.HostileUTF8)
		must(t, os.MkdirAll(sub, 0o755))
		must(t, os.WriteFile(filepath.Join(sub, "kustomization.yaml"), []byte("resources:\n  - missing.yaml\n"), 0o644))
		editFile(t, filepath.Join(root, "base", "kustomization.yaml"), "resources:\n", "resources:\n  - "+termtexttest.YAMLQuoted(termtexttest.HostileUTF8)+"\n")
		out := filepath.Join(root, "overlays", "x")
		_, err := render.Render(m, rec, render.Options{OutDir: out})
		checkRefusal(t, err, out, 1)
		if !strings.Contains(err.Error(), "missing.yaml") {
			t.Errorf("not the entry's refusal: %v", err)
		}
	})
}

// TestHostileOutDirInErrors: the output directory (--out) and what is
// in it are named on one line when render refuses to replace it.
func TestHostileOutDirInErrors(t *testing.T) {
	t.Run("not graft's", func(t *testing.T) {
		root, m, rec := copyExample(t, "cass-operator-6node")
		out := filepath.Join(root, "overlays", termtexttest.Hostile)
		must(t, os.MkdirAll(out, 0o755))
		must(t, os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine\n"), 0o644))
		_, err := render.Render(m, rec, render.Options{OutDir: out})
		if err == nil {
			t.Fatal("rendered over a directory graft did not write")
		}
		termtexttest.Check(t, "render's error", err.Error()+"\n", 1)
		if !strings.Contains(err.Error(), strconv.Quote(out)) {
			t.Errorf("the error does not name %q quoted:\n%s", out, err)
		}
	})
	t.Run("holds a repository", func(t *testing.T) {
		root, m, rec := copyExample(t, "cass-operator-6node")
		out := filepath.Join(root, "overlays", "x")
		git := filepath.Join(out, termtexttest.Hostile, ".git")
		must(t, os.MkdirAll(git, 0o755))
		_, err := render.Render(m, rec, render.Options{OutDir: out, Force: true})
		if err == nil {
			t.Fatal("rendered over a directory holding a repository")
		}
		termtexttest.Check(t, "render's error", err.Error()+"\n", 1)
		if !strings.Contains(err.Error(), "git repository") {
			t.Errorf("not the repository's refusal: %v", err)
		}
		if _, err := os.Stat(git); err != nil {
			t.Errorf("the repository is gone: %v", err)
		}
	})
}
