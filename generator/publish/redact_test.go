package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const httpBackend = "/usr/lib/git-core/git-http-backend"

// gitHTTPServer serves the bare repositories under root over git's smart
// HTTP protocol (git http-backend), requiring basic auth with password
// token, as a forge does for https remotes.
func gitHTTPServer(t *testing.T, root, token string) *httptest.Server {
	t.Helper()
	if _, err := os.Stat(httpBackend); err != nil {
		t.Skip("git http-backend is not installed")
	}
	backend := &cgi.Handler{
		Path: httpBackend,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=graft"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, ok := r.BasicAuth(); !ok || pw != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="forge"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTokenNeverPrinted publishes over https-like smart HTTP with a token in
// the remote URL and another in GITHUB_TOKEN, and checks that neither
// appears in the result, the log (at debug level), the pull-request
// requests' log or any error.
func TestTokenNeverPrinted(t *testing.T) {
	hermeticGit(t, true)
	r := newRemote(t)
	root := filepath.Dir(r.bare)
	// Serve it as octo-org/gitops.git, the path the provider reads.
	if err := os.MkdirAll(filepath.Join(root, "octo-org"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(r.bare, filepath.Join(root, "octo-org", "gitops.git")); err != nil {
		t.Fatal(err)
	}
	r.bare = filepath.Join(root, "octo-org", "gitops.git")
	gitT(t, r.bare, "config", "http.receivepack", "true")

	gitToken := "glpat-" + strings.Repeat("GitT0ken", 4)
	srv := gitHTTPServer(t, root, gitToken)
	forge := newFakeForge(t, false)
	remote := strings.Replace(srv.URL, "http://", "http://x-access-token:"+gitToken+"@", 1) + "/octo-org/gitops.git"
	env := map[string]string{"GITHUB_TOKEN": forge.token, "GITHUB_API_URL": forge.server.URL}
	newProv := func(u string) (Provider, error) {
		return NewProvider("github", u, ProviderOptions{Getenv: func(k string) string { return env[k] }})
	}
	secrets := []string{forge.token}
	leaks := func(where, s string) {
		t.Helper()
		for _, tok := range []string{gitToken, forge.token} {
			if strings.Contains(s, tok) {
				t.Fatalf("a token appears in %s:\n%s", where, s)
			}
		}
	}

	m, rec := example(t, remote)
	log, logs := logBuffer()
	res, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, NewProvider: newProv, Secrets: secrets, Log: log})
	if err != nil {
		leaks("the error", err.Error())
		t.Fatalf("publish over http: %v\n%s", err, logs)
	}
	if !res.Pushed || res.PullRequest == nil || !res.PullRequest.Created || r.head(t, branch) != res.Commit {
		t.Fatalf("result %+v, pull request %+v", res, res.PullRequest)
	}
	if !strings.Contains(res.Remote, Redacted+"@") {
		t.Errorf("result remote %q is not redacted", res.Remote)
	}
	leaks("the result", res.Remote)
	leaks("the log", logs.String())
	leaks("the forge's request log", strings.Join(forge.log, "\n"))
	if !strings.Contains(logs.String(), "git") {
		t.Fatalf("the debug log has no git lines to check:\n%s", logs)
	}

	// A wrong git token, then an API error that echoes the API token.
	bad := strings.Replace(remote, gitToken, gitToken[:10]+"-wrong", 1)
	_, err = Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, Repo: bad, Secrets: secrets, Log: log})
	if err == nil {
		t.Fatal("publish with a wrong token succeeded")
	}
	leaks("the error", err.Error())
	if strings.Contains(err.Error(), gitToken[:10]) {
		t.Fatalf("the wrong token leaks: %v", err)
	}

	forge.fail["PATCH"], forge.echo = 502, true
	_, err = Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, NewProvider: newProv, Secrets: secrets, Log: log})
	if !errors.Is(err, ErrAPI) {
		t.Fatalf("err = %v, want the API error", err)
	}
	leaks("the API error", err.Error())
	leaks("the log", logs.String())
	if !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "is pushed") {
		t.Errorf("API error message: %v", err)
	}
}

