package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

func cleanupCommand() *command {
	return &command{
		name:    "cleanup",
		locks:   true,
		summary: "delete graft's intermediate snapshots and unrecorded volumes of this migration",
		usage:   "cleanup [--yes]",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			yes := fs.Bool("yes", false, "delete without asking")
			return func(ctx context.Context, e *env, args []string) error {
				m, err := e.loadSpec(ctx)
				if err != nil {
					return err
				}
				lock := record.Path(e.specPath, e.lockPath)
				rec, err := loadRecordIfAny(lock, m)
				if err != nil {
					return err
				}
				eng, _, err := engineFor(ctx, e, m)
				if err != nil {
					return err
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
					if err := confirm(ctx, e, fmt.Sprintf("Delete these %d resource(s) of migration %s", len(cp.Delete), m.Metadata.Name)); err != nil {
						return err
					}
				}
				// A clone may have recorded a volume while the list was
				// read: plan again from a fresh graft.lock and delete only
				// what both plans list.
				if rec, err = loadRecordIfAny(lock, m); err != nil {
					return err
				}
				again, err := eng.PlanCleanup(ctx, rec)
				if err != nil {
					return err
				}
				cp.Delete = intersectCleanup(cp.Delete, again.Delete)
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("interrupted; nothing was deleted: %w", err)
				}
				deleted, err := eng.Cleanup(ctx, cp)
				e.log.Info("cleanup", "deleted", len(deleted), "kept", len(cp.Keep))
				return err
			}
		},
	}
}

// loadRecordIfAny loads the record at path; no file means no record (then
// cleanup keeps every volume).
func loadRecordIfAny(path string, m *spec.Migration) (*record.Record, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return loadOrNewRecord(path, m)
}

// intersectCleanup keeps the items of planned that fresh still lists.
func intersectCleanup(planned, fresh []ebs.CleanupItem) []ebs.CleanupItem {
	still := map[string]bool{}
	for _, it := range fresh {
		still[it.ID] = true
	}
	var out []ebs.CleanupItem
	for _, it := range planned {
		if still[it.ID] {
			out = append(out, it)
		}
	}
	return out
}
