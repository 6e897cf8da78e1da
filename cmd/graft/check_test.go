package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/internal/testkit"
	"sigs.k8s.io/yaml"
)

const policyFixtures = "../../testdata/policy"

// graftIn runs the CLI in-process with stdin.
func graftIn(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, stdin, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func fixture(kind, name string) string { return filepath.Join(policyFixtures, kind, name) }

func TestCheckVerdicts(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"check", fixture("pass", "flux-3node")}, exitOK, "PASS: 0 denied"},
		{[]string{"check", fixture("pass", "argocd-ordinals"), "-o", "json"}, exitOK, `"verdict": "pass"`},
		{[]string{"check", fixture("fail", "GRAFT021-zone-not-recorded")}, exitFinding, "DENY GRAFT021 PersistentVolume cassandra-data-cassandra-0"},
		{[]string{"check", fixture("fail", "GRAFT041-retention-delete"), "-o", "github"}, exitFinding, "::error file=../../testdata/policy/fail/GRAFT041-retention-delete/statefulset-cassandra.patch.yaml,line="},
		{[]string{"check", fixture("fail", "GRAFT046-provenance")}, exitOK, "WARN GRAFT046"},
		{[]string{"check", fixture("fail", "GRAFT046-provenance"), "--fail-on-warn"}, exitFinding, "FAIL: 0 denied, 1 warned"},
		{[]string{"check", fixture("fail", "GRAFT013-storage-class"), "-o", "sarif"}, exitFinding, `"ruleId": "GRAFT013"`},
		{[]string{"check", fixture("fail", "GRAFT013-storage-class"), "-o", "junit"}, exitFinding, `<failure message="2 finding(s)" type="deny">`},
		// --lock overrides the graft.lock of the directory.
		{[]string{"check", fixture("pass", "flux-3node"), "--lock", filepath.Join(fixture("fail", "GRAFT036-recorded-volume-not-delivered"), "graft.lock")}, exitFinding, "GRAFT036"},
	}
	for _, c := range cases {
		code, stdout, stderr := graftIn(t, strings.NewReader(""), c.args...)
		if code != c.code || !strings.Contains(stdout, c.want) {
			t.Errorf("graft %v: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant output containing %q", c.args, code, c.code, stdout, stderr, c.want)
		}
	}
}

