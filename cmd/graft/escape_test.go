package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/kubeclient"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
	"github.com/graftctl/graft/internal/testkit/examples"
)

// TestWriteWorkloadHostileNames: a rack's name is a free string of the spec (cass-operator cleans them up for the
// StatefulSet's name); plan's workload lines print it, and it cannot
// add a line or reach the terminal raw: a header, a line per rack, a blank.
func TestWriteWorkloadHostileNames(t *testing.T) {
	// Hostile's runes but the dot (a StatefulSet name is a DNS-1123
	// label, and cass-operator keeps the dot of a rack's name).
	rack := strings.ReplaceAll(termtexttest.HostileUTF8, ".", "")
	doc := examples.Text(t, "cass-operator-6node", "graft.yaml",
		"{name: r2,", "{name: "+termtexttest.YAMLQuoted(rack)+",")
	m, err := spec.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if m.Spec.Groups()[1].Name != rack {
		t.Fatalf("the rack is named %q: the test shows nothing", m.Spec.Groups()[1].Name)
	}
	var out bytes.Buffer
	if err := writeWorkload(&out, m); err != nil {
		t.Fatal(err)
	}
	termtexttest.Check(t, "plan's workload lines", out.String(), 1+len(m.Spec.Groups())+1)
}

// TestWriteWorkloadSafeNames: safe names are printed as they are.
func TestWriteWorkloadSafeNames(t *testing.T) {
	m, err := spec.Parse([]byte(examples.Text(t, "cass-operator-6node", "graft.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeWorkload(&out, m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Workload cass-operator CassandraDatacenter dc1 (cluster "Prod Cluster")`, "  rack r2: StatefulSet prodcluster-dc1-r2-sts, 2 member(s) in us-east-1b, claims commitlog-prodcluster-dc1-r2-sts-<ordinal>\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}

// TestSavedInventoryHostilePath: the spec's path is the user's, and
// names the inventory beside it; the refusal of another migration's
// inventory names it on one line, quoted when unsafe.
func TestSavedInventoryHostilePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), termtexttest.Hostile+".inventory.json")
	if err := (&ebs.Inventory{Migration: "other"}).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	_, err := savedInventory(context.Background(), path, "mine")
	if err == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Fatalf("err = %v, want the refusal of another migration's inventory", err)
	}
	termtexttest.Check(t, "the refusal", err.Error()+"\n", 1)
	if !strings.Contains(err.Error(), strconv.Quote(path)) {
		t.Errorf("the path is not quoted:\n%s", err)
	}
}

// TestDemoHostileWorkdir: --workdir is the user's path; the demo refuses
// a used one naming it on one line, quoted when unsafe.
func TestDemoHostileWorkdir(t *testing.T) {
	work := filepath.Join(t.TempDir(), termtexttest.Hostile)
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "mine"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := graft(t, "demo", "--workdir", work)
	if code != exitError || !strings.Contains(stderr, "is not empty") {
		t.Fatalf("demo into a used workdir: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, strconv.Quote(work)) {
		t.Errorf("the workdir is not quoted:\n%s", stderr)
	}
	termtexttest.Check(t, "demo's stderr", stderr, 1)
}

// TestDemoSummaryHostileWorkdir: a workdir whose name holds a bidi
// override and a line separator (the demo's spec takes them) runs; its
// paths in the summary are quoted, and the summary has the lines of a
// demo in a plain workdir.
func TestDemoSummaryHostileWorkdir(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo twice")
	}
	_, plain, _ := demoOK(t)
	work := filepath.Join(t.TempDir(), "demo\u202eexe.txt\u2066\u2028\u200b")
	stdout, _ := demoIn(t, work)
	termtexttest.Check(t, "demo's summary", stdout, strings.Count(plain, "\n"))
	if !strings.Contains(stdout, strconv.Quote(filepath.Join(work, spec.DefaultFile))) {
		t.Errorf("the spec's path is not quoted:\n%s", stdout)
	}
}

// TestRunHostileSpecDir: the overlay and the record are beside the spec,
// in a directory of the user's naming (here with a bidi override and a
// line separator, which a spec path may hold); run's closing lines name
// them quoted, two lines.
func TestRunHostileSpecDir(t *testing.T) {
	s := newCLISim(t)
	dir := filepath.Join(t.TempDir(), "specs\u202eexe.txt\u2066\u2028\u200b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "graft.yaml")
	if err := os.Rename(s.spec, p); err != nil {
		t.Fatal(err)
	}
	s.spec = p
	writeCLIBase(t, s.spec)
	code, stdout, stderr := graft(t, "run", "--spec", s.spec, "--yes")
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	termtexttest.Check(t, "run's stdout", stdout, 2)
	if !strings.Contains(stdout, strconv.Quote(filepath.Join(dir, "graft.lock"))) {
		t.Errorf("the record's path is not quoted:\n%s", stdout)
	}
}

// TestHostileSpecPathInErrors: --spec is the user's path (and the record,
// the inventory and the default overlay are beside it); every refusal
// naming it has the lines of the same refusal for a plain path, no raw
// byte, and the path escaped (quoted, as termtext.Value quotes it).
func TestHostileSpecPathInErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		// prepare fills the spec's directory.
		prepare func(t *testing.T, dir string)
	}{
		{"init over a spec", []string{"init"}, func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "graft.yaml"), []byte("x: 1\n"), 0o644))
		}},
		{"init over a directory", []string{"init"}, func(t *testing.T, dir string) {
			must(t, os.MkdirAll(filepath.Join(dir, "graft.yaml"), 0o755))
		}},
		{"check without a spec", []string{"check"}, func(t *testing.T, dir string) {}},
		{"check without an overlay", []string{"check"}, func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "graft.yaml"), []byte(examples.Text(t, "cass-operator-6node", "graft.yaml")), 0o644))
		}},
		{"plan with a bad spec", []string{"plan"}, func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "graft.yaml"), []byte("apiVersion: graft.graftctl.io/v1alpha1\nkind: Migration\nmetadata: {name: Bad_Name}\n"), 0o644))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderrs [2]string
			var specs [2]string
			for i, name := range []string{"plain", termtexttest.Hostile} {
				dir := filepath.Join(t.TempDir(), name)
				must(t, os.MkdirAll(dir, 0o755))
				c.prepare(t, dir)
				specs[i] = filepath.Join(dir, "graft.yaml")
				code, _, stderr := graft(t, append(c.args, "--spec", specs[i])...)
				if code == exitOK {
					t.Fatalf("graft %s --spec %q: exit 0", strings.Join(c.args, " "), specs[i])
				}
				stderrs[i] = stderr
			}
			if !strings.Contains(stderrs[0], specs[0]) && !strings.Contains(stderrs[0], filepath.Dir(specs[0])) {
				t.Fatalf("the refusal names no path, the test shows nothing:\n%s", stderrs[0])
			}
			termtexttest.Check(t, "the refusal", stderrs[1], strings.Count(stderrs[0], "\n"))
			// The directory's name, escaped as %q escapes it.
			if q := strconv.Quote(termtexttest.Hostile); !strings.Contains(stderrs[1], q[1:len(q)-1]) {
				t.Errorf("the path is not escaped:\n%s", stderrs[1])
			}
		})
	}
}

