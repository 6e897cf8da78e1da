package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/check"
	"github.com/graftctl/graft/generator/kubeclient"
	"github.com/graftctl/graft/generator/preflight"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/termtext"
	"github.com/graftctl/graft/templates"
)

func preflightCommand() *command {
	return &command{
		name:       "preflight",
		takesPaths: true,
		summary:    "check, read-only and before merge, that the target cluster can take the overlay",
		usage:      "preflight [PATH] [--lock FILE] [--kubeconfig FILE] [--context NAME] [--request-timeout D] [-o text|json] [--print-workflow]",
		outputs:    preflight.Formats,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			kube := kubeFlags(fs)
			printWorkflow := printWorkflowFlag(fs, templates.PreflightWorkflow, "print the GitHub Actions workflow that runs graft preflight on the overlays a pull request changes, and exit")
			return func(ctx context.Context, e *env, args []string) error {
				if printed, err := printWorkflow(e, args); printed {
					return err
				}
				if len(args) > 1 {
					return usagef("preflight takes one overlay directory, got %d PATHs %q", len(args), args)
				}
				if len(args) == 1 && args[0] == check.Stdin {
					return usagef("PATH: %q, expected an overlay directory (preflight builds it; stdin is not accepted)", args[0])
				}
				if kube.Timeout <= 0 {
					return usagef("--request-timeout: %s, expected a positive duration", kube.Timeout)
				}
				return runPreflight(ctx, e, args, *kube)
			}
		},
	}
}

func runPreflight(ctx context.Context, e *env, args []string, kube kubeclient.Options) error {
	paths, lockPath, err := checkInputs(ctx, e, args)
	if err != nil {
		return err
	}
	dir := paths[0]
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return fmt.Errorf("%w: PATH %s: not an overlay directory (a directory with a kustomization.yaml)", check.ErrInput, termtext.Value(dir))
	}
	rec, err := record.Load(lockPath)
	if err != nil {
		return fmt.Errorf("%w: the record: %w", check.ErrInput, err)
	}
	built, err := buildOverlayContext(ctx, dir)
	if err != nil {
		return err
	}
	overlay, err := preflight.ParseBuilt(built, rec)
	if err != nil {
		return fmt.Errorf("%s: %w", termtext.Value(dir), err)
	}

	client, target, err := connect(ctx, kube)
	if err != nil {
		return err
	}
	e.log.Info("preflight", "overlay", dir, "record", lockPath, "server", target.Server, "context", target.Context)
	results, err := preflight.Run(ctx, client, overlay, preflight.Options{CallTimeout: kube.Timeout})
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	rep := preflight.NewReport(dir, lockPath, preflight.Cluster(target), results)
	if e.output == "json" {
		err = preflight.WriteJSON(e.stdout, rep)
	} else {
		err = preflight.WriteText(e.stdout, rep, e.colorOut)
	}
	if err != nil {
		return err
	}
	if !rep.Passed {
		return finding("%d of %d checks failed on %s", rep.Summary.Failed, len(rep.Checks), target)
	}
	return nil
}

// buildOverlayContext builds every root of dir with kustomize
// (render.BuildOverlay), returning as soon as ctx is done.
func buildOverlayContext(ctx context.Context, dir string) ([]byte, error) {
	data, err := boundedio.UntilDone(ctx, func() ([]byte, error) { return render.BuildOverlay(dir) })
	// UntilDone returns ctx.Err() itself when ctx is done; any other error
	// is the build's.
	if err != nil && err != ctx.Err() {
		return nil, fmt.Errorf("%w: kustomize build %s: %s", check.ErrInput, termtext.Value(dir), termtext.Line(err.Error()))
	}
	return data, err
}
