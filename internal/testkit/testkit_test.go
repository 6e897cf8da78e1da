package testkit

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose Fatal records instead of stopping.
type recorder struct {
	testing.TB
	fatal []string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatal(args ...any) {
	r.fatal = append(r.fatal, strings.TrimSpace(strings.Repeat("%v ", len(args))))
}
func (r *recorder) Fatalf(string, ...any) { r.fatal = append(r.fatal, "fatalf") }

func TestMust(t *testing.T) {
	r := &recorder{TB: t}
	Must(r, nil)
	if len(r.fatal) != 0 {
		t.Fatalf("Must(nil) failed the test: %v", r.fatal)
	}
	Must(r, errors.New("boom"))
	if len(r.fatal) != 1 {
		t.Fatalf("Must(err) called Fatal %d times, want 1", len(r.fatal))
	}
}

func TestWriteFileAndCopyDir(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	WriteFile(t, filepath.Join(src, "a", "b", "c.txt"), "c\n")
	WriteFile(t, filepath.Join(src, "d.txt"), "d")
	dst := filepath.Join(t.TempDir(), "dst")
	CopyDir(t, src, dst)
	for path, want := range map[string]string{"a/b/c.txt": "c\n", "d.txt": "d"} {
		if got, err := os.ReadFile(filepath.Join(dst, path)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v, want %q", path, got, err, want)
		}
	}
	// The recorder does not stop at Fatal: count the calls that failed.
	r1, r2 := &recorder{TB: t}, &recorder{TB: t}
	CopyDir(r1, src, dst) // dst holds src's files now
	WriteFile(r2, filepath.Join(dst, "d.txt", "x"), "under a file")
	if len(r1.fatal) == 0 || len(r2.fatal) == 0 {
		t.Errorf("copying over existing files (%d) and writing under a file (%d) did not fail the test", len(r1.fatal), len(r2.fatal))
	}
}

func TestExitCode(t *testing.T) {
	NeedGit(t)
	if code := ExitCode(t, exec.Command("git", "--version")); code != 0 {
		t.Errorf("git --version: exit %d", code)
	}
	if code := ExitCode(t, exec.Command("git", "no-such-command")); code == 0 || code == -1 {
		t.Errorf("git no-such-command: exit %d, want git's non-zero code", code)
	}
	r := &recorder{TB: t}
	if code := ExitCode(r, exec.Command(filepath.Join(t.TempDir(), "missing"))); code != -1 || len(r.fatal) != 1 {
		t.Errorf("a command that cannot start: exit %d, %d Fatalf calls, want -1 and 1", code, len(r.fatal))
	}
}

// hostileGlobal points GIT_CONFIG_GLOBAL (and HOME) at a config that names
// another user and would make every commit fail (an absent signing key),
// as a developer's own config might.
func hostileGlobal(t *testing.T) {
	home := t.TempDir()
	cfg := "[user]\n\tname = Leaked\n\temail = leaked@example.com\n[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = /nonexistent/gpg\n"
	Must(t, os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(cfg), 0o644))
	t.Setenv("HOME", home)
	t.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(home, ".gitconfig"))
	t.Setenv("GIT_AUTHOR_NAME", "Leaked")
	t.Setenv("GIT_DIR", filepath.Join(home, "nowhere"))
}

