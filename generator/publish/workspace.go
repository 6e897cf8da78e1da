package publish

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/graftctl/graft/generator/termtext"
)

// workspace is where graft writes: a temporary linked worktree of the
// user's working copy, or a temporary repository fetching from a URL.
type workspace struct {
	// git runs in dir, the checkout graft writes to.
	git *git
	// main runs in the user's working copy (or the temporary repository).
	main      *git
	dir       string
	tmp       string
	remote    string
	remoteURL string
	// wc is true for a user's working copy.
	wc      bool
	created bool
	log     *slog.Logger
}

// openWorkspace inspects opts.Repo: a working copy (must be clean) gets a
// linked worktree; a bare repository or a URL gets a temporary repository.
// It also reads core.sshCommand there, so that graft's batch-mode ssh does
// not override the user's (see git.environ).
func (p *publisher) openWorkspace(ctx context.Context) (*workspace, error) {
	ws, err := p.openRepo(ctx)
	if err != nil {
		return nil, err
	}
	if err := ws.main.detectSSH(ctx); err != nil {
		ws.close(context.WithoutCancel(ctx))
		return nil, err
	}
	ws.git.userSSH = ws.main.userSSH
	return ws, nil
}

func (p *publisher) openRepo(ctx context.Context) (*workspace, error) {
	repo := p.opts.Repo
	if fi, err := os.Stat(repo); err == nil && fi.IsDir() {
		abs, err := filepath.Abs(repo)
		if err != nil {
			return nil, err
		}
		g := p.git.in(abs)
		bare, err := g.run(ctx, "rev-parse", "--is-bare-repository")
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrRepo, termtext.Value(abs), err)
		}
		if bare == "true" {
			return p.openURL(ctx, abs)
		}
		return p.openWorkingCopy(ctx, g)
	}
	if looksLikeURL(repo) {
		return p.openURL(ctx, repo)
	}
	return nil, fmt.Errorf("%w: %s is neither a directory nor a repository URL", ErrRepo, termtext.Value(p.redact.String(repo)))
}

func looksLikeURL(s string) bool {
	return strings.Contains(s, "://") || scpLike.MatchString(s) && !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, ".")
}

func (p *publisher) openWorkingCopy(ctx context.Context, g *git) (*workspace, error) {
	top, err := g.run(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRepo, err)
	}
	g = g.in(top)
	status, err := g.run(ctx, "status", "--porcelain", "--untracked-files=normal")
	if err != nil {
		return nil, err
	}
	if status != "" {
		lines := strings.Split(status, "\n")
		more := ""
		if len(lines) > 5 {
			more = fmt.Sprintf(" and %d more", len(lines)-5)
			lines = lines[:5]
		}
		return nil, fmt.Errorf("%w: %s: %s%s; commit or stash them first (graft leaves the working copy untouched and refuses to publish from a dirty one)",
			ErrDirty, termtext.Value(top), termtext.Line(strings.Join(lines, ", ")), more)
	}
	for _, op := range []string{"MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD"} {
		if _, err := g.run(ctx, "rev-parse", "--verify", "--quiet", op); err == nil {
			return nil, fmt.Errorf("%w: %s: a merge, rebase, cherry-pick or revert is in progress (%s); finish or abort it first", ErrDirty, termtext.Value(top), op)
		}
	}
	remote, err := p.remote(ctx, g, top)
	if err != nil {
		return nil, err
	}
	url, err := g.run(ctx, "remote", "get-url", remote)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "graft-publish-")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "worktree")
	return &workspace{git: g.in(dir), main: g, dir: dir, tmp: tmp, remote: remote, remoteURL: url, wc: true, log: p.log}, nil
}

// remote returns the remote of the working copy at top that graft pushes
// to: opts.Remote, or origin. It must be one of the working copy's remotes,
// compared as a name, so that it never reaches git as anything else.
func (p *publisher) remote(ctx context.Context, g *git, top string) (string, error) {
	name := cmp.Or(p.opts.Remote, "origin")
	out, err := g.run(ctx, "remote")
	if err != nil {
		return "", err
	}
	remotes := strings.Fields(out)
	if slices.Contains(remotes, name) {
		return name, nil
	}
	have := "it has none"
	if len(remotes) > 0 {
		have = "its remotes are " + strings.Join(remotes, ", ")
	}
	return "", fmt.Errorf("%w: --remote: %q is not a remote of the working copy %s (%s); expected the name of the remote to push to (default origin)", ErrRepo, name, termtext.Value(top), termtext.Line(have))
}

