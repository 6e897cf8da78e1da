package publish

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestPublishToNamedRemote: a working copy with two remotes pushes to the
// one Options.Remote names, and only there; a name that is not one of its
// remotes is refused with the flag, the value and the remotes it has,
// before anything is pushed; so is a remote with a URL repository.
func TestPublishToNamedRemote(t *testing.T) {
	hermeticGit(t, true)
	origin, fork := newRemote(t), newRemote(t)
	wc := origin.clone(t)
	gitT(t, wc, "remote", "add", "fork", fork.bare)
	m, rec := example(t, wc)

	res, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, Remote: "fork"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pushed || fork.head(t, branch) != res.Commit {
		t.Fatalf("result %+v; fork's %s is at %q: want the push there", res, branch, fork.head(t, branch))
	}
	if got := origin.head(t, branch); got != "" {
		t.Errorf("origin got %s at %s though --remote named fork", branch, got)
	}
	if res.Remote != fork.bare {
		t.Errorf("result remote %q, want fork's URL %q", res.Remote, fork.bare)
	}

	for _, name := range []string{"upstream", "--upload-pack=touch /tmp/x", "origin/main", " fork"} {
		_, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, Remote: name})
		if !errors.Is(err, ErrRepo) {
			t.Fatalf("remote %q: err %v, want ErrRepo", name, err)
		}
		for _, want := range []string{"--remote", `"` + name + `"`, "its remotes are fork, origin"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("remote %q: error %q lacks %q", name, err, want)
			}
		}
	}
	if got := origin.head(t, branch); got != "" {
		t.Errorf("a refused remote still pushed %s to origin (%s)", branch, got)
	}

	// The default is origin.
	if _, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}}); err != nil {
		t.Fatal(err)
	}
	if origin.head(t, branch) == "" {
		t.Error("no --remote: nothing pushed to origin")
	}

	// A URL repository has no remotes to choose from.
	m2, rec2 := example(t, fork.bare)
	_, err = Publish(context.Background(), m2, rec2, Options{Checker: &buildChecker{}, Remote: "fork"})
	if !errors.Is(err, ErrRepo) || !strings.Contains(err.Error(), "--remote") {
		t.Errorf("a remote with a URL repository: err %v, want ErrRepo naming --remote", err)
	}
}
