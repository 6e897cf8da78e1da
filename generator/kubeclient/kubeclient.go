// Package kubeclient connects graft to the target cluster with client-go's
// standard kubeconfig loading rules: --kubeconfig, then KUBECONFIG, then
// ~/.kube/config, and --context. It is a support package of the stages
// that read the cluster (preflight before merge, verify after sync).
package kubeclient

import (
	"errors"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// ErrCluster is wrapped by every error in reaching or reading the cluster:
// the kubeconfig, its context, the API server, or a request it refused.
var ErrCluster = errors.New("cannot read the cluster")

// Timeout bounds every request to the API server.
const Timeout = 15 * time.Second

// Options name the kubeconfig and its context; empty means the loading
// rules' defaults.
type Options struct {
	Kubeconfig string
	Context    string
}

// New returns a client of the cluster Options select, and the name of the
// context it uses (for messages).
func New(o Options) (kubernetes.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, "", fmt.Errorf("%w: kubeconfig %s: %v", ErrCluster, describe(o), err)
	}
	name := o.Context
	if name == "" {
		name = raw.CurrentContext
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("%w: kubeconfig %s, context %q: %v", ErrCluster, describe(o), name, err)
	}
	cfg.Timeout = Timeout
	// kubectl's rate: the lists of a large migration are paged, and a
	// poll should not wait on client-go's default of 5 requests a second.
	cfg.QPS, cfg.Burst = 50, 300
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("%w: context %q: %v", ErrCluster, name, err)
	}
	return cs, name, nil
}

// describe names the kubeconfig the loading rules read, for messages.
func describe(o Options) string {
	if o.Kubeconfig != "" {
		return o.Kubeconfig
	}
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
		return clientcmd.RecommendedConfigPathEnvVar + "=" + env
	}
	return clientcmd.RecommendedHomeFile
}
