package main

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/internal/testkit"
)

const (
	exampleOverlay = "../../overlays/cassandra-3node"
	exampleLock    = "../../testdata/examples/cassandra-3node/graft.lock"
)

// writeKubeconfig writes a kubeconfig with one context, "test", for server.
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	data := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: ` + server + `
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    token: not-a-secret
contexts:
- name: test
  context: {cluster: c, user: u}
current-context: test
`
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// closedPort is a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestPreflightUsage(t *testing.T) {
	kc := writeKubeconfig(t, "https://"+closedPort(t))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"preflight", exampleOverlay, exampleOverlay}, "preflight takes one overlay directory, got 2 PATHs"},
		{[]string{"preflight", "-"}, `PATH: "-", expected an overlay directory`},
		{[]string{"preflight", exampleOverlay, "-o", "yaml"}, `-o/--output: "yaml" is not a format of this command, expected one of text, json`},
		{[]string{"preflight", exampleOverlay, "--request-timeout", "0s"}, "--request-timeout: 0s, expected a positive duration"},
		{[]string{"preflight", exampleOverlay, "--print-workflow"}, "--print-workflow takes no PATH"},
		{[]string{"preflight", exampleOverlay, "--bogus"}, "unknown flag: --bogus"},
		{[]string{"preflight", "--spec", filepath.Join(t.TempDir(), "graft.yaml"), "--kubeconfig", kc}, "no PATH given and no spec at"},
	}
	for _, c := range cases {
		code, stdout, stderr := graft(t, c.args...)
		if code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("graft %v: exit %d, stderr %q, want exit 2 and %q", c.args, code, stderr, c.want)
		}
		if stdout != "" {
			t.Errorf("graft %v: printed %q", c.args, stdout)
		}
	}
}

func TestPreflightInputErrors(t *testing.T) {
	kc := writeKubeconfig(t, "https://"+closedPort(t))
	notOverlay := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"preflight", exampleOverlay, "--lock", filepath.Join(t.TempDir(), "graft.lock"), "--kubeconfig", kc}, "the record"},
		{[]string{"preflight", notOverlay, "--lock", exampleLock, "--kubeconfig", kc}, "kustomize build " + notOverlay},
		{[]string{"preflight", exampleLock, "--lock", exampleLock, "--kubeconfig", kc}, "not an overlay directory"},
		{[]string{"preflight", exampleOverlay, "--lock", exampleLock, "--kubeconfig", filepath.Join(notOverlay, "missing")}, "kubeconfig " + filepath.Join(notOverlay, "missing")},
		{[]string{"preflight", exampleOverlay, "--lock", exampleLock, "--kubeconfig", kc, "--context", "prod"}, `--context: "prod" is not a context of kubeconfig ` + kc + ", expected one of test"},
	}
	for _, c := range cases {
		code, _, stderr := graft(t, c.args...)
		if code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("graft %v: exit %d, stderr %q, want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// TestPreflightUnreachable: a cluster nobody answers for is an error (exit
// 2) naming the server, the context and the kubeconfig; nothing on stdout.
func TestPreflightUnreachable(t *testing.T) {
	addr := closedPort(t)
	kc := writeKubeconfig(t, "https://"+addr)
	code, stdout, stderr := graft(t, "preflight", exampleOverlay, "--lock", exampleLock, "--kubeconfig", kc, "--request-timeout", "3s")
	if code != exitError {
		t.Fatalf("exit %d, want 2; stderr %q", code, stderr)
	}
	for _, want := range []string{"cluster https://" + addr, `context "test"`, "kubeconfig " + kc, "not reachable", "connection refused"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
	// KUBECONFIG is honoured as kubectl honours it.
	t.Setenv("KUBECONFIG", kc)
	code, _, stderr = graft(t, "preflight", exampleOverlay, "--lock", exampleLock, "--request-timeout", "3s")
	if code != exitError || !strings.Contains(stderr, "kubeconfig "+kc) || !strings.Contains(stderr, addr) {
		t.Errorf("with KUBECONFIG: exit %d, %q", code, stderr)
	}
}

// fakeCluster makes newKubeClient return client-go's fake clientset with
// objs, for the duration of the test.
func fakeCluster(t *testing.T, objs ...runtime.Object) {
	t.Helper()
	prev := newKubeClient
	newKubeClient = func(*rest.Config) (kubernetes.Interface, error) { return fake.NewClientset(objs...), nil }
	t.Cleanup(func() { newKubeClient = prev })
}

// preparedFor is a cluster that takes the example overlay.
func preparedFor(t *testing.T) []runtime.Object {
	t.Helper()
	rec, err := record.Load(exampleLock)
	if err != nil {
		t.Fatal(err)
	}
	objs := []runtime.Object{
		&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "ebs.csi.aws.com"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cassandra"}},
	}
	for _, v := range rec.Volumes {
		name := "node-" + v.TargetZone
		objs = append(objs,
			&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"topology.kubernetes.io/zone": v.TargetZone}},
				Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}},
			&storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: "ebs.csi.aws.com", NodeID: name}}}})
	}
	return objs
}

type preflightJSON struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Overlay    string `json:"overlay"`
	Record     string `json:"record"`
	Cluster    struct {
		Server, Context, Kubeconfig string
	} `json:"cluster"`
	Passed  bool `json:"passed"`
	Summary struct {
		Passed, Failed int
	} `json:"summary"`
	Checks []map[string]string `json:"checks"`
}

func TestPreflightJSON(t *testing.T) {
	kc := writeKubeconfig(t, "https://127.0.0.1:6443")
	fakeCluster(t, preparedFor(t)...)
	code, stdout, stderr := graft(t, "preflight", exampleOverlay, "--lock", exampleLock, "--kubeconfig", kc, "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep preflightJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if rep.APIVersion != "graft.graftctl.io/v1alpha1" || rep.Kind != "PreflightReport" || !rep.Passed ||
		rep.Overlay != exampleOverlay || rep.Record != exampleLock ||
		rep.Cluster.Server != "https://127.0.0.1:6443" || rep.Cluster.Context != "test" || rep.Cluster.Kubeconfig != kc {
		t.Errorf("report header %+v", rep)
	}
	if rep.Summary.Failed != 0 || rep.Summary.Passed != len(rep.Checks) || len(rep.Checks) == 0 {
		t.Errorf("summary %+v of %d checks", rep.Summary, len(rep.Checks))
	}
	ids := map[string]bool{}
	for _, c := range rep.Checks {
		for _, k := range []string{"id", "status", "object", "message"} {
			if c[k] == "" {
				t.Errorf("check %v has no %s", c, k)
			}
		}
		if _, ok := c["fix"]; ok {
			t.Errorf("a passed check with a fix: %v", c)
		}
		ids[c["id"]] = true
	}
	for _, id := range []string{"zone-nodes", "csi-driver", "namespace", "pv-name", "pvc-name", "statefulset", "volume-handle"} {
		if !ids[id] {
			t.Errorf("no %s check in %v", id, ids)
		}
	}
}

func TestPreflightFinding(t *testing.T) {
	kc := writeKubeconfig(t, "https://127.0.0.1:6443")
	var objs []runtime.Object
	for _, o := range preparedFor(t) {
		if _, ok := o.(*storagev1.CSIDriver); !ok {
			objs = append(objs, o)
		}
	}
	objs = append(objs, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-cassandra-0", Namespace: "cassandra"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pvc-0123"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}})
	fakeCluster(t, objs...)

	code, stdout, stderr := graft(t, "preflight", exampleOverlay, "--lock", exampleLock, "--kubeconfig", kc, "-o", "json")
	if code != exitFinding {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	var rep preflightJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	failed := map[string]map[string]string{}
	for _, c := range rep.Checks {
		if c["status"] == "fail" {
			failed[c["id"]] = c
		}
	}
	if rep.Passed || rep.Summary.Failed != 2 || len(failed) != 2 || failed["csi-driver"] == nil || failed["pvc-name"] == nil {
		t.Fatalf("failed %v, summary %+v", failed, rep.Summary)
	}
	for id, c := range failed {
		if c["fix"] == "" {
			t.Errorf("%s failed without a fix", id)
		}
	}
	if !strings.Contains(stderr, "2 of ") || !strings.Contains(stderr, "checks failed on cluster https://127.0.0.1:6443") {
		t.Errorf("stderr %q", stderr)
	}

	// The text: each check, the fixes, the verdict last.
	code, stdout, _ = graft(t, "preflight", exampleOverlay, "--lock", exampleLock, "--kubeconfig", kc)
	if code != exitFinding {
		t.Fatalf("text: exit %d", code)
	}
	for _, want := range []string{"FAIL csi-driver CSIDriver ebs.csi.aws.com\n", "FAIL pvc-name PersistentVolumeClaim cassandra/data-cassandra-0\n", "    fix: ", "PASS zone-nodes "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text lacks %q:\n%s", want, stdout)
		}
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "FAIL: 2 failed, ") || !strings.Contains(last, "(context test)") {
		t.Errorf("verdict %q", last)
	}
}

// TestPreflightSpecDefault: without PATH, the spec's overlay and the
// record beside the spec are used, as graft check finds them.
func TestPreflightSpecDefault(t *testing.T) {
	kc := writeKubeconfig(t, "https://127.0.0.1:6443")
	fakeCluster(t, preparedFor(t)...)
	// The example's tree, where its spec's overlayPath points.
	root := t.TempDir()
	testkit.CopyDir(t, exampleOverlay, filepath.Join(root, "overlays", "cassandra-3node"))
	testkit.CopyDir(t, "../../testdata/bases/cassandra-single", filepath.Join(root, "testdata", "bases", "cassandra-single"))
	for _, f := range []string{"graft.yaml", "graft.lock"} {
		data, err := os.ReadFile(filepath.Join("../../testdata/examples/cassandra-3node", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := filepath.Join(root, "graft.yaml")
	code, stdout, stderr := graft(t, "preflight", "--spec", spec, "--kubeconfig", kc, "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep preflightJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Overlay != filepath.Join(root, "overlays", "cassandra-3node") || rep.Record != filepath.Join(root, "graft.lock") {
		t.Errorf("overlay %s, record %s", rep.Overlay, rep.Record)
	}
}

func TestPreflightPrintWorkflow(t *testing.T) {
	code, stdout, stderr := graft(t, "preflight", "--print-workflow")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string            `json:"name"`
				Run  string            `json:"run"`
				Env  map[string]string `json:"env"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(stdout), &wf); err != nil {
		t.Fatal(err)
	}
	job, ok := wf.Jobs["graft-preflight"]
	if !ok {
		t.Fatalf("no job graft-preflight: %v", wf.Jobs)
	}
	found := false
	for _, s := range job.Steps {
		if strings.Contains(s.Run, `graft preflight "${dir}"`) && s.Env["GRAFT_KUBECONFIG"] == "${{ secrets.GRAFT_KUBECONFIG }}" && strings.Contains(s.Run, "KUBECONFIG=") {
			found = true
		}
	}
	if !found {
		t.Errorf("no step runs graft preflight with the kubeconfig from the secret:\n%s", stdout)
	}
}

// TestPreflightAPIError: a refused list is an error (exit 2) naming the
// cluster and the refusal, with the permissions hint; nothing on stdout.
func TestPreflightAPIError(t *testing.T) {
	kc := writeKubeconfig(t, "https://127.0.0.1:6443")
	prev := newKubeClient
	newKubeClient = func(*rest.Config) (kubernetes.Interface, error) {
		c := fake.NewClientset(preparedFor(t)...)
		c.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", errors.New(`User "ci" cannot list resource "nodes"`))
		})
		return c, nil
	}
	t.Cleanup(func() { newKubeClient = prev })
	code, stdout, stderr := graft(t, "preflight", exampleOverlay, "--lock", exampleLock, "--kubeconfig", kc)
	if code != exitError || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{"cluster https://127.0.0.1:6443", "listing nodes", `cannot list resource "nodes"`, "may get and list what graft reads"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
}
