package publish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/testkit"
)

const branch = "graft/cassandra-3node"

func TestPublishToBareRemote(t *testing.T) {
	hermeticGit(t, true)
	r := newRemote(t)
	m, rec := example(t, r.bare)
	mainBefore := r.head(t, "main")
	log, logs := logBuffer()

	res, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, Log: log})
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, logs)
	}
	if !res.Committed || !res.Pushed || res.UpToDate || res.Branch != branch || res.BaseBranch != "main" {
		t.Fatalf("result %+v, want a new commit pushed to %s", res, branch)
	}
	if got := r.head(t, branch); got != res.Commit {
		t.Fatalf("remote %s is at %q, result says %q", branch, got, res.Commit)
	}
	if got := r.head(t, "main"); got != mainBefore {
		t.Fatalf("main moved from %s to %s: graft must never commit to the base branch", mainBefore, got)
	}
	// One commit on top of main, by the configured user.
	if n := gitT(t, r.bare, "rev-list", "--count", "main.."+branch); n != "1" {
		t.Fatalf("%s is %s commits ahead of main, want 1", branch, n)
	}
	if a := gitT(t, r.bare, "log", "-1", "--format=%an <%ae>", branch); a != "Test Operator <operator@example.com>" {
		t.Errorf("author %q, want the configured identity", a)
	}
	msg := gitT(t, r.bare, "log", "-1", "--format=%B", branch)
	for _, want := range []string{"graft: migrate cassandra-3node", "3 volumes", "Policy check: passed", "Graft-Migration: cassandra-3node"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}
	files := gitT(t, r.bare, "ls-tree", "-r", "--name-only", branch)
	for _, want := range []string{
		"base/statefulset.yaml",
		"overlays/cassandra-3node/kustomization.yaml",
		"overlays/cassandra-3node/persistentvolumes.yaml",
		"overlays/cassandra-3node/persistentvolumeclaims.yaml",
		"overlays/cassandra-3node/statefulset-cassandra.patch.yaml",
		"overlays/cassandra-3node/graft.lock",
	} {
		if !strings.Contains("\n"+files+"\n", "\n"+want+"\n") {
			t.Errorf("branch lacks %s; it has:\n%s", want, files)
		}
	}
	if lock := r.show(t, branch, "overlays/cassandra-3node/graft.lock"); !strings.Contains(lock, "vol-49637af02ffd17625") {
		t.Errorf("graft.lock in the branch is not the record:\n%s", lock)
	}
	if strings.Contains(files, CIWorkflowPath) || strings.Contains(files, "flux-kustomization.yaml") {
		t.Errorf("CI workflow or engine object written though the spec does not ask for them:\n%s", files)
	}
}

