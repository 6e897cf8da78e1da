// Package publish delivers a rendered migration to its GitOps repository:
// a branch graft/<migration>, one commit with the overlay, graft.lock and
// (optionally) the engine object and the CI gate, a push without force, and
// one pull request per migration that re-runs update.
//
// Git is driven through the git command line, so the user's configuration,
// credential helpers, hooks and commit signing apply, as they do for Kargo
// and Argo CD. git never prompts (GIT_TERMINAL_PROMPT=0, ssh in batch mode)
// and each command has a timeout.
//
// A given working copy (it must be clean) keeps its checked-out branch,
// HEAD, index and files: graft works in a temporary linked worktree (git
// worktree) and removes it at the end, success or failure. The one thing
// graft changes in it is its own local branch graft/<migration>, which it
// creates or fast-forwards to what it pushed, so that the user can inspect
// the change locally; it leaves that branch alone when it has diverged or is
// checked out in the working copy or one of its worktrees. A URL is fetched
// into a temporary repository.
package publish

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/graftctl/graft/generator/atomic"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// Sentinel errors; every one is bad input or a refusal the user must act
// on, and cmd/graft maps them to exit 2.
var (
	// ErrDirty: the given working copy has uncommitted changes.
	ErrDirty = errors.New("the working copy has uncommitted changes")
	// ErrNoBaseBranch: the base branch does not exist on the remote.
	ErrNoBaseBranch = errors.New("the base branch does not exist")
	// ErrRejected: the remote refused the push (branch protection, a hook,
	// or a concurrent push that graft could not reconcile).
	ErrRejected = errors.New("the push was rejected")
	// ErrConflict: the base branch cannot be merged into graft/<migration>.
	ErrConflict = errors.New("the base branch conflicts with the migration branch")
	// ErrRepo: the GitOps repository cannot be used as given: not a working
	// copy nor a URL, or a --remote it does not have.
	ErrRepo = errors.New("invalid GitOps repository")
)

// BranchPrefix starts the name of every branch graft pushes.
const BranchPrefix = "graft/"

// CIWorkflowPath is where the CI gate workflow goes in the GitOps repository.
const CIWorkflowPath = ".github/workflows/graft-check.yaml"

// Branch returns the branch of a migration.
func Branch(migration string) string { return BranchPrefix + migration }

// Options of one publish.
type Options struct {
	// Repo is a working copy (a directory) or a URL (https, ssh, file, or
	// the path of a bare repository). Default: spec.gitops.repo.
	Repo string
	// BaseBranch overrides spec.gitops.baseBranch.
	BaseBranch string
	// Remote is the remote of a working copy that graft pushes to
	// (default origin). It must be one of the working copy's remotes; with
	// a URL or a bare repository, where graft makes its own, it must be
	// empty.
	Remote string
	// Checker runs the policy check on the rendered overlay. Required.
	Checker Checker
	// NewProvider returns the pull-request provider for the remote URL, or
	// nil for none. It is called before anything is pushed, so a missing
	// token fails early.
	NewProvider func(remoteURL string) (Provider, error)
	// Plan is the plan's summary, shown in the pull request when set.
	Plan string
	// CIWorkflow is the content of the CI gate workflow, written to
	// CIWorkflowPath when spec.gitops.ciWorkflow is true.
	CIWorkflow []byte
	// Git is the git command (default "git").
	Git string
	// GitEnv is added to git's environment (tests use it).
	GitEnv []string
	// GitTimeout bounds each git command (default DefaultGitTimeout;
	// negative for none).
	GitTimeout time.Duration
	// Secrets are redacted from every message, log line and error.
	Secrets []string
	// Log receives progress (discarded when nil).
	Log *slog.Logger
}

// Result of a publish.
type Result struct {
	// Remote is the remote's URL, redacted.
	Remote     string `json:"remote"`
	Branch     string `json:"branch"`
	BaseBranch string `json:"baseBranch"`
	// Commit is the branch's head after the publish.
	Commit string `json:"commit,omitempty"`
	// Committed is true when this run made a new commit.
	Committed bool `json:"committed"`
	// Pushed is true when this run pushed.
	Pushed bool `json:"pushed"`
	// UpToDate is true when the base branch already holds exactly this
	// overlay, so there was nothing to publish.
	UpToDate bool `json:"upToDate"`
	// Retried is true when a concurrent push was reconciled.
	Retried     bool         `json:"retried"`
	Verdict     Verdict      `json:"verdict"`
	PullRequest *PullRequest `json:"pullRequest,omitempty"`
	// Body is the pull request's description: posted with a provider, to
	// paste by hand without one.
	Body string `json:"body,omitempty"`
	// Timings splits the run's time by stage.
	Timings Timings `json:"timings"`
}

