package render

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestAsYAMLIsKustomizes: asYAML writes exactly what kustomize's AsYaml
// writes, on every overlay, base and policy fixture of the repository and
// on resources made to trip a YAML writer: floats, timestamps, strings that
// read as other types, numeric-looking keys, long and multi-line strings,
// aliases, deep nesting.
func TestAsYAMLIsKustomizes(t *testing.T) {
	var dirs []string
	for _, pattern := range []string{"../../overlays/*", "../../testdata/bases/*", "../../testdata/policy/pass/*", "../../testdata/policy/fail/*", "../../testdata/policy/bases/*"} {
		found, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, found...)
	}
	tricky := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(tricky, "kustomization.yaml"), []byte("resources: [cm.yaml, crd.yaml]\n"), 0o644))
	must(os.WriteFile(filepath.Join(tricky, "cm.yaml"), []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: tricky
  annotations: {a: "yes", b: "0x10", c: "1e3", d: "~", e: "null", f: "", g: "2001-12-14", h: "  lead", i: "tab\there", j: "naïve ünïcode", k: "<&>"}
data:
  "10": ten
  "9": nine
  "a10": x
  "a9": y
  multi: |
    line one
    line two
  long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
  colon: "a: b"
  hash: "# not a comment"
`), 0o644))
	must(os.WriteFile(filepath.Join(tricky, "crd.yaml"), []byte(`apiVersion: example.com/v1
kind: Thing
metadata:
  name: values
spec:
  float: 1.5
  integral: 1000000.0
  exp: 1e21
  small: 0.000001
  big: 9223372036854775807
  negative: -3
  when: 2001-12-14T21:59:43.10-05:00
  yes: yes
  anchors:
    first: &x {k: v, n: [1, 2]}
    second: *x
  deep: {a: {b: {c: {d: [[[{e: null}]]]}}}}
  empty: {}
  none: []
`), 0o644))
	dirs = append(dirs, tricky)
	checked := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		rm, err := build(dir)
		if err != nil && dir == tricky {
			t.Fatalf("the tricky resources do not build: %v", err)
		}
		if err != nil {
			continue // a fixture that is meant not to build
		}
		want, err := rm.AsYaml()
		if err != nil {
			t.Fatal(err)
		}
		got, err := asYAML(rm)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: asYAML differs from kustomize's AsYaml:\n--- asYAML\n%s\n--- AsYaml\n%s", dir, got, want)
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("compared %d directories, want the repository's overlays, bases and fixtures", checked)
	}
}
