package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/spec"
)

// TestDemo runs `graft demo` as a user would and checks what it claims: the
// branch exists in the bare repository, the overlay it points at passes
// graft check, and the source volumes were never touched (the demo itself
// fails otherwise).
func TestDemo(t *testing.T) {
	work, stdout, stderr := demoOK(t)
	for _, stage := range []string{"== discover", "== plan", "== clone --phase precopy", "== clone --phase final", "== render, check and publish"} {
		if !strings.Contains(stderr, stage) {
			t.Errorf("the demo's progress lacks %q", stage)
		}
	}
	// The simulated EC2 time is the critical path of snapshots and
	// volumes (about 14 minutes); a loaded machine may add a poll
	// interval or two, never remove one.
	if m := regexp.MustCompile(`simulated EC2 time: (\S+)\)`).FindStringSubmatch(stdout); m == nil {
		t.Errorf("the demo does not report its simulated EC2 time:\n%s", stdout)
	} else if d, err := time.ParseDuration(m[1]); err != nil || d < 10*time.Minute || d > time.Hour {
		t.Errorf("simulated EC2 time %s, want 10m to 1h (%v)", m[1], err)
	}
	overlay := filepath.Join(work, "gitops", "overlays", "cassandra-demo")
	for _, want := range []string{"branch      graft/cassandra-demo", "overlay     " + overlay} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	out, err := exec.Command("git", "-C", filepath.Join(work, "gitops.git"), "rev-parse", "--verify", "refs/heads/graft/cassandra-demo").CombinedOutput()
	if err != nil {
		t.Fatalf("branch graft/cassandra-demo is not in the bare repository: %v %s", err, out)
	}
	out, err = exec.Command("git", "-C", filepath.Join(work, "gitops.git"), "ls-tree", "-r", "--name-only", "graft/cassandra-demo").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"overlays/cassandra-demo/kustomization.yaml", "overlays/cassandra-demo/graft.lock", "base/cassandra/statefulset.yaml", ".github/workflows/graft-check.yaml"} {
		if !strings.Contains(string(out), f+"\n") {
			t.Errorf("branch lacks %s; it holds:\n%s", f, out)
		}
	}
	body, err := os.ReadFile(filepath.Join(work, "pull-request.md"))
	if err != nil || !strings.Contains(string(body), "--cascade=orphan") || !strings.Contains(string(body), "data-cassandra-2") {
		t.Errorf("the demo's pull-request body lacks the members or the cut-over checklist (%v):\n%s", err, body)
	}
	code, stdout, stderr := graft(t, "check", overlay)
	if code != exitOK {
		t.Errorf("graft check %s: exit %d\n%s\n%s", overlay, code, stdout, stderr)
	}
	// A second demo into the same directory is refused, not merged.
	if code, _, stderr := graft(t, "demo", "--workdir", work); code != exitError || !strings.Contains(stderr, "is not empty") {
		t.Errorf("demo into a used workdir: exit %d %s", code, stderr)
	}
}

// demoOK runs `graft demo` with flags into a new workdir, which it
// returns with the demo's output, and fails the test unless the demo
// succeeds with a passing verdict.
func demoOK(t *testing.T, flags ...string) (work, stdout, stderr string) {
	t.Helper()
	work = filepath.Join(t.TempDir(), "demo")
	stdout, stderr = demoIn(t, work, flags...)
	return work, stdout, stderr
}

// demoIn is demoOK into the workdir work.
func demoIn(t *testing.T, work string, flags ...string) (stdout, stderr string) {
	t.Helper()
	args := append([]string{"demo", "--workdir", work}, flags...)
	code, stdout, stderr := graft(t, args...)
	if code != exitOK {
		t.Fatalf("graft %s: exit %d\n%s\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	if !strings.Contains(stdout, "verdict     pass (0 denied") {
		t.Errorf("graft %s: the output lacks a passing verdict:\n%s", strings.Join(args, " "), stdout)
	}
	return stdout, stderr
}

// BenchmarkDemo measures `graft demo` end to end (target: under 10 s).
func BenchmarkDemo(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var stdout, stderr strings.Builder
		work := filepath.Join(b.TempDir(), "demo")
		if code := run(context.Background(), []string{"demo", "--workdir", work}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
			b.Fatalf("graft demo: exit %d\n%s", code, stderr.String())
		}
	}
}

// TestDemoSpecIsData: the demo's spec holds the workdir as it is, even
// when the path has YAML syntax in it.
func TestDemoSpecIsData(t *testing.T) {
	for _, repo := range []string{"/tmp/a: b #c/gitops.git", "/tmp/'x\" y/[z]/gitops.git", "/tmp/plain/gitops.git"} {
		m, err := spec.Parse(specWithRepo(demoSpec, repo))
		if err != nil {
			t.Fatalf("repo %q: %v\n%s", repo, err, specWithRepo(demoSpec, repo))
		}
		if m.Spec.GitOps.Repo != repo {
			t.Errorf("spec.gitops.repo = %q, want %q", m.Spec.GitOps.Repo, repo)
		}
	}
	if !bytes.HasPrefix(specWithRepo(demoSpec, "/r"), []byte("# graft demo:")) {
		t.Errorf("the demo spec lost its comments:\n%s", specWithRepo(demoSpec, "/r"))
	}
}

// TestDemoInAWorkdirWithYAMLSyntax runs the demo in a directory whose name
// would break a templated spec.
func TestDemoInAWorkdirWithYAMLSyntax(t *testing.T) {
	demoIn(t, filepath.Join(t.TempDir(), "a: b #c"))
}

// TestDemoSuggestsTheGraftItRan: the commands the demo suggests run this
// graft: after make demo (bin/graft, not on PATH) they say bin/graft;
// "graft" when that is this binary on PATH, or when graft was found on
// PATH in the first place.
func TestDemoSuggestsTheGraftItRan(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "graft")
	other := filepath.Join(dir, "other", "graft")
	for _, p := range []string{bin, other} {
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(p), 0o755))
	}
	relative := filepath.Join("bin", "graft")
	t.Chdir(dir)
	found := func(p string) func(string) (string, error) {
		return func(string) (string, error) { return p, nil }
	}
	notFound := func(string) (string, error) { return "", exec.ErrNotFound }
	executable := func() (string, error) { return bin, nil }
	for _, c := range []struct {
		arg0   string
		lookup func(string) (string, error)
		want   string
	}{
		{relative, notFound, relative},
		{relative, found(other), relative},
		{relative, found(bin), "graft"},
		{bin, found(bin), "graft"},
		{"graft", notFound, "graft"},
		{filepath.Join(dir, "graft.test"), notFound, "graft"},
	} {
		if got := selfCommand(c.arg0, executable, c.lookup); got != c.want {
			t.Errorf("started as %s: suggests %q, expected %q", c.arg0, got, c.want)
		}
	}
}
