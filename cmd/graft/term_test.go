package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestLogGoesThroughLiveBars: while progress bars are drawn, log lines go
// to the bars' container (which prints them above the bars), not straight
// to the terminal; once the bars are closed, to the terminal again.
func TestLogGoesThroughLiveBars(t *testing.T) {
	var term, bars bytes.Buffer
	logs := &logWriter{to: &term}
	e := &env{logs: logs, log: slog.New(slog.NewTextHandler(logs, nil))}
	restore := e.logs.through(&bars)
	e.log.Info("hook output", "line", "drain done")
	if !strings.Contains(bars.String(), `line="drain done"`) || term.Len() != 0 {
		t.Errorf("while the bars are live: bars got %q, the terminal %q", bars.String(), term.String())
	}
	restore()
	e.log.Info("clone finished")
	if !strings.Contains(term.String(), "clone finished") || strings.Contains(bars.String(), "clone finished") {
		t.Errorf("after the bars: terminal %q, bars %q", term.String(), bars.String())
	}
}
