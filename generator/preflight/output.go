package preflight

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/termtext"
)

// ReportKind is the kind of the JSON document preflight prints.
const ReportKind = "PreflightReport"

// Report is what `graft preflight -o json` prints: stable, documented in
// the README ("graft preflight"). Fields are only ever added.
type Report struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Overlay is the overlay directory, Record its graft.lock.
	Overlay string `json:"overlay"`
	Record  string `json:"record"`
	// Cluster is where the checks ran.
	Cluster Cluster `json:"cluster"`
	// Passed is true when no check failed (exit 0).
	Passed  bool     `json:"passed"`
	Summary Summary  `json:"summary"`
	Checks  []Result `json:"checks"`
}

// Cluster names the cluster a report is about.
type Cluster struct {
	Server  string `json:"server"`
	Context string `json:"context"`
	// Kubeconfig is the file(s) the configuration was read from, in
	// kubectl's precedence.
	Kubeconfig string `json:"kubeconfig"`
}

// Summary counts the checks.
type Summary struct {
	Passed int `json:"passed"`
	Failed int `json:"failed"`
}

// NewReport makes the report of results.
func NewReport(overlay, lock string, cluster Cluster, results []Result) *Report {
	r := &Report{APIVersion: record.APIVersion, Kind: ReportKind, Overlay: overlay, Record: lock, Cluster: cluster, Checks: results}
	if r.Checks == nil {
		r.Checks = []Result{}
	}
	r.Summary.Failed = Failed(results)
	r.Summary.Passed = len(results) - r.Summary.Failed
	r.Passed = r.Summary.Failed == 0
	return r
}

// Formats are the -o formats of preflight; the first is the default.
var Formats = []string{"text", "json"}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person, as graft check does: one
// block per check (PASS or FAIL, the id and the object; the message; for a
// failure, what to do), then the verdict. pal colours it on a terminal.
//
// The report names the cluster's objects, labels, taints and the
// kubeconfig's server and context as they are: every rune a terminal
// would act on is escaped in place (termtext.Line) or the value quoted
// (termtext.Value), so that none adds a line or drives the terminal.
func WriteText(w io.Writer, r *Report, pal ansi.Palette) error {
	line := termtext.Line
	var b strings.Builder
	for _, c := range r.Checks {
		status := pal.Green("PASS")
		if c.Status == Fail {
			status = pal.Red("FAIL")
		}
		fmt.Fprintf(&b, "%s %s %s\n    %s\n", status, line(c.ID), line(c.Object), line(c.Message))
		if c.Fix != "" {
			fmt.Fprintf(&b, "    fix: %s\n", line(c.Fix))
		}
	}
	verdict := pal.Green("PASS:")
	if !r.Passed {
		verdict = pal.Red("FAIL:")
	}
	fmt.Fprintf(&b, "%s %d failed, %d passed, on cluster %s (context %s)\n", verdict, r.Summary.Failed, r.Summary.Passed, termtext.Value(r.Cluster.Server), termtext.Value(r.Cluster.Context))
	_, err := io.WriteString(w, b.String())
	return err
}
