package main

import (
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
	var wf struct {
		Jobs map[string]struct {
			Steps []struct{ Name, Run string }
		}
	}
	if err := yaml.Unmarshal([]byte(stdout), &wf); err != nil {
		t.Fatal(err)
	}
	var script string
	for _, s := range wf.Jobs["graft-check"].Steps {
		if s.Name == "Find changed overlays" {
			script = s.Run
		}
	}
	if script == "" {
		t.Fatalf("no Find changed overlays step:\n%s", stdout)
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
}
