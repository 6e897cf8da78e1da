// Package templates embeds the manifests and texts graft fills in: the Flux
// Kustomization and Argo CD Application for an overlay, the check and
// preflight workflows for the GitOps repository (which share the script
// that finds the overlays a change touches), and the pull-request body.
package templates

import (
	"embed"
	"encoding/json"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

//go:embed *.tmpl *.yaml *.sh
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

// Workflows graft prints for a GitOps repository, and the script both use
// to find the overlays a change touches (FindOverlays).
const (
	PreflightWorkflow = "preflight-gate.yaml"
	FindOverlays      = "find-overlays.sh"
)

// findOverlaysLine is where a workflow's step runs FindOverlays.
const findOverlaysLine = "# graft:find-overlays"

// Workflow returns an embedded workflow with FindOverlays in place of its
// "# graft:find-overlays" line, indented as that line is, so the one
// script decides for every workflow which overlays a change touches.
func Workflow(name string) ([]byte, error) {
	data, err := files.ReadFile(name)
	if err != nil {
		return nil, err
	}
	script, err := files.ReadFile(FindOverlays)
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	for line := range strings.Lines(string(data)) {
		indent, found := strings.CutSuffix(strings.TrimSuffix(line, "\n"), findOverlaysLine)
		if !found || strings.TrimSpace(indent) != "" {
			out.WriteString(line)
			continue
		}
		for s := range strings.Lines(string(script)) {
			if s != "\n" {
				out.WriteString(indent)
			}
			out.WriteString(s)
		}
	}
	return []byte(out.String()), nil
}
