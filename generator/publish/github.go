package publish

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// GitHubOptions configure a GitHub provider.
type GitHubOptions struct {
	// APIURL is https://api.github.com, or https://<host>/api/v3 for
	// GitHub Enterprise Server.
	APIURL string
	// Token is sent as "Authorization: Bearer <token>" and nowhere else.
	Token       string
	Owner, Repo string
	HTTPClient  *http.Client
}

// GitHub opens pull requests through the GitHub REST API.
type GitHub struct {
	c           *restClient
	owner, repo string
}

// NewGitHub returns a GitHub provider.
func NewGitHub(opts GitHubOptions) (*GitHub, error) {
	c, err := newRESTClient("github", opts.APIURL, "Bearer", opts.Token, map[string]string{
		"Accept":               "application/vnd.github+json",
		"X-GitHub-Api-Version": "2022-11-28",
	}, opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &GitHub{c: c, owner: opts.Owner, repo: opts.Repo}, nil
}

// Name implements Provider.
func (g *GitHub) Name() string { return "github" }

func (g *GitHub) pulls() string {
	return "/repos/" + url.PathEscape(g.owner) + "/" + url.PathEscape(g.repo) + "/pulls"
}

// EnsurePullRequest implements Provider:
// GET /repos/{owner}/{repo}/pulls?head={owner}:{branch}&base={base}&state=open,
// then PATCH /repos/{owner}/{repo}/pulls/{number} or POST /repos/{owner}/{repo}/pulls.
func (g *GitHub) EnsurePullRequest(ctx context.Context, pr PullRequestSpec) (*PullRequest, error) {
	var open []apiPull
	q := url.Values{"head": {g.owner + ":" + pr.Head}, "base": {pr.Base}, "state": {"open"}}
	if err := g.c.do(ctx, http.MethodGet, g.pulls(), q, nil, &open); err != nil {
		return nil, err
	}
	for _, p := range open {
		if p.Head.Ref != pr.Head || p.Number == 0 {
			continue
		}
		var out apiPull
		edit := map[string]string{"title": pr.Title, "body": pr.Body}
		if err := g.c.do(ctx, http.MethodPatch, g.pulls()+"/"+strconv.Itoa(p.Number), nil, edit, &out); err != nil {
			return nil, err
		}
		return &PullRequest{Number: p.Number, URL: firstNonEmpty(out.HTMLURL, p.HTMLURL)}, nil
	}
	var out apiPull
	create := map[string]any{"title": pr.Title, "head": pr.Head, "base": pr.Base, "body": pr.Body, "maintainer_can_modify": true}
	if err := g.c.do(ctx, http.MethodPost, g.pulls(), nil, create, &out); err != nil {
		return nil, err
	}
	if out.Number == 0 {
		return nil, &APIError{Provider: "github", Method: http.MethodPost, Path: g.pulls(), Status: http.StatusCreated, Message: "the response has no pull request number"}
	}
	return &PullRequest{Number: out.Number, URL: out.HTMLURL, Created: true}, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
