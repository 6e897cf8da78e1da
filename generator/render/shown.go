package render

import (
	"strings"

	"github.com/graftctl/graft/generator/termtext"
)

// What render's errors and warnings name comes from outside graft: the
// kustomize base's objects (names, labels, annotations, claim templates,
// zones in affinities), the operator resources, the files and directories
// on disk, the spec's paths (which may hold a bidi override) and the
// errors of kustomize, the JSON decoder and the file system that quote
// them. None may add a line to a message or drive the terminal; graft's
// own text stays as it is: values are shown with termtext.Value, errors
// graft did not write with termtext.Line or, where errors.Is must still
// see the cause, termtext.Error.

// shownList is names, each as termtext.Value shows it, joined by sep.
func shownList(names []string, sep string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = termtext.Value(n)
	}
	return strings.Join(out, sep)
}
