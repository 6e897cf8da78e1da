package check

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/graftctl/graft/policies"
)

// engineOf builds an engine of the embedded policies with the given number
// of parts (New makes one per CPU, at most two).
func engineOf(t *testing.T, procs int) *Engine {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	e, err := New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(e.parts) != procs {
		t.Fatalf("%d parts on %d CPUs", len(e.parts), procs)
	}
	return e
}

// findingsOf evaluates the parts one after the other, sharing one cache
// as Check's concurrent parts do (this order is one they may run in: the
// second part finds everything the first one evaluated), and returns
// every finding's message, sorted.
func findingsOf(t *testing.T, e *Engine, in *Input, share bool) []string {
	t.Helper()
	value, err := in.astValue()
	if err != nil {
		t.Fatal(err)
	}
	shared := &sharedCache{base: topdown.NewVirtualCache()}
	var out []string
	for _, pq := range e.parts {
		opts := []rego.EvalOption{rego.EvalParsedInput(value)}
		if share {
			opts = append(opts, rego.EvalVirtualCache(newPartCache(shared)))
		}
		rs, err := pq.Eval(context.Background(), opts...)
		if err != nil || len(rs) != 1 {
			t.Fatalf("%d results: %v", len(rs), err)
		}
		raw, _ := json.Marshal(rs[0].Bindings["result"])
		var res struct{ Deny, Warn []Finding }
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatal(err)
		}
		for _, f := range append(res.Deny, res.Warn...) {
			out = append(out, f.ID+" "+f.Message)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestSharedCacheSameFindings: the two parts sharing what they evaluate
// find exactly what one evaluation of every rule finds, on every fixture
// (each failing one has findings of rules of both parts), and Check's
// report is the same with and without sharing.
func TestSharedCacheSameFindings(t *testing.T) {
	one, two := engineOf(t, 1), engineOf(t, 2)
	if !two.share {
		t.Fatal("the embedded policies' helpers read no deny or warn: the parts should share")
	}
	unshared := &Engine{parts: two.parts}
	dirs := append(fixtureDirs(t, "fail"), fixtureDirs(t, "pass")...)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in := fixtureInput(t, dir)
			want := findingsOf(t, one, in, false)
			if got := findingsOf(t, two, in, true); !reflect.DeepEqual(got, want) {
				t.Errorf("two parts sharing a cache find\n%q\none evaluation finds\n%q", got, want)
			}
			a, err := two.Check(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			b, err := unshared.Check(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("Check with a shared cache reports\n%+v\nwithout\n%+v", a.Findings, b.Findings)
			}
		})
	}
}

// TestShareable: the parts share the helpers of the policies' package,
// never deny or warn (each part holds some of those rules), nor anything
// outside the package.
func TestShareable(t *testing.T) {
	ref := func(s string) ast.Ref { return ast.MustParseRef(s) }
	for s, want := range map[string]bool{
		"data." + policies.Namespace + ".pv_docs":    true,
		"data." + policies.Namespace + ".pv_zone":    true,
		"data." + policies.Namespace + ".expected.x": true,
		"data." + policies.Namespace + ".deny":       false,
		"data." + policies.Namespace + ".deny.x":     false,
		"data." + policies.Namespace + ".warn":       false,
		"data." + policies.Namespace:                 false,
		"data.other.pv_docs":                         false,
		"input.x.y":                                  false,
	} {
		if got := shareable(ref(s)); got != want {
			t.Errorf("shareable(%s) = %v, want %v", s, got, want)
		}
	}
}

// TestNoSharingWhenAHelperReadsResults: policies whose helper reads deny
// (whose value differs between the parts) are evaluated without sharing.
func TestNoSharingWhenAHelperReadsResults(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for name, helper := range map[string]string{
		"reads deny":   "n := count(deny)",
		"reads warn":   "w := [x | some x in warn]",
		"reads others": "k := count(input)",
	} {
		fsys := fstest.MapFS{"p.rego": {Data: []byte("package " + policies.Namespace + "\n\n" + helper + "\n\n" +
			"rules := {}\n\ndeny contains \"a\" if input\n\ndeny contains \"b\" if input\n\nwarn contains \"c\" if input\n\nwarn contains \"d\" if input\n")}}
		e, err := NewFromFS(context.Background(), fsys)
		if err != nil {
			t.Fatal(err)
		}
		if want := name == "reads others"; e.share != want || len(e.parts) != 2 {
			t.Errorf("%s: share %v over %d parts, want share %v over 2", name, e.share, len(e.parts), want)
		}
	}
}
