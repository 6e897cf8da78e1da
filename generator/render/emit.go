package render

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	yamlv2 "go.yaml.in/yaml/v2"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/graftctl/graft/generator/boundedio"
)

// emitYAML writes v, a map[string]any, exactly as yamlv2.Marshal writes it
// (block style, keys in yaml.v2's order, sequences not indented under their
// key), in a fraction of its time: yaml.v2's emitter queues and analyses
// every event, which is most of the cost of writing graft's PVs and PVCs
// and of a build's output. It writes only trees of maps, lists, nulls,
// booleans, integers and strings of printable ASCII without spaces; for
// anything else (a float, a space or a line break that yaml.v2 might fold
// or write as a block, a non-ASCII string) it reports false, and the caller
// uses yaml.v2. A string is written plain when it is plainly safe (a letter,
// then letters, digits and ._/- : no indicator, and not a YAML 1.1 bool or
// null); any other is written as yaml.v2 writes that string on its own
// (it chooses the style from the string alone when it has no space or
// break), learnt once per string. TestEmitYAMLIsYAMLv2 compares the two.
func emitYAML(v any) ([]byte, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	e := emitter{buf: make([]byte, 0, 1024)}
	if len(m) == 0 {
		return []byte("{}\n"), true
	}
	if !e.mapBody(m, 0, false, 0) {
		return nil, false
	}
	return e.buf, true
}

type emitter struct{ buf []byte }

func (e *emitter) indent(n int) {
	for range n {
		e.buf = append(e.buf, ' ')
	}
}

// mapBody writes the entries of a non-empty map at indentation n; inline:
// the first entry's indentation is written already ("- ").
func (e *emitter) mapBody(m map[string]any, n int, inline bool, depth int) bool {
	if depth > boundedio.MaxDepth {
		return false
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Sort(yamlKeys(keys))
	if !consistentOrder(keys) {
		return false
	}
	for i, k := range keys {
		if i > 0 || !inline {
			e.indent(n)
		}
		ks, ok := scalarString(k, true)
		if !ok {
			return false
		}
		e.buf = append(e.buf, ks...)
		e.buf = append(e.buf, ':')
		switch x := m[k].(type) {
		case map[string]any:
			if len(x) == 0 {
				e.buf = append(e.buf, " {}\n"...)
				continue
			}
			e.buf = append(e.buf, '\n')
			if !e.mapBody(x, n+2, false, depth+1) {
				return false
			}
		case []any:
			if len(x) == 0 {
				e.buf = append(e.buf, " []\n"...)
				continue
			}
			e.buf = append(e.buf, '\n')
			if !e.listBody(x, n, false, depth+1) {
				return false
			}
		default:
			e.buf = append(e.buf, ' ')
			if !e.scalar(x) {
				return false
			}
			e.buf = append(e.buf, '\n')
		}
	}
	return true
}

// listBody writes the items of a non-empty list at indentation n.
func (e *emitter) listBody(l []any, n int, inline bool, depth int) bool {
	if depth > boundedio.MaxDepth {
		return false
	}
	for i, item := range l {
		if i > 0 || !inline {
			e.indent(n)
		}
		e.buf = append(e.buf, "- "...)
		switch x := item.(type) {
		case map[string]any:
			if len(x) == 0 {
				e.buf = append(e.buf, "{}\n"...)
				continue
			}
			if !e.mapBody(x, n+2, true, depth+1) {
				return false
			}
		case []any:
			if len(x) == 0 {
				e.buf = append(e.buf, "[]\n"...)
				continue
			}
			if !e.listBody(x, n+2, true, depth+1) {
				return false
			}
		default:
			if !e.scalar(x) {
				return false
			}
			e.buf = append(e.buf, '\n')
		}
	}
	return true
}

func (e *emitter) scalar(v any) bool {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case string:
		s, ok := scalarString(x, false)
		if !ok {
			return false
		}
		e.buf = append(e.buf, s...)
	default:
		return false
	}
	return true
}

