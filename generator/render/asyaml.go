package render

import (
	"bytes"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"

	"github.com/graftctl/graft/generator/boundedio"
)

// asYAML is resmap.ResMap.AsYaml, byte for byte, in a fraction of its time:
// kustomize writes each resource as JSON and parses that JSON back with
// yaml.v2 (sigs.k8s.io/yaml.JSONToYAML) before writing YAML, and the parse
// of a long one-line JSON document costs most of a build. The round trip
// changes nothing for a resource of strings (valid UTF-8), integers,
// booleans, nulls, maps and lists, so such a resource is written with
// yaml.v2 at once; any other resource (a float, a timestamp, bytes that are
// not UTF-8, a tree deeper than boundedio.MaxDepth) goes kustomize's way.
func asYAML(rm resmap.ResMap) ([]byte, error) {
	return yamlStream(rm.Resources(), resourceYAML)
}

// yamlStream is one multi-document YAML stream of items, each written by
// document, a document separator between two.
func yamlStream[T any](items []T, document func(T) ([]byte, error)) ([]byte, error) {
	var buf bytes.Buffer
	for i, item := range items {
		out, err := document(item)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(out)
	}
	return buf.Bytes(), nil
}

func resourceYAML(res *resource.Resource) ([]byte, error) {
	if out, ok := emitNode(res.YNode()); ok {
		return out, nil
	}
	if m, err := res.Map(); err == nil && plainValue(m, 0) {
		return marshalMap(m)
	}
	return res.AsYAML()
}

// marshalMap is yamlv2.Marshal(m), written by emitYAML when it can.
func marshalMap(m map[string]any) ([]byte, error) {
	if out, ok := emitYAML(m); ok {
		return out, nil
	}
	return yamlv2.Marshal(m)
}

// plainValue reports whether v is made only of what a JSON round trip
// through yaml.v2 gives back unchanged.
func plainValue(v any, depth int) bool {
	if depth > boundedio.MaxDepth {
		return false
	}
	switch x := v.(type) {
	case nil, bool, int, int64:
		return true
	case string:
		return utf8.ValidString(x)
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) || !plainValue(e, depth+1) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !plainValue(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
