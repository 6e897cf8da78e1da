package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// stages are the steps that graft clone, graft run and graft demo share:
// discover and compare, confirm, clone one phase. Each rule of those steps
// (what a changed source means, when the inventory is written, which
// record a final clone continues, what is logged after a clone) is written
// here once, so the three commands cannot drift apart.
type stages struct {
	e   *env
	m   *spec.Migration
	eng *ebs.Engine
	// counter counts the SDK's wire attempts (throttles); nil when the
	// engine talks to the simulator.
	counter *ebs.CallCounter
	// command is the graft command running the stages (clone, run, demo):
	// it names the next step in errors (see nextStep).
	command string
	// phase is graft clone's --phase, which its next step names.
	phase string
	// runHook runs the beforeFinal hook (nil: os/exec).
	runHook func(ctx context.Context, argv []string) ([]byte, error)

	inventoryPath, recordPath string
}

func newStages(e *env, m *spec.Migration, eng *ebs.Engine, counter *ebs.CallCounter, command string) *stages {
	return &stages{
		e: e, m: m, eng: eng, counter: counter, command: command,
		inventoryPath: ebs.InventoryPath(e.specPath),
		recordPath:    record.Path(e.specPath, e.lockPath),
	}
}

// failed is the error of a stage; phase is the clone phase ("" for the
// other stages), which the next step names for graft clone.
func (s *stages) failed(stage, phase string, err error) *stageError {
	name := stage
	if phase != "" {
		name += " (" + phase + ")"
	}
	again := nextStep(s.command, cmp.Or(phase, s.phase))
	over := startsOver[s.command]
	return &stageError{stage: name, again: again, startsOver: over, fix: stageFix(stage, again, over), err: err}
}

// discover discovers the source live and compares it with the inventory
// that graft discover saved, if any: every command that acts on the
// source refuses one other than the one reviewed.
func (s *stages) discover(ctx context.Context) (*ebs.Inventory, error) {
	s.e.stage(stageDiscover)
	inv, diffs, err := discoverAndCompare(ctx, s.e, s.eng)
	if err != nil {
		return nil, s.failed(stageDiscover, "", err)
	}
	if len(diffs) > 0 {
		err := fmt.Errorf("the source changed since %s was written:\n  - %s", termtext.Value(s.inventoryPath), strings.Join(diffs, "\n  - "))
		se := s.failed(stageDiscover, "", err)
		se.fix = sourceChangedFix(se.again)
		return nil, se
	}
	return inv, nil
}

// plan prints what clone will create (on stderr: run's data is its result).
func (s *stages) plan(ctx context.Context, inv *ebs.Inventory) (*ebs.Plan, error) {
	s.e.stage(stagePlan)
	p, err := s.eng.Plan(ctx, inv)
	if err != nil {
		return nil, s.failed(stagePlan, "", err)
	}
	return p, p.WriteTextColor(s.e.stderr, s.e.colorErr)
}

// confirm asks before the phases create anything, unless yes.
func (s *stages) confirm(ctx context.Context, inv *ebs.Inventory, yes bool, phases ...string) error {
	if yes {
		return nil
	}
	src := s.m.Spec.Source
	q := fmt.Sprintf("Snapshot the %d data volume(s) of %d instance(s) in %s (%s phase", countVolumes(inv), len(inv.Members), src.Region, strings.Join(phases, " and "))
	if len(phases) > 1 {
		q += "s"
	}
	q += ")"
	if phases[len(phases)-1] == spec.PhaseFinal {
		q += fmt.Sprintf(" and create their new volumes in %s", s.m.Spec.Target.Region)
		if hook := s.m.Spec.Hooks.BeforeFinal; len(hook) > 0 {
			q += fmt.Sprintf(", after running %q on each instance", strings.Join(hook, " "))
		}
	}
	return confirm(ctx, s.e, q)
}

