package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
)

// The gate fails closed: input that does not deliver every volume of the
// record is denied, whatever it holds, and nothing short-circuits to a
// pass on empty input.

// gateLock is the record of the flux-3node fixture: three members of
// StatefulSet cassandra, claim template data.
func gateLock(t *testing.T) (string, *record.Record) {
	t.Helper()
	p := filepath.Join(fixture("pass", "flux-3node"), record.DefaultFile)
	rec, err := record.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Volumes) != 3 {
		t.Fatalf("%s records %d volumes, want 3", p, len(rec.Volumes))
	}
	return p, rec
}

type jsonFinding struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Field string `json:"field"`
	Found string `json:"found"`
	File  string `json:"file"`
	Line  int    `json:"line"`
}

// checkJSON runs graft check -o json on stdin and returns the exit code
// and the findings.
func checkJSON(t *testing.T, stdin []byte, args ...string) (int, []jsonFinding, string) {
	t.Helper()
	code, stdout, stderr := graftIn(t, bytes.NewReader(stdin), append(append([]string{"check"}, args...), "-o", "json")...)
	if code == exitError {
		return code, nil, stderr
	}
	var out struct {
		Verdict  string        `json:"verdict"`
		Findings []jsonFinding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("exit %d: output is not JSON: %v\n%s\n%s", code, err, stdout, stderr)
	}
	if (out.Verdict == "deny") != (code == exitFinding) {
		t.Fatalf("verdict %q with exit %d", out.Verdict, code)
	}
	return code, out.Findings, stderr
}

// missing lists "id field found" of each finding.
func missing(fs []jsonFinding) map[string]bool {
	out := map[string]bool{}
	for _, f := range fs {
		out[f.ID+" "+f.Field+" "+f.Found] = true
	}
	return out
}

// wantMissing asserts that every recorded volume's StatefulSet, PVC and
// PV are named as missing.
func wantMissing(t *testing.T, fs []jsonFinding, rec *record.Record, sts, pvc, pv bool) {
	t.Helper()
	got := missing(fs)
	for i, v := range rec.Volumes {
		var want []string
		if sts {
			want = append(want, "GRAFT036 volumes["+itoa(i)+"].statefulSet no StatefulSet "+v.StatefulSet+" in the input")
		}
		if pvc {
			want = append(want, "GRAFT036 volumes["+itoa(i)+"] no PersistentVolumeClaim "+v.ClaimName())
		}
		if pv {
			want = append(want, "GRAFT036 volumes["+itoa(i)+"].targetVolume no PersistentVolume for "+v.TargetVolume)
		}
		for _, w := range want {
			if !got[w] {
				t.Errorf("no finding %q in %v", w, got)
			}
		}
	}
	for _, f := range fs {
		if f.Kind == "Lock" && (f.Line == 0 || !strings.HasSuffix(f.File, record.DefaultFile)) {
			t.Errorf("finding on the record without its line: %+v", f)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestGateEmptyStdinDenied(t *testing.T) {
	lockPath, rec := gateLock(t)
	for name, in := range map[string]string{
		"empty":     "",
		"blank":     "\n\n",
		"comments":  "# nothing\n---\n# here\n",
		"null":      "null\n---\n~\n",
		"separator": "---\n",
	} {
		t.Run(name, func(t *testing.T) {
			code, fs, stderr := checkJSON(t, []byte(in), "-", "--lock", lockPath)
			if code != exitFinding {
				t.Fatalf("exit %d, want %d (denied)\n%s", code, exitFinding, stderr)
			}
			wantMissing(t, fs, rec, true, true, true)
		})
	}
}

func TestGateServiceOnlyDenied(t *testing.T) {
	lockPath, rec := gateLock(t)
	svc := filepath.Join(t.TempDir(), "service.yaml")
	if err := os.WriteFile(svc, []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: cassandra\n  namespace: cassandra\nspec:\n  clusterIP: None\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, fs, stderr := checkJSON(t, nil, svc, "--lock", lockPath)
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s", code, exitFinding, stderr)
	}
	wantMissing(t, fs, rec, true, true, true)
}

// buildDocs builds a kustomize directory and returns its documents.
func buildDocs(t *testing.T, dir string) []map[string]any {
	t.Helper()
	built, err := render.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	for _, part := range strings.Split(string(built), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(part), &m); err != nil {
			t.Fatal(err)
		}
		if m != nil {
			docs = append(docs, m)
		}
	}
	return docs
}

func marshalDocs(t *testing.T, docs []map[string]any) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, d := range docs {
		data, err := yaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.Bytes()
}

// `kubectl kustomize <a broken overlay> | graft check -`: a base with no
// storage, or an overlay that lost its PVs, PVCs or StatefulSet.
func TestGateBrokenOverlayOnStdinDenied(t *testing.T) {
	lockPath, rec := gateLock(t)
	full := buildDocs(t, fixture("pass", "flux-3node"))
	without := func(kinds ...string) []byte {
		var out []map[string]any
		for _, d := range full {
			drop := false
			for _, k := range kinds {
				drop = drop || d["kind"] == k
			}
			if !drop {
				out = append(out, d)
			}
		}
		return marshalDocs(t, out)
	}
	// The uncorrupted build passes through stdin, so what follows is
	// denied for what it lacks.
	if code, fs, stderr := checkJSON(t, marshalDocs(t, full), "-", "--lock", lockPath); code != exitOK {
		t.Fatalf("the built overlay: exit %d, findings %v\n%s", code, fs, stderr)
	}
	base, err := render.Build("../../testdata/bases/cassandra-single")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		in            []byte
		sts, pvc, pv  bool
		alsoSomeOther string
	}{
		{name: "plain base", in: base, alsoSomeOther: "GRAFT036 spec.volumeClaimTemplates no claim template data with a selector"},
		{name: "no PVs", in: without("PersistentVolume"), pv: true},
		{name: "no PVs or PVCs", in: without("PersistentVolume", "PersistentVolumeClaim"), pv: true},
		{name: "no StatefulSet", in: without("StatefulSet"), sts: true},
		{name: "nothing but the Service", in: without("StatefulSet", "PersistentVolume", "PersistentVolumeClaim"), sts: true, pvc: true, pv: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, fs, stderr := checkJSON(t, c.in, "-", "--lock", lockPath)
			if code != exitFinding {
				t.Fatalf("exit %d, want %d\n%s", code, exitFinding, stderr)
			}
			wantMissing(t, fs, rec, c.sts, c.pvc, c.pv)
			if c.alsoSomeOther != "" && !missing(fs)[c.alsoSomeOther] {
				t.Errorf("no finding %q in %v", c.alsoSomeOther, missing(fs))
			}
		})
	}
}

