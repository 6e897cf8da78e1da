package check

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// goldenReports are the reports the golden files show: a denial (with a
// field set by a patch) and a warning.
var goldenReports = []struct{ name, fixture string }{
	{"deny", "fail/GRAFT013-storage-class"},
	{"warn", "fail/GRAFT046-provenance"},
	{"pass", "pass/flux-3node"},
}

func goldenReport(t *testing.T, fixture string) *Report {
	t.Helper()
	rep, err := engine(t).Check(context.Background(), fixtureInput(t, filepath.Join(fixtureRoot, fixture)))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestGolden(t *testing.T) {
	for _, g := range goldenReports {
		rep := goldenReport(t, g.fixture)
		for _, format := range Formats {
			t.Run(g.name+"."+format, func(t *testing.T) {
				var buf bytes.Buffer
				w, err := NewWriter(format, &buf)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Write(rep); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", g.name+"."+format)
				if *update {
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", path, buf.String())
				}
			})
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := NewWriter("yaml", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "text, json, junit, github, sarif") {
		t.Errorf("NewWriter(yaml): %v", err)
	}
}

// Every SARIF log graft writes validates against the SARIF 2.1.0 schema.
func TestSARIFSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	schemaFile := filepath.Join("testdata", "sarif-schema-2.1.0.json")
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource(SARIFSchema, doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile(SARIFSchema)
	if err != nil {
		t.Fatal(err)
	}
	reports := []*Report{}
	for _, g := range goldenReports {
		reports = append(reports, goldenReport(t, g.fixture))
	}
	// A finding without a file or line (stdin) and a live finding.
	reports = append(reports, &Report{Findings: []Finding{
		{ID: "GRAFT040", Level: LevelDeny, Kind: "PersistentVolume", Name: "x", File: Stdin, Field: "f", Found: "a", Expected: "b", Message: "[GRAFT040] m"},
		{ID: "GRAFT050", Level: LevelDeny, Kind: "EBSVolume", Name: "vol-1", File: "graft.lock", Line: 7, Field: "targetVolume", Found: "a", Expected: "b", Message: "[GRAFT050] m"},
	}})
	for i, rep := range reports {
		var buf bytes.Buffer
		if err := NewSARIF(&buf).Write(rep); err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(inst); err != nil {
			t.Errorf("report %d: SARIF log does not validate: %v", i, err)
		}
	}
	// The schema is not vacuous: a log without a version is rejected.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"runs": []}`))
	if err := schema.Validate(bad); err == nil {
		t.Error("the schema accepted a log without a version")
	}
}

// JUnit and JSON output parse, and github annotations carry file and line.
func TestOutputsParse(t *testing.T) {
	rep := goldenReport(t, "fail/GRAFT013-storage-class")
	var buf bytes.Buffer
	if err := NewJUnit(&buf).Write(rep); err != nil {
		t.Fatal(err)
	}
	var suites junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &suites); err != nil {
		t.Fatal(err)
	}
	if suites.Failures != 1 || suites.Tests != len(rep.Rules) {
		t.Errorf("junit: %d failures of %d tests, want 1 of %d", suites.Failures, suites.Tests, len(rep.Rules))
	}
	buf.Reset()
	if err := NewJSON(&buf).Write(rep); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Verdict  string
		Findings []Finding
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil || out.Verdict != "deny" || len(out.Findings) != 2 {
		t.Errorf("json: %v %+v", err, out)
	}
	buf.Reset()
	if err := NewGitHub(&buf).Write(rep); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.HasPrefix(line, "::") && !(strings.HasPrefix(line, "::error file=") && strings.Contains(line, ",line=")) {
			t.Errorf("github annotation without file and line: %s", line)
		}
	}
	if got := escapeProperty("a:b,c%\n"); got != "a%3Ab%2Cc%25%0A" {
		t.Errorf("escapeProperty: %q", got)
	}
}
