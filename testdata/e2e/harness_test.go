package e2e

import (
	"strings"
	"testing"
)

// TestControlPlaneListensOnLoopbackOnly: every socket the control plane
// listens on is bound to 127.0.0.1.
func TestControlPlaneListensOnLoopbackOnly(t *testing.T) {
	all, err := cluster.Listeners()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 5 {
		t.Fatalf("found only %d listening sockets (%s): expected etcd (client, peer), kube-apiserver, kube-controller-manager, kube-scheduler", len(all), strings.Join(all, ", "))
	}
	bad, err := cluster.NonLoopbackListeners()
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("listening outside loopback: %s", strings.Join(bad, ", "))
	}
	t.Logf("listeners: %s", strings.Join(all, ", "))
}
