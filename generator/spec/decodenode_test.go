package spec

import (
	"bytes"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

type nodeInner struct {
	N int `yaml:"n"`
}

type nodeOuter struct {
	Name   string            `yaml:"name"`
	Count  int               `yaml:"count,omitempty"`
	Inner  *nodeInner        `yaml:"inner"`
	List   []nodeInner       `yaml:"list"`
	Tags   map[string]string `yaml:"tags"`
	Skip   string            `yaml:"-"`
	hidden string
	Plain  string
}

type nodeInline struct {
	nodeInner `yaml:",inline"`
	Name      string `yaml:"name"`
}

// TestDecodeNode: DecodeNode vouches for a document the strict decode
// (KnownFields, WholeNumbers) accepts, with its value, and refuses one it
// denies or cannot judge.
func TestDecodeNode(t *testing.T) {
	for doc, want := range map[string]bool{
		"name: a\ncount: 2\ninner: {n: 1}\nlist: [{n: 2}]\ntags: {a: b}\nplain: p\n": true,
		"name: a\n":              true,
		"name: a\nextra: 1\n":    false, // unknown field
		"list: [{n: 1, m: 2}]\n": false, // unknown field in a list item
		"count: 1.5\n":           false, // float in an integer field
		"count: x\n":             false, // does not decode
		"-: x\n":                 false, // "-" is no field
		"hidden: x\n":            false, // unexported
		"a: &x 1\ncount: *x\n":   false, // alias
		"inner:\n  <<: {n: 1}\n": false, // merge key
		"1: x\n":                 false, // key not a string
		"name: a\nname: b\n":     false, // duplicate key
	} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
			t.Fatal(err)
		}
		var fast nodeOuter
		if got := DecodeNode(&n, &fast); got != want {
			t.Errorf("DecodeNode(%q) = %v, want %v", doc, got, want)
		}
		dec := yaml.NewDecoder(bytes.NewReader([]byte(doc)))
		dec.KnownFields(true)
		var strict nodeOuter
		err := dec.Decode(&strict)
		if err == nil {
			err = WholeNumbers([]byte(doc), reflect.TypeFor[nodeOuter]())
		}
		if want && (err != nil || !reflect.DeepEqual(fast, strict)) {
			t.Errorf("%q: DecodeNode gives %+v; the strict decode %+v, %v", doc, fast, strict, err)
		}
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("name: a\nn: 1\n"), &n); err != nil {
		t.Fatal(err)
	}
	if DecodeNode(&n, &nodeInline{}) {
		t.Error("DecodeNode vouched for a type with an inline field")
	}
}

// TestYAMLField: the cached lookup finds what a scan of the fields does:
// the first exported field of the name, "-" too; no unexported field.
func TestYAMLField(t *testing.T) {
	typ := reflect.TypeFor[nodeOuter]()
	for key, want := range map[string]string{"name": "Name", "count": "Count", "plain": "Plain", "-": "Skip", "hidden": "", "x": ""} {
		f, ok := yamlField(typ, key)
		if ok != (want != "") || f.Name != want {
			t.Errorf("yamlField(%q) = %q, %v; want %q", key, f.Name, ok, want)
		}
	}
}
