package templates

import (
	"embed"
	"io/fs"
)

//go:embed demo
var demo embed.FS

// DemoBase is the kustomize base `graft demo` commits to its local GitOps
// repository: a 3-node Cassandra StatefulSet and its headless Service, at
// base/cassandra.
func DemoBase() fs.FS {
	sub, err := fs.Sub(demo, "demo")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
