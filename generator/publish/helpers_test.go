package publish

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/testkit"
	"github.com/graftctl/graft/internal/testkit/examples"
)

// repoRoot is the graft module's root directory.
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// hermeticGit gives every git the test runs a private config (an identity,
// unless identity is false) and no system config; gitT runs a hermetic git
// and fails the test on an error.
var (
	hermeticGit = testkit.IsolateGit
	gitT        = testkit.Git
)

// gitopsRemote is a bare GitOps repository whose main branch holds base/
// (testdata/bases/cassandra-single) and a README, and a seed clone of it
// that plays "someone else".
type gitopsRemote struct {
	bare string
	seed string
}

func newRemote(t testing.TB) *gitopsRemote {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "gitops.git")
	seed := testkit.SeedRemote(t, bare, testkit.Tree{
		Dirs:  map[string]string{"base": filepath.Join(repoRoot(t), "testdata", "bases", "cassandra-single")},
		Files: map[string]string{"README.md": "# gitops\n"},
	})
	return &gitopsRemote{bare: bare, seed: seed}
}

// clone returns a fresh working copy of the remote.
func (r *gitopsRemote) clone(t testing.TB) string {
	t.Helper()
	wc := filepath.Join(t.TempDir(), "wc")
	gitT(t, "", "clone", "--quiet", r.bare, wc)
	return wc
}

// head returns the commit of a branch in the bare remote, or "".
func (r *gitopsRemote) head(t testing.TB, branch string) string {
	t.Helper()
	out, err := testkit.GitErr(t, r.bare, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return out
}

// show returns a file of a branch in the bare remote.
func (r *gitopsRemote) show(t testing.TB, branch, path string) string {
	t.Helper()
	return gitT(t, r.bare, "show", branch+":"+path)
}

// pushAs commits files as another user on top of the remote's branch and
// pushes it (no force), as a concurrent writer would.
func (r *gitopsRemote) pushAs(t testing.TB, branch string, files map[string]string) {
	t.Helper()
	gitT(t, r.seed, "fetch", "--quiet", "origin")
	start := "origin/" + branch
	if r.head(t, branch) == "" {
		start = "origin/main"
	}
	gitT(t, r.seed, "checkout", "--quiet", "--detach", "--force", start)
	for p, content := range files {
		testkit.WriteFile(t, filepath.Join(r.seed, filepath.FromSlash(p)), content)
	}
	gitT(t, r.seed, "add", ".")
	gitT(t, r.seed, "-c", "user.name=Other", "-c", "user.email=other@example.com", "commit", "--quiet", "-m", "concurrent change")
	gitT(t, r.seed, "push", "--quiet", "origin", "HEAD:refs/heads/"+branch)
}

// example returns the cassandra-3node spec and record, pointed at the
// GitOps repository layout of newRemote.
func example(t testing.TB, repo string) (*spec.Migration, *record.Record) {
	t.Helper()
	m, rec := examples.Load(t, "cassandra-3node")
	m.Spec.GitOps.Base = "../../base"
	m.Spec.GitOps.OverlayPath = "overlays/cassandra-3node"
	m.Spec.GitOps.Repo = repo
	return m, rec
}

// buildChecker is a Checker that requires render's build output and the
// record beside the overlay, and counts its calls.
type buildChecker struct {
	mu      sync.Mutex
	calls   int
	verdict Verdict
	// before runs at the start of each call, with the call number.
	before func(call int)
}

func (c *buildChecker) Check(_ context.Context, dir string, builds map[string][]byte, rec *record.Record) (Verdict, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	c.mu.Unlock()
	if c.before != nil {
		c.before(n)
	}
	var built []byte
	for _, b := range builds {
		built = append(built, b...)
	}
	if !bytes.Contains(built, []byte("kind: PersistentVolumeClaim")) {
		return Verdict{}, fmt.Errorf("the build output handed to the checker holds no PVC:\n%s", built)
	}
	if _, err := os.Stat(filepath.Join(dir, record.DefaultFile)); err != nil {
		return Verdict{}, fmt.Errorf("no graft.lock beside the overlay: %w", err)
	}
	return c.verdict, nil
}

// logBuffer collects a publish's log.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// snapshot records everything a user could notice about a working copy.
type wcState struct {
	head, branch, status, worktrees, files string
}

func wcSnapshot(t testing.TB, dir string) wcState {
	t.Helper()
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			data, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			files = append(files, fmt.Sprintf("%s %x", rel, data))
		}
		return nil
	})
	return wcState{
		head:      gitT(t, dir, "rev-parse", "HEAD"),
		branch:    gitT(t, dir, "symbolic-ref", "--quiet", "HEAD"),
		status:    gitT(t, dir, "status", "--porcelain", "--untracked-files=all", "--ignored"),
		worktrees: gitT(t, dir, "worktree", "list", "--porcelain"),
		files:     strings.Join(files, "\n"),
	}
}

// wantUnchanged fails the test when the working copy dir is not as it
// was (before); what names it in the message.
func wantUnchanged(t testing.TB, dir string, before wcState, what string) {
	t.Helper()
	if after := wcSnapshot(t, dir); after != before {
		t.Fatalf("%s changed:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

// mustPublish publishes and fails the test on an error.
func mustPublish(t testing.TB, m *spec.Migration, rec *record.Record, opts Options) *Result {
	t.Helper()
	res, err := Publish(context.Background(), m, rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// publishedOnce is a fresh remote (with a git identity), the example
// pointed at it, and the result of publishing that once.
func publishedOnce(t testing.TB) (*gitopsRemote, *spec.Migration, *record.Record, *Result) {
	t.Helper()
	hermeticGit(t, true)
	r := newRemote(t)
	m, rec := example(t, r.bare)
	return r, m, rec, mustPublish(t, m, rec, Options{Checker: &buildChecker{}})
}
