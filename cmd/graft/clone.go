package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

func cloneCommand() *command {
	return &command{
		name:    "clone",
		locks:   true,
		summary: "snapshot the data volumes and create the new volumes; resumable",
		usage:   "clone [--phase precopy|final] [--dry-run] [--yes]",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			phase := fs.String("phase", spec.PhaseFinal, "precopy: snapshot while the application runs; final: run the beforeFinal hook, take the final (incremental) snapshot, create the volumes and write graft.lock")
			dryRun := fs.Bool("dry-run", false, "prove every call with EC2 DryRun and create nothing")
			yes := fs.Bool("yes", false, "do not ask for confirmation")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("clone takes no arguments, got %q", args)
				}
				if *phase != spec.PhasePrecopy && *phase != spec.PhaseFinal {
					return usagef("--phase: %q, expected precopy or final", *phase)
				}
				m, eng, counter, err := newEngine(ctx, e)
				if err != nil {
					return err
				}
				inv, diffs, err := discoverAndCompare(ctx, e, eng)
				if err != nil {
					return err
				}
				if len(diffs) > 0 {
					return fmt.Errorf("the source changed since graft discover wrote %s:\n  - %s\nre-run graft discover and graft plan, and review them", ebs.InventoryPath(e.specPath), strings.Join(diffs, "\n  - "))
				}
				if *dryRun {
					proved, err := eng.DryRun(ctx, inv, *phase)
					if err != nil {
						return err
					}
					for _, p := range proved {
						fmt.Fprintf(e.stdout, "ok  %s (DryRun)\n", p)
					}
					fmt.Fprintf(e.stdout, "dry run: the %s phase's calls would succeed; nothing was created\n", *phase)
					return nil
				}
				if !*yes {
					q := fmt.Sprintf("Snapshot the %d data volume(s) of %d instance(s) in %s (%s phase)", countVolumes(inv), len(inv.Members), m.Spec.Source.Region, *phase)
					if *phase == spec.PhaseFinal {
						q += fmt.Sprintf(" and create their new volumes in %s", m.Spec.Target.Region)
						if len(m.Spec.Hooks.BeforeFinal) > 0 {
							q += fmt.Sprintf(", after running %q on each instance", strings.Join(m.Spec.Hooks.BeforeFinal, " "))
						}
					}
					if err := confirm(ctx, e, q); err != nil {
						return err
					}
				}
				var rec *record.Record
				lock := record.Path(e.specPath, e.lockPath)
				if *phase == spec.PhaseFinal {
					if rec, err = loadOrNewRecord(lock, m); err != nil {
						return err
					}
				}
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("interrupted; nothing was created: %w", err)
				}
				if _, err := os.Stat(ebs.InventoryPath(e.specPath)); errors.Is(err, os.ErrNotExist) {
					if err := inv.WriteFile(ebs.InventoryPath(e.specPath)); err != nil {
						return err
					}
				}
				progress := progressBars(e, eng, inv)
				res, err := eng.Clone(ctx, inv, ebs.CloneOptions{Phase: *phase, Record: rec, RecordPath: lock})
				if progress != nil {
					progress.Close()
				}
				if res != nil {
					e.log.Info("clone finished", "phase", *phase, "created", ebs.FormatCounts(res.Created),
						"calls", ebs.FormatCounts(eng.Stats().Calls()), "throttled", ebs.FormatCounts(counter.Throttles()))
				}
				if err != nil {
					return err
				}
				if *phase == spec.PhaseFinal {
					e.log.Info("record written; next: graft render", "path", lock, "volumes", len(rec.Volumes))
				} else {
					e.log.Info("precopy snapshots complete; quiesce the application, then run graft clone --phase final")
				}
				return nil
			}
		},
	}
}

func countVolumes(inv *ebs.Inventory) int {
	n := 0
	for _, mb := range inv.Members {
		n += len(mb.Devices)
	}
	return n
}

// confirm asks on the terminal; without one it refuses and names --yes.
// A signal while it waits for the answer is a no.
func confirm(ctx context.Context, e *env, question string) error {
	if !e.stdinIsTerminal {
		return usagef("%s: this changes AWS resources and there is no terminal to ask on; pass --yes", question)
	}
	fmt.Fprintf(e.stderr, "%s? [y/N] ", question)
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		got <- answer{line, err}
	}()
	var a answer
	select {
	case a = <-got:
	case <-ctx.Done():
		fmt.Fprintln(e.stderr)
		return fmt.Errorf("interrupted before confirmation; nothing was changed: %w", ctx.Err())
	}
	if a.err != nil && !errors.Is(a.err, io.EOF) {
		return a.err
	}
	if s := strings.ToLower(strings.TrimSpace(a.line)); s != "y" && s != "yes" {
		return fmt.Errorf("not confirmed; nothing was changed")
	}
	return nil
}