// TestChangedSourceHostileSpecDir: the refusal of a changed source names
// the inventory beside the spec; in a directory of any name it has the
// lines it has in a plain one.
func TestChangedSourceHostileSpecDir(t *testing.T) {
	var stderrs [2]string
	for i, name := range []string{"plain", termtexttest.Hostile} {
		s := newCLISim(t)
		dir := filepath.Join(t.TempDir(), name)
		must(t, os.MkdirAll(dir, 0o755))
		p := filepath.Join(dir, "graft.yaml")
		must(t, os.Rename(s.spec, p))
		s.spec = p
		writeCLIBase(t, s.spec)
		vol := s.cl.Nodes[0].DataVolumes["/dev/xvdf"]
		discoverAndEdit(t, s, `"volumeId": "`+vol+`"`, `"volumeId": "vol-0123456789abcdef0"`)
		code, _, stderr := graft(t, "clone", "--phase", "precopy", "--spec", s.spec, "--yes")
		if code != exitError || !strings.Contains(stderr, "the source changed since") {
			t.Fatalf("clone: exit %d\n%s", code, stderr)
		}
		s.nothingCreated(t)
		stderrs[i] = stderr
	}
	termtexttest.Check(t, "the refusal", stderrs[1], strings.Count(stderrs[0], "\n"))
}

// TestPreflightHostilePath: preflight's PATH is the user's; a file that is
// no overlay directory, and one whose kustomization does not build, are
// refused on the lines of the same refusal for a plain name.
func TestPreflightHostilePath(t *testing.T) {
	for _, c := range []struct {
		name    string
		prepare func(t *testing.T, dir string)
	}{
		{"not a directory", func(t *testing.T, dir string) { must(t, os.WriteFile(dir, nil, 0o644)) }},
		{"does not build", func(t *testing.T, dir string) {
			must(t, os.MkdirAll(dir, 0o755))
			must(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [missing.yaml]\n"), 0o644))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderrs [2]string
			for i, name := range []string{"plain", termtexttest.Hostile} {
				dir := filepath.Join(t.TempDir(), name)
				c.prepare(t, dir)
				code, _, stderr := graft(t, "preflight", dir, "--lock", exampleLock, "--request-timeout", "1s")
				if code == exitOK || (i == 0 && !strings.Contains(stderr, "plain")) {
					t.Fatalf("preflight %q: exit %d\n%s", dir, code, stderr)
				}
				stderrs[i] = stderr
			}
			termtexttest.Check(t, "the refusal", stderrs[1], strings.Count(stderrs[0], "\n"))
		})
	}
}

// TestConnectHostileKubeconfig: the kubeconfig names the server, and the
// client's error may repeat what it holds; connect's refusal is one line.
func TestConnectHostileKubeconfig(t *testing.T) {
	kc := filepath.Join(t.TempDir(), termtexttest.Hostile)
	must(t, os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:6443/x\\u2028\\u202e\"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: prod, context: {cluster: c, user: u}}]\ncurrent-context: prod\n"), 0o644))
	old := newKubeClient
	t.Cleanup(func() { newKubeClient = old })
	newKubeClient = func(cfg *rest.Config) (kubernetes.Interface, error) {
		return nil, fmt.Errorf("host %s:\nrefused\x1b[2K", cfg.Host)
	}
	_, _, err := connect(context.Background(), kubeclient.Options{Kubeconfig: kc, Timeout: time.Second})
	if err == nil || !errors.Is(err, kubeclient.ErrCluster) {
		t.Fatalf("err = %v, want the cluster's refusal", err)
	}
	termtexttest.Check(t, "connect's error", err.Error()+"\n", 1)
}

// TestDemoGitErrorHostilePath: git's error, which names the workdir's
// paths, is one line.
func TestDemoGitErrorHostilePath(t *testing.T) {
	dir := t.TempDir()
	err := git(context.Background(), dir, "clone", "--quiet", filepath.Join(dir, termtexttest.Hostile), filepath.Join(dir, "out"))
	if err == nil {
		t.Fatal("cloned a repository that is not there")
	}
	termtexttest.Check(t, "git's error", err.Error()+"\n", 1)
}