func TestRepublishIsIdempotentAndUpdates(t *testing.T) {
	hermeticGit(t, true)
	r := newRemote(t)
	m, rec := example(t, r.bare)
	prov := &fakeProvider{}
	opts := Options{Checker: &buildChecker{}, NewProvider: func(string) (Provider, error) { return prov, nil }}

	first, err := Publish(context.Background(), m, rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Publish(context.Background(), m, rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if second.Committed || second.Pushed || second.Commit != first.Commit {
		t.Fatalf("re-publish with no change: %+v, want no commit and no push at %s", second, first.Commit)
	}
	if got := r.head(t, branch); got != first.Commit {
		t.Fatalf("the branch moved to %s on a re-publish with no change", got)
	}
	if len(prov.calls) != 2 || !prov.calls[0].created || prov.calls[1].created || prov.calls[1].spec.Head != branch {
		t.Fatalf("provider calls %+v, want open then update of the same pull request", prov.calls)
	}

	// A changed record (the final snapshot) is a new commit on top, pushed
	// as a fast-forward.
	rec.Volumes[0].Snapshots[spec.PhaseFinal] = "snap-0123456789abcdef0"
	third, err := Publish(context.Background(), m, rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !third.Committed || !third.Pushed || third.Commit == first.Commit {
		t.Fatalf("publish of a changed record: %+v, want a new commit", third)
	}
	if parent := gitT(t, r.bare, "rev-parse", branch+"^"); parent != first.Commit {
		t.Fatalf("new commit's parent is %s, want %s (a fast-forward, never a rewrite)", parent, first.Commit)
	}
	if len(prov.calls) != 3 || prov.calls[2].created {
		t.Fatalf("provider calls %+v, want the same pull request updated", prov.calls)
	}
	if !strings.Contains(prov.calls[2].spec.Body, "vol-49637af02ffd17625") {
		t.Errorf("pull-request body lacks the members table:\n%s", prov.calls[2].spec.Body)
	}
}

func TestPublishFromWorkingCopyLeavesItAsFound(t *testing.T) {
	hermeticGit(t, true)
	r := newRemote(t)
	wc := r.clone(t)
	gitT(t, wc, "checkout", "--quiet", "-b", "feature")
	// An ignored file must survive too.
	os.WriteFile(filepath.Join(wc, ".gitignore"), []byte("*.local\n"), 0o644)
	gitT(t, wc, "add", ".gitignore")
	gitT(t, wc, "commit", "--quiet", "-m", "ignore")
	os.WriteFile(filepath.Join(wc, "notes.local"), []byte("mine"), 0o644)
	before := wcSnapshot(t, wc)

	m, rec := example(t, wc)
	res := mustPublish(t, m, rec, Options{Checker: &buildChecker{}})
	wantUnchanged(t, wc, before, "the working copy")
	if got := r.head(t, branch); got != res.Commit || !res.Pushed {
		t.Fatalf("remote branch at %q, result %+v", got, res)
	}
	if local := gitT(t, wc, "rev-parse", "refs/heads/"+branch); local != res.Commit {
		t.Errorf("local %s at %s, want the pushed %s", branch, local, res.Commit)
	}
	if _, err := os.Stat(filepath.Join(wc, "overlays")); !os.IsNotExist(err) {
		t.Errorf("the overlay was written into the working copy: %v", err)
	}
	// Publishing again from the same working copy changes nothing either.
	res2, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}})
	if err != nil || res2.Committed || res2.Commit != res.Commit {
		t.Fatalf("second publish: %+v, %v", res2, err)
	}
	wantUnchanged(t, wc, before, "the working copy (the second publish)")
}

func TestDirtyWorkingCopy(t *testing.T) {
	for name, dirty := range map[string]func(wc string){
		"modified":  func(wc string) { os.WriteFile(filepath.Join(wc, "README.md"), []byte("edited\n"), 0o644) },
		"untracked": func(wc string) { os.WriteFile(filepath.Join(wc, "new.yaml"), []byte("x: 1\n"), 0o644) },
		"staged": func(wc string) {
			os.WriteFile(filepath.Join(wc, "staged.yaml"), []byte("x: 1\n"), 0o644)
			gitT(t, wc, "add", "staged.yaml")
		},
	} {
		t.Run(name, func(t *testing.T) {
			hermeticGit(t, true)
			r := newRemote(t)
			wc := r.clone(t)
			dirty(wc)
			before := wcSnapshot(t, wc)
			m, rec := example(t, wc)
			checker := &buildChecker{}
			_, err := Publish(context.Background(), m, rec, Options{Checker: checker})
			if !errors.Is(err, ErrDirty) {
				t.Fatalf("err = %v, want ErrDirty", err)
			}
			if !strings.Contains(err.Error(), "commit or stash") {
				t.Errorf("message does not say what to do: %v", err)
			}
			wantUnchanged(t, wc, before, "the dirty working copy")
			if r.head(t, branch) != "" || checker.calls != 0 {
				t.Fatal("something was published from a dirty working copy")
			}
		})
	}
}

func TestMissingBaseBranch(t *testing.T) {
	hermeticGit(t, true)
	r := newRemote(t)
	wc := r.clone(t)
	before := wcSnapshot(t, wc)
	for _, repo := range []string{r.bare, wc} {
		m, rec := example(t, repo)
		_, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, BaseBranch: "production"})
		if !errors.Is(err, ErrNoBaseBranch) || !strings.Contains(err.Error(), `"production"`) {
			t.Fatalf("%s: err = %v, want ErrNoBaseBranch naming the branch", repo, err)
		}
	}
	wantUnchanged(t, wc, before, "the working copy")
	if r.head(t, branch) != "" {
		t.Fatal("a branch was pushed without a base branch")
	}
}