// Timings of a publish. Git is everything that is not render, check or
// the provider's API: git commands, graft.lock, the body.
type Timings struct {
	Render time.Duration `json:"render"`
	Check  time.Duration `json:"check"`
	API    time.Duration `json:"api"`
	Git    time.Duration `json:"git"`
	Total  time.Duration `json:"total"`
}

// Publish renders the migration into the GitOps repository, checks it,
// commits, pushes and opens or updates the pull request.
func Publish(ctx context.Context, m *spec.Migration, rec *record.Record, opts Options) (*Result, error) {
	p, err := newPublisher(m, rec, opts)
	if err != nil {
		return nil, err
	}
	return p.run(ctx)
}

type publisher struct {
	m      spec.Migration
	rec    *record.Record
	opts   Options
	log    *slog.Logger
	redact *redactor
	git    *git
	branch string
	base   string
	ws     *workspace
	prov   Provider
	times  Timings
}

func newPublisher(m *spec.Migration, rec *record.Record, opts Options) (*publisher, error) {
	if opts.Checker == nil {
		return nil, errors.New("publish: no policy checker")
	}
	if m.Metadata.Name == "" {
		return nil, errors.New("publish: the spec has no metadata.name")
	}
	p := &publisher{m: *m, rec: rec, opts: opts, log: opts.Log, redact: newRedactor(opts.Secrets...)}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p.opts.Repo = cmp.Or(p.opts.Repo, m.Spec.GitOps.Repo)
	if p.opts.Repo == "" {
		return nil, fmt.Errorf("%w: none given: set spec.gitops.repo or pass --repo", ErrRepo)
	}
	p.base = cmp.Or(opts.BaseBranch, m.Spec.GitOps.BaseBranch, "main")
	p.branch = Branch(m.Metadata.Name)
	if p.base == p.branch {
		return nil, fmt.Errorf("publish: the base branch is %s, the migration's own branch; graft never commits to the base branch", p.base)
	}
	// The engine object names the branch it syncs from.
	p.m.Spec.GitOps.BaseBranch = p.base
	bin := cmp.Or(opts.Git, "git")
	timeout := opts.GitTimeout
	switch {
	case timeout == 0:
		timeout = DefaultGitTimeout
	case timeout < 0:
		timeout = 0
	}
	p.git = &git{bin: bin, env: opts.GitEnv, redact: p.redact, log: p.log, timeout: timeout}
	return p, nil
}

func (p *publisher) run(ctx context.Context) (res *Result, err error) {
	start := time.Now()
	defer func() {
		if res != nil {
			t := p.times
			t.Total = time.Since(start)
			t.Git = t.Total - t.Render - t.Check - t.API
			res.Timings = t
			p.log.Debug("publish timings", "render", t.Render, "check", t.Check, "git", t.Git, "api", t.API, "total", t.Total)
		}
	}()
	ws, err := p.openWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := ws.close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = cerr
		}
	}()
	p.ws = ws
	// Tokens in the remote URL are secrets too: the user-info, and its
	// password alone.
	if u := ws.remoteURL; u != RedactURL(u) {
		for _, s := range userInfoSecrets(u) {
			p.redact.add(s)
		}
	}
	res = &Result{Remote: p.redact.String(ws.remoteURL), Branch: p.branch, BaseBranch: p.base}
	if p.opts.NewProvider != nil {
		if p.prov, err = p.opts.NewProvider(ws.remoteURL); err != nil {
			return nil, err
		}
	}
	if res, err = p.pushBranch(ctx, res); err != nil || res.UpToDate {
		return res, err
	}
	return p.pullRequest(ctx, res)
}

