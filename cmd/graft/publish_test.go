package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/publish"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
	"github.com/graftctl/graft/internal/testkit"
)

// publishEnv gives git a private config and returns a bare GitOps remote
// whose main branch holds base/, plus the spec of an example tree.
func publishEnv(t *testing.T) (bare, specPath string) {
	t.Helper()
	testkit.IsolateGit(t, true)
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("GITEA_TOKEN", "")
	root, specPath := exampleTree(t, "cassandra-3node")
	bare = filepath.Join(t.TempDir(), "gitops.git")
	testkit.SeedRemote(t, bare, testkit.Tree{Dirs: map[string]string{"base": filepath.Join(root, "base")}})
	return bare, specPath
}

// pubGit runs a hermetic git and fails the test on an error.
var pubGit = testkit.Git

func TestPublish(t *testing.T) {
	bare, specPath := publishEnv(t)
	code, stdout, stderr := graft(t, "--spec", specPath, "publish", "--repo", bare)
	if code != exitOK {
		t.Fatalf("publish: exit %d\n%s\n%s", code, stdout, stderr)
	}
	head := pubGit(t, bare, "rev-parse", "graft/cassandra-3node")
	for _, want := range []string{"branch:       graft/cassandra-3node (pushed)", "commit:       " + head, "check:        pass", "pull request: none (provider none)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = graft(t, "--spec", specPath, "publish", "--repo", bare, "-o", "json")
	var res struct {
		Branch, Commit string
		Committed      bool
		Pushed         bool
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &res) != nil {
		t.Fatalf("publish -o json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if res.Branch != "graft/cassandra-3node" || res.Commit != head || res.Committed || res.Pushed {
		t.Errorf("re-publish: %+v, want no new commit at %s", res, head)
	}
}

// TestPublishBadInput: each gives a clear message and exit 2, and no token
// is printed.
func TestPublishBadInput(t *testing.T) {
	const token = "ghp_NeverPrintThisToken0123456789"
	cases := []struct {
		name  string
		setup func(t *testing.T, bare, specPath string) []string
		want  []string
	}{
		{"dirty working copy", func(t *testing.T, bare, _ string) []string {
			wc := filepath.Join(t.TempDir(), "wc")
			pubGit(t, "", "clone", "--quiet", bare, wc)
			must(t, os.WriteFile(filepath.Join(wc, "base", "service.yaml"), []byte("edited\n"), 0o644))
			return []string{"--repo", wc}
		}, []string{"uncommitted changes", "base/service.yaml"}},
		{"missing base branch", func(t *testing.T, bare, _ string) []string {
			return []string{"--repo", bare, "--base-branch", "production"}
		}, []string{"base branch does not exist", `"production"`}},
		{"rejected push", func(t *testing.T, bare, _ string) []string {
			must(t, os.WriteFile(filepath.Join(bare, "hooks", "pre-receive"), []byte("#!/bin/sh\necho 'protected branch hook declined' >&2\nexit 1\n"), 0o755))
			return []string{"--repo", bare}
		}, []string{"the push was rejected", "protected branch hook declined", "never force-pushes"}},
		{"API error", func(t *testing.T, bare, _ string) []string {
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"message":"Bad credentials for ` + r.Header.Get("Authorization") + `","documentation_url":"https://docs.github.com/rest","status":"401"}`))
			}))
			t.Cleanup(api.Close)
			t.Setenv("GITHUB_TOKEN", token)
			t.Setenv("GITHUB_API_URL", api.URL)
			// A github.com-style remote URL that git maps to the bare repo.
			t.Setenv("GIT_CONFIG_COUNT", "1")
			t.Setenv("GIT_CONFIG_KEY_0", "url."+bare+".insteadOf")
			t.Setenv("GIT_CONFIG_VALUE_0", "https://github.com/octo-org/gitops.git")
			return []string{"--repo", "https://github.com/octo-org/gitops.git", "--provider", "github"}
		}, []string{"github API", "401 Unauthorized", "Bad credentials", "is pushed"}},
		{"missing token", func(t *testing.T, bare, _ string) []string {
			return []string{"--repo", "https://github.com/octo-org/gitops.git", "--provider", "github"}
		}, []string{"set GITHUB_TOKEN"}},
		{"no repository", func(t *testing.T, _, _ string) []string { return nil }, []string{"no GitOps repository"}},
		{"bad provider", func(t *testing.T, bare, _ string) []string {
			return []string{"--repo", bare, "--provider", "bitbucket"}
		}, []string{`--provider: "bitbucket"`}},
		{"not a repository", func(t *testing.T, _, _ string) []string {
			return []string{"--repo", t.TempDir()}
		}, []string{"not a git repository"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bare, specPath := publishEnv(t)
			args := append([]string{"--spec", specPath, "publish"}, c.setup(t, bare, specPath)...)
			code, stdout, stderr := graft(t, args...)
			if code != exitError {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitError, stdout, stderr)
			}
			for _, want := range c.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stdout+stderr, token) {
				t.Fatalf("the token is printed:\n%s\n%s", stdout, stderr)
			}
		})
	}
}

// publishPinnedToZone pushes to the GitOps repository a base whose pods
// are pinned to zone (the policies deny it, GRAFT022: pods pinned to one
// zone cannot reach the volumes of the others; render does not look), and
// runs graft publish on it.
func publishPinnedToZone(t *testing.T, zone string) (bare string, code int, stdout, stderr string) {
	t.Helper()
	bare, specPath := publishEnv(t)
	sts := filepath.Join(filepath.Dir(specPath), "base", "statefulset.yaml")
	wc := filepath.Join(t.TempDir(), "wc")
	pubGit(t, "", "clone", "--quiet", bare, wc)
	data, err := os.ReadFile(sts)
	must(t, err)
	pin := "    spec:\n      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms:\n              - matchExpressions:\n                  - {key: topology.kubernetes.io/zone, operator: In, values: [" + zone + "]}\n"
	data = []byte(strings.Replace(string(data), "    spec:\n", pin, 1))
	must(t, os.WriteFile(filepath.Join(wc, "base", "statefulset.yaml"), data, 0o644))
	pubGit(t, wc, "commit", "--quiet", "-am", "pin to one zone")
	pubGit(t, wc, "push", "--quiet", "origin", "main")
	code, stdout, stderr = graft(t, "--spec", specPath, "publish", "--repo", bare)
	return bare, code, stdout, stderr
}

// TestPublishDenied: an overlay the policies deny is a finding (exit 1)
// and is not pushed.
func TestPublishDenied(t *testing.T) {
	bare, code, stdout, stderr := publishPinnedToZone(t, "us-east-1a")
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	if !strings.Contains(stderr, "denied the overlay") || !strings.Contains(stderr, "GRAFT022") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if out, err := testkit.GitErr(t, bare, nil, "rev-parse", "--verify", "--quiet", "refs/heads/graft/cassandra-3node"); err == nil {
		t.Fatalf("a denied overlay was pushed: %s", out)
	}
}

// TestPublishDeniedHostileValues: the denied findings publish lists name
// what the repository holds (here a zone of the base's node affinity,
// with a newline and escape sequences): they add no line to stderr and no
// raw control byte; the list has as many lines as with a plain zone.
func TestPublishDeniedHostileValues(t *testing.T) {
	deny := func(zone string) string {
		_, code, stdout, stderr := publishPinnedToZone(t, zone)
		if code != exitFinding || !strings.Contains(stderr, "GRAFT022") {
			t.Fatalf("exit %d, want %d and GRAFT022\n%s\n%s", code, exitFinding, stdout, stderr)
		}
		return stderr
	}
	plain := deny("us-east-1x") // denies all three members, as the hostile zone does
	hostile := deny(`"us-east-1a\n✓ published\r\e[2K\e[1A\u009b2J\u202e"`)
	if !strings.Contains(hostile, "✓ published") {
		t.Fatalf("the hostile zone is not named, so the test shows nothing:\n%s", hostile)
	}
	termtexttest.Check(t, "publish's denied findings", hostile, strings.Count(plain, "\n"))
}

// TestPrintPublishedEscapesTheForgesURL: the pull request's URL is the
// forge's answer; it cannot add a line to publish's summary or drive the
// terminal.
func TestPrintPublishedEscapesTheForgesURL(t *testing.T) {
	var out bytes.Buffer
	res := &publish.Result{Branch: "graft/m", BaseBranch: "main", Commit: "abc", Verdict: publish.Verdict{Source: "graft check"},
		PullRequest: &publish.PullRequest{Number: 7, URL: "https://forge/pr/7" + termtexttest.Hostile, Created: true}}
	must(t, printPublished(&env{stdout: &out}, res))
	termtexttest.Check(t, "publish summary", out.String(), 5)
}