func (p *publisher) openURL(ctx context.Context, url string) (*workspace, error) {
	if p.opts.Remote != "" {
		return nil, fmt.Errorf("%w: --remote: %q names a remote of a working copy, but the repository %s is a URL or a bare repository, which graft pushes to directly; drop --remote, or pass a working copy as --repo", ErrRepo, p.opts.Remote, termtext.Value(p.redact.String(url)))
	}
	tmp, err := os.MkdirTemp("", "graft-publish-")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "repo")
	ws := &workspace{git: p.git.in(dir), main: p.git.in(dir), dir: dir, tmp: tmp, remote: "origin", remoteURL: url, log: p.log}
	if _, err := p.git.in(tmp).run(ctx, "init", "--quiet", dir); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if _, err := ws.git.run(ctx, "remote", "add", "origin", url); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return ws, nil
}

// checkout makes the worktree a clean, detached checkout of commit.
func (w *workspace) checkout(ctx context.Context, commit string) error {
	if w.wc && !w.created {
		if _, err := w.main.run(ctx, "worktree", "add", "--quiet", "--detach", w.dir, commit); err != nil {
			return err
		}
		w.created = true
		return nil
	}
	if _, err := w.git.run(ctx, "checkout", "--quiet", "--detach", "--force", commit); err != nil {
		return err
	}
	w.created = true
	_, err := w.git.run(ctx, "clean", "-d", "--force", "--quiet")
	return err
}

// close removes the worktree or temporary repository. The user's working
// copy keeps its branch, HEAD, index and files as they were.
func (w *workspace) close(ctx context.Context) error {
	var errs []error
	if w.wc && w.created {
		if _, err := w.main.run(ctx, "worktree", "remove", "--force", w.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(w.tmp); err != nil {
		errs = append(errs, err)
	}
	if w.wc && w.created {
		if _, err := w.main.run(ctx, "worktree", "prune"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

const zeroOID = "0000000000000000000000000000000000000000"

// updateLocalBranch points the working copy's local migration branch at
// commit, so the user can inspect what graft pushed (git log, git diff
// main...graft/<name>) without fetching. It only creates the branch or
// fast-forwards it. It leaves alone a branch that has diverged, and one
// checked out in the working copy or in any of its linked worktrees: moving
// a checked-out branch would leave that checkout's index and files behind
// its HEAD. It is best effort; a failure is logged, never returned.
func (w *workspace) updateLocalBranch(ctx context.Context, branch, commit string) {
	if !w.wc || commit == "" {
		return
	}
	ref := "refs/heads/" + branch
	old, _ := w.main.run(ctx, "rev-parse", "--verify", "--quiet", ref)
	if old == commit {
		return
	}
	if where, err := w.checkedOut(ctx, ref); err != nil || where != "" {
		if err != nil {
			w.log.Warn("could not list the working copy's worktrees; not moving the local migration branch", "branch", branch, "err", err)
		} else {
			w.log.Warn("the migration branch is checked out; not moving it (git pull there to update)", "branch", branch, "worktree", where)
		}
		return
	}
	if old == "" {
		old = zeroOID
	} else if ok, err := w.main.ok(ctx, "merge-base", "--is-ancestor", old, commit); err != nil || !ok {
		w.log.Warn("the local migration branch has diverged from the remote; not moving it", "branch", branch)
		return
	}
	if _, err := w.main.run(ctx, "update-ref", "-m", "graft publish", ref, commit, old); err != nil {
		w.log.Warn("could not update the local migration branch", "branch", branch, "err", err)
	}
}

// checkedOut returns the worktree of the working copy (its main one or a
// linked one) that has ref checked out, or "".
func (w *workspace) checkedOut(ctx context.Context, ref string) (string, error) {
	out, err := w.main.run(ctx, "worktree", "list", "--porcelain")
	if err != nil {
		return "", err
	}
	var dir string
	for _, line := range strings.Split(out, "\n") {
		if d, ok := strings.CutPrefix(line, "worktree "); ok {
			dir = d
		} else if line == "branch "+ref {
			return dir, nil
		}
	}
	return "", nil
}
