package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// ErrAPI is wrapped by every error a pull-request provider's API returns.
var ErrAPI = errors.New("pull-request API error")

// PullRequestSpec is what graft asks a provider for.
type PullRequestSpec struct {
	// Head is the branch with the overlay (graft/<migration>).
	Head string
	// Base is the branch the pull request targets.
	Base  string
	Title string
	Body  string
}

// PullRequest is an opened or updated pull request.
type PullRequest struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
	// Created is true when this run opened it, false when it updated the
	// open pull request of the branch.
	Created bool `json:"created"`
}

// Provider opens or updates the one pull request of a branch.
type Provider interface {
	// Name is github or gitea.
	Name() string
	// EnsurePullRequest updates the open pull request from Head to Base,
	// or opens one if there is none. It never opens a second one.
	EnsurePullRequest(ctx context.Context, pr PullRequestSpec) (*PullRequest, error)
}

// Remote is a forge repository parsed from a git remote URL.
type Remote struct {
	// Scheme and Host of the forge's web server (an ssh remote gives https).
	Scheme string
	Host   string
	// Prefix is the path of a forge served below the host's root (for
	// example a Gitea at https://example.com/git), without slashes around.
	Prefix string
	Owner  string
	Name   string
}

// WebURL is the forge's root URL, e.g. https://gitea.example.com/git.
func (r Remote) WebURL() string {
	u := r.Scheme + "://" + r.Host
	if r.Prefix != "" {
		u += "/" + r.Prefix
	}
	return u
}

var scpLike = regexp.MustCompile(`^(?:[^@/]+@)?([^:/]+):(.+)$`)

// ParseRemote reads owner and repository from a remote URL in the https,
// http, ssh:// or scp-like (git@host:owner/repo.git) form.
func ParseRemote(raw string) (Remote, error) {
	bad := func(why string) (Remote, error) {
		return Remote{}, fmt.Errorf("cannot read owner/repo from remote URL %s: %s", termtext.Value(RedactURL(raw)), why)
	}
	var r Remote
	var p string
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return bad("not a URL")
		}
		switch u.Scheme {
		case "https", "http":
			r.Scheme, r.Host = u.Scheme, u.Host
		case "ssh", "git", "git+ssh", "ssh+git":
			r.Scheme, r.Host = "https", u.Hostname()
		default:
			return bad(fmt.Sprintf("scheme %q is not https, http or ssh", u.Scheme))
		}
		p = u.Path
	} else if m := scpLike.FindStringSubmatch(raw); m != nil {
		r.Scheme, r.Host, p = "https", m[1], m[2]
	} else {
		return bad("expected https://host/owner/repo(.git) or git@host:owner/repo(.git)")
	}
	if r.Host == "" {
		return bad("no host")
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	parts := strings.Split(p, "/")
	if len(parts) < 2 || parts[len(parts)-1] == "" || parts[len(parts)-2] == "" {
		return bad("the path is not owner/repo")
	}
	r.Owner, r.Name = parts[len(parts)-2], parts[len(parts)-1]
	r.Prefix = strings.Join(parts[:len(parts)-2], "/")
	return r, nil
}

// ProviderOptions configure NewProvider.
type ProviderOptions struct {
	// Getenv reads GITHUB_TOKEN, GITHUB_API_URL and GITEA_TOKEN
	// (os.Getenv when nil).
	Getenv func(string) string
	// HTTPClient is used for API calls (a client with a 30 s timeout when nil).
	HTTPClient *http.Client
}

// NewProvider returns the provider kind (github, gitea or none) for the
// repository at remoteURL; none gives a nil Provider. The token comes from
// GITHUB_TOKEN or GITEA_TOKEN; Gitea's server from the remote URL.
//
// GitHub's API base is GITHUB_API_URL when set. Otherwise it is
// https://api.github.com for a github.com remote, and for any other host
// graft assumes GitHub Enterprise Server and guesses https://<host>/api/v3,
// as the gh command line does: the token goes to the host the remote
// already names, and only over https. Set GITHUB_API_URL when the API lives
// elsewhere.
//
// A token is never sent over plain http, except to a loopback address
// (127.0.0.0/8, ::1, localhost), where a local test forge may serve http;
// an http API URL for any other host is an error.
func NewProvider(kind, remoteURL string, opts ProviderOptions) (Provider, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	switch kind {
	case spec.ProviderNone, "":
		return nil, nil
	case spec.ProviderGitHub, spec.ProviderGitea:
		r, err := ParseRemote(remoteURL)
		if err != nil {
			return nil, err
		}
		tokenVar := map[string]string{spec.ProviderGitHub: "GITHUB_TOKEN", spec.ProviderGitea: "GITEA_TOKEN"}[kind]
		token := getenv(tokenVar)
		if token == "" {
			return nil, fmt.Errorf("provider %s needs a token: set %s", kind, tokenVar)
		}
		if kind == spec.ProviderGitea {
			return NewGitea(GiteaOptions{ServerURL: r.WebURL(), Token: token, Owner: r.Owner, Repo: r.Name, HTTPClient: opts.HTTPClient})
		}
		api := getenv("GITHUB_API_URL")
		if api == "" {
			api = "https://api.github.com"
			if !strings.EqualFold(r.Host, "github.com") {
				// GitHub Enterprise Server: https://<host>/api/v3 (an
				// http remote gives http, allowed for loopback only).
				api = r.WebURL() + "/api/v3"
				if r.Scheme == "http" && !isLoopback(r.Host) {
					return nil, fmt.Errorf("provider github: the remote %s is plain http, and graft sends GITHUB_TOKEN only over https; set GITHUB_API_URL to the https URL of the API", termtext.Value(RedactURL(remoteURL)))
				}
			}
		}
		return NewGitHub(GitHubOptions{APIURL: api, Token: token, Owner: r.Owner, Repo: r.Name, HTTPClient: opts.HTTPClient})
	}
	return nil, fmt.Errorf("provider %q is not github, gitea or none", kind)
}