func TestBranchProtection(t *testing.T) {
	hermeticGit(t, true)
	r := newRemote(t)
	hook := filepath.Join(r.bare, "hooks", "update")
	script := "#!/bin/sh\ncase \"$1\" in refs/heads/graft/*) echo \"GH006: Protected branch update failed for $1.\" >&2; exit 1;; esac\nexit 0\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	wc := r.clone(t)
	before := wcSnapshot(t, wc)
	m, rec := example(t, wc)
	prov := &fakeProvider{}
	_, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, NewProvider: func(string) (Provider, error) { return prov, nil }})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	for _, want := range []string{branch, "Protected branch update failed", "never force-pushes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	wantUnchanged(t, wc, before, "the working copy")
	if _, err := testkit.GitErr(t, wc, nil, "rev-parse", "--verify", "refs/heads/"+branch); err == nil {
		t.Error("the local branch was created although the push was rejected")
	}
	if len(prov.calls) != 0 {
		t.Error("a pull request was opened for a rejected push")
	}
}

func TestConcurrentPushIsReapplied(t *testing.T) {
	r, m, rec, first := publishedOnce(t)
	// Between graft's fetch and its push (the check runs in between),
	// someone pushes to the branch: a reviewer's note, and a hand edit
	// inside the overlay that graft's render must replace.
	rec.Volumes[1].Snapshots[spec.PhaseFinal] = "snap-0123456789abcdef0"
	checker := &buildChecker{before: func(call int) {
		if call == 1 {
			r.pushAs(t, branch, map[string]string{
				"REVIEW.md": "looks good\n",
				"overlays/cassandra-3node/persistentvolumes.yaml": "hand edit\n",
			})
		}
	}}
	log, logs := logBuffer()
	res, err := Publish(context.Background(), m, rec, Options{Checker: checker, Log: log})
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	if !res.Retried || !res.Pushed || checker.calls != 2 {
		t.Fatalf("result %+v after %d checks, want one retry", res, checker.calls)
	}
	if got := r.head(t, branch); got != res.Commit {
		t.Fatalf("remote at %s, result %s", got, res.Commit)
	}
	// Nothing was lost: the other writer's commit is an ancestor, their
	// note is kept, graft's overlay replaced the hand edit.
	if n := gitT(t, r.bare, "rev-list", "--count", first.Commit+".."+branch); n != "2" {
		t.Errorf("%s is %s commits past graft's first commit, want 2 (theirs, then graft's)", branch, n)
	}
	if got := r.show(t, branch, "REVIEW.md"); got != "looks good" {
		t.Errorf("REVIEW.md = %q", got)
	}
	if got := r.show(t, branch, "overlays/cassandra-3node/persistentvolumes.yaml"); !strings.Contains(got, "kind: PersistentVolume") {
		t.Errorf("the overlay is not graft's after the retry:\n%s", got)
	}
	if got := r.show(t, branch, "overlays/cassandra-3node/graft.lock"); !strings.Contains(got, "snap-0123456789abcdef0") {
		t.Errorf("graft.lock lacks the new snapshot:\n%s", got)
	}
	if !strings.Contains(logs.String(), "reapplying") {
		t.Errorf("the retry is not logged:\n%s", logs)
	}
}

func TestConcurrentPushTwiceGivesUp(t *testing.T) {
	hermeticGit(t, true)
	r := newRemote(t)
	m, rec := example(t, r.bare)
	n := 0
	checker := &buildChecker{before: func(int) {
		n++
		r.pushAs(t, branch, map[string]string{"REVIEW.md": strings.Repeat("again\n", n)})
	}}
	_, err := Publish(context.Background(), m, rec, Options{Checker: checker})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "concurrent publishes") {
		t.Fatalf("err = %v, want ErrRejected after one retry", err)
	}
	if checker.calls != 2 {
		t.Fatalf("%d attempts, want exactly 2 (bounded)", checker.calls)
	}
}

