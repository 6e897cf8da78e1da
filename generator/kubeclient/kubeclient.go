// Package kubeclient finds the target cluster with client-go's standard
// kubeconfig loading rules, as kubectl does: --kubeconfig, then KUBECONFIG,
// then ~/.kube/config, and --context. It is a support package of the
// stages that read the cluster (preflight before merge, verify after sync).
package kubeclient

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/graftctl/graft/generator/termtext"
)

// ErrCluster is wrapped by every error in finding or reaching the cluster:
// the kubeconfig, its context, or an API server that does not answer.
var ErrCluster = errors.New("cannot reach the cluster")

// ErrAPI is wrapped by every error of a request the cluster refused or
// failed (forbidden, a timeout, a server error), other than not found.
var ErrAPI = errors.New("the cluster's API failed a request")

// DefaultTimeout bounds every request to the API server.
const DefaultTimeout = 15 * time.Second

// Options name the kubeconfig and its context (empty: the loading rules'
// defaults) and bound each request.
type Options struct {
	Kubeconfig string
	Context    string
	Timeout    time.Duration
}

// Target is the cluster Options select, for messages and reports.
type Target struct {
	Server  string `json:"server"`
	Context string `json:"context"`
	// Kubeconfig is the file(s) the configuration was read from, in
	// kubectl's precedence.
	Kubeconfig string `json:"kubeconfig"`
}

// String names the target on one line: the server and the kubeconfig's
// path come from outside graft (a kubeconfig, KUBECONFIG) and are quoted
// when a terminal would act on them (termtext.Value).
func (t Target) String() string {
	return fmt.Sprintf("cluster %s (context %q, kubeconfig %s)", termtext.Value(t.Server), t.Context, termtext.Value(t.Kubeconfig))
}

// Config loads the client configuration Options select, each request
// bounded by o.Timeout and at kubectl's rate (a large migration's lists
// are paged; a poll should not wait on client-go's default of 5 requests
// a second).
func Config(o Options) (*rest.Config, Target, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
	files := o.Kubeconfig
	if files == "" {
		files = strings.Join(rules.GetLoadingPrecedence(), string(filepath.ListSeparator))
	}
	t := Target{Kubeconfig: files, Context: o.Context}
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, t, fmt.Errorf("%w: kubeconfig %s: %v", ErrCluster, files, err)
	}
	if t.Context == "" {
		t.Context = raw.CurrentContext
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		switch {
		case clientcmd.IsEmptyConfig(err):
			return nil, t, fmt.Errorf("%w: no kubeconfig: none at %s; pass --kubeconfig FILE or set KUBECONFIG", ErrCluster, files)
		case o.Context != "" && raw.Contexts[o.Context] == nil:
			return nil, t, fmt.Errorf("%w: --context: %q is not a context of kubeconfig %s, expected one of %s", ErrCluster, o.Context, files, contextNames(raw.Contexts))
		}
		return nil, t, fmt.Errorf("%w: kubeconfig %s, context %q: %v", ErrCluster, files, t.Context, err)
	}
	cfg.Timeout = o.Timeout
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.QPS, cfg.Burst = 50, 300
	t.Server = cfg.Host
	return cfg, t, nil
}

func contextNames[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none (the kubeconfig has no contexts)"
	}
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

// Reachable asks the API server its version within timeout: the first
// call, so that an unreachable cluster is one clear error.
func Reachable(ctx context.Context, c kubernetes.Interface, t Target, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Discovery().ServerVersion()
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-cctx.Done():
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = errors.New("no answer within " + timeout.String())
	}
	if err != nil {
		return fmt.Errorf("%w: %s: not reachable: %v", ErrCluster, t, err)
	}
	return nil
}

// Transient reports whether err, from a request to the API server, may
// pass if the request is made again: the server was briefly unable
// (timeouts, 429 and 5xx, which client-go retries only when the server
// sends Retry-After) or the connection broke (an API server restarting
// during an upgrade, a load balancer changing). Refusals (unauthorized,
// forbidden, invalid, not found) are not, whatever the body they came
// with: an answer that is not a Status (a proxy's HTML 403, a plain
// "404 page not found") is judged by its HTTP status code too, not by
// client-go's mark that the body was unexpected.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		switch code := status.Status().Code; {
		case code == http.StatusTooManyRequests:
			return true
		case code == http.StatusNotImplemented, code == http.StatusHTTPVersionNotSupported:
			return false // the server will not do it, however often asked
		case code >= 500 && code <= 599:
			return true
		case code == 0:
			// A Status without a code: its reason says.
			return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
				apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
		}
		return false
	}
	if utilnet.IsConnectionReset(err) || utilnet.IsConnectionRefused(err) || utilnet.IsProbableEOF(err) || utilnet.IsTimeout(err) {
		return true
	}
	// A request that ran into its own bound (Options.Timeout), not the
	// command's context.
	return errors.Is(err, context.DeadlineExceeded)
}
