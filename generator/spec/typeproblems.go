package spec

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/graftctl/graft/generator/termtext"
)

// typeProblem is a value of the wrong kind for its field: the line, the
// field's path from the top of the document (spec.target.statefulSets[0].replicas),
// the value as written and what the field takes.
type typeProblem struct {
	line     int
	field    string
	value    string
	expected string
}

// String is one line: a field holds the document's map keys, which
// termtext.Line escapes as FieldError does.
func (p typeProblem) String() string {
	return termtext.Line(fmt.Sprintf("line %d: %s: %s, expected %s", p.line, p.field, p.value, p.expected))
}

// unmarshalLine matches yaml.v3's message of a value of the wrong kind,
// which names neither the field nor what it takes ("line 24: cannot
// unmarshal !!str `3` into int").
var unmarshalLine = regexp.MustCompile(`^line \d+: cannot unmarshal `)

// TypeMessage is YAMLMessage for an error of decoding data into a value of
// type t: a syntax error on a line with a tab says that YAML does not indent
// with tabs, a field the type does not have names the one it most likely
// meant (statefulset: did you mean statefulSets?), and yaml.v3's "cannot unmarshal" lines replaced by one line per
// value of the wrong kind that names its field, its value and what the
// field takes (a whole number from 1 to 2147483647, true or false, a list,
// a mapping), each once. Where that walk finds nothing, yaml.v3's lines
// stay. Several problems are listed one a line, in the order of the file.
func TypeMessage(err error, data []byte, t reflect.Type, oldnew ...string) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := YAMLMessage(err, oldnew...)
		return msg + tabHint(msg, data)
	}
	msgs := yamlLines(&yaml.TypeError{Errors: suggestFields(te.Errors, t)}, oldnew...)
	problems := typeProblems(data, t)
	if len(problems) == 0 {
		return strings.Join(msgs, "; ")
	}
	var lines []string
	for _, l := range msgs {
		if !unmarshalLine.MatchString(l) {
			lines = append(lines, l)
		}
	}
	for _, p := range problems {
		lines = append(lines, p.String())
	}
	slices.SortStableFunc(lines, func(a, b string) int { return cmp.Compare(lineOf(a), lineOf(b)) })
	lines = slices.Compact(lines)
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d problems:\n  - %s", len(lines), strings.Join(lines, "\n  - "))
}

// tabHint says why yaml.v3 found "a character that cannot start any
// token" on a line that holds a tab: YAML indents with spaces only.
func tabHint(msg string, data []byte) string {
	n := lineOf(msg)
	if n < 1 || !strings.Contains(msg, "cannot start any token") {
		return ""
	}
	lines := bytes.Split(data, []byte("\n"))
	if n > len(lines) || !bytes.Contains(lines[n-1], []byte("\t")) {
		return ""
	}
	return fmt.Sprintf(" (line %d holds a tab: YAML indents with spaces, never tabs)", n)
}

// unknownField matches yaml.v3's message of a field its type does not
// have: "line 22: field statefulset not found in type spec.Target".
var unknownField = regexp.MustCompile(`^(line \d+: field (\S+) not found in type (\S+))$`)

// suggestFields adds to each message of an unknown field the field of
// that type it most likely meant, if one is close (a case, a letter or two
// off): field statefulset … (did you mean statefulSets?).
func suggestFields(msgs []string, root reflect.Type) []string {
	types := map[string]reflect.Type{}
	structTypes(root, types, 0)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m
		g := unknownField.FindStringSubmatch(m)
		if g == nil || types[g[3]] == nil {
			continue
		}
		if near := nearestField(g[2], types[g[3]]); near != "" {
			out[i] = fmt.Sprintf("%s (did you mean %s?)", m, near)
		}
	}
	return out
}

// structTypes collects the struct types reachable from t, by name.
func structTypes(t reflect.Type, into map[string]reflect.Type, depth int) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || into[t.String()] != nil || depth > 20 {
		return
	}
	into[t.String()] = t
	for i := range t.NumField() {
		structTypes(t.Field(i).Type, into, depth+1)
	}
}

// nearestField is the YAML name of t's field closest to key (Nearest).
func nearestField(key string, t reflect.Type) string {
	return Nearest(key, slices.Collect(maps.Keys(fieldsOf(t).strict)))
}

