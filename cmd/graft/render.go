package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

func renderCommand() *command {
	return &command{
		name:    "render",
		locks:   true,
		summary: "render the kustomize overlay from the spec and graft.lock",
		usage:   "render [--out DIR] [--dry-run] [--force]",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			out := fs.String("out", "", "overlay directory (default: spec.gitops.overlayPath beside the spec)")
			dryRun := fs.Bool("dry-run", false, "print the built overlay to stdout and write nothing")
			force := fs.Bool("force", false, "replace the output directory even if graft did not write it (never the base, a directory holding it, another migration's overlay, or anything in .git)")
			return func(ctx context.Context, e *env, args []string) error {
				m, rec, err := loadSpecAndRecord(ctx, e)
				if err != nil {
					return err
				}
				dir := *out
				if dir == "" {
					dir = defaultOverlayDir(e.specPath, m)
				}
				res, err := renderOverlay(ctx, e, m, rec, render.Options{OutDir: dir, Force: *force, DryRun: *dryRun, Log: e.log, Keep: migrationFiles(e)})
				if err != nil {
					return err
				}
				if *dryRun {
					_, err := e.stdout.Write(res.Built)
					return err
				}
				e.log.Info("overlay written", "dir", dir, "files", len(res.Files), "volumes", len(rec.Volumes))
				return nil
			}
		},
	}
}

// renderOverlay renders the overlay and then records in graft.lock the
// binding (spec.target.binding) and the workload (spec.target.workload)
// it rendered, which the gate holds the overlay to. The record is written after the overlay is in place, so a
// failure in between leaves an overlay that the gate denies, never one it
// passes on an old binding.
func renderOverlay(ctx context.Context, e *env, m *spec.Migration, rec *record.Record, opts render.Options) (*render.Result, error) {
	res, err := render.RenderContext(ctx, m, rec, opts)
	if err != nil || opts.DryRun {
		return res, err
	}
	want := record.BindingOf(&m.Spec.Target)
	wantWorkload := record.WorkloadOf(&m.Spec)
	if rec.Binding != nil && *rec.Binding == *want && record.EqualWorkloads(rec.Workload, wantWorkload) {
		return res, nil
	}
	rec.Binding, rec.Workload = want, wantWorkload
	path := record.Path(e.specPath, e.lockPath)
	if err := rec.Write(path); err != nil {
		return nil, fmt.Errorf("the overlay is written, but its binding and workload are not recorded in %s (graft check denies the overlay until they are; run graft render again): %w", termtext.Value(path), err)
	}
	e.log.Info("binding recorded", "record", path, "mode", want.Mode, "storageClass", want.StorageClassName, "workload", m.Spec.Target.WorkloadKind())
	return res, nil
}

// loadSpecAndRecord reads the spec and its record, as --spec and --lock say.
func loadSpecAndRecord(ctx context.Context, e *env) (*spec.Migration, *record.Record, error) {
	m, err := e.loadSpec(ctx)
	if err != nil {
		return nil, nil, err
	}
	rec, err := record.Load(record.Path(e.specPath, e.lockPath))
	if err != nil {
		return nil, nil, err
	}
	return m, rec, nil
}

// defaultOverlayDir is spec.gitops.overlayPath, relative to the spec's
// directory.
func defaultOverlayDir(specPath string, m *spec.Migration) string {
	return filepath.Join(filepath.Dir(specPath), filepath.FromSlash(m.Spec.GitOps.OverlayPath))
}

// migrationFiles are the files of the migration render must never delete:
// the spec, the record and the inventory. A spec that is no file of a
// directory (a pipe: --spec <(…), /dev/stdin) is nothing render could
// delete, and is left out.
func migrationFiles(e *env) []string {
	files := []string{e.specPath, record.Path(e.specPath, e.lockPath), ebs.InventoryPath(e.specPath)}
	if fi, err := os.Stat(e.specPath); err == nil && !fi.Mode().IsRegular() {
		files = files[1:]
	}
	return files
}
