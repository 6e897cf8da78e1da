package check

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/graftctl/graft/generator/boundedio"
)

// decodeYAML decodes every non-empty document of a YAML stream into plain
// values (map[string]any, []any, string, int64, float64, bool, nil), the
// way conftest's parser (sigs.k8s.io/yaml, YAML 1.1) reads them: unquoted
// yes/no/on/off are booleans and timestamps stay strings. It parses once,
// without the JSON round trip, which matters at thousands of objects.
//
// It is bounded: at most boundedio.MaxDocuments documents, nesting of at
// most boundedio.MaxDepth, and aliases that expand a document to at most
// aliasBudget values (no "billion laughs").
func decodeYAML(data []byte) ([]any, error) {
	chunks := splitDocuments(data)
	if len(chunks) > boundedio.MaxDocuments {
		return nil, tooManyDocuments()
	}
	if len(chunks) < parallelDocuments {
		return decodeStream(data)
	}
	// Large streams (a built overlay of thousands of objects) are decoded
	// in parallel, document by document, in order.
	results := make([][]any, len(chunks))
	errs := make([]error, len(chunks))
	workers := min(runtime.GOMAXPROCS(0), 8)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = decodeStream(chunks[i])
			}
		}()
	}
	for i := range chunks {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []any
	for i := range chunks {
		if errs[i] != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, errs[i])
		}
		out = append(out, results[i]...)
	}
	return out, nil
}

// parallelDocuments is the number of documents from which a stream is
// decoded in parallel.
const parallelDocuments = 64

func tooManyDocuments() error {
	return &boundedio.TooLargeError{Name: "the YAML stream", Size: -1, Limit: boundedio.MaxDocuments, Unit: "YAML documents"}
}

// splitDocuments cuts a stream before each "---" document marker line (a
// marker at column 0 always ends the document before it, even a block
// scalar).
func splitDocuments(data []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += i
		}
		line := bytes.TrimRight(data[i:end], "\r")
		if i > start && (bytes.Equal(line, []byte("---")) || bytes.HasPrefix(line, []byte("--- "))) {
			out = append(out, data[start:i])
			start = i
		}
		i = end + 1
	}
	return append(out, data[start:])
}

func decodeStream(data []byte) ([]any, error) {
	nodes, err := splitYAML(data)
	if err != nil {
		return nil, err
	}
	return nodeValues(nodes, len(data))
}

// nodeValues decodes the top nodes of a stream of size bytes (see
// decodeStream), within its alias budget.
func nodeValues(nodes []*yamlv3.Node, size int) ([]any, error) {
	out := make([]any, 0, len(nodes))
	budget := aliasBudget(size)
	for _, n := range nodes {
		v, err := nodeValue(n, 0, &budget)
		if err != nil {
			return nil, err
		}
		if v != nil {
			out = append(out, v)
		}
	}
	return out, nil
}

var (
	errDepth   = fmt.Errorf("YAML nested more than %d levels deep (or a recursive alias)", boundedio.MaxDepth)
	errAliases = errors.New("YAML aliases expand the document too much (to more values than it has bytes)")
)

// aliasBudget is how many values the documents of a stream of n bytes may
// decode to: one per byte (and 10,000 for tiny inputs). Without aliases a
// value takes at least one byte, so only aliases can reach it; the budget
// keeps memory proportional to the input.
func aliasBudget(n int) int { return max(10_000, n) }

func nodeValue(n *yamlv3.Node, depth int, budget *int) (any, error) {
	if depth > boundedio.MaxDepth {
		return nil, errDepth
	}
	if *budget--; *budget < 0 {
		return nil, errAliases
	}
	switch n.Kind {
	case yamlv3.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeValue(n.Content[0], depth+1, budget)
	case yamlv3.AliasNode:
		return nodeValue(n.Alias, depth+1, budget)
	case yamlv3.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c, depth+1, budget)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	case yamlv3.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		var merges []*yamlv3.Node
		// A key given twice keeps its last value, as in go-yaml v2; the
		// values it replaces are not decoded (nor refused).
		keys := make([]string, len(n.Content)/2)
		last := make(map[string]int, len(keys))
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.ShortTag() == "!!merge" {
				continue
			}
			key, err := keyString(k)
			if err != nil {
				return nil, err
			}
			keys[i/2] = key
			last[key] = i
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				merges = append(merges, vn)
				continue
			}
			if last[keys[i/2]] != i {
				continue
			}
			v, err := nodeValue(vn, depth+1, budget)
			if err != nil {
				return nil, err
			}
			m[keys[i/2]] = v
		}
		for _, mn := range merges {
			if err := merge(m, mn, depth+1, budget); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return scalar(n)
}