func TestSeedRemoteIsHermetic(t *testing.T) {
	NeedGit(t)
	hostileGlobal(t)
	src := t.TempDir()
	Must(t, os.WriteFile(filepath.Join(src, "a.yaml"), []byte("a: 1\n"), 0o644))
	Must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	Must(t, os.WriteFile(filepath.Join(src, "sub", "b.yaml"), []byte("b: 2\n"), 0o644))
	bare := filepath.Join(t.TempDir(), "remote.git")
	seed := SeedRemote(t, bare, Tree{Dirs: map[string]string{"base": src}, Files: map[string]string{"README.md": "# r\n", "x/y.txt": "y"}})

	if got := Git(t, bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", "main"); got != GitName+" <"+GitEmail+">|"+GitName+" <"+GitEmail+">|base" {
		t.Errorf("main's commit: %q, want the fixed identity and subject base", got)
	}
	if got := Git(t, bare, "ls-tree", "-r", "--name-only", "main"); got != "README.md\nbase/a.yaml\nbase/sub/b.yaml\nx/y.txt" {
		t.Errorf("main holds:\n%s", got)
	}
	if got := Git(t, bare, "show", "main:base/sub/b.yaml"); got != "b: 2" {
		t.Errorf("base/sub/b.yaml on main: %q", got)
	}
	if got := Git(t, seed, "rev-parse", "--abbrev-ref", "HEAD"); got != "main" {
		t.Errorf("seed is on %q, want main", got)
	}
	if got := Git(t, seed, "remote", "get-url", "origin"); got != bare {
		t.Errorf("seed's origin: %q, want %q", got, bare)
	}
	if out, err := GitErr(t, seed, nil, "config", "--global", "user.name"); err == nil {
		t.Errorf("git read the global config: user.name %q", out)
	}
	// A caller's -c wins over the fixed identity.
	Must(t, os.WriteFile(filepath.Join(seed, "c"), []byte("c"), 0o644))
	Git(t, seed, "add", "c")
	Git(t, seed, "-c", "user.name=Other", "commit", "--quiet", "-m", "c")
	if got := Git(t, seed, "log", "-1", "--format=%an"); got != "Other" {
		t.Errorf("commit with -c user.name=Other is by %q", got)
	}
}

func TestGitFailsAndIsBounded(t *testing.T) {
	NeedGit(t)
	r := &recorder{TB: t}
	Git(r, t.TempDir(), "rev-parse", "--verify", "refs/heads/none")
	if len(r.fatal) != 1 {
		t.Errorf("a failing git called Fatalf %d times, want 1", len(r.fatal))
	}
	defer func(d time.Duration) { GitTimeout = d }(GitTimeout)
	GitTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := GitErr(t, t.TempDir(), nil, "-c", "alias.hang=!sleep 30", "hang")
	if err == nil || !strings.Contains(err.Error(), "stopped after 300ms") {
		t.Errorf("a hanging git: %v, want it stopped after 300ms", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a hanging git took %v to stop", d)
	}
}

func TestIsolateGit(t *testing.T) {
	hostileGlobal(t)
	for _, identity := range []bool{true, false} {
		t.Run(map[bool]string{true: "identity", false: "no identity"}[identity], func(t *testing.T) {
			IsolateGit(t, identity)
			if os.Getenv("GIT_AUTHOR_NAME") != "" || os.Getenv("GIT_DIR") != "" || os.Getenv("GIT_CONFIG_NOSYSTEM") != "1" {
				t.Errorf("environment not isolated: GIT_AUTHOR_NAME=%q GIT_DIR=%q GIT_CONFIG_NOSYSTEM=%q",
					os.Getenv("GIT_AUTHOR_NAME"), os.Getenv("GIT_DIR"), os.Getenv("GIT_CONFIG_NOSYSTEM"))
			}
			// The code under test runs git itself, with the process's environment.
			name, _ := exec.Command("git", "config", "--global", "user.name").Output()
			branch, _ := exec.Command("git", "config", "--global", "init.defaultBranch").Output()
			want := map[bool]string{true: GitName, false: ""}[identity]
			if got := strings.TrimSpace(string(name)); got != want {
				t.Errorf("global user.name: %q, want %q", got, want)
			}
			if got := strings.TrimSpace(string(branch)); got != "main" {
				t.Errorf("global init.defaultBranch: %q, want main", got)
			}
		})
	}
}

func TestWantDeadlineOnFIFO(t *testing.T) {
	// A reader that honours the context passes.
	WantDeadlineOnFIFO(t, "ok.yaml", func(ctx context.Context, path string) error {
		<-ctx.Done()
		return ctx.Err()
	})
	// One that returns another error, or does not wait, fails the test.
	for name, read := range map[string]func(context.Context, string) error{
		"another error": func(context.Context, string) error { return os.ErrNotExist },
		"no error":      func(context.Context, string) error { return nil },
	} {
		r := &recorder{TB: t}
		WantDeadlineOnFIFO(r, "x", read)
		if len(r.fatal) != 1 {
			t.Errorf("%s: Fatalf called %d times, want 1", name, len(r.fatal))
		}
	}
	fifo := filepath.Join(t.TempDir(), "f")
	Mkfifo(t, fifo)
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("Mkfifo made %v, %v, want a named pipe", fi, err)
	}
}
