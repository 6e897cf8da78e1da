package preflight

import _ "embed"

// Workflow is the GitHub Actions workflow that runs graft preflight on the
// overlays a pull request changes (`graft preflight --print-workflow`).
//
//go:embed workflow.yaml
var Workflow []byte
