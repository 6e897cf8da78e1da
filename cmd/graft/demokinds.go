package main

import (
	"embed"
	"io/fs"
	"path"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/templates"
)

// demos holds each demo kind's spec, demos/<kind>/graft.yaml, and the
// base its GitOps repository starts with, demos/<kind>/repo (the
// StatefulSet demo's base is templates.DemoBase).
//
//go:embed demos
var demos embed.FS

// demoKind is what `graft demo --kind` migrates into: the spec, the base
// the GitOps repository starts with, and the legacy nodes' names.
type demoKind struct {
	migration string
	// app and nodeName describe the simulated legacy nodes (Name tags
	// <nodeName>-0..2, tag app=<nodeName>).
	app, nodeName string
	// baseDir and baseWhat describe the repository's base.
	baseDir, baseWhat string
	spec              string
	// repo is the directory of demos holding the repository's files; "":
	// templates.DemoBase.
	repo string
}

func (k demoKind) base() fs.FS {
	if k.repo == "" {
		return templates.DemoBase()
	}
	sub, err := fs.Sub(demos, path.Join("demos", k.repo))
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// demoFile is the embedded file demos/<name>.
func demoFile(name string) string {
	data, err := demos.ReadFile(path.Join("demos", name))
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return string(data)
}

// demoSpec is the migration `graft demo` runs: the 3-node Cassandra the
// simulator is seeded with, into the base of the demo's GitOps repository.
// specWithRepo fills in the repository.
var demoSpec = demoFile("statefulset/graft.yaml")

// demoKinds are the demos by --kind.
var demoKinds = map[string]demoKind{
	spec.WorkloadStatefulSet: {migration: "cassandra-demo", app: "Cassandra", nodeName: "cassandra",
		baseDir: "base/cassandra", baseWhat: "Cassandra StatefulSet", spec: demoSpec},
	spec.WorkloadCassOperator: {migration: "cass-operator-demo", app: "Cassandra", nodeName: "cassandra",
		baseDir: "base/cassandra-dc1", baseWhat: "cass-operator CassandraDatacenter",
		spec: demoFile("cass-operator/graft.yaml"), repo: "cass-operator/repo"},
	spec.WorkloadECK: {migration: "eck-demo", app: "Elasticsearch", nodeName: "elasticsearch",
		baseDir: "base/elasticsearch", baseWhat: "ECK Elasticsearch",
		spec: demoFile("eck/graft.yaml"), repo: "eck/repo"},
	spec.WorkloadClaimsOnly: {migration: "claims-only-demo", app: "Cassandra", nodeName: "cassandra",
		baseDir: "charts/cassandra", baseWhat: "Bitnami Cassandra chart's rendered StatefulSet (deployed by the chart, read by graft)",
		spec: demoFile("claims-only/graft.yaml"), repo: "claims-only/repo"},
}
