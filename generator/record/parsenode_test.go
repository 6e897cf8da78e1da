package record_test

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// oneNode is data's one YAML document as a yaml.v3 Decoder parses it.
func oneNode(t *testing.T, data []byte) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return &doc
}

// TestParseNodeSameAsParseFile: from the parsed document, ParseNode gives
// exactly ParseFile's record or error, for every example and for edits
// that the fast decode must refuse to vouch for (unknown fields, floats in
// integer fields, aliases, merge keys, keys that are not strings, strings
// in integer fields, duplicate keys) or that validation denies.
func TestParseNodeSameAsParseFile(t *testing.T) {
	good, err := os.ReadFile(baseExample)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, p := range examplePaths(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs[p] = string(data)
	}
	for name, edit := range map[string][2]string{
		"unknown field":           {"kind: Lock", "kind: Lock\nextra: 1"},
		"unknown volume field":    {"fsType: ext4", "fsType: ext4\n    extra: 1"},
		"unknown binding field":   {"volumes:", "binding:\n  mode: static\n  selector: true\nvolumes:"},
		"float partition":         {"fsType: ext4", "fsType: ext4\n    partition: 1.5"},
		"float size":              {"sizeGiB: 500", "sizeGiB: 499.9"},
		"string partition":        {"fsType: ext4", "fsType: ext4\n    partition: \"1\""},
		"alias":                   {"fsType: ext4", "fsType: &fs ext4\n    csiDriver: *fs"},
		"merge key":               {"volumes:", "x: &base\n  mode: static\nbinding:\n  <<: *base\nvolumes:"},
		"key not a string":        {"fsType: ext4", "fsType: ext4\n    clusterTags:\n      1: x"},
		"quoted key":              {"kind: Lock", "\"kind\": Lock"},
		"duplicate key":           {"kind: Lock", "kind: Lock\nkind: Lock"},
		"tagged key":              {"kind: Lock", "!!str kind: Lock"},
		"validation":              {"sizeGiB: ", "sizeGiB: -"},
		"null binding":            {"volumes:", "binding: ~\nvolumes:"},
		"wrong kind of a mapping": {"volumes:", "binding: [1]\nvolumes:"},
	} {
		doc := strings.Replace(string(good), edit[0], edit[1], 1)
		if doc == string(good) {
			t.Fatalf("%s: %q not found", name, edit[0])
		}
		docs[name] = doc
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			data := []byte(doc)
			want, wantErr := record.ParseFile("graft.lock", data)
			got, gotErr := record.ParseNode("graft.lock", data, oneNode(t, data))
			if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
				t.Fatalf("ParseNode: error %v, ParseFile: %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseNode gives %+v, ParseFile %+v", got, want)
			}
		})
	}
}

// TestParseNodeDecodesTheNode: a valid record is decoded from the node the
// caller parsed, not from the bytes again (which here say something else).
func TestParseNodeDecodesTheNode(t *testing.T) {
	good, err := os.ReadFile(baseExample)
	if err != nil {
		t.Fatal(err)
	}
	want, err := record.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte("#"), len(good))
	got, err := record.ParseNode("graft.lock", other, oneNode(t, good))
	if err != nil {
		t.Fatalf("ParseNode parsed the bytes again: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseNode gives %+v, want %+v", got, want)
	}
}

// FuzzDecodeNode: whenever spec.DecodeNode vouches for a record decoded
// from a parsed document, the strict decode of the bytes (a yaml.v3
// Decoder with KnownFields, then spec.WholeNumbers) succeeds with the same
// value.
func FuzzDecodeNode(f *testing.F) {
	for _, p := range examplePaths(f) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("kind: Lock\nvolumes:\n- ordinal: 1.5\n"))
	f.Add([]byte("kind: Lock\nextra: 1\n"))
	f.Add([]byte("a: &x {mode: static}\nbinding: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		var doc yaml.Node
		if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
			return
		}
		var fast record.Record
		if !spec.DecodeNode(&doc, &fast) {
			return
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		var strict record.Record
		if err := dec.Decode(&strict); err != nil {
			t.Fatalf("DecodeNode vouched for %q, the strict decode says %v", data, err)
		}
		if err := spec.WholeNumbers(data, reflect.TypeFor[record.Record]()); err != nil {
			t.Fatalf("DecodeNode vouched for %q, WholeNumbers says %v", data, err)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("DecodeNode gives %+v, the strict decode %+v", fast, strict)
		}
	})
}
