// Command opsim prints, as a JSON array, the StatefulSets that
// cass-operator and ECK would create for the CassandraDatacenters and
// Elasticsearch resources in the multi-document YAML (or JSON) stream on
// its standard input. It is package opsim for the e2e suite, whose nested
// module cannot import graft's packages (their dependencies would move
// the versions its Kubernetes control plane is built with), so that the
// suite and render's tests shape the operators' StatefulSets with one
// copy of the operators' code. Test-only.
//
//	opsim < built.yaml > statefulsets.json
//
// Exit status: 0; 2 when the input cannot be read or is not such a
// stream; 1 when the output cannot be written.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/internal/opsim"
)

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr))
}

func run(in io.Reader, out, errOut io.Writer) int {
	data, err := boundedio.Read(context.Background(), in, "standard input", boundedio.MaxFileBytes)
	if err != nil {
		fmt.Fprintf(errOut, "opsim: %v\n", err)
		return 2
	}
	sets, err := opsim.FromYAML(data)
	if err != nil {
		fmt.Fprintf(errOut, "opsim: standard input: %v; want a YAML or JSON stream of Kubernetes objects\n", err)
		return 2
	}
	if sets == nil {
		sets = []appsv1.StatefulSet{} // [], not null
	}
	if err := json.NewEncoder(out).Encode(sets); err != nil {
		fmt.Fprintf(errOut, "opsim: writing standard output: %v\n", err)
		return 1
	}
	return 0
}
