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
// own text stays as it is.

// shown is a value as a message names it: as it is when a terminal draws
// it as it is, else quoted as %q quotes it (termtext.Value).
func shown(s string) string { return termtext.Value(s) }

// shownList is names, each shown, joined by sep.
func shownList(names []string, sep string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = shown(n)
	}
	return strings.Join(out, sep)
}

// errLine is the text of an error graft did not write (kustomize's, the
// JSON decoder's, the file system's), which may quote the base's words,
// on one line with every unsafe rune escaped (termtext.Line).
func errLine(err error) string { return termtext.Line(err.Error()) }

// oneLine is an error graft did not write (the file system's, naming a
// path of the output directory; atomic's) on one line, escaped in place,
// errors.Is and errors.As still seeing it (termtext.Error).
func oneLine(err error) error { return termtext.Error(err) }
