package check

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// decodeYAML reads documents as conftest does (sigs.k8s.io/yaml), so that
// policies see the same values under both.
func TestDecodeLikeConftest(t *testing.T) {
	docs := []string{
		"a: yes\nb: 'yes'\nc: on\nd: 3\ne: 1.5\nf: ~\ng: 2020-01-01\nh: \"007\"\ni: 0x1A\nj: [1, two, false]\nk: {x: 1}\nl: |\n  text\nm: 1_000\n",
		"base: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  y: 3\nlist: [*b]\n",
		"- op: add\n  path: /a\n  value: 1\n",
	}
	for _, doc := range docs {
		got, err := decodeYAML([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := yaml.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		g, _ := json.Marshal(got[0])
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%q:\n got %s\nwant %s", doc, g, w)
		}
	}
	if _, err := decodeYAML([]byte("a: [")); err == nil {
		t.Error("no error for broken YAML")
	}
	docs2, err := decodeYAML([]byte("---\n# only a comment\n---\na: 1\n---\n"))
	if err != nil || len(docs2) != 1 {
		t.Errorf("empty documents: %v %v", docs2, err)
	}
}

// TestDecodeParallel: a stream of parallelDocuments documents or more is
// decoded in parallel, and gives what the serial decoder gives, in order;
// an error names its document.
func TestDecodeParallel(t *testing.T) {
	var b strings.Builder
	for i := range 3 * parallelDocuments {
		fmt.Fprintf(&b, "---\nkind: ConfigMap\nmetadata: {name: c%d}\nblock: |\n  text\n  --- not a marker\nanchor: &a {x: %d}\nuse: *a\n", i, i)
	}
	data := []byte(b.String())
	if n := len(splitDocuments(data)); n != 3*parallelDocuments {
		t.Fatalf("%d documents split, want %d", n, 3*parallelDocuments)
	}
	got, err := decodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decodeStream(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3*parallelDocuments || !reflect.DeepEqual(got, want) {
		t.Errorf("parallel decoding gives %d documents, serial %d; they differ", len(got), len(want))
	}
	for i, d := range got {
		if name := d.(map[string]any)["metadata"].(map[string]any)["name"]; name != fmt.Sprintf("c%d", i) {
			t.Fatalf("document %d is %v: out of order", i, name)
		}
	}
	broken := strings.Replace(b.String(), "metadata: {name: c70}", "metadata: {name: [c70}", 1)
	if _, err := decodeYAML([]byte(broken)); err == nil || !strings.Contains(err.Error(), "document 71") {
		t.Errorf("error %v, want one naming document 71", err)
	}
}
