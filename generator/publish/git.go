package publish

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"
)

// DefaultGitTimeout bounds each git command of a publish (Options.GitTimeout).
// It is generous: a first fetch of a large GitOps repository over a slow
// link is legitimate; a git waiting forever for a network that is gone or
// for a prompt nobody sees is not.
const DefaultGitTimeout = 10 * time.Minute

// batchSSH is the ssh command graft gives git when the user chose none.
// BatchMode makes ssh fail instead of asking for a passphrase, a password
// or whether to trust an unknown host key, none of which
// GIT_TERMINAL_PROMPT=0 turns off.
const batchSSH = "ssh -o BatchMode=yes"

// git runs the git command line in one directory. No shell is involved;
// the user's configuration, credential helpers, hooks and signing apply,
// as they do for Kargo and Argo CD. Prompts are turned off, so a missing
// credential is an error instead of a hang: GIT_TERMINAL_PROMPT=0 for git's
// own prompts, and ssh in batch mode (see environ). Each command is killed
// after timeout.
type git struct {
	bin    string
	dir    string
	env    []string
	redact *redactor
	log    *slog.Logger
	// timeout bounds each command (none when 0).
	timeout time.Duration
	// userSSH is true when core.sshCommand is set, which graft's
	// GIT_SSH_COMMAND would override (see detectSSH).
	userSSH bool
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
	msg := cmp.Or(strings.TrimSpace(e.stderr), strings.TrimSpace(e.stdout))
	switch {
	case msg == "":
		msg = e.err.Error()
	case errors.Is(e.err, context.DeadlineExceeded) || errors.Is(e.err, context.Canceled):
		msg = e.err.Error() + "; git said: " + msg
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

// environ is git's environment: the process's, graft's settings, then
// g.env (which wins over both). ssh runs in batch mode through
// GIT_SSH_COMMAND unless the user chose an ssh command, in git's order of
// precedence: GIT_SSH_COMMAND, then core.sshCommand, then GIT_SSH. Those
// are respected as they are; a user who sets one should add
// -o BatchMode=yes to it, or graft may wait for an ssh prompt until the
// timeout.
func (g *git) environ() []string {
	env := append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "LANGUAGE=")
	env = append(env, g.env...)
	if !g.userSSH && lookupEnv(env, "GIT_SSH_COMMAND") == "" && lookupEnv(env, "GIT_SSH") == "" {
		env = append(env, "GIT_SSH_COMMAND="+batchSSH)
	}
	return env
}

// lookupEnv returns the value of key in env, where a later entry wins as it
// does for exec.Cmd.
func lookupEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// detectSSH reads core.sshCommand in g's repository (its own, global and
// system configuration, and -c options in the environment) and records
// whether the user set it.
func (g *git) detectSSH(ctx context.Context) error {
	v, err := g.config(ctx, "core.sshCommand")
	if err != nil {
		return err
	}
	g.userSSH = v != ""
	return nil
}

// run runs git and returns its trimmed standard output.
func (g *git) run(ctx context.Context, args ...string) (string, error) {
	out, _, err := g.run2(ctx, args...)
	return strings.TrimSpace(out), err
}

// run2 runs git and returns its standard output and standard error, both
// redacted.
func (g *git) run2(ctx context.Context, args ...string) (string, string, error) {
	parent := ctx
	if g.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, g.bin, args...)
	cmd.Dir = g.dir
	cmd.Env = g.environ()
	// A killed git may leave a child (ssh, a credential helper) holding
	// the output pipes; stop waiting for them soon after.
	cmd.WaitDelay = 5 * time.Second
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
		switch {
		case parent.Err() != nil:
			ge.err = parent.Err()
		case ctx.Err() != nil:
			ge.err = fmt.Errorf("%w: git gave no answer in %s (a network that hangs, or a prompt?)", ctx.Err(), g.timeout)
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