func TestDeniedOverlayIsNotPublished(t *testing.T) {
	hermeticGit(t, true)
	r := newRemote(t)
	m, rec := example(t, r.bare)
	checker := &buildChecker{verdict: Verdict{Denies: 1, Findings: []Finding{{Severity: "deny", Rule: "pv_reclaim_retain", Message: "reclaim policy must be Retain"}}}}
	res, err := Publish(context.Background(), m, rec, Options{Checker: checker})
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
	if res == nil || res.Verdict.Denies != 1 {
		t.Fatalf("result %+v should carry the verdict", res)
	}
	if r.head(t, branch) != "" {
		t.Fatal("a denied overlay was pushed")
	}
}

func TestNoGitIdentityUsesGraftsForThatCommitOnly(t *testing.T) {
	hermeticGit(t, false)
	r := newRemote(t)
	wc := r.clone(t)
	cfgBefore, _ := os.ReadFile(filepath.Join(wc, ".git", "config"))
	m, rec := example(t, wc)
	mustPublish(t, m, rec, Options{Checker: &buildChecker{}})
	if a := gitT(t, r.bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>", branch); a != "graft <graft@localhost>|graft <graft@localhost>" {
		t.Errorf("author|committer = %q, want graft's identity", a)
	}
	cfgAfter, _ := os.ReadFile(filepath.Join(wc, ".git", "config"))
	if string(cfgAfter) != string(cfgBefore) {
		t.Errorf("the working copy's config changed:\n%s", cfgAfter)
	}
}

func TestBaseBranchMovedIsMergedIn(t *testing.T) {
	r, m, rec, first := publishedOnce(t)
	r.pushAs(t, "main", map[string]string{"apps/other.yaml": "x: 1\n"})
	res := mustPublish(t, m, rec, Options{Checker: &buildChecker{}})
	if !res.Pushed {
		t.Fatalf("result %+v: the base's new commit should be merged and pushed", res)
	}
	if _, err := testkit.GitErr(t, r.bare, nil, "merge-base", "--is-ancestor", "main", branch); err != nil {
		t.Fatal("main is not merged into the migration branch")
	}
	if _, err := testkit.GitErr(t, r.bare, nil, "merge-base", "--is-ancestor", first.Commit, branch); err != nil {
		t.Fatal("the branch was rewritten")
	}
}

func TestEngineObjectAndCIWorkflow(t *testing.T) {
	hermeticGit(t, true)
	r := newRemote(t)
	m, rec := example(t, r.bare)
	m.Spec.GitOps.EngineObject = true
	m.Spec.GitOps.CIWorkflow = true
	_, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}})
	if err == nil || !strings.Contains(err.Error(), "ciWorkflow") {
		t.Fatalf("err = %v, want a clear error when there is no CI workflow to write", err)
	}
	wf := "name: graft-check\non: pull_request\n"
	mustPublish(t, m, rec, Options{Checker: &buildChecker{}, CIWorkflow: []byte(wf)})
	if got := r.show(t, branch, CIWorkflowPath); got != strings.TrimSpace(wf) {
		t.Errorf("workflow = %q", got)
	}
	if got := r.show(t, branch, "overlays/cassandra-3node/flux-kustomization.yaml"); !strings.Contains(got, "kind: Kustomization") {
		t.Errorf("engine object:\n%s", got)
	}
}

func TestUpToDateBaseOpensNothing(t *testing.T) {
	r, m, rec, first := publishedOnce(t)
	// The pull request was merged and its branch deleted.
	gitT(t, r.bare, "update-ref", "refs/heads/main", first.Commit)
	gitT(t, r.bare, "update-ref", "-d", "refs/heads/"+branch)
	prov := &fakeProvider{}
	res := mustPublish(t, m, rec, Options{Checker: &buildChecker{}, NewProvider: func(string) (Provider, error) { return prov, nil }})
	if !res.UpToDate || res.Pushed || len(prov.calls) != 0 || r.head(t, branch) != "" {
		t.Fatalf("result %+v, calls %d: want nothing published when main already holds the overlay", res, len(prov.calls))
	}
}

func TestBadRepository(t *testing.T) {
	hermeticGit(t, true)
	m, rec := example(t, "")
	for _, repo := range []string{"", t.TempDir(), "no/such/dir"} {
		_, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, Repo: repo})
		if !errors.Is(err, ErrRepo) {
			t.Errorf("repo %q: err = %v, want ErrRepo", repo, err)
		}
	}
}

