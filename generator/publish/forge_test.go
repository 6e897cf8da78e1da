package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// fakeForge serves the pull-request endpoints of GitHub's REST API
// (https://docs.github.com/en/rest/pulls/pulls) or Gitea's
// (/api/v1, swagger at https://gitea.com/api/swagger), with the request and
// response shapes those documents give. It keeps the pull requests it was
// asked to open, and logs every request as a server would, without the
// Authorization header.
type fakeForge struct {
	t      *testing.T
	gitea  bool
	owner  string
	repo   string
	token  string
	mu     sync.Mutex
	pulls  []map[string]any
	log    []string
	fail   map[string]int // "METHOD" → status to answer with
	echo   bool           // answer errors with the request's headers (a careless proxy)
	server *httptest.Server
}

func newFakeForge(t *testing.T, gitea bool) *fakeForge {
	f := &fakeForge{t: t, gitea: gitea, owner: "octo-org", repo: "gitops", token: "ghp_" + strings.Repeat("S3cr3tT0k3n", 3), fail: map[string]int{}}
	f.server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.server.Close)
	return f
}

func (f *fakeForge) prefix() string {
	if f.gitea {
		return "/api/v1"
	}
	return ""
}

var pullPath = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/pulls(?:/(\d+))?$`)

func (f *fakeForge) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	var hdr []string
	for k, v := range r.Header {
		if k != "Authorization" {
			hdr = append(hdr, k+"="+strings.Join(v, ","))
		}
	}
	sort.Strings(hdr)
	f.log = append(f.log, fmt.Sprintf("%s %s %s %s", r.Method, r.URL.RequestURI(), strings.Join(hdr, " "), body))

	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	// Authentication, as each forge documents it.
	want := "Bearer " + f.token
	if f.gitea {
		want = "token " + f.token
	}
	if r.Header.Get("Authorization") != want {
		if f.gitea {
			writeJSON(401, map[string]any{"message": "token is required", "url": f.server.URL + "/api/swagger"})
		} else {
			writeJSON(401, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
		}
		return
	}
	if !f.gitea && (r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28") {
		writeJSON(400, map[string]any{"message": "missing GitHub media type or API version"})
		return
	}
	if status := f.fail[r.Method]; status != 0 {
		msg := map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "PullRequest", "code": "custom", "message": "No commits between main and graft/cassandra-3node"}}, "status": strconv.Itoa(status)}
		if f.echo {
			msg["message"] = "denied for request with Authorization: " + r.Header.Get("Authorization")
		}
		writeJSON(status, msg)
		return
	}
	m := pullPath.FindStringSubmatch(strings.TrimPrefix(r.URL.Path, f.prefix()))
	if m == nil || m[1] != f.owner || m[2] != f.repo {
		writeJSON(404, map[string]any{"message": "Not Found"})
		return
	}
	switch {
	case r.Method == http.MethodGet && m[3] == "":
		q := r.URL.Query()
		out := []map[string]any{}
		for _, p := range f.pulls {
			head := p["head"].(map[string]any)
			base := p["base"].(map[string]any)
			if q.Get("state") != "" && q.Get("state") != "all" && p["state"] != q.Get("state") {
				continue
			}
			if !f.gitea && q.Get("head") != "" && q.Get("head") != head["label"] {
				continue
			}
			if v := q.Get("base"); !f.gitea && v != "" && v != base["ref"] {
				continue
			}
			if v := q.Get("base_branch"); f.gitea && v != "" && v != base["ref"] {
				continue
			}
			out = append(out, p)
		}
		writeJSON(200, out)
	case r.Method == http.MethodPost && m[3] == "":
		var in struct{ Title, Head, Base, Body string }
		if err := json.Unmarshal(body, &in); err != nil || in.Title == "" || in.Head == "" || in.Base == "" {
			writeJSON(422, map[string]any{"message": "Validation Failed"})
			return
		}
		for _, p := range f.pulls {
			if p["state"] == "open" && p["head"].(map[string]any)["ref"] == in.Head {
				writeJSON(422, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for " + f.owner + ":" + in.Head + "."}}})
				return
			}
		}
		n := len(f.pulls) + 1
		p := f.pull(n, in.Title, in.Head, in.Base, in.Body)
		f.pulls = append(f.pulls, p)
		writeJSON(201, p)
	case r.Method == http.MethodPatch && m[3] != "":
		n, _ := strconv.Atoi(m[3])
		if n < 1 || n > len(f.pulls) {
			writeJSON(404, map[string]any{"message": "Not Found"})
			return
		}
		var in struct{ Title, Body string }
		_ = json.Unmarshal(body, &in)
		p := f.pulls[n-1]
		p["title"], p["body"] = in.Title, in.Body
		status := 200
		if f.gitea {
			status = 201 // Gitea answers an edit with 201 Created
		}
		writeJSON(status, p)
	default:
		writeJSON(405, map[string]any{"message": "Method Not Allowed"})
	}
}

// pull is a pull request as the forges return it (abridged to the fields
// both document and graft could read).
func (f *fakeForge) pull(n int, title, head, base, body string) map[string]any {
	web := "https://github.com"
	if f.gitea {
		web = f.server.URL
	}
	repo := map[string]any{"id": 1296269, "name": f.repo, "full_name": f.owner + "/" + f.repo, "owner": map[string]any{"login": f.owner}}
	return map[string]any{
		"url":      f.server.URL + f.prefix() + "/repos/" + f.owner + "/" + f.repo + "/pulls/" + strconv.Itoa(n),
		"id":       1000 + n,
		"number":   n,
		"html_url": web + "/" + f.owner + "/" + f.repo + "/pull" + map[bool]string{true: "s", false: ""}[f.gitea] + "/" + strconv.Itoa(n),
		"state":    "open",
		"title":    title,
		"body":     body,
		"user":     map[string]any{"login": "graft-bot", "id": 1},
		"head":     map[string]any{"label": f.owner + ":" + head, "ref": head, "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "repo": repo},
		"base":     map[string]any{"label": f.owner + ":" + base, "ref": base, "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5f", "repo": repo},
		"draft":    false,
		"merged":   false,
	}
}

func (f *fakeForge) provider(t *testing.T) Provider {
	t.Helper()
	var p Provider
	var err error
	if f.gitea {
		p, err = NewGitea(GiteaOptions{ServerURL: f.server.URL, Token: f.token, Owner: f.owner, Repo: f.repo})
	} else {
		p, err = NewGitHub(GitHubOptions{APIURL: f.server.URL, Token: f.token, Owner: f.owner, Repo: f.repo})
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestForgeContract(t *testing.T) {
	for _, gitea := range []bool{false, true} {
		name := map[bool]string{false: "github", true: "gitea"}[gitea]
		t.Run(name, func(t *testing.T) {
			f := newFakeForge(t, gitea)
			p := f.provider(t)
			spec := PullRequestSpec{Head: "graft/cassandra-3node", Base: "main", Title: "graft: migrate", Body: "| a | b |"}

			created, err := p.EnsurePullRequest(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if !created.Created || created.Number != 1 || !strings.HasSuffix(created.URL, "/1") {
				t.Fatalf("create: %+v", created)
			}
			spec.Body = "updated body"
			updated, err := p.EnsurePullRequest(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if updated.Created || updated.Number != 1 || updated.URL != created.URL {
				t.Fatalf("update: %+v, want pull request 1 updated", updated)
			}
			if len(f.pulls) != 1 || f.pulls[0]["body"] != "updated body" {
				t.Fatalf("forge holds %d pull requests (%v), want one with the new body", len(f.pulls), f.pulls)
			}
			// A pull request of another branch is not taken for ours.
			other, err := p.EnsurePullRequest(context.Background(), PullRequestSpec{Head: "graft/other", Base: "main", Title: "t", Body: "b"})
			if err != nil || !other.Created || other.Number != 2 {
				t.Fatalf("other branch: %+v, %v", other, err)
			}

			// The requests as documented.
			wantLog := []string{"GET /repos/octo-org/gitops/pulls?", "POST /repos/octo-org/gitops/pulls ", "GET /repos/octo-org/gitops/pulls?", "PATCH /repos/octo-org/gitops/pulls/1 "}
			for i, w := range wantLog {
				w = strings.Replace(w, " /", " "+f.prefix()+"/", 1)
				if i >= len(f.log) || !strings.HasPrefix(f.log[i], w) {
					t.Fatalf("request %d: %q, want prefix %q", i, f.log[i], w)
				}
			}
			if gitea {
				if !strings.Contains(f.log[0], "base_branch=main") || !strings.Contains(f.log[0], "state=open") {
					t.Errorf("Gitea list query: %s", f.log[0])
				}
			} else if !strings.Contains(f.log[0], "head=octo-org%3Agraft%2Fcassandra-3node") || !strings.Contains(f.log[0], "state=open") {
				t.Errorf("GitHub find-by-head query: %s", f.log[0])
			}
			// The token travels only in the Authorization header: the
			// forge's request log (URL, other headers, bodies) never has it.
			for _, l := range f.log {
				if strings.Contains(l, f.token) || strings.Contains(l, "S3cr3t") {
					t.Fatalf("token in a request log line: %s", l)
				}
			}
		})
	}
}

func TestForgeAPIErrors(t *testing.T) {
	for _, gitea := range []bool{false, true} {
		for _, tc := range []struct {
			name   string
			method string
			status int
			echo   bool
		}{
			{"list forbidden", http.MethodGet, 403, false},
			{"create invalid", http.MethodPost, 422, false},
			{"error echoes the token", http.MethodGet, 500, true},
		} {
			t.Run(fmt.Sprintf("gitea=%v/%s", gitea, tc.name), func(t *testing.T) {
				f := newFakeForge(t, gitea)
				f.fail[tc.method] = tc.status
				f.echo = tc.echo
				_, err := f.provider(t).EnsurePullRequest(context.Background(), PullRequestSpec{Head: "graft/x", Base: "main", Title: "t", Body: "b"})
				var apiErr *APIError
				if !errors.As(err, &apiErr) || !errors.Is(err, ErrAPI) || apiErr.Status != tc.status {
					t.Fatalf("err = %v, want an APIError with status %d", err, tc.status)
				}
				if strings.Contains(err.Error(), f.token) {
					t.Fatalf("token in the error: %v", err)
				}
				if !tc.echo && !strings.Contains(err.Error(), "Validation Failed") {
					t.Errorf("the forge's message is lost: %v", err)
				}
				if tc.echo && !strings.Contains(err.Error(), Redacted) {
					t.Errorf("echoed token not redacted: %v", err)
				}
			})
		}
	}
}

func TestForgeBadToken(t *testing.T) {
	f := newFakeForge(t, false)
	p, _ := NewGitHub(GitHubOptions{APIURL: f.server.URL, Token: "wrong-token-value", Owner: f.owner, Repo: f.repo})
	_, err := p.EnsurePullRequest(context.Background(), PullRequestSpec{Head: "graft/x", Base: "main", Title: "t"})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Bad credentials") {
		t.Fatalf("err = %v, want 401 Bad credentials", err)
	}
}

func TestParseRemote(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Remote
		err  bool
	}{
		{in: "https://github.com/octo-org/gitops.git", want: Remote{Scheme: "https", Host: "github.com", Owner: "octo-org", Name: "gitops"}},
		{in: "https://x-access-token:tok@github.com/octo-org/gitops", want: Remote{Scheme: "https", Host: "github.com", Owner: "octo-org", Name: "gitops"}},
		{in: "git@github.com:octo-org/gitops.git", want: Remote{Scheme: "https", Host: "github.com", Owner: "octo-org", Name: "gitops"}},
		{in: "ssh://git@ghe.example.com:2222/team/gitops.git", want: Remote{Scheme: "https", Host: "ghe.example.com", Owner: "team", Name: "gitops"}},
		{in: "http://127.0.0.1:3000/graft/gitops.git", want: Remote{Scheme: "http", Host: "127.0.0.1:3000", Owner: "graft", Name: "gitops"}},
		{in: "https://example.com/git/graft/gitops/", want: Remote{Scheme: "https", Host: "example.com", Prefix: "git", Owner: "graft", Name: "gitops"}},
		{in: "https://github.com/gitops.git", err: true},
		{in: "/srv/git/gitops.git", err: true},
		{in: "ftp://host/a/b", err: true},
	} {
		got, err := ParseRemote(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseRemote(%q) = %+v, %v; want %+v, err %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "tok@") {
			t.Errorf("error leaks user info: %v", err)
		}
	}
	if got := (Remote{Scheme: "https", Host: "example.com", Prefix: "git"}).WebURL(); got != "https://example.com/git" {
		t.Errorf("WebURL = %s", got)
	}
}

func TestNewProvider(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if p, err := NewProvider("none", "whatever", ProviderOptions{Getenv: getenv}); p != nil || err != nil {
		t.Fatalf("none: %v, %v", p, err)
	}
	if _, err := NewProvider("github", "https://github.com/o/r.git", ProviderOptions{Getenv: getenv}); err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") {
		t.Fatalf("github without a token: %v", err)
	}
	if _, err := NewProvider("gitea", "https://gitea.example/o/r.git", ProviderOptions{Getenv: getenv}); err == nil || !strings.Contains(err.Error(), "GITEA_TOKEN") {
		t.Fatalf("gitea without a token: %v", err)
	}
	if _, err := NewProvider("bitbucket", "https://x/o/r", ProviderOptions{Getenv: getenv}); err == nil {
		t.Fatal("unknown provider accepted")
	}
	// The API base of each provider: TestProviderRefusesTokenOverPlainHTTP.
}

// apiBaseCase is a provider kind and remote, the GITHUB_API_URL set, and
// the API base the provider must use.
type apiBaseCase struct{ kind, remote, apiURL, wantBase string }

// wantAPIBases checks that NewProvider, with env's variables, makes each
// case's provider with its API base.
func wantAPIBases(t *testing.T, env map[string]string, cases []apiBaseCase) {
	t.Helper()
	for _, tc := range cases {
		env["GITHUB_API_URL"] = tc.apiURL
		p, err := NewProvider(tc.kind, tc.remote, ProviderOptions{Getenv: func(k string) string { return env[k] }})
		if err != nil {
			t.Errorf("%s %s: %v", tc.kind, tc.remote, err)
			continue
		}
		if base := apiBase(p); base != tc.wantBase {
			t.Errorf("%s %s: API base %s, want %s", tc.kind, tc.remote, base, tc.wantBase)
		}
	}
}

func TestProviderRefusesTokenOverPlainHTTP(t *testing.T) {
	env := map[string]string{"GITHUB_TOKEN": "t0ken-value", "GITEA_TOKEN": "t0ken-value"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct{ kind, remote, apiURL, wantErr string }{
		// Plain http to a remote host: refused, naming the URL and why.
		{"gitea", "http://gitea.example:3000/o/r.git", "", "http://gitea.example:3000/api/v1"},
		{"github", "https://github.com/o/r.git", "http://api.example/v3", "http://api.example/v3"},
		{"github", "http://ghe.example/o/r.git", "", "set GITHUB_API_URL"},
		{"github", "http://user:pw-secret@ghe.example/o/r.git", "", "set GITHUB_API_URL"},
		{"github", "https://github.com/o/r.git", "http://user:pw-secret@10.0.0.1/api", "http://10.0.0.1/api"},
	} {
		env["GITHUB_API_URL"] = tc.apiURL
		p, err := NewProvider(tc.kind, tc.remote, ProviderOptions{Getenv: getenv})
		if err == nil {
			t.Errorf("%s %s (API %q): a provider over plain http: %+v", tc.kind, tc.remote, tc.apiURL, p)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.wantErr) || !strings.Contains(msg, "http") || !strings.Contains(msg, "https") {
			t.Errorf("%s %s: error %q does not name %q and say to use https", tc.kind, tc.remote, msg, tc.wantErr)
		}
		if strings.Contains(msg, "pw-secret") || strings.Contains(msg, "t0ken-value") {
			t.Errorf("the error leaks a secret: %s", msg)
		}
	}
	// Loopback addresses may use http (the Gitea test harness does); a
	// GitHub Enterprise host gets https://<host>/api/v3.
	wantAPIBases(t, env, []apiBaseCase{
		{"github", "git@github.com:o/r.git", "", "https://api.github.com"},
		{"github", "https://ghe.corp.example/o/r.git", "", "https://ghe.corp.example/api/v3"},
		{"github", "https://github.com/o/r.git", "https://api.example/v3/", "https://api.example/v3"},
		{"gitea", "git@gitea.example:o/r.git", "", "https://gitea.example/api/v1"},
		{"gitea", "http://127.0.0.1:3000/o/r.git", "", "http://127.0.0.1:3000/api/v1"},
		{"gitea", "http://127.9.8.7/o/r.git", "", "http://127.9.8.7/api/v1"},
		{"gitea", "http://localhost:3000/o/r.git", "", "http://localhost:3000/api/v1"},
		{"gitea", "http://[::1]:3000/o/r.git", "", "http://[::1]:3000/api/v1"},
		{"github", "http://127.0.0.1:8080/o/r.git", "", "http://127.0.0.1:8080/api/v3"},
		{"github", "https://github.com/o/r.git", "http://localhost:9999/api", "http://localhost:9999/api"},
		{"github", "git@ghe.corp.example:o/r.git", "", "https://ghe.corp.example/api/v3"},
		{"github", "ssh://git@ghe.corp.example:2222/o/r.git", "", "https://ghe.corp.example/api/v3"},
		{"github", "https://GitHub.com/o/r.git", "", "https://api.github.com"},
	})
	// NewGitHub and NewGitea refuse it too, with the sentinel.
	if _, err := NewGitea(GiteaOptions{ServerURL: "http://gitea.example", Token: "t0ken-value"}); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("NewGitea over http: %v, want ErrInsecureURL", err)
	}
	if _, err := NewGitHub(GitHubOptions{APIURL: "http://ghe.example/api/v3", Token: "t0ken-value"}); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("NewGitHub over http: %v, want ErrInsecureURL", err)
	}
}

func TestProviderRefusesRedirectToPlainHTTP(t *testing.T) {
	// The default client's policy: no redirect down to http, except to a
	// loopback address, and at most 10.
	req, _ := http.NewRequest(http.MethodGet, "http://api.example/x", nil)
	if err := checkRedirect(req, []*http.Request{{}}); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("redirect to http://api.example: %v, want ErrInsecureURL", err)
	}
	req, _ = http.NewRequest(http.MethodGet, "http://127.0.0.1:3000/x", nil)
	if err := checkRedirect(req, []*http.Request{{}}); err != nil {
		t.Errorf("redirect to loopback: %v", err)
	}
	if err := checkRedirect(req, make([]*http.Request, 10)); err == nil {
		t.Error("an 11th redirect was followed")
	}
	p, err := NewGitHub(GitHubOptions{APIURL: "https://ghe.example/api/v3", Token: "t0ken-value"})
	if err != nil {
		t.Fatal(err)
	}
	if p.c.http.CheckRedirect == nil {
		t.Error("the default client has no redirect policy")
	}
}

// apiBase is the REST API base a provider calls.
func apiBase(p Provider) string {
	switch p := p.(type) {
	case *GitHub:
		return p.c.base.String()
	case *Gitea:
		return p.c.base.String()
	}
	return ""
}

// TestForgeErrorBodyIsOneLine: what a forge (or a proxy before it)
// answers an error with is the forge's text: in graft's error it is one
// line with no raw control byte, whether it is an error document or a
// page of text.
func TestForgeErrorBodyIsOneLine(t *testing.T) {
	h := termtexttest.Hostile
	doc, err := json.Marshal(map[string]any{"message": h, "errors": []string{h}})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{string(doc), "<html>\n<body>" + h + "</body>\n</html>"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, body)
		}))
		p, err := NewGitHub(GitHubOptions{APIURL: srv.URL, Token: "ghp_" + strings.Repeat("x", 20), Owner: "o", Repo: "r"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.EnsurePullRequest(context.Background(), PullRequestSpec{Head: "graft/x", Base: "main", Title: "t", Body: "b"})
		srv.Close()
		if !errors.Is(err, ErrAPI) || !strings.Contains(err.Error(), `x\n✓ check passed`) {
			t.Fatalf("err = %v, want an API error that shows the body escaped", err)
		}
		termtexttest.Check(t, "the API error", err.Error()+"\n", 1)
	}
}
