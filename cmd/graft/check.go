package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/check"
	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
	"github.com/graftctl/graft/templates"
)

func checkCommand() *command {
	return &command{
		name:       "check",
		takesPaths: true,
		summary:    "check a built overlay and graft.lock against graft's policies",
		usage:      "check [PATH…] [--lock FILE] [--live] [-o text|json|junit|github|sarif] [--fail-on-warn] [--print-workflow]",
		outputs:    check.Formats,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			live := fs.Bool("live", false, "also check graft.lock against EC2: each volume exists, is available, in its zone, of its size and encryption")
			failOnWarn := fs.Bool("fail-on-warn", false, "exit 1 on warnings too")
			printWorkflow := printWorkflowFlag(fs, templates.CIWorkflow, "print the GitHub Actions workflow that runs graft check on every changed overlay, and exit")
			return func(ctx context.Context, e *env, args []string) error {
				if printed, err := printWorkflow(e, args); printed {
					return err
				}
				paths, lockPath, err := checkInputs(ctx, e, args)
				if err != nil {
					return err
				}
				var rec *record.Record
				rep, in, err := check.LoadAndCheck(ctx, func() (*check.Input, error) {
					in, err := check.Load(ctx, paths, e.stdin)
					if err != nil {
						return nil, err
					}
					rec, err = in.AddRecord(lockPath)
					return in, err
				})
				if err != nil {
					return err
				}
				if *live {
					region := rec.TargetRegion
					if region == "" {
						region = rec.SourceRegion
					}
					api, err := ebs.NewClient(ctx, ebs.ClientOptions{Region: region, Log: e.log, Account: liveAccount(ctx, e, rec)})
					if err != nil {
						return fmt.Errorf("--live: %w", err)
					}
					found, err := check.Live(ctx, api, rec, lockPath, in)
					if err != nil {
						return fmt.Errorf("--live: %w", err)
					}
					rep.Add(found...)
				}
				rep.FailOnWarn = *failOnWarn
				w, err := check.NewWriter(e.output, e.stdout)
				if err != nil {
					return usagef("-o/--output: %v", err)
				}
				if e.output == "text" {
					w = check.NewTextColor(e.stdout, e.colorOut)
				}
				if err := w.Write(rep); err != nil {
					return err
				}
				if rep.Failed() {
					return finding("%d denied, %d warned", rep.Count(check.LevelDeny), rep.Count(check.LevelWarn))
				}
				return nil
			}
		},
	}
}

// checkInputs resolves the PATHs and the record.
//
// PATH defaults to the overlay directory of the spec (--spec), when the
// spec exists. The record is, in order: --lock; the graft.lock inside a
// PATH directory (an overlay checked in with its record); graft.lock
// beside the spec.
func checkInputs(ctx context.Context, e *env, args []string) ([]string, string, error) {
	paths := args
	if len(paths) == 0 {
		if _, err := os.Stat(e.specPath); err != nil {
			return nil, "", usagef("no PATH given and no spec at %s: give an overlay directory, YAML files, or - for stdin", termtext.Value(e.specPath))
		}
		m, err := e.loadSpec(ctx)
		if err != nil {
			return nil, "", err
		}
		dir := defaultOverlayDir(e.specPath, m)
		if _, err := os.Stat(dir); err != nil {
			return nil, "", fmt.Errorf("%w: no PATH given and the spec's overlay %s does not exist: run graft render first, or give an overlay directory, YAML files or - for stdin", check.ErrInput, termtext.Value(dir))
		}
		paths = []string{dir}
	}
	stdin := 0
	for _, p := range paths {
		if p == check.Stdin {
			stdin++
		}
	}
	if stdin > 1 {
		return nil, "", usagef("- (stdin) may be given once")
	}
	if stdin == 1 && e.stdinIsTerminal {
		// Else graft waits in silence for what a person never meant to type.
		e.log.Warn("reading the overlay's YAML from the terminal (stdin); end it with Ctrl-D, or stop with Ctrl-C and pipe it in: graft render --dry-run | graft check -")
	}
	if e.lockPath != "" {
		return paths, e.lockPath, nil
	}
	var inDir []string
	for _, p := range paths {
		if p == check.Stdin {
			continue
		}
		candidate := filepath.Join(p, record.DefaultFile)
		if info, err := os.Stat(p); err != nil || !info.IsDir() {
			continue
		}
		if _, err := os.Stat(candidate); err == nil {
			inDir = append(inDir, candidate)
		}
	}
	switch len(inDir) {
	case 0:
		return paths, record.Path(e.specPath, ""), nil
	case 1:
		return paths, inDir[0], nil
	}
	return nil, "", usagef("%d PATHs hold a %s (%v): check one overlay at a time, or pass --lock", len(inDir), record.DefaultFile, shownPaths(inDir))
}

// liveAccount is the AWS account the record's volumes are in when it is
// not the credentials' own: spec.target.account of the spec (--spec,
// default graft.yaml) of the same migration, since the record does not
// name the account. Without such a spec the standard credential chain's
// account is read (set AWS_PROFILE to the target account's).
func liveAccount(ctx context.Context, e *env, rec *record.Record) *spec.Account {
	data, err := e.readSpec(ctx)
	if err != nil {
		return nil
	}
	m, err := spec.Parse(data)
	if err != nil || m.Metadata.Name != rec.Migration {
		e.log.Warn("--live: the spec is not this migration's; its volumes are read with the standard credential chain", "spec", e.specPath, "migration", rec.Migration)
		return nil
	}
	return m.Spec.Target.Account
}

// shownPaths is paths as %v prints them, each quoted when a terminal
// would act on it (termtext.Value).
func shownPaths(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = termtext.Value(p)
	}
	return "[" + strings.Join(q, " ") + "]"
}
