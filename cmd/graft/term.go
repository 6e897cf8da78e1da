package main

import (
	"io"
	"log/slog"
	"os"

	"golang.org/x/term"

	"github.com/graftctl/graft/generator/ansi"
)

// newEnv builds what a command runs with from the parsed global flags and
// the process's streams: the one place that looks at terminals, NO_COLOR,
// TERM=dumb and --log-format.
func newEnv(g globals, level slog.Level, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) (*env, error) {
	errTTY := isTerminal(stderr)
	format, err := resolveLogFormat(g.logFormat, errTTY)
	if err != nil {
		return nil, err
	}
	e := &env{
		globals:          g,
		stdin:            stdin,
		stdout:           stdout,
		stderr:           stderr,
		logs:             &logWriter{to: stderr},
		stderrIsTerminal: barsFor(errTTY, getenv),
		jsonLogs:         format == logJSON,
		stdinIsTerminal:  isTerminal(stdin),
		colorOut:         ansi.New(colorFor(isTerminal(stdout), g.noColor, getenv)),
		colorErr:         ansi.New(colorFor(errTTY, g.noColor, getenv)),
	}
	e.log = slog.New(newLogHandler(format, e.logs, level, e.colorErr, terminalWidth(stderr)))
	return e, nil
}

// terminalWidth is the width of w when it is a terminal, else 0.
func terminalWidth(w io.Writer) int {
	f, ok := underlying(w).(*os.File)
	if !ok {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}

// colorFor says whether a stream gets colour: only a terminal, never with
// --no-color, never when NO_COLOR is set to a non-empty value
// (https://no-color.org), and never on a terminal that says it is dumb.
func colorFor(terminal, noColor bool, getenv func(string) string) bool {
	return terminal && !noColor && getenv("NO_COLOR") == "" && !dumbTerminal(getenv)
}

// barsFor says whether progress bars are drawn on stderr: on a terminal
// that can move its cursor. A dumb one (TERM=dumb: Emacs's shell, some CI
// consoles) would print every redraw's escape codes as text.
func barsFor(terminal bool, getenv func(string) string) bool {
	return terminal && !dumbTerminal(getenv)
}

// dumbTerminal is TERM=dumb: a terminal without colour or cursor motion.
func dumbTerminal(getenv func(string) string) bool { return getenv("TERM") == "dumb" }
