package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/check"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/termtext"
)

func runCommand() *command {
	return &command{
		name:    "run",
		locks:   true,
		summary: "discover, plan, clone, render, check and publish, resuming where a previous run stopped",
		usage:   "run [--yes] [--repo DIR|URL] [--remote NAME] [--base-branch NAME] [--provider github|gitea|none]",
		outputs: []string{"text", "json"},
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			yes := fs.Bool("yes", false, "do not ask before creating snapshots and volumes")
			flags := bindDeliveryFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				if err := flags.validate(); err != nil {
					return err
				}
				m, eng, counter, err := newEngine(ctx, e)
				if err != nil {
					return err
				}
				p := &pipeline{stages: newStages(e, m, eng, counter, "run"), yes: *yes, publish: *flags}
				res, err := p.run(ctx)
				if err != nil {
					return err
				}
				if res.published != nil {
					return printPublished(e, res.published)
				}
				if e.output == "json" {
					return json.NewEncoder(e.stdout).Encode(map[string]string{"overlay": res.overlayDir, "record": res.recordPath})
				}
				fmt.Fprintf(e.stdout, "overlay:      %s\nrecord:       %s\n", termtext.Value(res.overlayDir), termtext.Value(res.recordPath))
				return nil
			}
		},
	}
}

// checkOverlay runs the policies on an overlay directory, given the build
// output of each of its roots (render.Result.Builds), and its record.
func checkOverlay(ctx context.Context, overlayDir string, builds map[string][]byte, lockPath string) (*check.Report, error) {
	rep, _, err := check.LoadAndCheck(ctx, func() (*check.Input, error) {
		in, err := check.LoadBuilds(overlayDir, builds)
		if err != nil {
			return nil, err
		}
		_, err = in.AddRecord(lockPath)
		return in, err
	})
	return rep, err
}

// lockIn is where publish writes the record: inside the overlay directory.
func lockIn(overlayDir string) string { return filepath.Join(overlayDir, record.DefaultFile) }
