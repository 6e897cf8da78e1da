package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/internal/testkit"
)

// TestPrintWorkflowGatesSplitOverlays runs the workflow's "Find changed
// overlays" step in a repository with a split overlay: a change inside one
// of its storage roots checks the migration's directory (every root, as one
// input), never the root alone; with no base to compare, every overlay is
// listed once, its roots not apart.
func TestPrintWorkflowGatesSplitOverlays(t *testing.T) {
	testkit.IsolateGit(t, true)
	code, stdout, _ := graftIn(t, nil, "check", "--print-workflow")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	script := workflowStep(t, stdout, "graft-check", "Find changed overlays")
	// preflight's workflow finds overlays with the very same script.
	_, preflightWorkflow, _ := graftIn(t, nil, "preflight", "--print-workflow")
	if got := workflowStep(t, preflightWorkflow, "graft-preflight", "Find changed overlays"); strings.Replace(got, "to preflight:", "to check:", 1) != script {
		t.Errorf("preflight's workflow finds overlays otherwise than check's:\n%s", got)
	}
	repo := t.TempDir()
	marker := render.Marker + " Migration big: edit graft.yaml.\nresources: []\n"
	for name, data := range map[string]string{
		"overlays/big/kustomization.yaml":             marker,
		"overlays/big/storage-001/kustomization.yaml": marker,
		"overlays/big/storage-002/kustomization.yaml": marker,
		"overlays/small/kustomization.yaml":           strings.Replace(marker, "big", "small", 1),
		"apps/kustomization.yaml":                     "resources: []\n",
	} {
		testkit.WriteFile(t, filepath.Join(repo, name), data)
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-qm", "base")
	base := git("rev-parse", "HEAD")
	testkit.WriteFile(t, filepath.Join(repo, "overlays/big/storage-002/persistentvolumes.yaml"), "[]\n")
	git("add", "-A")
	git("commit", "-qm", "change")
	run := func(baseSHA string) string {
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "BASE_SHA="+baseSHA, "GITHUB_SHA="+git("rev-parse", "HEAD"),
			"GITHUB_EVENT_NAME=pull_request", "GITHUB_OUTPUT="+filepath.Join(t.TempDir(), "out"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the step failed: %v\n%s", err, out)
		}
		data, err := os.ReadFile(filepath.Join(repo, "overlays.txt"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := run(base); got != "overlays/big\n" {
		t.Errorf("a change in a storage root: overlays to check %q, want the migration's directory only", got)
	}
	if got := run(""); got != "overlays/big\noverlays/small\n" {
		t.Errorf("no base: overlays to check %q, want every overlay once", got)
	}

	// What a change may do to an overlay, each against the commit before
	// it: the overlay is checked wherever it was or is graft's.
	testkit.WriteFile(t, filepath.Join(repo, "overlays/café/kustomization.yaml"), strings.Replace(marker, "big", "cafe", 1))
	git("add", "-A")
	git("commit", "-qm", "an overlay whose path git quotes")
	for _, tc := range []struct {
		what string
		edit func()
		want string
	}{
		{"a path git quotes", func() { testkit.WriteFile(t, filepath.Join(repo, "overlays/café/persistentvolumes.yaml"), "[]\n") }, "overlays/café\n"},
		{"the marker dropped", func() {
			testkit.WriteFile(t, filepath.Join(repo, "overlays/small/kustomization.yaml"), "resources: []\n")
		}, "overlays/small\n"},
		{"the overlay moved", func() { must(t, os.Mkdir(filepath.Join(repo, "moved"), 0o755)); git("mv", "overlays/big", "moved/big") }, "moved/big\noverlays/big\n"},
		{"the overlay deleted", func() { git("rm", "-rq", "overlays/café") }, "overlays/café\n"},
	} {
		before := git("rev-parse", "HEAD")
		tc.edit()
		git("add", "-A")
		git("commit", "-qm", tc.what)
		if got := run(before); got != tc.want {
			t.Errorf("%s: overlays to check %q, want %q", tc.what, got, tc.want)
		}
	}
}

// TestWorkflowFailsOnARemovedOverlay runs the workflow's "graft check" step
// on a list that names an overlay the change removed: the step fails with
// an annotation that says so, and checks the others (a stand-in graft that
// passes records them).
func TestWorkflowFailsOnARemovedOverlay(t *testing.T) {
	code, stdout, _ := graftIn(t, nil, "check", "--print-workflow")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	script := workflowStep(t, stdout, "graft-check", "graft check")
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "overlays/kept/kustomization.yaml"), "resources: []\n")
	testkit.WriteFile(t, filepath.Join(dir, "overlays.txt"), "overlays/gone\noverlays/kept\n")
	bin := filepath.Join(t.TempDir(), "bin")
	testkit.WriteFile(t, filepath.Join(bin, "graft"), "#!/bin/sh\necho \"$@\" >> \"$CALLS\"\n")
	must(t, os.Chmod(filepath.Join(bin, "graft"), 0o755))
	calls := filepath.Join(t.TempDir(), "calls")
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "CALLS="+calls, "GITHUB_STEP_SUMMARY="+filepath.Join(t.TempDir(), "summary"))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "::error title=graft overlay removed::overlays/gone is a graft overlay in the base and this change removes it") {
		t.Errorf("the step passed a removed overlay, or said nothing of it: %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(calls); string(data) != "check overlays/kept -o github\ncheck overlays/kept -o text\n" {
		t.Errorf("graft ran as %q, want the kept overlay checked", data)
	}
}

// workflowStep is the run script of a job's step.
func workflowStep(t *testing.T, workflow, job, name string) string {
	t.Helper()
	var wf struct {
		Jobs map[string]struct {
			Steps []struct{ Name, Run string }
		}
	}
	if err := yaml.Unmarshal([]byte(workflow), &wf); err != nil {
		t.Fatal(err)
	}
	for _, s := range wf.Jobs[job].Steps {
		if s.Name == name {
			return s.Run
		}
	}
	t.Fatalf("no step %q:\n%s", name, workflow)
	return ""
}
