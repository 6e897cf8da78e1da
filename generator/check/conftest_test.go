package check

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/render"
)

// conftestPath finds conftest: $CONFTEST, PATH, $(go env GOPATH)/bin. In CI
// (CI=true) a missing conftest fails the test; locally it skips.
func conftestPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CONFTEST"); p != "" {
		return p
	}
	if p, err := exec.LookPath("conftest"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "conftest")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("conftest not found: run policies/install-conftest.sh (or set CONFTEST)")
	}
	t.Skip("conftest not found: run policies/install-conftest.sh (or set CONFTEST)")
	return ""
}

// conftestFiles writes what conftest is given for a fixture: the built
// overlay, the kustomization, the engine object and graft.lock (or, for a
// built fixture, its files as they are).
func conftestFiles(t testing.TB, dir string) []string {
	t.Helper()
	// The files keep their repository path under the temporary directory:
	// the engine object names the overlay by it (GRAFT081).
	out := filepath.Join(t.TempDir(), strings.TrimLeft(filepath.ToSlash(filepath.Clean(dir)), "./"))
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var files []string
	copyFile := func(src string) {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(out, filepath.Base(src))
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, dst)
	}
	if kustomizationFile(dir) == "" {
		all, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range all {
			copyFile(f)
		}
	} else {
		built, err := render.Build(dir)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(out, "built.yaml")
		if err := os.WriteFile(p, built, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		copyFile(kustomizationFile(dir))
		for _, name := range []string{render.FluxFile, render.ArgoFile} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				copyFile(filepath.Join(dir, name))
			}
		}
		// conftest cannot build the base: it is given the BaseMounts
		// documents graft derives from it, as a YAML file, so that both
		// evaluate the same input.
		in, err := Load(t.Context(), []string{dir}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// (An overlay of claims only, with no StatefulSet, has no base.)
		if len(in.baseDocs) == 0 && in.hasStatefulSet() {
			t.Fatalf("%s: no BaseMounts document", dir)
		}
		var b bytes.Buffer
		for _, d := range in.baseDocs {
			data, err := yaml.Marshal(d.Contents)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("---\n")
			b.Write(data)
		}
		p = filepath.Join(out, "base-mounts.yaml")
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	copyFile(filepath.Join(dir, lock))
	return files
}

// conftestArgs is the conftest command line documented in policies/README.md.
func conftestArgs(files []string) []string {
	return append([]string{"test", "--combine", "--parser", "yaml", "--policy", "../../policies", "--namespace", "graft", "--no-color", "--output", "json"}, files...)
}

// conftestIDs runs conftest and returns the rule ids of its failures and
// warnings, and its exit code.
func conftestIDs(t *testing.T, bin string, files []string) ([]string, []string, int) {
	t.Helper()
	cmd := exec.Command(bin, conftestArgs(files)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var results []struct {
		Failures []struct {
			Metadata map[string]any `json:"metadata"`
		} `json:"failures"`
		Warnings []struct {
			Metadata map[string]any `json:"metadata"`
		} `json:"warnings"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatalf("conftest output: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var deny, warn []string
	for _, r := range results {
		for _, f := range r.Failures {
			id, _ := f.Metadata["id"].(string)
			deny = append(deny, id)
		}
		for _, w := range r.Warnings {
			id, _ := w.Metadata["id"].(string)
			warn = append(warn, id)
		}
	}
	sort.Strings(deny)
	sort.Strings(warn)
	return deny, warn, code
}

// TestConftestSameVerdict runs `conftest test --combine` with the same
// policy files on every fixture and expects graft's verdict, down to the
// rule ids of every finding.
func TestConftestSameVerdict(t *testing.T) {
	bin := conftestPath(t)
	dirs := append(fixtureDirs(t, "pass"), fixtureDirs(t, "fail")...)
	for _, dir := range dirs {
		t.Run(filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir), func(t *testing.T) {
			rep, err := engine(t).Check(t.Context(), fixtureInput(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			var deny, warn []string
			for _, f := range rep.Findings {
				if slices.ContainsFunc(SchemaRules, func(r Rule) bool { return r.ID == f.ID }) {
					continue // checked in Go, with k8s.io/api's types: not in the Rego files conftest runs
				}
				if f.Level == LevelDeny {
					deny = append(deny, f.ID)
				} else {
					warn = append(warn, f.ID)
				}
			}
			sort.Strings(deny)
			sort.Strings(warn)
			cDeny, cWarn, code := conftestIDs(t, bin, conftestFiles(t, dir))
			if strings.Join(cDeny, ",") != strings.Join(deny, ",") || strings.Join(cWarn, ",") != strings.Join(warn, ",") {
				t.Errorf("conftest denied %v and warned %v; graft denied %v and warned %v", cDeny, cWarn, deny, warn)
			}
			if wantCode := map[bool]int{true: 1, false: 0}[len(deny) > 0]; code != wantCode {
				t.Errorf("conftest exit %d, want %d", code, wantCode)
			}
		})
	}
}