// yaml11Words are the plain scalars yaml.v2 resolves to a bool or null.
var yaml11Words = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
	"null": true, "Null": true, "NULL": true,
}

// plainSafe: a letter, then letters, digits and ._/- only, and not a word
// YAML 1.1 reads as a bool or null: yaml.v2 writes it as it is, as a key
// or a value.
func plainSafe(s string) bool {
	if s == "" || !isLetter(s[0]) || yaml11Words[s] {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '/' && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// maxLearnt bounds the strings learnt from yaml.v2 (each cache); past it a
// string is still written as yaml.v2 writes it, without being kept.
const maxLearnt = 4096

type learnt struct {
	m sync.Map
	n atomic.Int64
}

var learntValues, learntKeys learnt

// scalarString is s as yaml.v2 writes it as a value or as a mapping key,
// or false when yaml.v2's style could depend on where s is (a space, a
// line break, bytes outside printable ASCII, a key too long to be simple).
func scalarString(s string, key bool) (string, bool) {
	if key && len(s) > 128 {
		return "", false // yaml.v2 writes it as a complex key ("? ")
	}
	if plainSafe(s) {
		return s, true
	}
	if len(s) > 128 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return "", false
		}
	}
	c := &learntValues
	if key {
		c = &learntKeys
	}
	if w, ok := c.m.Load(s); ok {
		out, _ := w.(string)
		return out, out != ""
	}
	out := ""
	if key {
		if data, err := yamlv2.Marshal(map[string]any{s: nil}); err == nil {
			if k, ok := strings.CutSuffix(string(data), ": null\n"); ok && !strings.HasPrefix(k, "?") {
				out = k
			}
		}
	} else if data, err := yamlv2.Marshal(s); err == nil {
		out, _ = strings.CutSuffix(string(data), "\n")
	}
	if s != "" && out == "" || strings.ContainsAny(out, "\n") {
		out = ""
	}
	if c.n.Load() < maxLearnt {
		if _, loaded := c.m.LoadOrStore(s, out); !loaded {
			c.n.Add(1)
		}
	}
	return out, out != ""
}

// consistentOrder reports whether sorted keys are in the one order
// yaml.v2's comparison gives them. Without digits it is a total order; with
// digits it need not be ("08" < "100Gi" < "1E-3" < "08"), and then yaml.v2's
// order depends on the map's iteration order, which emitYAML cannot match.
func consistentOrder(keys []string) bool {
	digits := false
	for _, k := range keys {
		if strings.ContainsAny(k, "0123456789") || !isASCII(k) {
			digits = true
			break
		}
	}
	if !digits {
		return true
	}
	l := yamlKeys(keys)
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if !l.Less(i, j) || l.Less(j, i) {
				return false
			}
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// yamlKeys sorts string keys as yaml.v2 does (its keyList.Less for two
// strings): letters before other runes, runs of digits by their number.
type yamlKeys []string

func (l yamlKeys) Len() int      { return len(l) }
func (l yamlKeys) Swap(i, j int) { l[i], l[j] = l[j], l[i] }

func (l yamlKeys) Less(i, j int) bool {
	ar, br := []rune(l[i]), []rune(l[j])
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al := unicode.IsLetter(ar[i])
		bl := unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var ai, bi int
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an = 1
					bn = 1
					break
				}
			}
		}
		for ai = i; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for bi = i; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}

// emitNode is emitYAML of the map a resource's node decodes to
// (kyaml's RNode.Map), written from the node itself, without decoding it:
// the same bytes, for a node of mappings with string keys, sequences, and
// scalars tagged !!str, !!null, !!bool (true, false) or !!int (in decimal);
// any other node (a float, an alias, a merge key, a key given twice, a
// string emitYAML leaves to yaml.v2) it reports false for.
func emitNode(n *yamlv3.Node) ([]byte, bool) {
	if n == nil || n.Kind != yamlv3.MappingNode {
		return nil, false
	}
	if len(n.Content) == 0 {
		return []byte("{}\n"), true
	}
	e := emitter{buf: make([]byte, 0, 1024)}
	if !e.nodeMapBody(n, 0, false, 0) {
		return nil, false
	}
	return e.buf, true
}

