package verify

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/termtext"
)

// WriteJSON writes the report as indented JSON (the README documents each
// field).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person: a line per member (✓ when
// every check passed, else ✗ and the first check that failed, with the
// cluster's reason), the StatefulSets' problems, and the verdict.
func (r *Report) WriteText(w io.Writer, pal ansi.Palette) error {
	right := 0
	for _, m := range r.Members {
		init := ""
		if i := m.Initialization; i != nil {
			init = fmt.Sprintf("  initialization %d%% (%s)", i.Progress, i.Type)
			if i.EstimatedSecondsLeft > 0 {
				init += fmt.Sprintf(", about %ds left", i.EstimatedSecondsLeft)
			}
		}
		if m.OK() {
			right++
			fmt.Fprintf(w, "%s %s/%d  %s -> %s (%s) on %s%s\n", pal.Green("✓"), m.StatefulSet, m.Ordinal, m.Claim, m.Volume, m.Zone, m.Node, init)
			continue
		}
		for _, c := range m.Checks {
			if c.OK {
				continue
			}
			fmt.Fprintf(w, "%s %s/%d  %s: %s%s\n", pal.Red("✗"), m.StatefulSet, m.Ordinal, c.Name, termtext.Line(c.Message), init)
			if c.Reason != "" {
				// The cluster's words (an event's message, an attach
				// error): escaped, so they cannot add a line.
				fmt.Fprintf(w, "    reason: %s\n", termtext.Line(c.Reason))
			}
			break
		}
	}
	for _, p := range r.StatefulSets {
		fmt.Fprintf(w, "%s %s: %s\n", pal.Red("✗"), p.Object, termtext.Line(p.Message))
	}
	verdict := pal.Green("PASS")
	if !r.Passed {
		verdict = pal.Red("FAIL")
	}
	_, err := fmt.Fprintf(w, "%s: %d of %d members cut over (EC2 %s)\n", verdict, right, len(r.Members), r.EC2)
	return err
}
