package publish

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// forge is what the GitHub and Gitea providers share: a REST client for
// one repository's pull requests, and the update-or-create tail of
// EnsurePullRequest. Each provider finds its open pull request its own way.
type forge struct {
	name        string
	c           *restClient
	owner, repo string
}

// Name implements Provider.
func (f *forge) Name() string { return f.name }

func (f *forge) pulls() string {
	return "/repos/" + url.PathEscape(f.owner) + "/" + url.PathEscape(f.repo) + "/pulls"
}

// updateOrCreate updates the open pull request found (PATCH
// .../pulls/{number}: title and body), or, if found is nil, opens one
// (POST .../pulls with create, the forge's own fields).
func (f *forge) updateOrCreate(ctx context.Context, found *apiPull, pr PullRequestSpec, create any) (*PullRequest, error) {
	var out apiPull
	if found != nil {
		edit := map[string]string{"title": pr.Title, "body": pr.Body}
		if err := f.c.do(ctx, http.MethodPatch, f.pulls()+"/"+strconv.Itoa(found.Number), nil, edit, &out); err != nil {
			return nil, err
		}
		return &PullRequest{Number: found.Number, URL: cmp.Or(out.HTMLURL, found.HTMLURL)}, nil
	}
	if err := f.c.do(ctx, http.MethodPost, f.pulls(), nil, create, &out); err != nil {
		return nil, err
	}
	if out.Number == 0 {
		return nil, &APIError{Provider: f.name, Method: http.MethodPost, Path: f.pulls(), Status: http.StatusCreated, Message: "the response has no pull request number"}
	}
	return &PullRequest{Number: out.Number, URL: out.HTMLURL, Created: true}, nil
}
