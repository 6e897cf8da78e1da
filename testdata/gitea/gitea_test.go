// Package gitea runs `graft publish --provider gitea` against a real Gitea
// server built from code.gitea.io/gitea (see go.mod and run.sh): it starts
// Gitea on 127.0.0.1 with SQLite, creates a user, a token and a repository
// through Gitea's CLI and API, publishes twice (open, then update the same
// pull request), checks a no-change re-run and a protected branch, and tears
// everything down.
package gitea

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/internal/testkit"
)

const (
	user     = "graft"
	password = "graft-test-password-1"
	repoName = "gitops"
	branch   = "graft/cassandra-3node"
)

// dirs returns server, the test-only module that builds Gitea (its
// binary, and the module source Gitea reads its templates from), and root,
// graft's module, which this test is part of.
func dirs(t *testing.T) (server, root string) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	return filepath.Join(dir, "server"), filepath.Join(dir, "..", "..")
}

func TestPublishToGitea(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Gitea server")
	}
	server, root := dirs(t)
	bin := filepath.Join(server, "bin", "gitea")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("GRAFT_GITEA_REQUIRED") != "" {
			t.Fatalf("no Gitea binary at %s; run testdata/gitea/run.sh", bin)
		}
		t.Skipf("no Gitea binary at %s; run testdata/gitea/run.sh to build it", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	g := startGitea(ctx, t, bin, server)
	token := g.createToken(t)
	g.createRepo(t, token)
	g.seed(t, root)

	graft := buildGraft(ctx, t, root)
	work := t.TempDir()
	specPath := filepath.Join(work, "graft.yaml")
	writeSpec(t, root, specPath, g.url+"/"+user+"/"+repoName+".git")
	lockPath := filepath.Join(work, "graft.lock")
	lock, err := os.ReadFile(filepath.Join(root, "testdata", "examples", "cassandra-3node", "graft.lock"))
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(lockPath, lock, 0o644))

	publish := func(wantCode int) (string, string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, graft, "--spec", specPath, "publish", "--provider", "gitea")
		// The token reaches git through a credential helper, as a user's
		// would, and the API through GITEA_TOKEN.
		cmd.Env = append(os.Environ(),
			"GITEA_TOKEN="+token,
			"GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=credential.helper",
			`GIT_CONFIG_VALUE_0=!f() { echo username=`+user+`; echo "password=$GITEA_TOKEN"; }; f`,
			"GIT_TERMINAL_PROMPT=0",
		)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code := testkit.ExitCode(t, cmd)
		out, errOut := stdout.String(), stderr.String()
		if strings.Contains(out+errOut, token) || strings.Contains(out+errOut, password) {
			t.Fatalf("a secret appears in graft's output:\n%s\n%s", out, errOut)
		}
		if code != wantCode {
			t.Fatalf("graft publish: exit %d, want %d\nstdout:\n%s\nstderr:\n%s\ngitea log:\n%s", code, wantCode, out, errOut, g.logTail())
		}
		t.Logf("graft publish (exit %d):\n%s%s", code, out, errOut)
		return out, errOut
	}

	// 1. Open.
	out, _ := publish(0)
	wantURL := fmt.Sprintf("%s/%s/%s/pulls/1", g.url, user, repoName)
	if !strings.Contains(out, wantURL+" (#1, opened)") {
		t.Fatalf("first publish: stdout lacks %q:\n%s", wantURL, out)
	}
	prs := g.pulls(t, token)
	if len(prs) != 1 || prs[0].Head.Ref != branch || prs[0].Base.Ref != "main" || prs[0].State != "open" {
		t.Fatalf("pull requests after the first publish: %+v", prs)
	}
	for _, want := range []string{"vol-49637af02ffd17625", "i-fbc15c2c26fd05cdd", "Cut-over checklist", "--cascade=orphan", "passed"} {
		if !strings.Contains(prs[0].Body, want) {
			t.Errorf("pull-request body lacks %q:\n%s", want, prs[0].Body)
		}
	}
	firstHead := prs[0].Head.SHA

	// 2. Update: the final snapshots change the record, so the overlay and
	// the body change; the same pull request is updated.
	lock2 := strings.Replace(string(lock), "final: snap-b031c1b99a9f2814a", "final: snap-0f0f0f0f0f0f0f0f0", 1)
	if lock2 == string(lock) {
		t.Fatal("test data: the final snapshot to replace is not in graft.lock")
	}
	must(t, os.WriteFile(lockPath, []byte(lock2), 0o644))
	out, _ = publish(0)
	if !strings.Contains(out, wantURL+" (#1, updated)") {
		t.Fatalf("second publish: stdout lacks the updated pull request:\n%s", out)
	}
	prs = g.pulls(t, token)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests after the second publish, want the same one: %+v", len(prs), prs)
	}
	if prs[0].Number != 1 || prs[0].Head.SHA == firstHead {
		t.Fatalf("the pull request was not updated: %+v", prs[0])
	}
	if lock := g.file(t, token, branch, "overlays/cassandra-3node/graft.lock"); !strings.Contains(lock, "snap-0f0f0f0f0f0f0f0f0") {
		t.Fatalf("graft.lock in the branch lacks the new snapshot:\n%s", lock)
	}
	secondHead := prs[0].Head.SHA

	// 3. No change: no commit, the same pull request.
	out, _ = publish(0)
	if !strings.Contains(out, "unchanged") || !strings.Contains(out, "(#1, updated)") {
		t.Fatalf("third publish:\n%s", out)
	}
	if prs = g.pulls(t, token); len(prs) != 1 || prs[0].Head.SHA != secondHead {
		t.Fatalf("after a no-change publish: %+v", prs)
	}

	// 4. An API error (a token the forge rejects) on a no-change run:
	// exit 2, a clear message, the token not shown.
	bad := "0123456789abcdef0123456789abcdef01234567"
	cmd := exec.CommandContext(ctx, graft, "--spec", specPath, "publish", "--provider", "gitea")
	cmd.Env = append(os.Environ(), "GITEA_TOKEN="+bad, "GIT_TERMINAL_PROMPT=0")
	outB, _ := cmd.CombinedOutput()
	t.Logf("graft publish with a rejected token (exit %d):\n%s", cmd.ProcessState.ExitCode(), outB)
	if cmd.ProcessState.ExitCode() != 2 || strings.Contains(string(outB), bad) || !strings.Contains(string(outB), "gitea API") || !strings.Contains(string(outB), "401") {
		t.Fatalf("publish with a bad token: exit %d\n%s", cmd.ProcessState.ExitCode(), outB)
	}

	// 5. Branch protection on graft/*: a clear refusal, exit 2.
	g.api(t, token, "POST", "/repos/"+user+"/"+repoName+"/branch_protections", map[string]any{"rule_name": "graft/*", "enable_push": false}, nil)
	must(t, os.WriteFile(lockPath, lock, 0o644))
	_, errOut := publish(2)
	if !strings.Contains(errOut, "the push was rejected") || !strings.Contains(errOut, branch) {
		t.Fatalf("protected branch: stderr lacks a clear refusal:\n%s", errOut)
	}
	if prs = g.pulls(t, token); len(prs) != 1 || prs[0].Head.SHA != secondHead {
		t.Fatalf("after a rejected push: %+v", prs)
	}

}

