package render

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	yamlv2 "go.yaml.in/yaml/v2"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// emitStrings are scalars chosen to trip a YAML writer: YAML 1.1 bools and
// nulls, numbers of every base, indicators at the start and inside,
// quotes, document markers, empty, unicode, spaces and breaks (which
// emitYAML leaves to yaml.v2), and graft's own kinds of values.
var emitStrings = []string{
	"", "a", "y", "Y", "yes", "No", "on", "OFF", "true", "False", "null", "Null", "~", "<<", "=",
	"0", "00", "07", "08", "0x1F", "0o17", "0b101", "1_000", "1e3", "1E-3", ".5", "5.", "-1", "+1", ".inf", "-.Inf", ".nan", "1:20", "190:20:30.15",
	"2001-12-14", "2001-12-14t21:59:43.10-05:00", "100Gi", "1.5Ti", "vol-0123456789abcdef0", "i-0123456789abcdef0", "us-east-1a",
	"-", "--", "---", "...", "-a", "?", "?a", ":", ":a", "a:", "a:b", "a: b", "a#b", "#a", "a #b", "!a", "&a", "*a", "|", ">", "%a", "@a", "`a",
	"'", "\"", "a'b", `a"b`, "a\\b", "[a]", "{a}", "a,b", "Prune=false,Delete=false", "a]", "a}",
	"kustomize.toolkit.fluxcd.io/prune", "graft.graftctl.io/ordinal", "topology.kubernetes.io/zone", "ebs.csi.aws.com", "ReadWriteOnce",
	"a b", " a", "a ", "a\tb", "a\nb", "a\n", "naïve", "\u00e9", "\x7f", "\x01", "a\u2028b",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"a10", "a9", "a09", "10", "9", "A", "b", "_a", "a_", "a0b", "a00b",
}

func randomValue(r *rand.Rand, depth int) any {
	switch n := r.IntN(10); {
	case depth < 4 && n < 2:
		m := map[string]any{}
		for range r.IntN(4) {
			m[emitStrings[r.IntN(len(emitStrings))]] = randomValue(r, depth+1)
		}
		return m
	case depth < 4 && n < 4:
		l := []any{}
		for range r.IntN(4) {
			l = append(l, randomValue(r, depth+1))
		}
		return l
	case n == 4:
		return nil
	case n == 5:
		return r.IntN(2) == 0
	case n == 6:
		return int64(r.IntN(2000) - 1000)
	case n == 7:
		return r.IntN(100)
	}
	return emitStrings[r.IntN(len(emitStrings))]
}

// TestEmitYAMLIsYAMLv2: emitYAML writes byte for byte what yaml.v2
// writes, or declines, on random trees of the values above (maps in lists
// in maps, empty ones, every string as a key and as a value), and it
// writes graft's own objects rather than declining them.
func TestEmitYAMLIsYAMLv2(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	written, declined := 0, 0
	for i := range 20000 {
		m := map[string]any{}
		for range 1 + r.IntN(5) {
			m[emitStrings[r.IntN(len(emitStrings))]] = randomValue(r, 0)
		}
		want, err := yamlv2.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := emitYAML(m)
		if !ok {
			declined++
			continue
		}
		written++
		if !bytes.Equal(got, want) {
			t.Fatalf("tree %d: %#v\nemitYAML:\n%s\nyaml.v2:\n%s", i, m, got, want)
		}
	}
	t.Logf("%d written, %d declined", written, declined)
	if written < 5000 {
		t.Errorf("only %d of 20000 trees written (declined %d): the fast path is barely used", written, declined)
	}
	for _, s := range emitStrings {
		for _, m := range []map[string]any{{s: s}, {"k": []any{s, map[string]any{s: []any{s}}}}, {}} {
			want, _ := yamlv2.Marshal(m)
			if got, ok := emitYAML(m); ok && !bytes.Equal(got, want) {
				t.Errorf("%q: emitYAML wrote\n%s\nyaml.v2 writes\n%s", s, got, want)
			}
		}
	}
	if _, ok := emitYAML(map[string]any{"f": 1.5}); ok {
		t.Error("emitYAML wrote a float; it must leave floats to yaml.v2")
	}
	if _, ok := emitYAML(map[string]any{"s": "a b"}); ok {
		t.Error("emitYAML wrote a string with a space; yaml.v2 may fold it")
	}
	pv := map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": "db-data-rack0-0", "labels": map[string]any{"graft.graftctl.io/ordinal": "0"},
			"annotations": map[string]any{"kustomize.toolkit.fluxcd.io/prune": "disabled", "argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}},
		"spec": map[string]any{"accessModes": []any{"ReadWriteOnce"}, "capacity": map[string]any{"storage": "100Gi"}, "storageClassName": "",
			"nodeAffinity": map[string]any{"required": map[string]any{"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{
				map[string]any{"key": "topology.kubernetes.io/zone", "operator": "In", "values": []any{"us-east-1a"}}}}}}}},
	}
	want, _ := yamlv2.Marshal(pv)
	got, ok := emitYAML(pv)
	if !ok || !bytes.Equal(got, want) {
		t.Errorf("a PV: written %v\n%s\nyaml.v2:\n%s", ok, got, want)
	}
}

// TestEmitNodeIsEmitOfMap: a resource's node is written as the map it
// decodes to would be (kyaml's RNode.Map, then yaml.v2), or declined, on
// random trees written by yaml.v3 (plain, quoted and tagged scalars of
// every kind: ints in other bases, YAML 1.1 words, floats, nulls) and read
// back as kustomize reads them.
func TestEmitNodeIsEmitOfMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	extra := []string{"0x1F", "0o17", "+5", "007", "1_000", "1.5", "1e3", ".inf", "~", "null", "Null", "", "true", "True", "yes", "2001-12-14", "-0", "-12", "12345678901234567890",
		"5", "0", "-7", "false", "abc", "NULL", "'quoted'", `"0"`, "!!str 12", "!!int 12"}
	written := 0
	for i := range 5000 {
		m := map[string]any{}
		for range 1 + r.IntN(5) {
			m[emitStrings[r.IntN(len(emitStrings))]] = randomValue(r, 0)
		}
		var buf bytes.Buffer
		data, err := yamlv2.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(data)
		// Scalars as a hand-written file has them: unquoted, so that
		// they are read as ints, floats, bools and nulls.
		fmt.Fprintf(&buf, "zz: %s\n", extra[r.IntN(len(extra))])
		if r.IntN(2) == 0 {
			fmt.Fprintf(&buf, "zzlist: [%s, %s]\n", extra[r.IntN(len(extra))], extra[r.IntN(len(extra))])
		}
		node, err := kyaml.Parse(buf.String())
		if err != nil {
			continue // a key given twice, which kustomize refuses too
		}
		got, ok := emitNode(node.YNode())
		if !ok {
			continue
		}
		decoded, err := node.Map()
		if err != nil {
			t.Fatalf("tree %d: written, but does not decode: %v\n%s", i, err, buf.String())
		}
		want, err := yamlv2.Marshal(decoded)
		if err != nil {
			t.Fatal(err)
		}
		written++
		if !bytes.Equal(got, want) {
			t.Fatalf("tree %d:\n%s\nemitNode:\n%s\nthe decoded map through yaml.v2:\n%s", i, buf.String(), got, want)
		}
	}
	t.Logf("%d of 5000 written", written)
	if written < 500 {
		t.Errorf("only %d of 5000 written: the fast path is barely used", written)
	}
}
