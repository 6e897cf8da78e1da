// Package check runs graft's Rego policies on a built overlay plus its
// record (graft.lock) and reports findings in the formats CI systems read.
//
// The policies are loaded from the embedded policies package with OPA's
// loader, compiled and prepared once (New), and each rule is evaluated once
// over the whole input (Engine.Check; the deny and warn rules are split over
// two concurrently evaluated queries). The input has the shape `conftest test
// --combine` gives policies, an array of {path, contents}, so the same
// files give the same verdict under conftest.
package check

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"golang.org/x/sync/errgroup"

	"github.com/graftctl/graft/policies"
)

// ErrInput is wrapped by every error caused by what was given to check
// (unreadable or unparseable files, an overlay that does not build, a bad
// record) rather than by a finding.
var ErrInput = errors.New("cannot check")

// Levels of a finding.
const (
	LevelDeny = "deny"
	LevelWarn = "warn"
)

// Finding is one result of one rule.
type Finding struct {
	ID        string `json:"id"`
	Level     string `json:"level"`
	Message   string `json:"msg"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Field     string `json:"field"`
	Found     string `json:"found"`
	Expected  string `json:"expected"`
}

// Rule describes one rule of the catalogue.
type Rule struct {
	ID    string `json:"id"`
	Level string `json:"level"`
	Title string `json:"title"`
}

// Report is the verdict on one input.
type Report struct {
	// Findings, sorted by file, line, rule and object.
	Findings []Finding `json:"findings"`
	// Rules is the catalogue of every rule that was evaluated.
	Rules []Rule `json:"rules"`
	// Files are the files the input was read from.
	Files []string `json:"files"`
	// Objects counts the documents the policies saw.
	Objects int `json:"objects"`
	// FailOnWarn makes warnings fail the check too.
	FailOnWarn bool `json:"failOnWarn"`
}

// Count returns the number of findings of a level.
func (r *Report) Count(level string) int {
	n := 0
	for _, f := range r.Findings {
		if f.Level == level {
			n++
		}
	}
	return n
}

// Failed says whether the check fails: a deny, or a warning under
// FailOnWarn.
func (r *Report) Failed() bool {
	return r.Count(LevelDeny) > 0 || (r.FailOnWarn && r.Count(LevelWarn) > 0)
}

// Verdict is "pass", "warn" or "deny".
func (r *Report) Verdict() string {
	switch {
	case r.Count(LevelDeny) > 0:
		return LevelDeny
	case r.Count(LevelWarn) > 0:
		return LevelWarn
	}
	return "pass"
}

// Rule returns the catalogue entry of an id.
func (r *Report) Rule(id string) (Rule, bool) {
	for _, ru := range r.Rules {
		if ru.ID == id {
			return ru, true
		}
	}
	return Rule{}, false
}

// Engine evaluates the policies. It is safe for concurrent use.
//
// The deny and warn rules are split between parts (one per CPU, at most
// two), each prepared with every helper rule; the parts are evaluated
// concurrently and their results united, which is the value of the sets
// over all the rules.
type Engine struct {
	parts []rego.PreparedEvalQuery
	// share: the parts may share the values of the helper rules (see
	// sharedCache); false when a helper reads deny or warn, whose values
	// differ between the parts.
	share bool
}

// query asks for everything in one evaluation.
const query = `result := {"deny": data.` + policies.Namespace + `.deny, "warn": data.` + policies.Namespace + `.warn, "rules": data.` + policies.Namespace + `.rules}`

// New loads the embedded policies and prepares the query.
func New(ctx context.Context) (*Engine, error) {
	return NewFromFS(ctx, policies.FS())
}

// NewFromFS loads the policies (every *.rego but the tests) from fsys.
func NewFromFS(ctx context.Context, fsys fs.FS) (*Engine, error) {
	modules, err := LoadModules(fsys, false)
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(modules))
	counts := map[string]int{}
	for _, m := range modules {
		for _, r := range m.Rules {
			counts[resultRule(r)]++
		}
	}
	n := min(runtime.GOMAXPROCS(0), 2, counts[LevelDeny], counts[LevelWarn])
	n = max(n, 1)
	e := &Engine{share: n > 1 && !readsResults(modules), parts: make([]rego.PreparedEvalQuery, n)}
	// The parts are compiled concurrently: for a small input compiling is
	// most of a check.
	var g errgroup.Group
	for part := range n {
		opts := []func(*rego.Rego){rego.Query(query)}
		seen := map[string]int{}
		for _, name := range names {
			m := modules[name].Copy()
			var rules []*ast.Rule
			for _, r := range m.Rules {
				if level := resultRule(r); level != "" {
					i := seen[level]
					seen[level]++
					if i%n != part {
						continue
					}
				}
				rules = append(rules, r)
			}
			m.Rules = rules
			opts = append(opts, rego.ParsedModule(m))
		}
		g.Go(func() error {
			pq, err := rego.New(opts...).PrepareForEval(ctx)
			if err != nil {
				return fmt.Errorf("compile policies: %w", err)
			}
			e.parts[part] = pq
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return e, nil
}

// resultRule is the level of a deny or warn rule, else "".
func resultRule(r *ast.Rule) string {
	if name := r.Head.Name.String(); len(r.Head.Args) == 0 && (name == LevelDeny || name == LevelWarn) {
		return name
	}
	if len(r.Head.Reference) == 1 && len(r.Head.Args) == 0 {
		if name := r.Head.Reference[0].String(); name == LevelDeny || name == LevelWarn {
			return name
		}
	}
	return ""
}

// readsResults reports whether a rule other than the deny and warn rules
// (a helper) may read deny or warn: any variable or reference of that name.
func readsResults(modules map[string]*ast.Module) bool {
	found := false
	for _, m := range modules {
		for _, r := range m.Rules {
			if resultRule(r) != "" {
				continue
			}
			ast.WalkVars(r, func(v ast.Var) bool {
				if v == LevelDeny || v == LevelWarn {
					found = true
				}
				return found
			})
		}
	}
	return found
}

// sharedCache lets the parts of one check share what they evaluate: each
// part holds its own cache of OPA's (topdown.NewVirtualCache), and the
// value of a helper rule or function, which is the same in every part,
// is also put in a cache the parts share, where a part looks before it
// evaluates the rule itself. The deny and warn rules, which differ between
// the parts, are never shared, and nothing is under a with statement (a
// pushed frame), whose values hold only there.
type sharedCache struct {
	mu   sync.RWMutex
	base topdown.VirtualCache
}

type partCache struct {
	shared *sharedCache
	local  topdown.VirtualCache
	depth  int
}

func newPartCache(shared *sharedCache) *partCache {
	return &partCache{shared: shared, local: topdown.NewVirtualCache()}
}

// shareable: a ref into the policies' package, to anything but deny or
// warn.
func shareable(ref ast.Ref) bool {
	if len(ref) < 3 || !ref[0].Equal(ast.DefaultRootDocument) {
		return false
	}
	pkg, ok1 := ref[1].Value.(ast.String)
	name, ok2 := ref[2].Value.(ast.String)
	return ok1 && ok2 && string(pkg) == policies.Namespace && name != LevelDeny && name != LevelWarn
}

func (c *partCache) Push() { c.depth++; c.local.Push() }

func (c *partCache) Pop() { c.depth--; c.local.Pop() }

func (c *partCache) Keys() []ast.Ref { return c.local.Keys() }

func (c *partCache) Get(ref ast.Ref) (*ast.Term, bool) {
	v, undefined := c.local.Get(ref)
	if v != nil || undefined || c.depth > 0 || !shareable(ref) {
		return v, undefined
	}
	c.shared.mu.RLock()
	v, undefined = c.shared.base.Get(ref)
	c.shared.mu.RUnlock()
	if v != nil || undefined {
		c.local.Put(ref, v)
	}
	return v, undefined
}

func (c *partCache) Put(ref ast.Ref, value *ast.Term) {
	c.local.Put(ref, value)
	if c.depth > 0 || !shareable(ref) {
		return
	}
	c.shared.mu.Lock()
	c.shared.base.Put(ref, value)
	c.shared.mu.Unlock()
}

// LoadModules parses the policies of fsys with OPA's loader, tests
// included or not.
func LoadModules(fsys fs.FS, tests bool) (map[string]*ast.Module, error) {
	res, err := loader.NewFileLoader().
		WithFS(fsys).
		WithRegoVersion(ast.RegoV1).
		Filtered([]string{"."}, func(_ string, info fs.FileInfo, _ int) bool {
			if info.IsDir() {
				return false
			}
			if !strings.HasSuffix(info.Name(), ".rego") {
				return true
			}
			return !tests && strings.HasSuffix(info.Name(), "_test.rego")
		})
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	modules := res.ParsedModules()
	if len(modules) == 0 {
		return nil, errors.New("load policies: no Rego modules")
	}
	return modules, nil
}

// LoadAndCheck compiles the embedded policies while load reads the input,
// then checks it; it returns the report and the input.
func LoadAndCheck(ctx context.Context, load func() (*Input, error)) (*Report, *Input, error) {
	type compiled struct {
		e   *Engine
		err error
	}
	done := make(chan compiled, 1)
	go func() {
		e, err := New(ctx)
		done <- compiled{e, err}
	}()
	in, loadErr := load()
	c := <-done
	if loadErr != nil {
		return nil, nil, loadErr
	}
	if c.err != nil {
		return nil, nil, c.err
	}
	rep, err := c.e.Check(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	return rep, in, nil
}

// Check evaluates every rule once over the whole input.
func (e *Engine) Check(ctx context.Context, in *Input) (*Report, error) {
	// The schema rules (Go) run beside the policies' evaluation.
	schema := make(chan []Finding, 1)
	go func() { schema <- schemaFindings(in.Docs) }()
	paths := repoPaths(in.documents())
	value, err := in.policyValue(paths)
	if err != nil {
		<-schema
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	type result struct {
		Deny  []Finding       `json:"deny"`
		Warn  []Finding       `json:"warn"`
		Rules map[string]Rule `json:"rules"`
	}
	outs := make([]result, len(e.parts))
	errs := make([]error, len(e.parts))
	var wg sync.WaitGroup
	shared := &sharedCache{base: topdown.NewVirtualCache()}
	for i, pq := range e.parts {
		wg.Go(func() {
			opts := []rego.EvalOption{rego.EvalParsedInput(value)}
			if e.share {
				opts = append(opts, rego.EvalVirtualCache(newPartCache(shared)))
			}
			rs, err := pq.Eval(ctx, opts...)
			if err != nil {
				errs[i] = fmt.Errorf("evaluate policies: %w", err)
				return
			}
			if len(rs) != 1 {
				errs[i] = fmt.Errorf("evaluate policies: %d results, expected 1", len(rs))
				return
			}
			raw, err := json.Marshal(rs[0].Bindings["result"])
			if err != nil {
				errs[i] = err
				return
			}
			if err := json.Unmarshal(raw, &outs[i]); err != nil {
				errs[i] = fmt.Errorf("evaluate policies: unexpected result: %w", err)
			}
		})
	}
	wg.Wait()
	schemaFound := <-schema
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rep := &Report{Files: in.Files(), Objects: len(in.Docs)}
	for id, r := range outs[0].Rules {
		r.ID = id
		rep.Rules = append(rep.Rules, r)
	}
	rep.Rules = append(rep.Rules, LiveRules...)
	rep.Rules = append(rep.Rules, SchemaRules...)
	sort.Slice(rep.Rules, func(i, j int) bool { return rep.Rules[i].ID < rep.Rules[j].ID })
	// The parts' sets united: a finding two parts both give is one.
	seen := map[Finding]bool{}
	for _, out := range outs {
		for _, f := range append(out.Deny, out.Warn...) {
			if !seen[f] {
				seen[f] = true
				rep.Findings = append(rep.Findings, f)
			}
		}
	}
	nameFilesAsGiven(paths, rep.Findings)
	rep.Findings = append(rep.Findings, schemaFound...)
	for i := range rep.Findings {
		in.locate(&rep.Findings[i])
	}
	rep.Sort()
	return rep, nil
}

// nameFilesAsGiven: the policies saw repository paths (paths, from
// repoPaths); a finding names the file as it was given.
func nameFilesAsGiven(paths map[string]string, findings []Finding) {
	given := map[string]string{}
	for p, repo := range paths {
		given[repo] = p
	}
	for i := range findings {
		if p, ok := given[findings[i].File]; ok {
			findings[i].File = p
		}
	}
}

// Add appends findings (for example from the live check) and re-sorts.
func (r *Report) Add(fs ...Finding) {
	r.Findings = append(r.Findings, fs...)
	r.Sort()
}

// Sort orders the findings by file, line, rule and object.
func (r *Report) Sort() {
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Message, b.Message))
	})
}
