package main

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/termtext"
)

// levelStage is the level of the line env.stage writes: above info, so that
// --log-level=warn hides stages with the rest of the chatter, and below
// warn. The machine formats show it as INFO (see stageAsInfo); the human
// format draws it as a stage.
const levelStage = slog.LevelInfo + 2

// Log formats (--log-format).
const (
	logAuto   = "auto"   // text on a terminal, logfmt elsewhere
	logText   = "text"   // short human lines: a marker, the message, the attributes
	logLogfmt = "logfmt" // slog's TextHandler, as CI logs and the tests read it
	logJSON   = "json"   // slog's JSONHandler, one object a line
)

var logFormats = []string{logAuto, logText, logLogfmt, logJSON}

// resolveLogFormat turns auto into text or logfmt, and rejects a name that
// is not a format.
func resolveLogFormat(format string, stderrIsTerminal bool) (string, error) {
	switch format {
	case logAuto:
		if stderrIsTerminal {
			return logText, nil
		}
		return logLogfmt, nil
	case logText, logLogfmt, logJSON:
		return format, nil
	}
	return "", usagef("--log-format: %q is not a log format, expected one of %s", format, strings.Join(logFormats, ", "))
}

// newLogHandler is the one place the log's handler is chosen. format is
// resolved (text, logfmt or json).
func newLogHandler(format string, w io.Writer, level slog.Leveler, pal ansi.Palette, width int) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case logText:
		return newHumanHandler(w, humanOptions{Level: level, Palette: pal, Width: width})
	case logJSON:
		return stageAsInfo{slog.NewJSONHandler(w, opts)}
	}
	return stageAsInfo{slog.NewTextHandler(w, opts)}
}

// stageAsInfo writes a stage as the machine formats always have: an INFO
// line whose message is "== <stage>", which is what logs are grepped for;
// and a progress line (ebs.LevelProgress) as INFO.
type stageAsInfo struct{ slog.Handler }

func (h stageAsInfo) Handle(ctx context.Context, r slog.Record) error {
	switch r.Level {
	case levelStage:
		s := slog.NewRecord(r.Time, slog.LevelInfo, "== "+r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool { s.AddAttrs(a); return true })
		r = s
	case ebs.LevelProgress:
		r.Level = slog.LevelInfo
	}
	return h.Handler.Handle(ctx, r)
}

func (h stageAsInfo) WithAttrs(as []slog.Attr) slog.Handler {
	return stageAsInfo{h.Handler.WithAttrs(as)}
}

func (h stageAsInfo) WithGroup(name string) slog.Handler {
	return stageAsInfo{h.Handler.WithGroup(name)}
}

// humanOptions configure the human handler.
type humanOptions struct {
	Level   slog.Leveler
	Palette ansi.Palette
	// Width is the terminal's width, 0 if unknown: a line the column
	// padding would push past it is not padded.
	Width int
	// Time prefixes each line with the time of day. graft leaves it off
	// (a person watching a terminal knows the time); it is there so the
	// handler can be held to slog's own handler tests.
	Time bool
}

// humanHandler writes one short line per record for a person at a
// terminal, the way flux and kubectl do:
//
//	▸ clone --phase precopy
//	✓ record written                 path=/m/graft.lock volumes=3
//	! the branch moved on the remote  branch=graft/cassandra
//	✗ member stopped                 member=cassandra/1 error="..."
//
// A marker for the level (▸ stage, … a step under way at
// ebs.LevelProgress, ✓ info, · debug, ! warning, ✗ error), the message,
// then the attributes as key=value, quoted only when a key or value needs
// it, keys dimmed. Lines are written whole, one Write each, under a lock
// shared by every handler derived with WithAttrs or WithGroup.
type humanHandler struct {
	out  *humanOut
	opts humanOptions
	// attrs holds what WithAttrs added, already rendered (" k=v" each).
	attrs string
	// groups is the group prefix for keys ("g." for WithGroup("g")). A
	// group that ends up with no attributes writes nothing, as slog asks.
	groups string
}

