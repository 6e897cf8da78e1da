package spec

import (
	"reflect"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// DecodeNode decodes doc, a YAML document already parsed by a yaml.v3
// Decoder, into v (a pointer) as that Decoder would with KnownFields, and
// checks it with WholeNumbers, without parsing the bytes again. It reports
// false when it cannot vouch for the result: a field the type does not
// have, a float in an integer field, a value that does not decode, or
// anything this walk does not judge (an alias, a merge key, a key that is
// not a string, an inline field, a type with its own UnmarshalYAML). The
// caller then decodes the bytes strictly, for the one error message; when
// it reports true, that strict decode would have given the same value and
// no error (Node.Decode differs from Decoder.Decode only in KnownFields,
// which this walk checks).
func DecodeNode(doc *yaml.Node, v any) bool {
	t := reflect.TypeOf(v)
	if doc == nil || t == nil || t.Kind() != reflect.Pointer {
		return false
	}
	budget := maxNumberNodes
	if !knownFields(doc, t.Elem(), &budget) {
		return false
	}
	budget = maxNumberNodes
	if wholeNumbers(doc, t.Elem(), "", &budget) != nil {
		return false
	}
	return doc.Decode(v) == nil
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// knownFields reports whether every mapping key that decodes into a
// struct names a field of it, as far as this walk can tell (see
// DecodeNode).
func knownFields(n *yaml.Node, t reflect.Type, budget *int) bool {
	if *budget--; *budget < 0 {
		return false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return false
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return len(n.Content) == 1 && knownFields(n.Content[0], t, budget)
	case yaml.AliasNode:
		return false
	case yaml.SequenceNode:
		elem := t
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			elem = t.Elem()
		}
		for _, c := range n.Content {
			if !knownFields(c, elem, budget) {
				return false
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
				return false
			}
			elem := t
			switch t.Kind() {
			case reflect.Struct:
				f, ok := fieldOf(t, k.Value)
				if !ok {
					return false
				}
				elem = f.Type
			case reflect.Map:
				elem = t.Elem()
			}
			if !knownFields(n.Content[i+1], elem, budget) {
				return false
			}
		}
	}
	return true
}

// fieldOf finds the field of struct type t that YAML key names, as
// yaml.v3 does; false too when t has an inline field.
func fieldOf(t reflect.Type, key string) (reflect.StructField, bool) {
	fs := fieldsOf(t)
	if fs.inline {
		return reflect.StructField{}, false
	}
	f, ok := fs.strict[key]
	return f, ok
}

// structFields are a struct type's fields by YAML key: strict as yaml.v3
// names them (no "-"), loose as yamlField finds them (the first exported
// field of the name), and whether one is inline.
type structFields struct {
	strict, loose map[string]reflect.StructField
	inline        bool
}

// fieldCache holds structFields by type: a record of thousands of volumes
// looks its fields up for every key.
var fieldCache sync.Map

func fieldsOf(t reflect.Type) *structFields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*structFields)
	}
	fs := &structFields{strict: map[string]reflect.StructField{}, loose: map[string]reflect.StructField{}}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(","+opts+",", ",inline,") {
			fs.inline = true
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if !f.IsExported() {
			continue
		}
		if _, dup := fs.loose[name]; !dup {
			fs.loose[name] = f
		}
		if name != "-" {
			fs.strict[name] = f
		}
	}
	fieldCache.Store(t, fs)
	return fs
}
