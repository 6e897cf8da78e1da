package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPublishRemoteFlag: graft publish --remote pushes a working copy's
// branch to the remote it names, and only there; a name that is not one of
// the working copy's remotes is exit 2 with the flag, the value and the
// remotes that exist.
func TestPublishRemoteFlag(t *testing.T) {
	bare, specPath := publishEnv(t)
	fork := filepath.Join(t.TempDir(), "fork.git")
	pubGit(t, "", "clone", "--quiet", "--bare", bare, fork)
	wc := filepath.Join(t.TempDir(), "wc")
	pubGit(t, "", "clone", "--quiet", bare, wc)
	pubGit(t, wc, "remote", "add", "fork", fork)

	code, stdout, stderr := graft(t, "--spec", specPath, "publish", "--repo", wc, "--remote", "upstream")
	if code != exitError {
		t.Fatalf("--remote upstream: exit %d, want %d\n%s\n%s", code, exitError, stdout, stderr)
	}
	for _, want := range []string{"--remote", `"upstream"`, "fork, origin"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	code, stdout, stderr = graft(t, "--spec", specPath, "publish", "--repo", wc, "--remote", "fork")
	if code != exitOK {
		t.Fatalf("--remote fork: exit %d\n%s\n%s", code, stdout, stderr)
	}
	head := pubGit(t, fork, "rev-parse", "graft/cassandra-3node")
	if !strings.Contains(stdout, "commit:       "+head) {
		t.Errorf("stdout does not name fork's head %s:\n%s", head, stdout)
	}
	if out := pubGit(t, bare, "branch", "--list", "graft/*"); out != "" {
		t.Errorf("origin got %q though --remote named fork", out)
	}
}

// TestRunRemoteFlag: graft run takes --remote too (it delivers as publish
// does).
func TestRunRemoteFlag(t *testing.T) {
	code, stdout, stderr := graft(t, "run", "--help")
	if !strings.Contains(stdout+stderr, "--remote") {
		t.Errorf("graft run --help (exit %d) does not list --remote:\n%s%s", code, stdout, stderr)
	}
}
