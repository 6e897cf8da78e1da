package publish

import (
	"context"
	"net/http"
	"net/url"
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
type GitHub struct{ forge }

// NewGitHub returns a GitHub provider.
func NewGitHub(opts GitHubOptions) (*GitHub, error) {
	c, err := newRESTClient("github", opts.APIURL, "Bearer", opts.Token, map[string]string{
		"Accept":               "application/vnd.github+json",
		"X-GitHub-Api-Version": "2022-11-28",
	}, opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &GitHub{forge{name: "github", c: c, owner: opts.Owner, repo: opts.Repo}}, nil
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
	var found *apiPull
	for i, p := range open {
		if p.Head.Ref == pr.Head && p.Number != 0 {
			found = &open[i]
			break
		}
	}
	create := map[string]any{"title": pr.Title, "head": pr.Head, "base": pr.Base, "body": pr.Body, "maintainer_can_modify": true}
	return g.updateOrCreate(ctx, found, pr, create)
}