func TestRedactor(t *testing.T) {
	r := newRedactor("s3cret-token", "")
	for in, want := range map[string]string{
		"https://user:pass@github.com/o/r.git":     "https://***@github.com/o/r.git",
		"fatal: https://ghp_abc@github.com/o/r":    "fatal: https://***@github.com/o/r",
		"Authorization: Bearer s3cret-token":       "Authorization: Bearer ***",
		"git@github.com:o/r.git":                   "git@github.com:o/r.git",
		"ssh://git@github.com/o/r.git":             "ssh://git@github.com/o/r.git",
		"HTTP://U:P@host/x and http://a@b/c":       "HTTP://***@host/x and http://***@b/c",
		"plain text with no secret, user@host.com": "plain text with no secret, user@host.com",
	} {
		if got := r.String(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactURLUserInfoAnyScheme(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// http(s): the whole user-info, as before.
		{"https://x-access-token:ghs_abc@github.com/o/r", "https://***@github.com/o/r"},
		{"http://tok3n@127.0.0.1:3000/o/r", "http://***@127.0.0.1:3000/o/r"},
		// Other schemes: the password; the user name stays.
		{"ssh://deploy:hunter2-pw@git.example.com:2222/o/r.git", "ssh://deploy:***@git.example.com:2222/o/r.git"},
		{"git+ssh://me:pw12@host/o/r", "git+ssh://me:***@host/o/r"},
		{"ftp://anon:secret-pw@files.example/x", "ftp://anon:***@files.example/x"},
		{"GIT://User:Pass@host/x", "GIT://User:***@host/x"},
		// A user name that looks like a token goes whole.
		{"ssh://ghp_0123456789abcdefABCDEF@github.com/o/r", "ssh://***@github.com/o/r"},
		{"git://0123456789abcdef0123456789abcdef01234567@gitea.local/o/r", "git://***@gitea.local/o/r"},
		{"ssh://glpat-abcdef:x@gitlab.example/o/r", "ssh://***@gitlab.example/o/r"},
		// Plain user names stay.
		{"ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"},
		{"ssh://firstname.lastname@host/o/r", "ssh://firstname.lastname@host/o/r"},
		{"git@github.com:o/r.git", "git@github.com:o/r.git"},
		// In text, several URLs, and an @ after the path is no user-info.
		{"fatal: could not read from ssh://u:p4ss@h/r and ftp://a:b@c/d", "fatal: could not read from ssh://u:***@h/r and ftp://a:***@c/d"},
		{"https://host/path?who=a@b", "https://host/path?who=a@b"},
		{"mailto:someone@example.com", "mailto:someone@example.com"},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRedactorQuotedAndNested: a secret is hidden in the forms a message
// quotes it in (%q, JSON), and a secret that holds another is hidden whole.
func TestRedactorQuotedAndNested(t *testing.T) {
	short, long := "SEKRETabcd", "xx-SEKRETabcd-\"yy\"\n"
	r := Redactor(short, long)
	for _, in := range []string{long, fmt.Sprintf("%q", long), string(mustJSON(t, long))} {
		if got := r(in); strings.Contains(got, "SEKRET") || strings.Contains(got, "yy") {
			t.Errorf("Redactor(%q) = %q; want the secret hidden whole", in, got)
		}
	}
	// As slog's JSON handler writes it: HTML as it is, a control byte as
	// \u0001, U+2028 escaped.
	mixed := "SEKRET<b>&\x01\"é\u2028z"
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("m", "k", mixed)
	if got := Redactor(mixed)(logged.String()); strings.Contains(got, "SEKRET") {
		t.Errorf("a secret in a JSON log line: %s", got)
	}
	if got := DataRedactor()("https://git@example.com/r https://u:pw123456@example.com"); got != "https://git@example.com/r https://u:***@example.com" {
		t.Errorf("DataRedactor: %q; want the user name kept and the password hidden", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