// pushBranch commits the overlay on the migration branch and pushes it, in
// at most two attempts: the second after a concurrent push to the branch,
// from the branch as the other writer left it. Errors before the overlay
// is applied give no result.
func (p *publisher) pushBranch(ctx context.Context, res *Result) (*Result, error) {
	var remoteHead string
	for attempt := 1; ; attempt++ {
		st, err := p.prepare(ctx)
		if err != nil {
			return nil, err
		}
		remoteHead = st.branch
		head, err := p.commitOverlay(ctx, res)
		if err != nil {
			return res, err
		}
		if st.branch == "" && head == st.base {
			// The base branch already holds this overlay (for example the
			// pull request was merged): there is nothing to propose.
			p.log.Info("the base branch already holds this overlay; nothing to publish", "base", p.base)
			res.UpToDate = true
			return res, nil
		}
		if head == st.branch {
			p.log.Info("no change since the last publish", "branch", p.branch, "commit", ShortCommit(head))
			break
		}
		err = p.push(ctx, head)
		if err == nil {
			res.Pushed = true
			p.log.Info("pushed", "branch", p.branch, "commit", ShortCommit(head))
			remoteHead = head
			break
		}
		if !errors.Is(err, errNonFastForward) {
			return res, err
		}
		if attempt == 2 {
			return res, fmt.Errorf("%w: %s moved again while graft reapplied its change on top of it (concurrent publishes?)", ErrRejected, p.branch)
		}
		p.log.Warn("the branch moved on the remote since graft fetched it; reapplying on top of it", "branch", p.branch)
		res.Committed = false
		res.Retried = true
	}
	res.Commit = remoteHead
	p.ws.updateLocalBranch(ctx, p.branch, remoteHead)
	return res, nil
}

// prepare fetches the remote's branches and checks out where the new
// commit goes: the migration branch (with the base merged in) if it
// exists, else the base branch.
func (p *publisher) prepare(ctx context.Context) (remoteState, error) {
	st, err := p.fetch(ctx)
	if err != nil {
		return st, err
	}
	start := cmp.Or(st.branch, st.base)
	if err := p.ws.checkout(ctx, start); err != nil {
		return st, err
	}
	if st.branch != "" {
		if err := p.mergeBase(ctx, st.base, st.branch); err != nil {
			return st, err
		}
	}
	return st, nil
}

// commitOverlay renders and checks the overlay into the checkout, commits
// it if it changed, and returns the checkout's head.
func (p *publisher) commitOverlay(ctx context.Context, res *Result) (string, error) {
	verdict, changed, err := p.apply(ctx)
	res.Verdict = verdict
	if err != nil {
		return "", err
	}
	if changed {
		if err := p.commit(ctx, verdict); err != nil {
			return "", err
		}
		res.Committed = true
	}
	head, err := p.ws.git.run(ctx, "rev-parse", "HEAD")
	if err != nil {
		return "", err
	}
	res.Commit = head
	return head, nil
}

// pullRequest writes the pull request's body and, with a provider, opens
// or updates the pull request.
func (p *publisher) pullRequest(ctx context.Context, res *Result) (*Result, error) {
	body, err := RenderBody(newBodyData(&p.m, p.rec, p.branch, p.base, p.opts.Plan, res.Verdict))
	if err != nil {
		return res, err
	}
	res.Body = body
	if p.prov == nil {
		return res, nil
	}
	apiStart := time.Now()
	pr, err := p.prov.EnsurePullRequest(ctx, PullRequestSpec{Head: p.branch, Base: p.base, Title: title(&p.m, p.rec), Body: body})
	p.times.API += time.Since(apiStart)
	if err != nil {
		return res, fmt.Errorf("the branch %s is pushed (%s), but the pull request could not be opened or updated: %w", p.branch, ShortCommit(res.Commit), err)
	}
	res.PullRequest = pr
	verb := "updated"
	if pr.Created {
		verb = "opened"
	}
	p.log.Info("pull request "+verb, "provider", p.prov.Name(), "number", pr.Number, "url", pr.URL)
	return res, nil
}

// remoteState holds the remote's base and migration branch heads ("" when
// the migration branch does not exist yet).
type remoteState struct {
	base, branch string
}

