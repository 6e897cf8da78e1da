// Package testkit holds the helpers every graft test shares: Must, and a
// hermetic git (a fixed identity, no global or system config, bounded in
// time) with the seeding of a repository whose main branch has one commit.
package testkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Must fails the test when err is not nil.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WriteFile writes data to path, creating its directory, and fails the
// test on an error.
func WriteFile(t testing.TB, path, data string) {
	t.Helper()
	Must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	Must(t, os.WriteFile(path, []byte(data), 0o644))
}

// CopyDir copies the tree src to dst, which must not exist yet or hold
// none of src's files, and fails the test on an error.
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	Must(t, os.CopyFS(dst, os.DirFS(src)))
}

// ExitCode runs cmd (its output goes where the caller set it) and returns
// its exit code; an error other than a non-zero exit fails the test.
func ExitCode(t testing.TB, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode()
	default:
		t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
		return -1
	}
}

// The identity of every commit the helpers make, and of IsolateGit's
// configuration.
const (
	GitName  = "Test Operator"
	GitEmail = "operator@example.com"
)

// GitTimeout bounds one git command the helpers run.
var GitTimeout = 2 * time.Minute

// NeedGit skips the test when git is not installed.
func NeedGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
}

// IsolateGit gives every git this test runs (the code under test's too) a
// private global config and no system config: the default branch is main,
// file remotes are allowed and, when identity is true, user.name and
// user.email are GitName and GitEmail. It clears the GIT_* variables that
// would override them. It uses t.Setenv, so the test cannot be parallel.
func IsolateGit(t testing.TB, identity bool) {
	t.Helper()
	NeedGit(t)
	cfg := filepath.Join(t.TempDir(), "gitconfig")
	text := "[init]\n\tdefaultBranch = main\n[protocol \"file\"]\n\tallow = always\n"
	if identity {
		text += fmt.Sprintf("[user]\n\tname = %s\n\temail = %s\n", GitName, GitEmail)
	}
	Must(t, os.WriteFile(cfg, []byte(text), 0o644))
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); overrides(k) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("GIT_CONFIG_GLOBAL", cfg)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
}

// overrides reports whether an environment variable changes what git reads
// or who it says commits: any GIT_* one, and EMAIL.
func overrides(k string) bool { return strings.HasPrefix(k, "GIT_") || k == "EMAIL" }

// gitEnv is env without the variables that override git, plus a hermetic
// git's: no global or system config, no prompts.
func gitEnv(env []string) []string {
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return overrides(k)
	})
	return append(env, "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
}

// gitConfig comes before a command's own arguments, so a "-c" of the
// caller's (a commit as another user) overrides it.
var gitConfig = []string{
	"-c", "user.name=" + GitName, "-c", "user.email=" + GitEmail,
	"-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always",
}

// GitErr runs a hermetic git in dir ("" is the current directory): the
// process's environment without its GIT_* variables, plus env; no global or
// system config; user.name and user.email are GitName and GitEmail. It
// returns the trimmed combined output. The command is stopped after
// GitTimeout or when the test ends.
func GitErr(t testing.TB, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), GitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append(slices.Clone(gitConfig), args...)...)
	cmd.Dir = dir
	cmd.Env = append(gitEnv(os.Environ()), env...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = errors.Join(err, fmt.Errorf("git %s: stopped after %v: %w", strings.Join(args, " "), GitTimeout, ctx.Err()))
	}
	return strings.TrimSpace(string(out)), err
}

// Git is GitErr without extra environment that fails the test on an error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := GitErr(t, dir, nil, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Tree is what a seeded repository's first commit holds: Dirs maps a path in
// the repository to a directory copied there, Files a path to its content.
type Tree struct {
	Dirs  map[string]string
	Files map[string]string
}

// SeedRepo makes dir (created if missing) a git repository whose branch
// main has one commit, "base", holding tree.
func SeedRepo(t testing.TB, dir string, tree Tree) {
	t.Helper()
	NeedGit(t)
	Must(t, os.MkdirAll(dir, 0o755))
	Git(t, dir, "init", "--quiet", "--initial-branch=main")
	for dst, src := range tree.Dirs {
		CopyDir(t, src, filepath.Join(dir, dst))
	}
	for path, content := range tree.Files {
		WriteFile(t, filepath.Join(dir, path), content)
	}
	Git(t, dir, "add", ".")
	Git(t, dir, "commit", "--quiet", "-m", "base")
}

// SeedRemote creates the bare repository bare and a seed clone of it in a
// temporary directory, whose origin is bare; main holds tree and is pushed.
// It returns the seed's directory, for a test that plays "someone else".
func SeedRemote(t testing.TB, bare string, tree Tree) (seed string) {
	t.Helper()
	NeedGit(t)
	Git(t, "", "init", "--quiet", "--bare", "--initial-branch=main", bare)
	seed = filepath.Join(t.TempDir(), "seed")
	SeedRepo(t, seed, tree)
	Git(t, seed, "remote", "add", "origin", bare)
	Git(t, seed, "push", "--quiet", "origin", "main")
	return seed
}

// ReportCPU starts measuring the CPU time of b's iterations; the func it
// returns reports it as cpu-s/op (defer it once the set-up is done).
func ReportCPU(b *testing.B) func() {
	c0 := CPUTime()
	return func() { b.ReportMetric((CPUTime()-c0).Seconds()/float64(b.N), "cpu-s/op") }
}