func TestCheckStdin(t *testing.T) {
	dir := fixture("fail", "GRAFT002-duplicate-claim")
	data, err := os.ReadFile(filepath.Join(dir, "overlay.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := graftIn(t, bytes.NewReader(data), "check", "-", "--lock", filepath.Join(dir, "graft.lock"), "-o", "github")
	if code != exitFinding || !strings.Contains(stdout, "::error title=GRAFT002") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestCheckPrintWorkflow(t *testing.T) {
	code, stdout, _ := graftIn(t, nil, "check", "--print-workflow")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var wf struct {
		Name string                    `json:"name"`
		Jobs map[string]map[string]any `json:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(stdout), &wf); err != nil {
		t.Fatal(err)
	}
	if wf.Name == "" || len(wf.Jobs) == 0 || !strings.Contains(stdout, "graft check \"${dir}\" -o github") ||
		!strings.Contains(stdout, "go install github.com/graftctl/graft/cmd/graft@latest") {
		t.Errorf("workflow:\n%s", stdout)
	}
}

// TestPrintedWorkflowsPinGraft: a released graft's workflows (the check
// gate, printed or committed by publish, and preflight's) install that very
// version; a development build's install @latest.
func TestPrintedWorkflowsPinGraft(t *testing.T) {
	defer func(v string) { version = v }(version)
	for _, tc := range []struct{ version, want string }{
		{"v1.4.2", "go install github.com/graftctl/graft/cmd/graft@v1.4.2\n"},
		{"v0.0.0-20261201120000-0123456789ab", "go install github.com/graftctl/graft/cmd/graft@v0.0.0-20261201120000-0123456789ab\n"},
		{"", "go install github.com/graftctl/graft/cmd/graft@latest\n"},
		{"1.4.2", "go install github.com/graftctl/graft/cmd/graft@latest\n"},
	} {
		version = tc.version
		for _, cmd := range []string{"check", "preflight"} {
			code, stdout, stderr := graftIn(t, nil, cmd, "--print-workflow")
			if code != exitOK || !strings.Contains(stdout, tc.want) || strings.Count(stdout, "go install ") != 1 {
				t.Errorf("version %q, %s --print-workflow: exit %d, want one %q\n%s%s", tc.version, cmd, code, tc.want, stdout, stderr)
			}
		}
	}
}

// Bad input: a clear message and exit 2.
func TestCheckBadInput(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(tmp, name)
		testkit.WriteFile(t, p, content)
		return p
	}
	goodLock := filepath.Join(fixture("pass", "flux-3node"), "graft.lock")
	badYAML := write("bad.yaml", "kind: PersistentVolume\nmetadata: [unclosed\n")
	write("broken/kustomization.yaml", "resources:\n- missing.yaml\n")
	corrupt := write("corrupt/graft.lock", "apiVersion: graft.graftctl.io/v1alpha1\nkind: Lock\nvolumes: {{\n")
	invalid := write("invalid.lock", "apiVersion: graft.graftctl.io/v1alpha1\nkind: Lock\nmigration: m\nvolumes:\n- statefulSet: s\n  targetVolume: nope\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"check", badYAML, "--lock", goodLock}, "cannot check: " + badYAML},
		{[]string{"check", filepath.Join(tmp, "broken"), "--lock", goodLock}, "kustomize build"},
		{[]string{"check", fixture("pass", "flux-3node"), "--lock", filepath.Join(tmp, "nope.lock")}, "does not exist"},
		{[]string{"check", fixture("pass", "flux-3node"), "--lock", corrupt}, "invalid graft.lock"},
		{[]string{"check", fixture("pass", "flux-3node"), "--lock", invalid}, "targetVolume"},
		{[]string{"check", fixture("pass", "flux-3node"), "-o", "yaml"}, `"yaml" is not a format of this command`},
		{[]string{"check", filepath.Join(tmp, "does-not-exist")}, filepath.Join(tmp, "does-not-exist") + " does not exist: expected an overlay directory, a YAML file or - for stdin"},
		{[]string{"check", tmp, "--lock", goodLock}, "without a kustomization.yaml"},
		{[]string{"check", "--spec", filepath.Join(tmp, "none.yaml")}, "no PATH given and no spec"},
		{[]string{"check", "-", "-", "--lock", goodLock}, "stdin) may be given once"},
		{[]string{"check", "--print-workflow", "x"}, "takes no PATH"},
	}
	for _, c := range cases {
		code, stdout, stderr := graftIn(t, strings.NewReader(""), c.args...)
		if code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("graft %v: exit %d, stderr %q (stdout %q), want exit 2 and %q", c.args, code, stderr, stdout, c.want)
		}
	}
}

// noAWS clears every source of AWS credentials.
func noAWS(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestCheckLiveWithoutCredentials(t *testing.T) {
	noAWS(t)
	code, _, stderr := graftIn(t, nil, "check", fixture("pass", "flux-3node"), "--live")
	if code != exitError || !strings.Contains(stderr, "--live: no AWS credentials") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// --live against an EC2 endpoint (AWS_ENDPOINT_URL_EC2) that knows two of
// the three volumes, one of them in the wrong zone.
func TestCheckLiveEndpoint(t *testing.T) {
	noAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	dir := fixture("pass", "flux-3node")
	lockData, err := os.ReadFile(filepath.Join(dir, "graft.lock"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Migration string `json:"migration"`
		Volumes   []struct {
			StatefulSet   string `json:"statefulSet"`
			Ordinal       int    `json:"ordinal"`
			ClaimTemplate string `json:"claimTemplate"`
			TargetVolume  string `json:"targetVolume"`
			TargetZone    string `json:"targetZone"`
			SizeGiB       int    `json:"sizeGiB"`
			Encrypted     bool   `json:"encrypted"`
		} `json:"volumes"`
	}
	if err := yaml.Unmarshal(lockData, &rec); err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		action := r.Form.Get("Action")
		calls[action]++
		w.Header().Set("Content-Type", "text/xml")
		switch action {
		case "DescribeVolumes":
			var items strings.Builder
			for i, v := range rec.Volumes[:2] {
				zone := v.TargetZone
				if i == 1 {
					zone = "us-east-1f"
				}
				// The graft tags clone puts on the volume (GRAFT055).
				tags := fmt.Sprintf("<item><key>%s</key><value>%s</value></item><item><key>%s</key><value>%s/%d</value></item><item><key>%s</key><value>%s</value></item><item><key>%s</key><value>%s</value></item>",
					ownership.TagMigration, rec.Migration, ownership.TagMember, v.StatefulSet, v.Ordinal, ownership.TagClaimTemplate, v.ClaimTemplate, ownership.TagRole, ownership.RoleVolume)
				fmt.Fprintf(&items, "<item><volumeId>%s</volumeId><size>%d</size><availabilityZone>%s</availabilityZone><status>available</status><encrypted>%t</encrypted><attachmentSet/><tagSet>%s</tagSet></item>",
					v.TargetVolume, v.SizeGiB, zone, v.Encrypted, tags)
			}
			fmt.Fprintf(w, `<DescribeVolumesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><volumeSet>%s</volumeSet></DescribeVolumesResponse>`, items.String())
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<Response><Errors><Error><Code>InvalidAction</Code><Message>%s</Message></Error></Errors><RequestID>r</RequestID></Response>`, action)
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL_EC2", srv.URL)
	code, stdout, stderr := graftIn(t, nil, "check", dir, "--live")
	if code != exitFinding || !strings.Contains(stdout, "DENY GRAFT050 EBSVolume "+rec.Volumes[2].TargetVolume) ||
		!strings.Contains(stdout, "DENY GRAFT052 EBSVolume "+rec.Volumes[1].TargetVolume) || strings.Count(stdout, "DENY") != 2 {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "graft.lock:") {
		t.Errorf("live findings lack the record's file and line:\n%s", stdout)
	}
	if calls["DescribeVolumes"] != 1 || calls["DescribeInstances"] != 0 {
		t.Errorf("calls %v, want one DescribeVolumes and no DescribeInstances (nothing attached)", calls)
	}
}

// Without PATH, check takes the overlay of the spec, and graft.lock beside it.
func TestCheckDefaultsFromSpec(t *testing.T) {
	tmp := t.TempDir()
	testkit.CopyDir(t, "../../testdata/bases/cassandra-single", filepath.Join(tmp, "testdata/bases/cassandra-single"))
	testkit.CopyDir(t, "../../testdata/examples/cassandra-3node", tmp)
	specPath := filepath.Join(tmp, "graft.yaml")
	if code, _, stderr := graftIn(t, nil, "render", "--spec", specPath); code != exitOK {
		t.Fatalf("render: %d %s", code, stderr)
	}
	code, stdout, stderr := graftIn(t, nil, "check", "--spec", specPath)
	if code != exitOK || !strings.Contains(stdout, "PASS") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestCheckLiveTargetAccount: across accounts the record's volumes are in
// the target account, so --live reads them with spec.target.account's
// credentials (here a profile that does not exist, which the error names),
// not the standard chain's; a spec of another migration is not used.
func TestCheckLiveTargetAccount(t *testing.T) {
	noAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	data, err := os.ReadFile("../../testdata/examples/cassandra-3node/graft.yaml")
	must(t, err)
	for _, tc := range []struct{ name, want string }{
		{"cassandra-3node", "graft-missing-target-profile"},
		{"another-migration", "no EC2 endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(string(data), "\n  name: cassandra-3node\n", "\n  name: "+tc.name+"\n", 1)
			doc = strings.Replace(doc, "  target:\n", "  target:\n    account:\n      id: '111122223333'\n      profile: graft-missing-target-profile\n", 1)
			specPath := filepath.Join(t.TempDir(), "graft.yaml")
			must(t, os.WriteFile(specPath, []byte(doc), 0o644))
			t.Setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:1") // nothing listens: the standard chain's client fails to connect
			code, _, stderr := graftIn(t, nil, "--spec", specPath, "check", fixture("pass", "flux-3node"), "--live")
			if code != exitError || !strings.Contains(stderr, "--live") {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if got := strings.Contains(stderr, "graft-missing-target-profile"); got != (tc.want == "graft-missing-target-profile") {
				t.Errorf("the target profile named: %t, want %t\n%s", got, !got, stderr)
			}
		})
	}
}

// TestCheckStdinOnATerminalSaysSo: graft check - with the terminal as stdin
// says it reads the overlay from there and how to end it, instead of
// waiting in silence; from a pipe it says nothing.
func TestCheckStdinOnATerminalSaysSo(t *testing.T) {
	for _, tty := range []bool{true, false} {
		var logs bytes.Buffer
		e := &env{stdinIsTerminal: tty, log: slog.New(slog.NewTextHandler(&logs, nil)), globals: globals{lockPath: "graft.lock"}}
		if _, _, err := checkInputs(context.Background(), e, []string{"-"}); err != nil {
			t.Fatal(err)
		}
		if said := strings.Contains(logs.String(), "end it with Ctrl-D"); said != tty {
			t.Errorf("stdin a terminal %t: logged %q", tty, logs.String())
		}
	}
}
