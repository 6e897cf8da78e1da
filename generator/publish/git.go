package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
)

// git runs the git command line in one directory. No shell is involved;
// the user's configuration, credential helpers, hooks and signing apply,
// as they do for Kargo and Argo CD. Prompts are turned off, so a missing
// credential is an error instead of a hang.
type git struct {
	bin    string
	dir    string
	env    []string
	redact *redactor
	log    *slog.Logger
}

// gitError is a failed git command. Its message holds the command and what
// git said, redacted.
type gitError struct {
	args   []string
	stdout string
	stderr string
	code   int
	err    error
}

func (e *gitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if msg == "" {
		msg = strings.TrimSpace(e.stdout)
	}
	if msg == "" {
		msg = e.err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.args, " "), msg)
}

func (e *gitError) Unwrap() error { return e.err }

// exitCode returns git's exit code, or -1 if err is not a git exit.
func exitCode(err error) int {
	var ge *gitError
	if errors.As(err, &ge) {
		return ge.code
	}
	return -1
}

func (g *git) in(dir string) *git {
	c := *g
	c.dir = dir
	return &c
}

func (g *git) environ() []string {
	env := append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "LANGUAGE=")
	return append(env, g.env...)
}

// run runs git and returns its trimmed standard output.
func (g *git) run(ctx context.Context, args ...string) (string, error) {
	out, _, err := g.run2(ctx, args...)
	return strings.TrimSpace(out), err
}

// run2 runs git and returns its standard output and standard error, both
// redacted.
func (g *git) run2(ctx context.Context, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, g.bin, args...)
	cmd.Dir = g.dir
	cmd.Env = g.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	so, se := g.redact.String(stdout.String()), g.redact.String(stderr.String())
	safeArgs := make([]string, len(args))
	for i, a := range args {
		safeArgs[i] = g.redact.String(a)
	}
	if g.log != nil {
		g.log.Debug("git", "args", strings.Join(safeArgs, " "), "dir", g.dir, "err", err != nil)
	}
	if err != nil {
		ge := &gitError{args: safeArgs, stdout: so, stderr: se, code: -1, err: err}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ge.code = ee.ExitCode()
			ge.err = fmt.Errorf("exit status %d", ge.code)
		} else if errors.Is(err, exec.ErrNotFound) {
			ge.err = fmt.Errorf("the git command line is required: %w", err)
		} else {
			ge.err = errors.New(g.redact.String(err.Error()))
		}
		if ctx.Err() != nil {
			ge.err = ctx.Err()
		}
		return so, se, ge
	}
	return so, se, nil
}

// ok runs git for its exit status: true on 0, false on 1, an error otherwise.
func (g *git) ok(ctx context.Context, args ...string) (bool, error) {
	_, err := g.run(ctx, args...)
	switch exitCode(err) {
	case -1:
		if err != nil {
			return false, err
		}
		return true, nil
	case 1:
		return false, nil
	default:
		return false, err
	}
}

// config returns a git config value, or "" when it is not set.
func (g *git) config(ctx context.Context, key string) (string, error) {
	v, err := g.run(ctx, "config", "--get", key)
	if exitCode(err) == 1 {
		return "", nil
	}
	return v, err
}
