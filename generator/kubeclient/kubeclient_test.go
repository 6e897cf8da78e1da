package kubeclient_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/kubeclient"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: prod, context: {cluster: c, user: u}}, {name: staging, context: {cluster: c, user: u}}]
current-context: prod
`

// TestConfig: the kubeconfig's current context or --context, the server and
// the file in the target, kubectl's rate and the timeout; a missing file,
// an unknown context and an empty configuration are ErrCluster naming
// what to fix.
func TestConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, target, err := kubeclient.Config(kubeclient.Options{Kubeconfig: path})
	if err != nil {
		t.Fatal(err)
	}
	if target.Context != "prod" || target.Server != "https://127.0.0.1:6443" || target.Kubeconfig != path || cfg.Timeout != kubeclient.DefaultTimeout || cfg.QPS != 50 {
		t.Errorf("target %+v, timeout %s, qps %v", target, cfg.Timeout, cfg.QPS)
	}
	if _, target, err = kubeclient.Config(kubeclient.Options{Kubeconfig: path, Context: "staging"}); err != nil || target.Context != "staging" {
		t.Errorf("--context staging: %+v %v", target, err)
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HOME", t.TempDir())
	for name, c := range map[string]struct {
		o    kubeclient.Options
		want string
	}{
		"unknown context": {kubeclient.Options{Kubeconfig: path, Context: "dev"}, `"dev" is not a context of kubeconfig ` + path + `, expected one of prod, staging`},
		"missing file":    {kubeclient.Options{Kubeconfig: path + ".missing"}, "kubeconfig " + path + ".missing"},
		"no kubeconfig":   {kubeclient.Options{}, "no kubeconfig: none at"},
	} {
		if _, _, err := kubeclient.Config(c.o); !errors.Is(err, kubeclient.ErrCluster) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrCluster containing %q", name, err, c.want)
		}
	}
}
