// Package templates embeds the manifests and texts graft fills in: the Flux
// Kustomization and Argo CD Application for an overlay, the CI gate
// workflow for the GitOps repository, and the pull-request body.
package templates

import (
	"embed"
	"encoding/json"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

//go:embed *.tmpl *.yaml
var files embed.FS

// ExampleSpec is the commented spec `graft init` writes.
const ExampleSpec = "graft.example.yaml"

// Parse returns the named template (for example "flux-kustomization.yaml.tmpl").
// YAML templates write every value with the yaml or quote function, never
// as it is: a value is data, whatever characters it holds.
func Parse(name string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Funcs(template.FuncMap{
		"yaml":  Scalar,
		"quote": Quoted,
	}).ParseFS(files, name)
}

// Scalar writes s as one YAML scalar on one line, as the YAML encoder
// writes it: plain when that reads back as the same string, quoted
// otherwise ("1.0", "a: b", "true" and "# x" are quoted).
func Scalar(s string) string {
	out, err := yaml.Marshal(s)
	if text := strings.TrimSuffix(string(out), "\n"); err == nil && !strings.Contains(text, "\n") {
		return text
	}
	return Quoted(s) // a multi-line string: a double-quoted scalar
}

// Quoted writes s as a double-quoted YAML scalar (a JSON string, which
// YAML reads as the same string).
func Quoted(s string) string {
	out, _ := json.Marshal(s) // a string always marshals
	return string(out)
}

// Raw returns the bytes of an embedded file as it is.
func Raw(name string) ([]byte, error) { return files.ReadFile(name) }