type humanOut struct {
	mu sync.Mutex
	w  io.Writer
}

func newHumanHandler(w io.Writer, opts humanOptions) *humanHandler {
	if opts.Level == nil {
		opts.Level = slog.LevelInfo
	}
	return &humanHandler{out: &humanOut{w: w}, opts: opts}
}

func (h *humanHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.opts.Level.Level()
}

// msgWidth aligns the attributes of short messages in a column.
const msgWidth = 24

func (h *humanHandler) Handle(_ context.Context, r slog.Record) error {
	pal := h.opts.Palette
	var b strings.Builder
	if h.opts.Time && !r.Time.IsZero() {
		b.WriteString(pal.Dim(r.Time.Format(time.TimeOnly)) + " ")
	}
	marker, colour := levelMarker(r.Level, pal)
	b.WriteString(colour(marker) + " ")
	msg := oneLine(r.Message)
	msgLen := len([]rune(msg))
	var tail strings.Builder
	tail.WriteString(h.attrs)
	prefix := h.groups
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&tail, pal, prefix, a)
		return true
	})
	if r.Level == levelStage {
		msg = pal.Bold(msg)
	}
	b.WriteString(msg)
	if tail.Len() > 0 {
		pad := max(msgWidth-msgLen, 0)
		if h.opts.Width > 0 && 2+msgLen+pad+1+visibleLen(tail.String()) > h.opts.Width {
			pad = 0
		}
		// At least two spaces between the message and the attributes.
		b.WriteString(strings.Repeat(" ", pad) + " " + tail.String())
	}
	b.WriteByte('\n')
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := io.WriteString(h.out.w, b.String())
	return err
}

func levelMarker(l slog.Level, pal ansi.Palette) (string, func(string) string) {
	switch {
	case l >= slog.LevelError:
		return "✗", pal.Red
	case l >= slog.LevelWarn:
		return "!", pal.Yellow
	case l >= levelStage:
		return "▸", pal.Cyan
	case l >= ebs.LevelProgress:
		return "…", pal.Dim
	case l >= slog.LevelInfo:
		return "✓", pal.Green
	}
	return "·", pal.Dim
}

func (h *humanHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	var b strings.Builder
	for _, a := range as {
		writeAttr(&b, h.opts.Palette, h.groups, a)
	}
	if b.Len() == 0 {
		return h
	}
	h2 := *h
	h2.attrs = h.attrs + b.String()
	return &h2
}

func (h *humanHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = h.groups + name + "."
	return &h2
}

// writeAttr renders one attribute as " key=value", groups flattened into
// dotted keys; an empty attribute or group writes nothing.
func writeAttr(b *strings.Builder, pal ansi.Palette, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			writeAttr(b, pal, prefix, g)
		}
		return
	}
	b.WriteString(" " + pal.Dim(quoteIfNeeded(prefix+a.Key)+"=") + quoteIfNeeded(a.Value.String()))
}

// quoteIfNeeded leaves a plain value as it is and quotes one a reader
// could not tell where it ends (spaces, quotes, =), that is empty, or that
// termtext finds unsafe on a terminal (control and format characters,
// bytes that are not UTF-8).
func quoteIfNeeded(s string) string {
	if s == "" || termtext.Unsafe(s) || strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '"' || r == '='
	}) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// visibleLen counts the runes of s a terminal shows: not its SGR codes.
func visibleLen(s string) int {
	n, esc := 0, false
	for _, r := range s {
		switch {
		case esc:
			esc = r != 'm'
		case r == '\x1b':
			esc = true
		default:
			n++
		}
	}
	return n
}

// oneLine keeps a message on its line: a newline in it would break the
// one-line-per-event layout, and is drawn as ⏎. Every other rune a
// terminal would act on (ESC, C1 controls, bidi overrides, bytes that are
// not UTF-8) is escaped in place (termtext.Line): a message may carry an
// outside value.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", " ⏎ ", "\n", " ⏎ ", "\r", " ⏎ ").Replace(s)
	}
	return termtext.Line(s)
}
