package kubeclient_test

import (
	"testing"

	"github.com/graftctl/graft/generator/kubeclient"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// TestTargetStringHostile: a kubeconfig's server and the kubeconfig's
// path are outside graft's; the target's name is one line whatever they
// hold, and plain ones are named as they are.
func TestTargetStringHostile(t *testing.T) {
	h := termtexttest.Hostile
	termtexttest.Check(t, "the target", kubeclient.Target{Server: h, Context: h, Kubeconfig: h}.String()+"\n", 1)
	plain := kubeclient.Target{Server: "https://127.0.0.1:6443", Context: "kind", Kubeconfig: "/home/u/.kube/config"}.String()
	if want := `cluster https://127.0.0.1:6443 (context "kind", kubeconfig /home/u/.kube/config)`; plain != want {
		t.Errorf("String() = %q, want %q", plain, want)
	}
}
