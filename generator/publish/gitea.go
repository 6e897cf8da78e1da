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
type Gitea struct {
	c           *restClient
	owner, repo string
}

// NewGitea returns a Gitea provider.
func NewGitea(opts GiteaOptions) (*Gitea, error) {
	c, err := newRESTClient("gitea", opts.ServerURL+"/api/v1", "token", opts.Token, nil, opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &Gitea{c: c, owner: opts.Owner, repo: opts.Repo}, nil
}

// Name implements Provider.
func (g *Gitea) Name() string { return "gitea" }

func (g *Gitea) pulls() string {
	return "/repos/" + url.PathEscape(g.owner) + "/" + url.PathEscape(g.repo) + "/pulls"
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
	for page := 1; page <= giteaMaxPages; page++ {
		var open []apiPull
		q := url.Values{"state": {"open"}, "base_branch": {pr.Base}, "limit": {strconv.Itoa(giteaPageSize)}, "page": {strconv.Itoa(page)}}
		if err := g.c.do(ctx, http.MethodGet, g.pulls(), q, nil, &open); err != nil {
			return nil, err
		}
		for _, p := range open {
			if p.Head.Ref != pr.Head || p.Base.Ref != pr.Base || p.Number == 0 {
				continue
			}
			var out apiPull
			edit := map[string]string{"title": pr.Title, "body": pr.Body}
			if err := g.c.do(ctx, http.MethodPatch, g.pulls()+"/"+strconv.Itoa(p.Number), nil, edit, &out); err != nil {
				return nil, err
			}
			return &PullRequest{Number: p.Number, URL: firstNonEmpty(out.HTMLURL, p.HTMLURL)}, nil
		}
		if len(open) < giteaPageSize {
			break
		}
	}
	var out apiPull
	create := map[string]string{"title": pr.Title, "head": pr.Head, "base": pr.Base, "body": pr.Body}
	if err := g.c.do(ctx, http.MethodPost, g.pulls(), nil, create, &out); err != nil {
		return nil, err
	}
	if out.Number == 0 {
		return nil, &APIError{Provider: "gitea", Method: http.MethodPost, Path: g.pulls(), Status: http.StatusCreated, Message: "the response has no pull request number"}
	}
	return &PullRequest{Number: out.Number, URL: out.HTMLURL, Created: true}, nil
}
