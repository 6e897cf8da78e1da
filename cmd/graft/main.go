// Command graft moves the EBS volumes of a stateful application from EC2
// instances into Kubernetes StatefulSets, and delivers the Kubernetes side as
// a reviewed kustomize overlay in a GitOps pull request.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/graftctl/graft/internal/gctarget"
)

func main() {
	gctarget.Apply()
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext is done at the first SIGINT or SIGTERM: graft stops
// writing and winds down. A second signal kills graft at once, even if the
// wind-down hangs. signal.NotifyContext is not used: restoring the default
// action after the first signal would leave a window in which a second one
// is swallowed, so both are received here and the second is re-raised with
// its default action.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		cancel()
		sig := <-sigs
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		if s, ok := sig.(syscall.Signal); ok {
			_ = syscall.Kill(os.Getpid(), s)
		}
		// The runtime delivers the re-raised signal from its own thread;
		// exit only if that never happens.
		time.Sleep(5 * time.Second)
		os.Exit(exitError)
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel()
	}
}
