// Command graft moves the EBS volumes of a stateful application from EC2
// instances into Kubernetes StatefulSets, and delivers the Kubernetes side as
// a reviewed kustomize overlay in a GitOps pull request.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext is done at the first SIGINT or SIGTERM: graft stops
// writing and winds down. The signals' default action is restored then, so
// that a second Ctrl-C kills graft at once.
//
// The default action is restored before the context is done, not after:
// with signal.NotifyContext it was restored by a goroutine that ran some
// time after the context was done, and a second signal in between was
// swallowed (TestSecondSignalKills failed 3 runs in 8).
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
		case <-ctx.Done():
		}
		signal.Stop(ch)
		cancel()
	}()
	return ctx, cancel
}