// fetch fetches the base and migration branches.
func (p *publisher) fetch(ctx context.Context) (remoteState, error) {
	g, remote := p.ws.main, p.ws.remote
	baseRef, branchRef := "refs/heads/"+p.base, "refs/heads/"+p.branch
	out, err := g.run(ctx, "ls-remote", "--heads", remote, baseRef, branchRef)
	if err != nil {
		return remoteState{}, fmt.Errorf("cannot read the remote %s: %w", p.shownURL(), err)
	}
	have := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			have[f[1]] = true
		}
	}
	if !have[baseRef] {
		return remoteState{}, fmt.Errorf("%w: %s has no branch %q; pass --base-branch or set spec.gitops.baseBranch", ErrNoBaseBranch, p.shownURL(), p.base)
	}
	track := func(ref string) string {
		return "refs/remotes/" + remote + "/" + strings.TrimPrefix(ref, "refs/heads/")
	}
	args := []string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, "+" + baseRef + ":" + track(baseRef)}
	if have[branchRef] {
		args = append(args, "+"+branchRef+":"+track(branchRef))
	}
	if _, err := g.run(ctx, args...); err != nil {
		return remoteState{}, fmt.Errorf("cannot fetch from %s: %w", p.shownURL(), err)
	}
	var st remoteState
	if st.base, err = g.run(ctx, "rev-parse", "--verify", track(baseRef)+"^{commit}"); err != nil {
		return st, err
	}
	if have[branchRef] {
		if st.branch, err = g.run(ctx, "rev-parse", "--verify", track(branchRef)+"^{commit}"); err != nil {
			return st, err
		}
	}
	return st, nil
}

// mergeBase merges the base branch into the migration branch when the base
// has moved on, so that the overlay is rendered against the current base and
// the pull request stays mergeable.
func (p *publisher) mergeBase(ctx context.Context, base, branch string) error {
	g := p.ws.git
	if ok, err := g.ok(ctx, "merge-base", "--is-ancestor", base, branch); err != nil || ok {
		return err
	}
	p.log.Info("merging the base branch into the migration branch", "base", p.base, "branch", p.branch)
	args := append(p.identity(ctx), "merge", "--quiet", "--no-edit", "-m", fmt.Sprintf("graft: merge %s into %s", p.base, p.branch), base)
	if _, err := g.run(ctx, args...); err != nil {
		_, _ = g.run(ctx, "merge", "--abort")
		return fmt.Errorf("%w: %s cannot be merged into %s: %v", ErrConflict, p.base, p.branch, err)
	}
	return nil
}

// apply writes the overlay, the record and the CI workflow into the
// worktree, runs the check, and stages the result. changed reports whether
// the staged tree differs from HEAD.
func (p *publisher) apply(ctx context.Context) (Verdict, bool, error) {
	wt := p.ws.dir
	g := p.m.Spec.GitOps
	overlay := filepath.Join(wt, filepath.FromSlash(g.OverlayPath))
	renderStart := time.Now()
	rendered, err := render.RenderContext(ctx, &p.m, p.rec, render.Options{OutDir: overlay, Log: p.log})
	p.times.Render += time.Since(renderStart)
	if err != nil {
		return Verdict{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return Verdict{}, false, err
	}
	if err := p.rec.Write(filepath.Join(overlay, record.DefaultFile)); err != nil {
		return Verdict{}, false, err
	}
	paths := []string{g.OverlayPath}
	if g.CIWorkflow {
		if len(p.opts.CIWorkflow) == 0 {
			return Verdict{}, false, errors.New("spec.gitops.ciWorkflow is true, but graft has no CI workflow to write")
		}
		path := filepath.Join(wt, filepath.FromSlash(CIWorkflowPath))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return Verdict{}, false, err
		}
		if err := atomic.WriteFile(path, p.opts.CIWorkflow, 0o644); err != nil {
			return Verdict{}, false, err
		}
		paths = append(paths, CIWorkflowPath)
	}
	p.log.Info("overlay rendered", "path", g.OverlayPath, "volumes", len(p.rec.Volumes))
	checkStart := time.Now()
	v, err := p.opts.Checker.Check(ctx, overlay, rendered.Builds, p.rec)
	p.times.Check += time.Since(checkStart)
	if err != nil {
		return v, false, fmt.Errorf("policy check: %w", err)
	}
	if v.Denied() {
		return v, false, fmt.Errorf("%w (%d denied, %d %s); nothing was committed or pushed",
			ErrDenied, v.Denies, v.Warns, plural(v.Warns, "warning", "warnings"))
	}
	p.log.Info("policy check passed", "denied", v.Denies, "warnings", v.Warns)
	if _, err := p.ws.git.run(ctx, append([]string{"add", "--all", "--"}, paths...)...); err != nil {
		return v, false, err
	}
	same, err := p.ws.git.ok(ctx, "diff", "--cached", "--quiet")
	if err != nil {
		return v, false, err
	}
	return v, !same, nil
}

