package harness

import (
	"slices"
	"testing"
)

// TestComponentArgs: both components get one kubeconfig for all three
// uses, serve on loopback only, and keep their own flags after the shared
// ones.
func TestComponentArgs(t *testing.T) {
	got := componentArgs("kube-scheduler", "/k/s.kc", 10259, "/c", "--extra=1")
	want := []string{"kube-scheduler", "--kubeconfig=/k/s.kc", "--authentication-kubeconfig=/k/s.kc", "--authorization-kubeconfig=/k/s.kc",
		"--bind-address=127.0.0.1", "--secure-port=10259", "--cert-dir=/c", "--leader-elect=false", "--profiling=false", "--extra=1"}
	if !slices.Equal(got, want) {
		t.Errorf("componentArgs:\n%q\nwant\n%q", got, want)
	}
}