// gitea is a running server.
type gitea struct {
	url  string
	work string
	srv  *testkit.Server
	env  []string
	bin  string
	ini  string
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// giteaModuleDir is where Gitea's templates and options are: built without
// bindata, Gitea reads them from STATIC_ROOT_PATH.
func giteaModuleDir(ctx context.Context, t *testing.T, dir string) string {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "code.gitea.io/gitea")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m code.gitea.io/gitea: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func startGitea(ctx context.Context, t *testing.T, bin, dir string) *gitea {
	t.Helper()
	work := t.TempDir()
	port, err := testkit.FreePort()
	must(t, err)
	g := &gitea{url: fmt.Sprintf("http://127.0.0.1:%d", port), work: work, bin: bin, ini: filepath.Join(work, "app.ini")}
	ini := fmt.Sprintf(`I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
APP_NAME = graft test
RUN_MODE = prod
WORK_PATH = %[1]s

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[2]d
ROOT_URL = %[3]s/
DOMAIN = 127.0.0.1
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
APP_DATA_PATH = %[1]s/data
STATIC_ROOT_PATH = %[4]s

[database]
DB_TYPE = sqlite3
PATH = %[1]s/data/gitea.db

[repository]
ROOT = %[1]s/repos
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[5]s

[service]
DISABLE_REGISTRATION = true

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[mailer]
ENABLED = false

[cron]
ENABLED = false

[actions]
ENABLED = false

[log]
MODE = file
LEVEL = Info
ROOT_PATH = %[1]s/log
`, work, port, g.url, giteaModuleDir(ctx, t, dir), randomHex(16))
	must(t, os.WriteFile(g.ini, []byte(ini), 0o600))
	home := filepath.Join(work, "home")
	must(t, os.MkdirAll(home, 0o755))
	g.env = append(os.Environ(), "GITEA_WORK_DIR="+work, "HOME="+home, "GIT_TERMINAL_PROMPT=0")

	g.run(ctx, t, "migrate")
	g.run(ctx, t, "admin", "user", "create", "--username", user, "--password", password,
		"--email", "graft@example.com", "--admin", "--must-change-password=false")

	start := time.Now()
	web := exec.Command(bin, "web", "--config", g.ini, "--work-path", work)
	web.Env = g.env
	g.srv, err = testkit.StartServer(t, web, filepath.Join(work, "web.log"))
	must(t, err)
	body, err := g.srv.WaitHTTP(ctx, g.url+"/api/v1/version", time.Minute)
	if err != nil {
		t.Fatalf("Gitea: %v\n%s", err, g.logTail())
	}
	t.Logf("Gitea %s up on %s in %v", strings.TrimSpace(string(body)), g.url, time.Since(start).Round(time.Millisecond))
	return g
}

// run runs a Gitea CLI command against the app.ini.
func (g *gitea) run(ctx context.Context, t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, g.bin, append(args, "--config", g.ini, "--work-path", g.work)...)
	cmd.Env = g.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gitea %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (g *gitea) logTail() string {
	var b strings.Builder
	for _, p := range []string{g.srv.Log, filepath.Join(g.work, "log", "gitea.log")} {
		fmt.Fprintf(&b, "== %s\n%s\n", p, testkit.Tail(p, 4000))
	}
	return b.String()
}

// api calls Gitea's API with a token (or, when token is "", basic auth)
// and decodes its JSON answer into out, unless out is nil.
func (g *gitea) api(t *testing.T, token, method, path string, in, out any) {
	t.Helper()
	if data := g.call(t, token, method, path, in); out != nil {
		must(t, json.Unmarshal(data, out))
	}
}

// call calls Gitea's API, sending in as JSON unless it is nil, and
// returns the body of its answer; an answer other than 2xx fails the test.
func (g *gitea) call(t *testing.T, token, method, path string, in any) []byte {
	t.Helper()
	var body io.Reader
	if in != nil {
		data, _ := json.Marshal(in)
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, g.url+"/api/v1"+path, body)
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token == "" {
		req.SetBasicAuth(user, password)
	} else {
		req.Header.Set("Authorization", "token "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("gitea API %s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return data
}

func (g *gitea) createToken(t *testing.T) string {
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	g.api(t, "", "POST", "/users/"+user+"/tokens", map[string]any{"name": "graft", "scopes": []string{"write:repository", "write:user"}}, &tok)
	if tok.SHA1 == "" {
		t.Fatal("Gitea returned no token")
	}
	return tok.SHA1
}

func (g *gitea) createRepo(t *testing.T, token string) {
	g.api(t, token, "POST", "/user/repos", map[string]any{"name": repoName, "default_branch": "main", "auto_init": false}, nil)
}

// seed pushes main with base/ (testdata/bases/cassandra-single).
func (g *gitea) seed(t *testing.T, root string) {
	seed := t.TempDir()
	testkit.SeedRepo(t, seed, testkit.Tree{Dirs: map[string]string{"base": filepath.Join(root, "testdata", "bases", "cassandra-single")}})
	remote := strings.Replace(g.url, "http://", "http://"+user+":"+password+"@", 1) + "/" + user + "/" + repoName + ".git"
	testkit.Git(t, seed, "push", "--quiet", remote, "main")
}

type pull struct {
	Number int    `json:"number"`
	State  string `json:"state"`
	Body   string `json:"body"`
	Head   struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

func (g *gitea) pulls(t *testing.T, token string) []pull {
	var prs []pull
	g.api(t, token, "GET", "/repos/"+user+"/"+repoName+"/pulls?state=all", nil, &prs)
	return prs
}

// file returns a file of a branch through the raw endpoint.
func (g *gitea) file(t *testing.T, token, ref, path string) string {
	return string(g.call(t, token, "GET", "/repos/"+user+"/"+repoName+"/raw/"+path+"?ref="+ref, nil))
}

// buildGraft builds the graft binary from the main module.
func buildGraft(ctx context.Context, t *testing.T, root string) string {
	out := filepath.Join(t.TempDir(), "graft")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/graft")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/graft: %v\n%s", err, b)
	}
	return out
}

// writeSpec writes the cassandra-3node example spec with a gitops section
// for the Gitea repository.
func writeSpec(t *testing.T, root, path, repoURL string) {
	data, err := os.ReadFile(filepath.Join(root, "testdata", "examples", "cassandra-3node", "graft.yaml"))
	must(t, err)
	s := string(data)
	i := strings.Index(s, "\n  gitops:")
	if i < 0 {
		t.Fatal("test data: no gitops section in the example spec")
	}
	s = s[:i+1] + fmt.Sprintf(`  gitops:
    engine: flux
    base: ../../base
    overlayPath: overlays/cassandra-3node
    repo: %s
    baseBranch: main
    provider: gitea
`, repoURL)
	must(t, os.WriteFile(path, []byte(s), 0o644))
}

// must is the shared testkit.Must.
var must = testkit.Must
