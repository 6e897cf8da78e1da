package publish

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/spec"
)

func TestGitEnvSSHBatchMode(t *testing.T) {
	want := "GIT_SSH_COMMAND=" + batchSSH
	for _, tc := range []struct {
		name    string
		osEnv   map[string]string
		gitEnv  []string
		userSSH bool
		want    string // GIT_SSH_COMMAND as git sees it
	}{
		{name: "nothing set", want: batchSSH},
		{name: "GIT_SSH_COMMAND set", osEnv: map[string]string{"GIT_SSH_COMMAND": "ssh -i key"}, want: "ssh -i key"},
		{name: "GIT_SSH set", osEnv: map[string]string{"GIT_SSH": "/usr/bin/plink"}, want: ""},
		{name: "core.sshCommand set", userSSH: true, want: ""},
		{name: "GitEnv sets GIT_SSH", gitEnv: []string{"GIT_SSH=/bin/myssh"}, want: ""},
		{name: "empty GIT_SSH_COMMAND is unset", osEnv: map[string]string{"GIT_SSH_COMMAND": ""}, want: batchSSH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"GIT_SSH_COMMAND", "GIT_SSH"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tc.osEnv {
				t.Setenv(k, v)
			}
			g := &git{env: tc.gitEnv, userSSH: tc.userSSH}
			env := g.environ()
			if got := lookupEnv(env, "GIT_SSH_COMMAND"); got != tc.want {
				t.Errorf("GIT_SSH_COMMAND = %q, want %q", got, tc.want)
			}
			added := false
			for _, kv := range env {
				added = added || kv == want
			}
			if added != (tc.want == batchSSH) {
				t.Errorf("graft's %s added: %v", want, added)
			}
			if lookupEnv(env, "GIT_TERMINAL_PROMPT") != "0" {
				t.Error("GIT_TERMINAL_PROMPT=0 is missing")
			}
		})
	}
}

// fakeGit writes a git wrapper that records GIT_SSH_COMMAND in log and runs
// the real git.
func fakeGit(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "git")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPublishRunsGitWithBatchSSH(t *testing.T) {
	hermeticGit(t, true)
	for _, k := range []string{"GIT_SSH_COMMAND", "GIT_SSH"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	real, err := exec.LookPath("git")
	if err != nil {
		t.Skip(err)
	}
	log := filepath.Join(t.TempDir(), "ssh.log")
	bin := fakeGit(t, `echo "$1 ssh=[$GIT_SSH_COMMAND]" >> '`+log+`'; exec '`+real+`' "$@"`)
	r := newRemote(t)
	m, rec := example(t, r.bare)
	mustPublish(t, m, rec, Options{Checker: &buildChecker{}, Git: bin})
	data, _ := os.ReadFile(log)
	if !strings.Contains(string(data), "push ssh=["+batchSSH+"]") {
		t.Fatalf("git push ran without %s:\n%s", batchSSH, data)
	}

	// The user's core.sshCommand wins: graft adds nothing.
	os.Remove(log)
	wc := r.clone(t)
	gitT(t, wc, "config", "core.sshCommand", "ssh -i my-key")
	rec.Volumes[0].Snapshots[spec.PhaseFinal] = "snap-0123456789abcdef0"
	m.Spec.GitOps.Repo = wc
	mustPublish(t, m, rec, Options{Checker: &buildChecker{}, Git: bin})
	data, _ = os.ReadFile(log)
	// (Local commands before graft reads core.sshCommand may carry it;
	// they never run ssh.)
	for _, cmd := range []string{"ls-remote", "fetch", "push"} {
		if !strings.Contains(string(data), cmd+" ssh=[]\n") || strings.Contains(string(data), cmd+" ssh=["+batchSSH) {
			t.Fatalf("graft overrode core.sshCommand for git %s:\n%s", cmd, data)
		}
	}
}

func TestGitTimeout(t *testing.T) {
	bin := fakeGit(t, "exec sleep 30")
	g := &git{bin: bin, dir: t.TempDir(), timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err := g.run(context.Background(), "fetch", "origin")
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("git ran for %s past its 200ms timeout", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "git fetch origin") || !strings.Contains(err.Error(), "200ms") {
		t.Fatalf("err = %v, want a timeout naming the command and the limit", err)
	}

	// Through Publish, with Options.GitTimeout.
	hermeticGit(t, true)
	r := newRemote(t)
	m, rec := example(t, r.bare)
	start = time.Now()
	_, err = Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, Git: bin, GitTimeout: 200 * time.Millisecond})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("publish with a hanging git: %v after %s", err, time.Since(start))
	}
}
