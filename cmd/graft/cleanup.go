package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

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
		usage:   "cleanup [--yes] [--volume ID]…",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			yes := fs.Bool("yes", false, "delete without asking")
			volumes := fs.StringArray("volume", nil, "also delete this graft volume of the migration that graft.lock cannot account for (repeatable); never a recorded, attached or source volume")
			return func(ctx context.Context, e *env, args []string) error {
				for _, id := range *volumes {
					if !record.IsVolumeID(id) {
						return usagef("--volume %q: expected an EBS volume id (vol- and hexadecimal digits)", id)
					}
				}
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
				cp, err := eng.PlanCleanup(ctx, rec, *volumes...)
				if err != nil {
					return err
				}
				if err := namedVolumesPlanned(cp, *volumes, m); err != nil {
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
				again, err := eng.PlanCleanup(ctx, rec, *volumes...)
				if err != nil {
					return err
				}
				dropped, err := replanned(cp, again, *volumes, m)
				if err != nil {
					return err
				}
				for _, it := range dropped {
					e.log.Warn("cleanup: skipped", "kind", it.Kind, "id", it.ID, "member", it.Member, "reason", it.Keep)
				}
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

// namedVolumesPlanned: every volume named with --volume is in the plan's
// Delete; else a usage error says why it is not (the plan's reason to
// keep it, or that it is not one of the migration's volumes), and nothing
// is deleted.
func namedVolumesPlanned(cp *ebs.CleanupPlan, named []string, m *spec.Migration) error {
	for _, id := range named {
		if slices.ContainsFunc(cp.Delete, func(it ebs.CleanupItem) bool { return it.ID == id }) {
			continue
		}
		if i := slices.IndexFunc(cp.Keep, func(it ebs.CleanupItem) bool { return it.ID == id }); i >= 0 {
			return usagef("--volume %s: graft cleanup does not delete it: %s; nothing was deleted", id, cp.Keep[i].Keep)
		}
		return usagef("--volume %s: not a volume of migration %s in %s (tags graft:migration=%s, graft:role=volume); nothing was deleted", id, m.Metadata.Name, m.Spec.Target.Region, m.Metadata.Name)
	}
	return nil
}

// replanned narrows cp.Delete to what the fresh plan, made after the
// confirmation, still deletes. A volume named with --volume that it no
// longer deletes (recorded, attached or re-tagged meanwhile) refuses as
// before the confirmation, and nothing is deleted; every other item it no
// longer deletes moves to cp.Keep with the fresh plan's reason, and is
// returned, to be reported (not dropped without a word).
func replanned(cp, fresh *ebs.CleanupPlan, named []string, m *spec.Migration) ([]ebs.CleanupItem, error) {
	if err := namedVolumesPlanned(fresh, named, m); err != nil {
		return nil, err
	}
	still := map[string]bool{}
	for _, it := range fresh.Delete {
		still[it.Kind+"|"+it.ID] = true
	}
	var keep, dropped []ebs.CleanupItem
	for _, it := range cp.Delete {
		if still[it.Kind+"|"+it.ID] {
			keep = append(keep, it)
			continue
		}
		it.Keep = "changed since the plan: no longer in it; not deleted"
		if i := slices.IndexFunc(fresh.Keep, func(k ebs.CleanupItem) bool { return k.Kind == it.Kind && k.ID == it.ID }); i >= 0 {
			it.Keep = "changed since the plan: " + fresh.Keep[i].Keep + "; not deleted"
		}
		dropped = append(dropped, it)
	}
	cp.Delete = keep
	cp.Keep = append(cp.Keep, dropped...)
	return dropped, nil
}
