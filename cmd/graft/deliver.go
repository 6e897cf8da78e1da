package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/check"
	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/publish"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/templates"
)

// deliveryFlags override spec.gitops for publish and run.
type deliveryFlags struct {
	repo, baseBranch, provider, remote string
}

func bindDeliveryFlags(fs *pflag.FlagSet) *deliveryFlags {
	f := &deliveryFlags{}
	fs.StringVar(&f.repo, "repo", "", "GitOps repository: a working copy (directory) or a URL (default spec.gitops.repo)")
	fs.StringVar(&f.baseBranch, "base-branch", "", "branch the pull request targets (default spec.gitops.baseBranch)")
	fs.StringVar(&f.remote, "remote", "", "remote of the working copy --repo names to push to (default origin)")
	fs.StringVar(&f.provider, "provider", "", "pull-request provider: github, gitea or none (default spec.gitops.provider)")
	return f
}

func (f *deliveryFlags) validate() error {
	switch f.provider {
	case "", spec.ProviderGitHub, spec.ProviderGitea, spec.ProviderNone:
		return nil
	}
	return usagef("--provider: %q, expected github, gitea or none", f.provider)
}

// policyGate adapts graft's policy engine to publish.Checker. publish
// writes graft.lock into the overlay directory before it checks.
type policyGate struct{}

func (policyGate) Check(ctx context.Context, overlayDir string, builds map[string][]byte, _ *record.Record) (publish.Verdict, error) {
	rep, err := checkOverlay(ctx, overlayDir, builds, lockIn(overlayDir))
	if err != nil {
		return publish.Verdict{}, err
	}
	v := publish.Verdict{
		Denies: rep.Count(check.LevelDeny),
		Warns:  rep.Count(check.LevelWarn),
		Source: fmt.Sprintf("graft check %s, %d rules over %d objects", graftVersion(), len(rep.Rules), rep.Objects),
	}
	for _, f := range rep.Findings {
		v.Findings = append(v.Findings, publish.Finding{
			Severity: f.Level, Rule: f.ID, Resource: f.Kind + "/" + f.Name, Message: f.Message,
		})
	}
	return v, nil
}

// deliver publishes the overlay and the record as a branch and a pull
// request.
func deliver(ctx context.Context, e *env, m *spec.Migration, rec *record.Record, f deliveryFlags, plan *ebs.Plan) (*publish.Result, error) {
	kind := cmp.Or(f.provider, m.Spec.GitOps.Provider)
	workflow, err := templates.Workflow(templates.CIWorkflow)
	if err != nil {
		return nil, err
	}
	var planSummary string
	if plan != nil {
		var b strings.Builder
		if err := plan.WriteText(&b); err != nil {
			return nil, err
		}
		planSummary = b.String()
	}
	var secrets []string
	for _, k := range []string{"GITHUB_TOKEN", "GITEA_TOKEN"} {
		if v := os.Getenv(k); v != "" {
			secrets = append(secrets, v)
		}
	}
	return publish.Publish(ctx, m, rec, publish.Options{
		Repo:       f.repo,
		BaseBranch: f.baseBranch,
		Remote:     f.remote,
		Checker:    policyGate{},
		NewProvider: func(remoteURL string) (publish.Provider, error) {
			return publish.NewProvider(kind, remoteURL, publish.ProviderOptions{})
		},
		Plan:       planSummary,
		CIWorkflow: pinInstall(workflow),
		Secrets:    secrets,
		Log:        e.log,
	})
}
