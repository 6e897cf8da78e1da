// Package policies embeds graft's Rego policies, so the binary carries the
// same files that `opa test` and `conftest test --combine` run.
package policies

import (
	"embed"
	"io/fs"
)

//go:embed *.rego
var files embed.FS

// FS holds the policy modules (*.rego, tests included) at its root.
func FS() fs.FS { return files }

// Namespace is the Rego package of the rules: conftest's --namespace.
const Namespace = "graft"
