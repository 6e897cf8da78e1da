// Package templates embeds the manifests and texts graft fills in: the Flux
// Kustomization and Argo CD Application for an overlay, the CI gate
// workflow for the GitOps repository, and the pull-request body.
package templates

import (
	"embed"
	"text/template"
)

//go:embed *.tmpl *.yaml
var files embed.FS

// ExampleSpec is the commented spec `graft init` writes.
const ExampleSpec = "graft.example.yaml"

// Parse returns the named template (for example "flux-kustomization.yaml.tmpl").
func Parse(name string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").ParseFS(files, name)
}

// Raw returns the bytes of an embedded file as it is.
func Raw(name string) ([]byte, error) { return files.ReadFile(name) }
