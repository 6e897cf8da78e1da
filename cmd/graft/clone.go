package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

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
				if *phase != spec.PhasePrecopy && *phase != spec.PhaseFinal {
					return usagef("--phase: %q, expected precopy or final", *phase)
				}
				return runClone(ctx, e, *phase, *dryRun, *yes)
			}
		},
	}
}

// runClone runs one phase through the stages graft run shares.
func runClone(ctx context.Context, e *env, phase string, dryRun, yes bool) error {
	m, eng, counter, err := newEngine(ctx, e)
	if err != nil {
		return err
	}
	s := newStages(e, m, eng, counter, "clone")
	s.phase = phase
	inv, err := s.discover(ctx)
	if err != nil {
		return err
	}
	if dryRun {
		proved, err := eng.DryRun(ctx, inv, phase)
		if err != nil {
			return err
		}
		for _, p := range proved {
			fmt.Fprintf(e.stdout, "ok  %s (DryRun)\n", p)
		}
		fmt.Fprintf(e.stdout, "dry run: the %s phase's calls would succeed; nothing was created\n", phase)
		return nil
	}
	if err := s.confirm(ctx, inv, yes, phase); err != nil {
		return err
	}
	if _, err := s.clone(ctx, inv, phase); err != nil {
		return err
	}
	e.log.Info(afterClone[phase])
	return nil
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
