package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/graftctl/graft/generator/check"
	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/publish"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
)

// pipeline runs every stage in order — discover, plan, (confirm), clone
// (precopy then final), render, check, publish — for `graft run` against
// AWS and for `graft demo` against the in-process simulator. Each stage
// writes the file the next one reads (inventory, graft.lock, overlay), and
// every create is idempotent, so a run that stops resumes on the next one.
type pipeline struct {
	e   *env
	m   *spec.Migration
	eng *ebs.Engine
	// yes skips the confirmation before clone.
	yes bool
	// publish overrides spec.gitops for the publish stage.
	publish deliveryFlags
	// runHook runs the beforeFinal hook (nil: os/exec).
	runHook func(ctx context.Context, argv []string) ([]byte, error)
}

// pipelineResult is what a run leaves behind.
type pipelineResult struct {
	inventoryPath string
	recordPath    string
	// overlayDir is the local overlay (when there is no repository to
	// publish to).
	overlayDir string
	plan       *ebs.Plan
	published  *publish.Result
}

// stageError names the stage that failed and what to do about it.
type stageError struct {
	stage string
	fix   string
	err   error
	// finding makes the run exit 1: the work succeeded and found a
	// problem (a denied overlay).
	finding bool
}

func failed(stage, fix string, err error) *stageError {
	return &stageError{stage: stage, fix: fix, err: err}
}

func (s *stageError) Error() string {
	if errors.Is(s.err, context.Canceled) {
		// A signal, not something to fix.
		return fmt.Sprintf("%s interrupted (SIGINT or SIGTERM): %v\nRun graft run again to resume: finished stages are not repeated, created resources are found by their tags.", s.stage, s.err)
	}
	msg := fmt.Sprintf("%s failed: %v", s.stage, s.err)
	if s.fix != "" {
		msg += "\n" + s.fix
	}
	return msg
}

func (s *stageError) Unwrap() []error {
	if s.finding {
		return []error{s.err, errFinding}
	}
	return []error{s.err}
}

func (p *pipeline) run(ctx context.Context) (*pipelineResult, error) {
	e, m := p.e, p.m
	res := &pipelineResult{
		inventoryPath: ebs.InventoryPath(e.specPath),
		recordPath:    record.Path(e.specPath, e.lockPath),
	}
	const rerun = "Fix it and run graft run again: finished stages are not repeated, created resources are found by their tags."

	e.stage("discover")
	inv, diffs, err := discoverAndCompare(ctx, e, p.eng)
	if err != nil {
		return res, failed("discover", "Check spec.source (filters, devices) and spec.mapping, then run graft run again.", err)
	}
	if len(diffs) > 0 {
		// As clone does: never act on a source other than the one reviewed.
		return res, failed("discover", "Review the change with graft discover (which rewrites the inventory) and graft plan, then run graft run again.",
			fmt.Errorf("the source changed since %s was written:\n  - %s", res.inventoryPath, strings.Join(diffs, "\n  - ")))
	}
	if err := ctx.Err(); err != nil {
		return res, failed("discover", rerun, err)
	}
	if err := inv.WriteFile(res.inventoryPath); err != nil {
		return res, failed("discover", "", err)
	}
	e.log.Info("inventory written", "path", res.inventoryPath, "members", len(inv.Members))

	e.stage("plan")
	if res.plan, err = p.eng.Plan(ctx, inv); err != nil {
		return res, failed("plan", rerun, err)
	}
	if err := res.plan.WriteText(e.stderr); err != nil {
		return res, err
	}
	if !p.yes {
		q := fmt.Sprintf("Snapshot %d data volume(s) of %d instance(s) in %s and create their new volumes in %s",
			countVolumes(inv), len(inv.Members), m.Spec.Source.Region, m.Spec.Target.Region)
		if err := confirm(ctx, e, q); err != nil {
			return res, err
		}
	}

	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		e.stage("clone --phase " + phase)
		opts := ebs.CloneOptions{Phase: phase, RunHook: p.runHook}
		if phase == spec.PhaseFinal {
			rec, err := loadOrNewRecord(res.recordPath, m)
			if err != nil {
				return res, failed("clone", "", err)
			}
			opts.Record, opts.RecordPath = rec, res.recordPath
		}
		progress := progressBars(p.e, p.eng, inv)
		_, err := p.eng.Clone(ctx, inv, opts)
		if progress != nil {
			progress.Close()
		}
		if err != nil {
			return res, failed("clone ("+phase+")", rerun, err)
		}
	}
	rec, err := record.Load(res.recordPath)
	if err != nil {
		return res, failed("clone", "", err)
	}
	e.log.Info("record written", "path", res.recordPath, "volumes", len(rec.Volumes))

	repo := p.publish.repo
	if repo == "" {
		repo = m.Spec.GitOps.Repo
	}
	if repo == "" {
		// No repository: render and check locally.
		e.stage("render")
		res.overlayDir = defaultOverlayDir(e.specPath, m)
		rendered, err := render.RenderContext(ctx, m, rec, render.Options{OutDir: res.overlayDir, Log: e.log, Keep: migrationFiles(e)})
		if err != nil {
			return res, failed("render", "Fix the spec or the base, then run graft run again.", err)
		}
		e.stage("check")
		verdict, err := checkOverlay(ctx, res.overlayDir, rendered.Built, res.recordPath)
		if err != nil {
			return res, failed("check", "", err)
		}
		if denied := verdict.Count(check.LevelDeny); denied > 0 {
			return res, &stageError{stage: "check", fix: "Run graft check " + res.overlayDir + " for the findings.", err: fmt.Errorf("%d denied", denied), finding: true}
		}
		e.log.Info("overlay rendered and checked; set spec.gitops.repo to publish it", "dir", res.overlayDir)
		return res, nil
	}

	e.stage("render, check and publish")
	pub, err := deliver(ctx, e, m, rec, p.publish, res.plan)
	res.published = pub
	if err != nil {
		if errors.Is(err, publish.ErrDenied) {
			// A denied overlay is a finding (exit 1), as for graft publish.
			return res, &stageError{stage: "publish", fix: "The overlay was not pushed. Run graft render and graft check locally for the findings.", err: err, finding: true}
		}
		return res, failed("publish", "Fix it and run graft run again.", err)
	}
	return res, nil
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
