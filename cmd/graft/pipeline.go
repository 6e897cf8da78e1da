package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"

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
// The stages up to clone are graft clone's own (see stages).
type pipeline struct {
	// stages up to clone, graft clone's; their command (run or demo)
	// names the next step in errors.
	*stages
	// yes skips the confirmation before clone.
	yes bool
	// publish overrides spec.gitops for the publish stage.
	publish deliveryFlags
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

func (p *pipeline) run(ctx context.Context) (*pipelineResult, error) {
	s := p.stages
	res := &pipelineResult{inventoryPath: s.inventoryPath, recordPath: s.recordPath}
	inv, err := s.discover(ctx)
	if err != nil {
		return res, err
	}
	if res.plan, err = s.plan(ctx, inv); err != nil {
		return res, err
	}
	if err := s.confirm(ctx, inv, p.yes, spec.PhasePrecopy, spec.PhaseFinal); err != nil {
		return res, err
	}
	var rec *record.Record
	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		if rec, err = s.clone(ctx, inv, phase); err != nil {
			return res, err
		}
	}
	if cmp.Or(p.publish.repo, p.m.Spec.GitOps.Repo) == "" {
		// No repository: render and check locally.
		return res, p.renderAndCheck(ctx, s, rec, res)
	}
	p.e.stage("render, check and publish")
	res.published, err = deliver(ctx, p.e, p.m, rec, p.publish, res.plan)
	if err != nil {
		se := s.failed(stagePublish, "", err)
		// A denied overlay is a finding (exit 1), as for graft publish.
		se.finding = errors.Is(err, publish.ErrDenied)
		return res, se
	}
	return res, nil
}

// renderAndCheck renders the overlay beside the spec and checks it.
func (p *pipeline) renderAndCheck(ctx context.Context, s *stages, rec *record.Record, res *pipelineResult) error {
	e := p.e
	e.stage(stageRender)
	res.overlayDir = defaultOverlayDir(e.specPath, p.m)
	rendered, err := renderOverlay(ctx, e, p.m, rec, render.Options{OutDir: res.overlayDir, Log: e.log, Keep: migrationFiles(e)})
	if err != nil {
		return s.failed(stageRender, "", err)
	}
	e.stage(stageCheck)
	verdict, err := checkOverlay(ctx, res.overlayDir, rendered.Builds, res.recordPath)
	if err != nil {
		return s.failed(stageCheck, "", err)
	}
	if denied := verdict.Count(check.LevelDeny); denied > 0 {
		se := s.failed(stageCheck, "", fmt.Errorf("%d denied", denied))
		se.fix, se.finding = checkDeniedFix(res.overlayDir), true
		return se
	}
	e.log.Info("overlay rendered and checked; set spec.gitops.repo to publish it", "dir", res.overlayDir)
	return nil
}
