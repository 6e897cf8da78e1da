package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/graftctl/graft/generator/verify"
	"github.com/graftctl/graft/internal/testkit/examples"
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

// recordedBars records what verify draws on the bars.
type recordedBars struct{ lines []string }

func (b *recordedBars) Update(member, stage string, percent int) {
	b.lines = append(b.lines, fmt.Sprintf("%s %s %d", member, stage, percent))
}
func (b *recordedBars) Done(member string, err error) { b.lines = append(b.lines, member+" done") }
func (b *recordedBars) Close()                        {}

// TestVerifyBars: a member's bar shows the checks it passed and the one it
// waits for, and is done once every check passed.
func TestVerifyBars(t *testing.T) {
	checks := func(passed int) []verify.Check {
		var cs []verify.Check
		for i, name := range verify.Checks {
			cs = append(cs, verify.Check{Name: name, OK: i < passed})
		}
		return cs
	}
	bars := &recordedBars{}
	showMember(bars, verify.Member{Claim: "data-cassandra-0", Checks: checks(0)})
	showMember(bars, verify.Member{Claim: "data-cassandra-0", Checks: checks(3)})
	showMember(bars, verify.Member{Claim: "data-cassandra-0", Checks: checks(len(verify.Checks))})
	want := []string{"data-cassandra-0 waiting for claim-bound 0", "data-cassandra-0 waiting for pod-claim 42", "data-cassandra-0 done"}
	if strings.Join(bars.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("bars drew\n%s\nwant\n%s", strings.Join(bars.lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestVerifyWaitsOutTransientErrors: within --wait, a list the API server
// could not answer for a moment (503, a broken connection) is read again
// at the next poll, and verify goes on to pass; a refusal (403) ends it at
// once, as does a transient error at the last poll.
func TestVerifyWaitsOutTransientErrors(t *testing.T) {
	prev := verifyPollInterval
	verifyPollInterval = 10 * time.Millisecond
	t.Cleanup(func() { verifyPollInterval = prev })
	m, rec := examples.Load(t, "cassandra-3node")
	pvcs := schema.GroupResource{Resource: "persistentvolumeclaims"}
	for _, c := range []struct {
		name     string
		fail     error
		failures int
		wait     time.Duration
		fails    bool
		wantRuns int // 0: any
	}{
		{"service unavailable twice", apierrors.NewServiceUnavailable("etcd leader changed"), 2, time.Minute, false, 3},
		{"connection reset", &url.Error{Op: "Get", URL: "https://k/api", Err: syscall.ECONNRESET}, 1, time.Minute, false, 2},
		{"forbidden", apierrors.NewForbidden(pvcs, "", errors.New("RBAC")), 1, time.Minute, true, 1},
		{"unavailable without --wait", apierrors.NewServiceUnavailable("etcd leader changed"), 1, 0, true, 1},
		{"unavailable at the last poll", apierrors.NewServiceUnavailable("etcd leader changed"), 1000, 50 * time.Millisecond, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			client := fake.NewClientset(examples.CutOver(m, rec)...)
			runs := 0
			client.PrependReactor("list", "persistentvolumeclaims", func(k8stesting.Action) (bool, runtime.Object, error) {
				runs++
				if runs <= c.failures {
					return true, nil, c.fail
				}
				return false, nil, nil
			})
			var logs bytes.Buffer
			e := &env{stderr: &logs, log: slog.New(slog.NewTextHandler(&logs, nil))}
			rep, err := pollVerify(context.Background(), e, &verify.Verifier{Kube: client, Spec: m, Rec: rec}, c.wait)
			switch {
			case !c.fails && (err != nil || !rep.Passed):
				t.Fatalf("err %v, report %+v; want a pass after %d failures", err, rep, c.failures)
			case c.fails && (err == nil || !strings.Contains(err.Error(), "the cluster's API failed a request: list PersistentVolumeClaims") || !strings.Contains(err.Error(), c.fail.Error())):
				t.Fatalf("err %v; want the API's error %q", err, c.fail)
			case c.wantRuns > 0 && runs != c.wantRuns:
				t.Errorf("listed the claims %d times, want %d", runs, c.wantRuns)
			}
			if !c.fails && !strings.Contains(logs.String(), "reading it again") {
				t.Errorf("no warning of the failed read:\n%s", logs.String())
			}
		})
	}
}
