package policies_test

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/graftctl/graft/policies"
)

// minCoverage is the share of policy lines (tests excluded) the Rego tests
// must cover, as OPA's coverage report counts them.
const minCoverage = 95.0

// TestRego runs the policies' Rego unit tests with OPA's tester, as `opa
// test --coverage policies/` does, and reports coverage.
func TestRego(t *testing.T) {
	res, err := loader.NewFileLoader().WithFS(policies.FS()).WithRegoVersion(ast.RegoV1).
		Filtered([]string{"."}, func(_ string, info fs.FileInfo, _ int) bool {
			return !info.IsDir() && !strings.HasSuffix(info.Name(), ".rego")
		})
	if err != nil {
		t.Fatal(err)
	}
	modules := res.ParsedModules()
	cov := cover.New()
	ctx := context.Background()
	ch, err := tester.NewRunner().
		SetModules(modules).
		SetCoverageQueryTracer(cov).
		EnableTracing(false).
		RunTests(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for r := range ch {
		ran++
		if r.Error != nil {
			t.Errorf("%s.%s: error: %v", r.Package, r.Name, r.Error)
		} else if r.Fail {
			t.Errorf("%s.%s (%s): FAIL", r.Package, r.Name, r.Location)
		}
	}
	if ran == 0 {
		t.Fatal("no Rego tests ran")
	}
	t.Logf("%d Rego tests ran", ran)

	// Coverage of the policies themselves, tests excluded.
	policyModules := map[string]*ast.Module{}
	for name, m := range modules {
		if !strings.HasSuffix(name, "_test.rego") {
			policyModules[name] = m
		}
	}
	report := cov.Report(policyModules)
	var names []string
	covered, notCovered := 0, 0
	for name, fr := range report.Files {
		if _, ok := policyModules[name]; !ok {
			continue
		}
		names = append(names, name)
		covered += fr.CoveredLines
		notCovered += fr.NotCoveredLines
	}
	sort.Strings(names)
	for _, name := range names {
		fr := report.Files[name]
		var missed []string
		for _, r := range fr.NotCovered {
			missed = append(missed, fmt.Sprintf("%d-%d", r.Start.Row, r.End.Row))
		}
		t.Logf("coverage %-14s %6.2f%% %s", name, fr.Coverage, strings.Join(missed, " "))
	}
	total := 100 * float64(covered) / float64(covered+notCovered)
	t.Logf("policy coverage: %.2f%% of %d lines", total, covered+notCovered)
	if total < minCoverage {
		t.Errorf("policy coverage %.2f%%, want at least %.0f%%", total, minCoverage)
	}
}

// TestEmbedded makes sure every policy file is embedded and none is empty.
func TestEmbedded(t *testing.T) {
	var rego []string
	err := fs.WalkDir(policies.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if strings.HasSuffix(p, ".rego") {
			rego = append(rego, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rego) < 8 {
		t.Fatalf("embedded %v, want the policies and their tests", rego)
	}
}
