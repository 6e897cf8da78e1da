package publish

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// GiteaOptions configure a Gitea provider.
type GiteaOptions struct {
	// ServerURL is the Gitea web root, e.g. https://gitea.example.com.
	ServerURL string
	// Token is sent as "Authorization: token <token>" and nowhere else.
	Token       string
	Owner, Repo string
	HTTPClient  *http.Client
}

// Gitea opens pull requests through the Gitea REST API (/api/v1).
type Gitea struct{ forge }

// NewGitea returns a Gitea provider.
func NewGitea(opts GiteaOptions) (*Gitea, error) {
	c, err := newRESTClient("gitea", opts.ServerURL+"/api/v1", "token", opts.Token, nil, opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &Gitea{forge{name: "gitea", c: c, owner: opts.Owner, repo: opts.Repo}}, nil
}

// giteaPageSize and giteaMaxPages bound the search for an open pull request.
const (
	giteaPageSize = 50
	giteaMaxPages = 40
)

// EnsurePullRequest implements Provider: it lists the open pull requests
// into Base (GET /repos/{owner}/{repo}/pulls?state=open&base_branch=...),
// and updates the one from Head (PATCH .../pulls/{index}) or opens one
// (POST .../pulls).
func (g *Gitea) EnsurePullRequest(ctx context.Context, pr PullRequestSpec) (*PullRequest, error) {
	found, err := g.findOpen(ctx, pr)
	if err != nil {
		return nil, err
	}
	create := map[string]string{"title": pr.Title, "head": pr.Head, "base": pr.Base, "body": pr.Body}
	return g.updateOrCreate(ctx, found, pr, create)
}

// findOpen returns the open pull request from pr.Head into pr.Base, or nil,
// reading at most giteaMaxPages pages.
func (g *Gitea) findOpen(ctx context.Context, pr PullRequestSpec) (*apiPull, error) {
	for page := 1; page <= giteaMaxPages; page++ {
		var open []apiPull
		q := url.Values{"state": {"open"}, "base_branch": {pr.Base}, "limit": {strconv.Itoa(giteaPageSize)}, "page": {strconv.Itoa(page)}}
		if err := g.c.do(ctx, http.MethodGet, g.pulls(), q, nil, &open); err != nil {
			return nil, err
		}
		for i, p := range open {
			if p.Head.Ref == pr.Head && p.Base.Ref == pr.Base && p.Number != 0 {
				return &open[i], nil
			}
		}
		if len(open) < giteaPageSize {
			break
		}
	}
	return nil, nil
}
