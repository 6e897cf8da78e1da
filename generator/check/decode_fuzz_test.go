package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/boundedio"
)

// decodeSeeds are YAML documents of the kinds graft reads, and the corners
// of YAML 1.1 that conftest (sigs.k8s.io/yaml) reads its own way.
var decodeSeeds = []string{
	"a: yes\nb: 'yes'\nc: on\nd: 3\ne: 1.5\nf: ~\ng: 2020-01-01\nh: \"007\"\ni: 0x1A\nj: [1, two, false]\nk: {x: 1}\nl: |\n  text\nm: 1_000\n",
	"base: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  y: 3\nlist: [*b]\n",
	"- op: add\n  path: /a\n  value: 1\n",
	"apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: data-cassandra-0\nspec:\n  capacity: {storage: 100Gi}\n  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-0123}\n",
	"---\n# only a comment\n---\na: 1\n---\n",
	"y: n\nY: off\n1: one\n1.5: x\nnull: z\n",
	"a: .inf\nb: -.Inf\nc: .nan\nd: 0o17\ne: 017\nf: +12\ng: 1e3\nh: 0b101\n",
	"a: !!str 12\nb: !!int \"7\"\nc: !!binary aGVsbG8=\n",
	"s: >\n  folded\n  text\n",
}

// emptyTag finds a non-specific tag "!" on an empty scalar.
var emptyTag = regexp.MustCompile(`!($|[\s,\]}])`)

// isParseError says whether yaml.v3's parser refuses a document of data.
func isParseError(data []byte) bool {
	for _, chunk := range splitDocuments(data) {
		if _, err := splitYAML(chunk); err != nil {
			return true
		}
	}
	return false
}

// jsonNormal is a value as sigs.k8s.io/yaml hands it over: through JSON,
// so every number is a float64.
func jsonNormal(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(data, &out)
}

// FuzzDecodeYAML: graft's decoder reads every document as conftest's
// parser (sigs.k8s.io/yaml) does: the same values, and an error when and
// only when it gives one. The stream is also repeated past
// parallelDocuments, so that the parallel path is checked against the
// serial one.
//
// Normalisations, where the two legitimately differ:
//   - numbers are compared after a JSON round trip (sigs.k8s.io/yaml
//     converts through JSON: every number is a float64);
//   - sigs.k8s.io/yaml reads one document: each document (cut as
//     splitDocuments cuts) is compared on its own, and a document it reads
//     as null is one graft drops;
//   - graft's own bounds (boundedio.MaxDepth, the alias budget, the
//     document limit) are errors where sigs.k8s.io/yaml may succeed;
//   - graft parses with yaml.v3, conftest with go-yaml v2: on some odd
//     inputs v3's parser is stricter (" 0:\n00"). graft refusing an input
//     conftest reads fails closed (exit 2) and is allowed when yaml.v3's
//     parser itself refuses it; graft accepting an input conftest refuses,
//     or reading other values, fails the fuzz;
//   - yaml.v3 reports an empty scalar with the non-specific tag "!" as
//     null (the node keeps no trace of the tag); go-yaml v2 reads "".
//     Inputs with such a tag are skipped (emptyTag);
//   - inputs over 16 KiB are skipped (speed only).
func FuzzDecodeYAML(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 || emptyTag.Match(data) {
			return
		}
		got, err := decodeYAML(data)
		bounded := errors.Is(err, errDepth) || errors.Is(err, errAliases) || errors.Is(err, boundedio.ErrTooLarge)

		// The parallel path: the stream repeated, as its own document each
		// time, gives the serial result repeated.
		if !bounded {
			doc := append(append([]byte("---\n"), bytes.TrimSuffix(data, []byte("\n"))...), '\n')
			stream := bytes.Repeat(doc, parallelDocuments)
			par, perr := decodeYAML(stream)
			ser, serr := decodeStream(stream)
			if (perr == nil) != (serr == nil) {
				t.Fatalf("parallel error %v, serial error %v", perr, serr)
			}
			if perr == nil && (len(par) > 0 || len(ser) > 0) && !reflect.DeepEqual(par, ser) {
				t.Fatalf("parallel and serial decoding differ:\n%#v\n%#v", par, ser)
			}
		}

		// Against conftest, document by document.
		if bounded {
			return
		}
		var want []any
		var wantErr error
		for _, chunk := range splitDocuments(data) {
			var v any
			if err := yaml.Unmarshal(chunk, &v); err != nil {
				wantErr = err
				break
			}
			if v != nil {
				want = append(want, v)
			}
		}
		if err == nil && wantErr != nil {
			t.Fatalf("%q: graft accepts what sigs.k8s.io/yaml refuses: %v", data, wantErr)
		}
		if err != nil {
			// graft refusing what conftest reads fails closed (exit 2):
			// only yaml.v3's parser may be stricter than go-yaml v2's.
			if wantErr == nil && !isParseError(data) {
				t.Fatalf("%q: graft error %v, sigs.k8s.io/yaml reads it", data, err)
			}
			return
		}
		g, err := jsonNormal(got)
		if err != nil {
			t.Fatalf("graft's value does not convert to JSON: %v", err)
		}
		w, _ := jsonNormal(want)
		if len(want) == 0 {
			w = []any(nil)
		}
		if len(got) == 0 {
			g = []any(nil)
		}
		if !reflect.DeepEqual(g, w) {
			gj, _ := json.Marshal(g)
			wj, _ := json.Marshal(w)
			t.Fatalf("%q:\n graft %s\n  want %s", data, gj, wj)
		}
	})
}
