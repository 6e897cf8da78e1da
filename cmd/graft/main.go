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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