// A record without volumes proves nothing: denied, even beside an empty
// input.
func TestGateEmptyRecordDenied(t *testing.T) {
	_, rec := gateLock(t)
	rec.Volumes = nil
	p := filepath.Join(t.TempDir(), record.DefaultFile)
	if err := rec.Write(p); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-", "--lock", p}, {fixture("pass", "flux-3node"), "--lock", p}} {
		code, fs, stderr := checkJSON(t, nil, args...)
		if code != exitFinding || !missing(fs)["GRAFT000 volumes []"] {
			t.Errorf("graft check %v: exit %d, findings %v, want exit 1 and GRAFT000 on volumes\n%s", args, code, missing(fs), stderr)
		}
	}
}

// Without a record there is nothing to prove an overlay against: a plain
// base, or graft's objects on stdin, give a clear error (exit 2) that
// names the missing record, and no verdict.
func TestGateWithoutRecord(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "graft.yaml")
	data, err := os.ReadFile(filepath.Join(fixture("fail", "GRAFT002-duplicate-claim"), "overlay.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args  []string
		stdin []byte
	}{
		{[]string{"check", "../../testdata/bases/cassandra-single", "--spec", spec}, nil},
		{[]string{"check", "-", "--spec", spec}, data},
		{[]string{"check", "-", "--spec", spec}, nil},
	} {
		code, stdout, stderr := graftIn(t, bytes.NewReader(c.stdin), c.args...)
		want := filepath.Join(filepath.Dir(spec), record.DefaultFile) + " does not exist"
		if code != exitError || !strings.Contains(stderr, want) || stdout != "" {
			t.Errorf("graft %v: exit %d, stdout %q, stderr %q; want exit 2, no output and %q", c.args, code, stdout, stderr, want)
		}
	}
}

// The text report names the record's findings by kind and line.
func TestGateTextNamesTheRecord(t *testing.T) {
	lockPath, _ := gateLock(t)
	code, stdout, stderr := graftIn(t, strings.NewReader(""), "check", "-", "--lock", lockPath)
	want := "DENY GRAFT036 Lock (" + lockPath + ":"
	if code != exitFinding || !strings.Contains(stdout, want) || !strings.Contains(stdout, "no PersistentVolume for vol-") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, want)
	}
}
