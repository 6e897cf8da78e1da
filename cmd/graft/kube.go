package main

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/graftctl/graft/generator/kubeclient"
	"github.com/graftctl/graft/generator/termtext"
)

// newKubeClient makes the clientset preflight and verify read the cluster
// with; tests replace it with client-go's fake.
var newKubeClient = func(cfg *rest.Config) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(cfg)
}

// connect makes the clientset of the cluster o selects and checks that it
// answers (preflight and verify).
func connect(ctx context.Context, o kubeclient.Options) (kubernetes.Interface, kubeclient.Target, error) {
	cfg, target, err := kubeclient.Config(o)
	if err != nil {
		return nil, target, err
	}
	client, err := newKubeClient(cfg)
	if err != nil {
		return nil, target, fmt.Errorf("%w: %s: %s", kubeclient.ErrCluster, target, termtext.Line(err.Error()))
	}
	return client, target, kubeclient.Reachable(ctx, client, target, cfg.Timeout)
}
