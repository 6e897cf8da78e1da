package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/publish"
	"github.com/graftctl/graft/generator/termtext"
)

func publishCommand() *command {
	return &command{
		name:    "publish",
		locks:   true,
		summary: "render, check and push the overlay to graft/<migration>, and open or update its pull request",
		usage:   "publish [--repo DIR|URL] [--remote NAME] [--base-branch NAME] [--provider github|gitea|none]",
		outputs: []string{"text", "json"},
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			f := bindDeliveryFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				if err := f.validate(); err != nil {
					return err
				}
				m, rec, err := loadSpecAndRecord(ctx, e)
				if err != nil {
					return err
				}
				if f.repo == "" && m.Spec.GitOps.Repo == "" {
					return usagef("no GitOps repository: set spec.gitops.repo or pass --repo")
				}
				res, err := deliver(ctx, e, m, rec, *f, nil)
				if errors.Is(err, publish.ErrDenied) {
					// A denied overlay is a finding (exit 1), not an error.
					var b strings.Builder
					for _, fd := range res.Verdict.Findings {
						sev := e.colorErr.Yellow(fd.Severity)
						if fd.Severity == "deny" {
							sev = e.colorErr.Red(fd.Severity)
						}
						fmt.Fprintf(&b, "\n  %s %s %s: %s", sev, oneLine(fd.Rule), oneLine(fd.Resource), oneLine(fd.Message))
					}
					return finding("%w%s", err, b.String())
				}
				if err != nil {
					return err
				}
				return printPublished(e, res)
			}
		},
	}
}

// printPublished prints the branch, the commit and the pull request.
func printPublished(e *env, res *publish.Result) error {
	if e.output == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	state := "pushed"
	switch {
	case res.UpToDate:
		state = "up to date: the base branch already holds this overlay"
	case !res.Pushed:
		state = "unchanged"
	case res.Retried:
		state = "pushed (after reapplying on a concurrent push)"
	}
	fmt.Fprintf(e.stdout, "branch:       %s (%s)\n", res.Branch, state)
	fmt.Fprintf(e.stdout, "base branch:  %s\n", res.BaseBranch)
	fmt.Fprintf(e.stdout, "commit:       %s\n", res.Commit)
	verdict := e.colorOut.Green(verdictLine(res.Verdict))
	if res.Verdict.Denied() {
		verdict = e.colorOut.Red(verdictLine(res.Verdict))
	}
	fmt.Fprintf(e.stdout, "check:        %s\n", verdict)
	switch pr := res.PullRequest; {
	case pr != nil && pr.Created: // the URL is the forge's answer: escaped
		fmt.Fprintf(e.stdout, "pull request: %s (#%d, opened)\n", termtext.Value(pr.URL), pr.Number)
	case pr != nil:
		fmt.Fprintf(e.stdout, "pull request: %s (#%d, updated)\n", termtext.Value(pr.URL), pr.Number)
	case res.UpToDate:
		fmt.Fprintf(e.stdout, "pull request: none needed\n")
	default:
		fmt.Fprintf(e.stdout, "pull request: none (provider none); open one from %s into %s\n", res.Branch, res.BaseBranch)
	}
	return nil
}
