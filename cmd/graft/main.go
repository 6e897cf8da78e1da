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
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}