// clone runs one phase over inv. The final phase continues the record
// beside the spec (or starts one) and returns it as written.
func (s *stages) clone(ctx context.Context, inv *ebs.Inventory, phase string) (*record.Record, error) {
	s.e.stage(stageClone + " --phase " + phase)
	opts := ebs.CloneOptions{Phase: phase, RunHook: s.runHook, RecordPath: s.recordPath}
	if phase == spec.PhaseFinal {
		rec, err := loadOrNewRecord(s.recordPath, s.m)
		if err != nil {
			return nil, s.failed(stageClone, phase, err)
		}
		opts.Record = rec
	}
	if err := ctx.Err(); err != nil {
		return nil, s.failed(stageClone, phase, fmt.Errorf("nothing was created: %w", err))
	}
	if err := s.keepInventory(inv); err != nil {
		return nil, s.failed(stageClone, phase, err)
	}
	calls, throttles := s.eng.Stats().Calls(), s.throttles()
	progress := progressBars(s.e, s.eng, inv)
	res, err := s.eng.Clone(ctx, inv, opts)
	if progress != nil {
		progress.Close()
	}
	if res != nil {
		s.e.log.Info("clone finished", "phase", phase, "created", ebs.FormatCounts(res.Created))
		// What it cost in EC2 calls is for whoever tunes the rate limits.
		s.e.log.Debug("EC2 calls", "phase", phase, "calls", ebs.FormatCounts(since(s.eng.Stats().Calls(), calls)),
			"throttled", ebs.FormatCounts(since(s.throttles(), throttles)))
	}
	if err != nil {
		return nil, s.failed(stageClone, phase, err)
	}
	if phase == spec.PhaseFinal {
		s.e.log.Info("record written", "path", s.recordPath, "volumes", len(opts.Record.Volumes))
	}
	return opts.Record, nil
}

// keepInventory writes the inventory the clone acts on, only when there is
// none. The saved inventory is what the user reviewed (graft discover, then
// graft plan), and discover already refused a source that differs from it
// where it matters (instance, zone, volume of each member): rewriting it
// here would replace the reviewed file with fields nobody reviewed, and
// only graft discover may do that. When there is none (graft run or graft
// clone straight away), the first clone writes what it acted on, so the
// next phase, or the next run, refuses a source that changed since.
func (s *stages) keepInventory(inv *ebs.Inventory) error {
	if _, err := os.Lstat(s.inventoryPath); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := inv.WriteFile(s.inventoryPath); err != nil {
		return fmt.Errorf("write inventory: %w", err)
	}
	s.e.log.Info("inventory written", "path", s.inventoryPath, "members", len(inv.Members))
	return nil
}

func (s *stages) throttles() map[string]int {
	if s.counter == nil {
		return nil
	}
	return s.counter.Throttles()
}

// since is the counts of now that were not in before.
func since(now, before map[string]int) map[string]int {
	out := maps.Clone(now)
	for k, n := range before {
		if out[k] -= n; out[k] <= 0 {
			delete(out, k)
		}
	}
	return out
}

// progressBars shows a bar per member on a terminal; elsewhere the engine
// logs plain lines. The caller closes the bars.
func progressBars(e *env, eng *ebs.Engine, inv *ebs.Inventory) ebs.Progress {
	if !e.stderrIsTerminal {
		return nil
	}
	keys := make([]string, 0, len(inv.Members))
	for _, mb := range inv.Members {
		keys = append(keys, mb.Key())
	}
	bars := ebs.NewBarProgress(e.stderr, keys)
	eng.SetProgress(bars)
	w, ok := bars.(io.Writer)
	if !ok || e.logs == nil {
		return bars
	}
	return &liveBars{Progress: bars, restore: e.logs.through(w)}
}

// liveBars are bars the log goes through until they are closed.
type liveBars struct {
	ebs.Progress
	restore func()
}

func (b *liveBars) Close() {
	b.Progress.Close()
	b.restore()
}

// loadOrNewRecord continues the record at path, or starts one.
func loadOrNewRecord(path string, m *spec.Migration) (*record.Record, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return record.New(m), nil
	}
	rec, err := record.Load(path)
	if err != nil {
		return nil, err
	}
	if rec.Migration != m.Metadata.Name {
		return nil, fmt.Errorf("%s belongs to migration %q, not %q; pass --lock", path, rec.Migration, m.Metadata.Name)
	}
	return rec, nil
}

func countVolumes(inv *ebs.Inventory) int {
	n := 0
	for _, mb := range inv.Members {
		n += len(mb.Devices)
	}
	return n
}