// APIError is a failed call to a provider's API. It never holds the token.
type APIError struct {
	Provider string
	Method   string
	Path     string
	Status   int
	Message  string
}

// Error is one line: the message is the forge's (an error document, or
// the body of a proxy's error page), so every rune a terminal would act on
// is escaped in place (termtext.Line), newlines included.
func (e *APIError) Error() string {
	if e.Status == 0 {
		return termtext.Line(fmt.Sprintf("%s API: %s %s: %s", e.Provider, e.Method, e.Path, e.Message))
	}
	return termtext.Line(fmt.Sprintf("%s API: %s %s: %d %s: %s", e.Provider, e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message))
}

func (e *APIError) Unwrap() error { return ErrAPI }

// restClient is the JSON-over-HTTP part both providers share.
type restClient struct {
	provider string
	base     *url.URL
	// auth is the Authorization header value; it is sent in no other place.
	auth    string
	headers map[string]string
	http    *http.Client
	redact  *redactor
}

// ErrInsecureURL is wrapped by the error of a provider whose API URL is
// plain http to a host that is not a loopback address.
var ErrInsecureURL = errors.New("refusing to send a token over plain http")

func newRESTClient(provider, base, scheme, token string, headers map[string]string, client *http.Client) (*restClient, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s API URL %q is not an http(s) URL", provider, RedactURL(base))
	}
	u.User = nil
	if err := secureURL(u); err != nil {
		return nil, fmt.Errorf("%s API URL %s: %w", provider, u.Redacted(), err)
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: checkRedirect}
	}
	return &restClient{provider: provider, base: u, auth: scheme + " " + token, headers: headers, http: client, redact: newRedactor(token)}, nil
}

// secureURL refuses plain http, unless to a loopback host.
func secureURL(u *url.URL) error {
	if strings.EqualFold(u.Scheme, "http") && !isLoopback(u.Host) {
		return fmt.Errorf("%w: the token would travel unencrypted to %s; use https (plain http is allowed only to a loopback address)", ErrInsecureURL, u.Hostname())
	}
	return nil
}

// isLoopback reports whether host (with or without a port) is localhost or
// a loopback IP address (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkRedirect is the default client's redirect policy: Go's own (at most
// 10), and never a redirect from https down to plain http, which would
// carry the Authorization header unencrypted when the host stays the same.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if err := secureURL(req.URL); err != nil {
		return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)
	}
	return nil
}

// maxResponse bounds what graft reads of an API response.
const maxResponse = 4 << 20

// do sends a JSON request to path (relative to the API base, with an
// optional query) and decodes a 2xx JSON response into out.
func (c *restClient) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	if query != nil {
		u.RawQuery = query.Encode()
	}
	fail := func(status int, msg string) error {
		return &APIError{Provider: c.provider, Method: method, Path: path, Status: status, Message: c.redact.String(msg)}
	}
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fail(0, err.Error())
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "graft")
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", c.auth)
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the URL, which holds no secret (the token
		// is in a header), but redact anyway.
		return fail(0, err.Error())
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fail(resp.StatusCode, "reading the response: "+err.Error())
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(resp.StatusCode, apiMessage(data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fail(resp.StatusCode, "the response is not the expected JSON: "+err.Error())
	}
	return nil
}

// apiMessage extracts the message of a GitHub or Gitea error document:
// {"message": "...", "errors": [{"message": "..."} or "..."]}.
func apiMessage(data []byte) string {
	var doc struct {
		Message string            `json:"message"`
		Errors  []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Message == "" {
		s := strings.TrimSpace(string(data))
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		if s == "" {
			s = "(empty response)"
		}
		return s
	}
	msg := doc.Message
	for _, raw := range doc.Errors {
		var e struct {
			Message string `json:"message"`
			Code    string `json:"code"`
			Field   string `json:"field"`
		}
		var s string
		switch {
		case json.Unmarshal(raw, &s) == nil && s != "":
			msg += "; " + s
		case json.Unmarshal(raw, &e) == nil && e.Message != "":
			msg += "; " + e.Message
		case e.Code != "":
			msg += "; " + strings.TrimSpace(e.Field+" "+e.Code)
		}
	}
	return msg
}

// apiPull is the part of a GitHub or Gitea pull request graft reads.
type apiPull struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
	State   string `json:"state"`
	Head    struct {
		Ref string `json:"ref"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}
