package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/record"
)

func cleanupCommand() *command {
	return &command{
		name:    "cleanup",
		summary: "delete graft's intermediate snapshots and unrecorded volumes of this migration",
		usage:   "cleanup [--yes]",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			yes := fs.Bool("yes", false, "delete without asking")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("cleanup takes no arguments, got %q", args)
				}
				m, eng, _, err := newEngine(ctx, e)
				if err != nil {
					return err
				}
				var rec *record.Record
				lock := record.Path(e.specPath, e.lockPath)
				if _, statErr := os.Stat(lock); statErr == nil {
					if rec, err = record.Load(lock); err != nil {
						return err
					}
					if rec.Migration != m.Metadata.Name {
						return fmt.Errorf("%s belongs to migration %q, not %q; pass --lock", lock, rec.Migration, m.Metadata.Name)
					}
				} else if !errors.Is(statErr, os.ErrNotExist) {
					return statErr
				}
				cp, err := eng.PlanCleanup(ctx, rec)
				if err != nil {
					return err
				}
				if err := cp.WriteText(e.stdout); err != nil {
					return err
				}
				if len(cp.Delete) == 0 {
					return nil
				}
				if !*yes {
					if err := confirm(e, fmt.Sprintf("Delete these %d resource(s) of migration %s", len(cp.Delete), m.Metadata.Name)); err != nil {
						return err
					}
				}
				deleted, err := eng.Cleanup(ctx, cp)
				e.log.Info("cleanup", "deleted", len(deleted))
				return err
			}
		},
	}
}