// Nearest is the one of names closest to word, for a "did you mean": the
// same but for case, or a few edits away (one for a word of up to five
// letters, two for a longer one); "" if none is. Ties go to the first in
// sorted order.
func Nearest(word string, names []string) string {
	best, bestDist := "", min(2, max(1, len(word)/3))+1
	for _, name := range slices.Sorted(slices.Values(names)) {
		if d := editDistance(strings.ToLower(word), strings.ToLower(name)); d < bestDist {
			best, bestDist = name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// lineOf is the line a message line names ("line 24: …"), 0 if none.
func lineOf(msg string) int {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(rest[:strings.IndexFunc(rest+":", func(r rune) bool { return r < '0' || r > '9' })])
	return n
}

// typeProblems walks data's document along type t and returns its values
// of the wrong kind, by line.
func typeProblems(data []byte, t reflect.Type) []typeProblem {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil
	}
	w := typeWalk{budget: maxNumberNodes}
	w.walk(&doc, t, "")
	return w.problems
}

type typeWalk struct {
	budget   int
	problems []typeProblem
}

// maxTypeProblems bounds the problems one message lists (a value of the
// wrong kind behind an alias used a million times is not a million lines).
const maxTypeProblems = 20

func (w *typeWalk) add(n *yaml.Node, field, value, expected string) {
	if len(w.problems) < maxTypeProblems {
		w.problems = append(w.problems, typeProblem{line: n.Line, field: cmp.Or(field, "the document"), value: value, expected: expected})
	}
}

func (w *typeWalk) walk(n *yaml.Node, t reflect.Type, field string) {
	if w.budget--; w.budget < 0 || len(w.problems) >= maxTypeProblems {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface:
		return // decodes itself, or takes anything
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c, t, field)
		}
		return
	case n.Kind == yaml.AliasNode:
		if n.Alias != nil {
			a := *n.Alias
			a.Line = n.Line // the line of the field, not of the anchor
			w.walk(&a, t, field)
		}
		return
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return // the zero value
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		w.mapping(n, t, field)
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			w.add(n, field, describe(n), "a list")
			return
		}
		for i, c := range n.Content {
			w.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", field, i))
		}
	default:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			w.add(n, field, describe(n), scalarExpected(t))
		}
	}
}

// mapping walks a mapping node into a struct (its known fields; the
// strict decode names the unknown ones) or a map.
func (w *typeWalk) mapping(n *yaml.Node, t reflect.Type, field string) {
	if n.Kind != yaml.MappingNode {
		w.add(n, field, describe(n), "a mapping (key: value lines)")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		if key == "<<" {
			continue // a merge key: yaml.v3 judges it
		}
		if t.Kind() == reflect.Map {
			w.walk(n.Content[i+1], t.Elem(), field+"["+key+"]")
			continue
		}
		if f, ok := yamlField(t, key); ok {
			w.walk(n.Content[i+1], f.Type, strings.TrimPrefix(field+"."+key, "."))
		}
	}
}

// describe is a node as a message shows it: a scalar as written (quoted
// when it is a string, cut at 40 characters), a list or a mapping by its
// kind.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	v := n.Value
	if r := []rune(v); len(r) > 40 {
		v = string(r[:40]) + "…"
	}
	if n.ShortTag() == "!!str" || termtext.Unsafe(v) {
		return strconv.Quote(v)
	}
	return v
}

// scalarExpected says what a field of scalar type t takes.
func scalarExpected(t reflect.Type) string {
	switch k := t.Kind(); {
	case k == reflect.Bool:
		return "true or false"
	case k == reflect.String:
		return "a string"
	case (k >= reflect.Int && k <= reflect.Int64 || k >= reflect.Uint && k <= reflect.Uintptr) && t.Bits() == 64:
		return "a whole number"
	case k >= reflect.Int && k <= reflect.Int64:
		bits := t.Bits()
		return fmt.Sprintf("a whole number from %d to %d", int64(-1)<<(bits-1), int64(1)<<(bits-1)-1)
	case k >= reflect.Uint && k <= reflect.Uintptr:
		return fmt.Sprintf("a whole number from 0 to %d", uint64(math.MaxUint64)>>(64-t.Bits()))
	case k == reflect.Float32 || k == reflect.Float64:
		return "a number"
	}
	return "a value of type " + t.String()
}
