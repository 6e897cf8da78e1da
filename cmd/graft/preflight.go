package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/graftctl/graft/generator/check"
	"github.com/graftctl/graft/generator/preflight"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
)

// newKubeClient makes the clientset preflight reads the cluster with;
// tests replace it with client-go's fake.
var newKubeClient = func(cfg *rest.Config) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(cfg)
}

func preflightCommand() *command {
	return &command{
		name:       "preflight",
		takesPaths: true,
		summary:    "check, read-only and before merge, that the target cluster can take the overlay",
		usage:      "preflight [PATH] [--lock FILE] [--kubeconfig FILE] [--context NAME] [--request-timeout D] [-o text|json] [--print-workflow]",
		outputs:    preflight.Formats,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config, as kubectl)")
			kubeContext := fs.String("context", "", "kubeconfig context (default: its current context)")
			timeout := fs.Duration("request-timeout", preflight.DefaultCallTimeout, "bound of each API call")
			printWorkflow := fs.Bool("print-workflow", false, "print the GitHub Actions workflow that runs graft preflight on the overlays a pull request changes, and exit")
			return func(ctx context.Context, e *env, args []string) error {
				if *printWorkflow {
					if len(args) > 0 {
						return usagef("--print-workflow takes no PATH, got %q", args)
					}
					_, err := e.stdout.Write(preflight.Workflow)
					return err
				}
				if len(args) > 1 {
					return usagef("preflight takes one overlay directory, got %d PATHs %q", len(args), args)
				}
				if len(args) == 1 && args[0] == check.Stdin {
					return usagef("PATH: %q, expected an overlay directory (preflight builds it; stdin is not accepted)", args[0])
				}
				if *timeout <= 0 {
					return usagef("--request-timeout: %s, expected a positive duration", *timeout)
				}
				return runPreflight(ctx, e, args, *kubeconfig, *kubeContext, *timeout)
			}
		},
	}
}

func runPreflight(ctx context.Context, e *env, args []string, kubeconfig, kubeContext string, timeout time.Duration) error {
	paths, lockPath, err := checkInputs(ctx, e, args)
	if err != nil {
		return err
	}
	dir := paths[0]
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return fmt.Errorf("%w: PATH %s: not an overlay directory (a directory with a kustomization.yaml)", check.ErrInput, dir)
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
		return fmt.Errorf("%s: %w", dir, err)
	}

	client, cluster, err := kubeClient(kubeconfig, kubeContext, timeout)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("cluster %s (context %q, kubeconfig %s)", cluster.Server, cluster.Context, cluster.Kubeconfig)
	if err := reachable(ctx, client, timeout); err != nil {
		return fmt.Errorf("%s: not reachable: %v; check --kubeconfig and --context (or KUBECONFIG), the credentials, and that the API server can be reached from here", where, err)
	}
	e.log.Info("preflight", "overlay", dir, "record", lockPath, "server", cluster.Server, "context", cluster.Context)
	results, err := preflight.Run(ctx, client, overlay, preflight.Options{CallTimeout: timeout})
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	rep := preflight.NewReport(dir, lockPath, cluster, results)
	if e.output == "json" {
		err = preflight.WriteJSON(e.stdout, rep)
	} else {
		err = preflight.WriteText(e.stdout, rep, e.colorOut)
	}
	if err != nil {
		return err
	}
	if !rep.Passed {
		return finding("%d of %d checks failed on %s", rep.Summary.Failed, len(rep.Checks), where)
	}
	return nil
}

// buildOverlayContext builds dir with kustomize (render.Build), returning
// as soon as ctx is done (krusty takes no context; its result is dropped).
func buildOverlayContext(ctx context.Context, dir string) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := render.Build(dir)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("%w: kustomize build %s: %v", check.ErrInput, dir, r.err)
		}
		return r.data, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// kubeClient loads the kubeconfig as kubectl does (--kubeconfig, else
// KUBECONFIG, else ~/.kube/config; --context, else the current context)
// and makes the clientset, each request bounded by timeout.
func kubeClient(kubeconfig, kubeContext string, timeout time.Duration) (kubernetes.Interface, preflight.Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kubeContext}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	files := kubeconfig
	if files == "" {
		files = strings.Join(rules.GetLoadingPrecedence(), string(filepath.ListSeparator))
	}
	cluster := preflight.Cluster{Kubeconfig: files, Context: kubeContext}
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, cluster, fmt.Errorf("kubeconfig %s: %v", files, err)
	}
	if cluster.Context == "" {
		cluster.Context = raw.CurrentContext
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		switch {
		case clientcmd.IsEmptyConfig(err):
			return nil, cluster, fmt.Errorf("no kubeconfig: none at %s; pass --kubeconfig FILE or set KUBECONFIG", files)
		case kubeContext != "" && raw.Contexts[kubeContext] == nil:
			return nil, cluster, fmt.Errorf("--context: %q is not a context of kubeconfig %s, expected one of %s", kubeContext, files, contextNames(raw.Contexts))
		}
		return nil, cluster, fmt.Errorf("kubeconfig %s, context %q: %v", files, cluster.Context, err)
	}
	cfg.Timeout = timeout
	cluster.Server = cfg.Host
	client, err := newKubeClient(cfg)
	if err != nil {
		return nil, cluster, fmt.Errorf("kubeconfig %s, context %q: %v", files, cluster.Context, err)
	}
	return client, cluster, nil
}

func contextNames[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none (the kubeconfig has no contexts)"
	}
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

// reachable asks the API server its version, within timeout: the first
// call, so that an unreachable cluster is one clear error.
func reachable(ctx context.Context, c kubernetes.Interface, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Discovery().ServerVersion()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-cctx.Done():
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.New("no answer within --request-timeout " + timeout.String())
	}
}
