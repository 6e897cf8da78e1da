package check

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/profiler"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/graftctl/graft/policies"
)

// BenchmarkRuleProfile evaluates every rule once, with OPA's profiler, on
// BenchmarkCheckRoots's input (about 1,000 members × 2 claim templates
// across a split overlay's roots, with render's builds at hand), and logs
// the expressions that cost the most time (run with -v): the list the
// policies' speed work starts from.
func BenchmarkRuleProfile(b *testing.B) {
	out, res := grownOverlay(b, "cassandra-6node-racks", "cassandra-racks", 334)
	in, err := LoadBuilds(out, res.Builds)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := in.AddRecord(filepath.Join(out, lock)); err != nil {
		b.Fatal(err)
	}
	value, err := in.astValue()
	if err != nil {
		b.Fatal(err)
	}
	modules, err := LoadModules(policies.FS(), false)
	if err != nil {
		b.Fatal(err)
	}
	opts := []func(*rego.Rego){rego.Query(query)}
	for _, m := range modules {
		opts = append(opts, rego.ParsedModule(m))
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		prof := profiler.New()
		rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(value), rego.EvalQueryTracer(prof))
		if err != nil || len(rs) != 1 {
			b.Fatalf("%d results, %v", len(rs), err)
		}
		all := prof.ReportTopNResults(-1, []string{"total_time_ns", "num_eval", "num_redo", "file", "line"})
		var lines []string
		var total int64
		byRule := map[string]int64{}
		evals := map[string]int{}
		totalEvals := 0
		for _, s := range all {
			total += s.ExprTimeNs
			r := ruleAt(modules, s.Location.File, s.Location.Row)
			byRule[r] += s.ExprTimeNs
			evals[r] += s.NumEval + s.NumRedo
			totalEvals += s.NumEval + s.NumRedo
		}
		for i, s := range all[:min(len(all), 15)] {
			lines = append(lines, fmt.Sprintf("%2d. %7.1f ms  eval %6d redo %6d  %s:%d %s", i+1, float64(s.ExprTimeNs)/1e6, s.NumEval, s.NumRedo, filepath.Base(s.Location.File), s.Location.Row, s.Location.Text))
		}
		rules := slices.SortedFunc(maps.Keys(byRule), func(a, b string) int { return cmp.Compare(byRule[b], byRule[a]) })
		lines = append(lines, fmt.Sprintf("rules, by the time of their expressions (of %.1f ms):", float64(total)/1e6))
		for i, r := range rules[:min(len(rules), 15)] {
			lines = append(lines, fmt.Sprintf("%2d. %7.1f ms  %s", i+1, float64(byRule[r])/1e6, r))
		}
		byEvals := slices.SortedFunc(maps.Keys(evals), func(a, b string) int { return cmp.Compare(evals[b], evals[a]) })
		lines = append(lines, fmt.Sprintf("rules, by the evaluations and redos of their expressions (of %d; the same on any machine):", totalEvals))
		for i, r := range byEvals[:min(len(byEvals), 15)] {
			lines = append(lines, fmt.Sprintf("%2d. %7d  %s", i+1, evals[r], r))
		}
		if f := os.Getenv("GRAFT_PROFILE_DUMP"); f != "" {
			var dump []string
			for _, s := range all {
				dump = append(dump, fmt.Sprintf("%s:%d\t%d\t%d\t%d\t%q", filepath.Base(s.Location.File), s.Location.Row, s.NumEval, s.NumRedo, s.ExprTimeNs/1000, s.Location.Text))
			}
			if err := os.WriteFile(f, []byte(strings.Join(dump, "\n")+"\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("costliest expressions:\n%s", strings.Join(lines, "\n"))
	}
}

// ruleAt names the rule of a module whose body holds a row: the last rule
// that starts at or before it ("file:row name").
func ruleAt(modules map[string]*ast.Module, file string, row int) string {
	best := ""
	bestRow := 0
	for _, m := range modules {
		for _, r := range m.Rules {
			if r.Location == nil || r.Location.File != file || r.Location.Row > row || r.Location.Row < bestRow {
				continue
			}
			bestRow = r.Location.Row
			best = fmt.Sprintf("%s:%d %s", filepath.Base(file), bestRow, r.Head.Ref())
		}
	}
	if best == "" {
		return filepath.Base(file)
	}
	return best
}