func (e *emitter) nodeMapBody(n *yamlv3.Node, indent int, inline bool, depth int) bool {
	if depth > boundedio.MaxDepth || len(n.Content)%2 != 0 {
		return false
	}
	keys := make([]string, 0, len(n.Content)/2)
	values := make(map[string]*yamlv3.Node, len(n.Content)/2)
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yamlv3.ScalarNode || k.ShortTag() != "!!str" {
			return false
		}
		if _, dup := values[k.Value]; dup {
			return false
		}
		keys = append(keys, k.Value)
		values[k.Value] = n.Content[i+1]
	}
	sort.Sort(yamlKeys(keys))
	if !consistentOrder(keys) {
		return false
	}
	for i, k := range keys {
		if i > 0 || !inline {
			e.indent(indent)
		}
		ks, ok := scalarString(k, true)
		if !ok {
			return false
		}
		e.buf = append(e.buf, ks...)
		e.buf = append(e.buf, ':')
		v := values[k]
		switch v.Kind {
		case yamlv3.MappingNode:
			if len(v.Content) == 0 {
				e.buf = append(e.buf, " {}\n"...)
				continue
			}
			e.buf = append(e.buf, '\n')
			if !e.nodeMapBody(v, indent+2, false, depth+1) {
				return false
			}
		case yamlv3.SequenceNode:
			if len(v.Content) == 0 {
				e.buf = append(e.buf, " []\n"...)
				continue
			}
			e.buf = append(e.buf, '\n')
			if !e.nodeListBody(v, indent, false, depth+1) {
				return false
			}
		default:
			e.buf = append(e.buf, ' ')
			if !e.nodeScalar(v) {
				return false
			}
			e.buf = append(e.buf, '\n')
		}
	}
	return true
}

func (e *emitter) nodeListBody(n *yamlv3.Node, indent int, inline bool, depth int) bool {
	if depth > boundedio.MaxDepth {
		return false
	}
	for i, item := range n.Content {
		if i > 0 || !inline {
			e.indent(indent)
		}
		e.buf = append(e.buf, "- "...)
		switch item.Kind {
		case yamlv3.MappingNode:
			if len(item.Content) == 0 {
				e.buf = append(e.buf, "{}\n"...)
				continue
			}
			if !e.nodeMapBody(item, indent+2, true, depth+1) {
				return false
			}
		case yamlv3.SequenceNode:
			if len(item.Content) == 0 {
				e.buf = append(e.buf, "[]\n"...)
				continue
			}
			if !e.nodeListBody(item, indent+2, true, depth+1) {
				return false
			}
		default:
			if !e.nodeScalar(item) {
				return false
			}
			e.buf = append(e.buf, '\n')
		}
	}
	return true
}

// nodeScalar writes a scalar node as yaml.v2 writes the value it decodes
// to.
func (e *emitter) nodeScalar(n *yamlv3.Node) bool {
	if n.Kind != yamlv3.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case "!!str":
		s, ok := scalarString(n.Value, false)
		if !ok {
			return false
		}
		e.buf = append(e.buf, s...)
	case "!!null":
		switch n.Value {
		case "", "~", "null", "Null", "NULL":
			e.buf = append(e.buf, "null"...)
		default:
			return false
		}
	case "!!bool":
		if n.Value != "true" && n.Value != "false" {
			return false
		}
		e.buf = append(e.buf, n.Value...)
	case "!!int":
		if !decimal(n.Value) {
			return false
		}
		e.buf = append(e.buf, n.Value...)
	default:
		return false
	}
	return true
}

// decimal: an integer in canonical decimal within the int64 range (0, or
// an optional minus, a nonzero digit and at most 17 more digits).
func decimal(s string) bool {
	t := strings.TrimPrefix(s, "-")
	if t == "0" {
		return s == "0"
	}
	if t == "" || len(t) > 18 || t[0] < '1' || t[0] > '9' {
		return false
	}
	for i := 1; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return true
}