type fakeCall struct {
	spec    PullRequestSpec
	created bool
}

// fakeProvider remembers whether it has a pull request for a branch.
type fakeProvider struct {
	calls []fakeCall
	open  map[string]int
}

func (f *fakeProvider) Name() string { return "fake" }

func (f *fakeProvider) EnsurePullRequest(_ context.Context, pr PullRequestSpec) (*PullRequest, error) {
	if f.open == nil {
		f.open = map[string]int{}
	}
	n, ok := f.open[pr.Head]
	if !ok {
		n = len(f.open) + 1
		f.open[pr.Head] = n
	}
	f.calls = append(f.calls, fakeCall{spec: pr, created: !ok})
	return &PullRequest{Number: n, URL: "https://forge.example/pr/1", Created: !ok}, nil
}

// TestRelativeRemote: a working copy whose remote is a path relative to it
// (git resolves such paths from the working directory) publishes there.
func TestRelativeRemote(t *testing.T) {
	hermeticGit(t, true)
	r := newRemote(t)
	wc := filepath.Join(filepath.Dir(r.bare), "wc")
	gitT(t, filepath.Dir(r.bare), "clone", "--quiet", "gitops.git", "wc")
	gitT(t, wc, "remote", "set-url", "origin", "../gitops.git")
	m, rec := example(t, wc)
	res := mustPublish(t, m, rec, Options{Checker: &buildChecker{}})
	if got := r.head(t, branch); got != res.Commit || !res.Pushed {
		t.Fatalf("remote at %q, result %+v", got, res)
	}
}

// TestCheckedOutMigrationBranchIsNotMoved: graft fast-forwards its own local
// branch graft/<name> in the working copy, but not while that branch is
// checked out, there or in a linked worktree, whose index and files would
// otherwise fall behind its HEAD.
func TestCheckedOutMigrationBranchIsNotMoved(t *testing.T) {
	for _, where := range []string{"working copy", "linked worktree"} {
		t.Run(where, func(t *testing.T) {
			hermeticGit(t, true)
			r := newRemote(t)
			wc := r.clone(t)
			m, rec := example(t, wc)
			first := mustPublish(t, m, rec, Options{Checker: &buildChecker{}})
			checkout := wc
			if where == "working copy" {
				gitT(t, wc, "checkout", "--quiet", branch)
			} else {
				checkout = filepath.Join(t.TempDir(), "other")
				gitT(t, wc, "worktree", "add", "--quiet", checkout, branch)
			}
			before, beforeOther := wcSnapshot(t, wc), wcSnapshot(t, checkout)

			rec.Volumes[0].Snapshots[spec.PhaseFinal] = "snap-0123456789abcdef0"
			log, logs := logBuffer()
			second := mustPublish(t, m, rec, Options{Checker: &buildChecker{}, Log: log})
			if !second.Pushed || r.head(t, branch) != second.Commit || second.Commit == first.Commit {
				t.Fatalf("second publish %+v, remote at %s", second, r.head(t, branch))
			}
			if local := gitT(t, wc, "rev-parse", "refs/heads/"+branch); local != first.Commit {
				t.Errorf("the checked-out %s moved to %s, want it left at %s", branch, local, first.Commit)
			}
			if after := wcSnapshot(t, wc); after != before {
				t.Errorf("working copy changed:\nbefore %+v\nafter  %+v", before, after)
			}
			if after := wcSnapshot(t, checkout); after != beforeOther || after.status != "" {
				t.Errorf("the checkout of %s changed:\nbefore %+v\nafter  %+v", branch, beforeOther, after)
			}
			if !strings.Contains(logs.String(), "checked out") {
				t.Errorf("no warning that the branch was left alone:\n%s", logs)
			}

			// Once it is no longer checked out, the next publish catches
			// it up.
			if where == "working copy" {
				gitT(t, wc, "checkout", "--quiet", "main")
			} else {
				gitT(t, wc, "worktree", "remove", checkout)
			}
			mustPublish(t, m, rec, Options{Checker: &buildChecker{}})
			if local := gitT(t, wc, "rev-parse", "refs/heads/"+branch); local != second.Commit {
				t.Errorf("local %s at %s, want the pushed %s", branch, local, second.Commit)
			}
		})
	}
}