// identity returns -c options that give the commit graft's identity when
// git has none configured; the user's identity is used otherwise.
func (p *publisher) identity(ctx context.Context) []string {
	var args []string
	g := p.ws.git
	if os.Getenv("GIT_AUTHOR_NAME") == "" || os.Getenv("GIT_COMMITTER_NAME") == "" {
		if v, _ := g.config(ctx, "user.name"); v == "" {
			args = append(args, "-c", "user.name=graft")
		}
	}
	if os.Getenv("GIT_AUTHOR_EMAIL") == "" || os.Getenv("GIT_COMMITTER_EMAIL") == "" {
		if v, _ := g.config(ctx, "user.email"); v == "" {
			args = append(args, "-c", "user.email=graft@localhost")
		}
	}
	return args
}

func (p *publisher) commit(ctx context.Context, v Verdict) error {
	msg := commitMessage(&p.m, p.rec, v, p.m.Spec.GitOps.CIWorkflow)
	args := append(p.identity(ctx), "commit", "--quiet", "-m", msg)
	if _, err := p.ws.git.run(ctx, args...); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	p.log.Info("committed", "branch", p.branch)
	return nil
}

var errNonFastForward = errors.New("non-fast-forward")

// push pushes commit to the migration branch, never with force. It runs in
// the user's working copy (the worktree shares its objects), so a remote
// URL relative to the working copy resolves as the user expects.
func (p *publisher) push(ctx context.Context, commit string) error {
	g := p.ws.main
	dst := "refs/heads/" + p.branch
	stdout, stderr, err := g.run2(ctx, "push", "--porcelain", p.ws.remote, commit+":"+dst)
	if err == nil {
		return nil
	}
	text := stdout + "\n" + stderr
	var status string
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "!") && strings.Contains(line, dst) {
			if f := strings.SplitN(line, "\t", 3); len(f) == 3 {
				status = f[2]
			}
		}
	}
	switch {
	case strings.Contains(status, "[rejected]") || strings.Contains(text, "(fetch first)") || strings.Contains(text, "(non-fast-forward)"):
		return errNonFastForward
	case strings.Contains(status, "[remote rejected]") || strings.Contains(text, "[remote rejected]"):
		why := strings.TrimSpace(strings.TrimPrefix(status, "[remote rejected]"))
		var said []string
		for _, line := range strings.Split(stderr, "\n") {
			if !strings.HasPrefix(line, "remote:") {
				continue
			}
			s := strings.TrimSpace(strings.TrimPrefix(line, "remote:"))
			s = strings.TrimSpace(strings.TrimPrefix(s, "error:"))
			if s != "" {
				said = append(said, s)
			}
		}
		msg := fmt.Sprintf("%s refused %s %s", p.shownURL(), termtext.Value(p.branch), why)
		if len(said) > 0 {
			// The remote's words (its hooks'): one line, escaped.
			msg += "; the remote said: " + termtext.Line(strings.Join(said, " / "))
		}
		return fmt.Errorf("%w: %s; is the branch protected? graft never force-pushes: allow pushes to %s* or lift the rule", ErrRejected, msg, BranchPrefix)
	}
	return fmt.Errorf("push to %s: %w", p.shownURL(), err)
}

// shownURL is the remote's URL as errors name it: redacted, and quoted if
// a terminal would act on it (termtext.Value); git config may hold any
// value.
func (p *publisher) shownURL() string { return termtext.Value(p.redact.String(p.ws.remoteURL)) }

// ShortCommit abbreviates a commit id to its first 12 hex digits, the form
// graft prints; a shorter string is returned as it is.
func ShortCommit(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
