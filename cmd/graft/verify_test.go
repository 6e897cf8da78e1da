package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyErrors: a kubeconfig that names no cluster, a cluster that does
// not answer, and a negative --wait exit 2 with a message naming what to
// fix; nothing is written.
func TestVerifyErrors(t *testing.T) {
	root, specPath := exampleTree(t, "cassandra-3node")
	dead := filepath.Join(root, "dead.kubeconfig")
	must(t, os.WriteFile(dead, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: dead, context: {cluster: c, user: u}}]
current-context: dead
`), 0o600))
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"no kubeconfig", []string{"--kubeconfig", filepath.Join(root, "missing")}, []string{"cannot reach the cluster", "missing", "Check that --kubeconfig and --context"}},
		{"unknown context", []string{"--kubeconfig", dead, "--context", "prod"}, []string{"cannot reach the cluster", `"prod" is not a context`}},
		{"cluster does not answer", []string{"--kubeconfig", dead, "--cluster-only"}, []string{"cannot reach the cluster", "127.0.0.1:1", "not reachable"}},
		{"negative wait", []string{"--wait", "-1s"}, []string{"--wait -1s: expected a duration of 0 or more"}},
	}
	before := listTree(t, root)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := graft(t, append([]string{"verify", "--spec", specPath}, c.args...)...)
			if code != exitError || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing on stdout", code, stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
	if after := listTree(t, root); after != before {
		t.Errorf("verify wrote something:\n%s\n%s", before, after)
	}
}