// merge applies a YAML merge key: values already set win.
func merge(m map[string]any, n *yamlv3.Node, depth int, budget *int) error {
	v, err := nodeValue(n, depth, budget)
	if err != nil {
		return err
	}
	errMerge := fmt.Errorf("line %d: map merge requires map or sequence of maps as the value", n.Line)
	maps := []any{v}
	if list, ok := v.([]any); ok {
		maps = list
	}
	for _, x := range maps {
		src, ok := x.(map[string]any)
		if !ok {
			return errMerge
		}
		for k, val := range src {
			if _, set := m[k]; !set {
				m[k] = val
			}
		}
	}
	return nil
}

// keyString is a mapping key as sigs.k8s.io/yaml writes it to JSON: the
// key resolved as a value, then formatted (a plain YAML 1.1 boolean key,
// even "y", becomes "true" or "false"; 0x1A becomes "26"). A null key, or
// a key that is a sequence or a mapping, is an error there, and here.
func keyString(k *yamlv3.Node) (string, error) {
	for k.Kind == yamlv3.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yamlv3.ScalarNode {
		return "", fmt.Errorf("line %d: a mapping key that is not a scalar (conftest cannot read it)", k.Line)
	}
	v, err := resolve(k)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case nil:
		return "", fmt.Errorf("line %d: a null mapping key (conftest cannot read it)", k.Line)
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return "", fmt.Errorf("line %d: mapping key %s is above the int64 range (conftest cannot read it)", k.Line, k.Value)
	case float64:
		// As sigs.k8s.io/yaml formats it: at float32 precision.
		s := strconv.FormatFloat(v, 'g', -1, 32)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		case "NaN":
			s = ".nan"
		}
		return s, nil
	case string:
		return v, nil
	}
	return fmt.Sprint(v), nil
}

// yaml11Bools are the plain scalars YAML 1.1 (and so conftest) reads as
// booleans.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"true": true, "True": true, "TRUE": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
	"false": false, "False": false, "FALSE": false,
}

// scalar is a scalar value as sigs.k8s.io/yaml gives it: resolved, then
// through JSON, which has no infinite or NaN numbers.
func scalar(n *yamlv3.Node) (any, error) {
	v, err := resolve(n)
	if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
		return nil, fmt.Errorf("line %d: %s is not a JSON number (conftest cannot read it)", n.Line, n.Value)
	}
	return v, err
}

// special are YAML 1.1's infinite and NaN floats.
var special = map[string]float64{
	".inf": math.Inf(1), ".Inf": math.Inf(1), ".INF": math.Inf(1),
	"+.inf": math.Inf(1), "+.Inf": math.Inf(1), "+.INF": math.Inf(1),
	"-.inf": math.Inf(-1), "-.Inf": math.Inf(-1), "-.INF": math.Inf(-1),
	".nan": math.NaN(), ".NaN": math.NaN(), ".NAN": math.NaN(),
}

// resolve reads a scalar as YAML 1.1 (go-yaml v2) does. A value that
// does not fit its explicit tag (!!int abc) is an error, as there.
func resolve(n *yamlv3.Node) (any, error) {
	v := n.Value
	plain := n.Style&(yamlv3.DoubleQuotedStyle|yamlv3.SingleQuotedStyle|yamlv3.LiteralStyle|yamlv3.FoldedStyle) == 0
	tagged := n.Style&yamlv3.TaggedStyle != 0
	misfit := func() (any, error) {
		if tagged {
			return nil, fmt.Errorf("line %d: cannot decode %q as a %s", n.Line, v, n.ShortTag())
		}
		return v, nil
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		if b, ok := yaml11Bools[v]; ok {
			return b, nil
		}
		return misfit()
	case "!!int":
		clean := strings.ReplaceAll(v, "_", "")
		if strings.HasPrefix(clean, "0o") {
			clean = "0" + clean[2:]
		}
		if i, err := strconv.ParseInt(clean, 0, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(clean, 0, 64); err == nil {
			return u, nil // as go-yaml v2: above the int64 range
		}
		if f, err := strconv.ParseFloat(clean, 64); err == nil {
			return f, nil
		}
		return misfit()
	case "!!float":
		if f, ok := special[v]; ok {
			return f, nil
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(v, "_", ""), 64)
		if err != nil {
			return misfit()
		}
		return f, nil
	case "!!binary":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
		if err != nil {
			return nil, fmt.Errorf("line %d: !!binary value contains invalid base64 data", n.Line)
		}
		return string(b), nil
	case "!!str":
		if plain {
			if b, ok := yaml11Bools[v]; ok {
				return b, nil
			}
		}
		return v, nil
	}
	return v, nil
}
