package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// parseHuman reads one line of the human handler back into the map
// slogtest wants: time, level (from the marker), msg and the attributes,
// dotted keys as nested groups.
func parseHuman(t *testing.T, line string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if len(line) > 8 && line[2] == ':' && line[5] == ':' && line[8] == ' ' {
		m[slog.TimeKey] = line[:8]
		line = line[9:]
	}
	marker, rest, ok := strings.Cut(line, " ")
	if !ok {
		t.Fatalf("no marker in %q", line)
	}
	levels := map[string]string{"✗": "ERROR", "!": "WARN", "▸": "STAGE", "…": "PROGRESS", "✓": "INFO", "·": "DEBUG"}
	if levels[marker] == "" {
		t.Fatalf("unknown marker %q in %q", marker, line)
	}
	m[slog.LevelKey] = levels[marker]
	msg, attrs, _ := strings.Cut(rest, "  ")
	m[slog.MessageKey] = msg
	attrs = strings.TrimSpace(attrs)
	for attrs != "" {
		key, val, ok := strings.Cut(attrs, "=")
		if !ok {
			t.Fatalf("attribute without = in %q", line)
		}
		if strings.HasPrefix(val, `"`) {
			q, err := strconv.QuotedPrefix(val)
			if err != nil {
				t.Fatalf("bad quoting in %q: %v", line, err)
			}
			attrs = strings.TrimSpace(val[len(q):])
			val, _ = strconv.Unquote(q)
		} else {
			val, attrs, _ = strings.Cut(val, " ")
		}
		parts := strings.Split(key, ".")
		g := m
		for _, p := range parts[:len(parts)-1] {
			sub, ok := g[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				g[p] = sub
			}
			g = sub
		}
		g[parts[len(parts)-1]] = val
	}
	return m
}

// TestHumanHandlerSlogtest holds the human handler to slog's own handler
// rules: attributes, WithAttrs, groups, empty groups, inlined groups,
// LogValuers, zero times.
func TestHumanHandlerSlogtest(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		buf.Reset()
		return newHumanHandler(&buf, humanOptions{Time: true})
	}, func(t *testing.T) map[string]any {
		line := strings.TrimSuffix(buf.String(), "\n")
		if strings.Contains(line, "\n") {
			t.Fatalf("one record wrote more than one line: %q", buf.String())
		}
		return parseHuman(t, line)
	})
}

// TestHumanHandlerLines: what a person sees for each level, the stage
// line, compact attributes in a column, quoting, a message kept on one
// line, and the level filter.
func TestHumanHandlerLines(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newHumanHandler(&buf, humanOptions{Level: slog.LevelInfo}))
	e := &env{log: log}
	e.stage("clone --phase precopy")
	log.Debug("hidden at info")
	log.Info("record written", "path", "/m/graft.lock", "volumes", 3)
	ebs.NewLogProgress(log).Update("cassandra/0", "precopy snapshot", 25)
	log.Info("legacy node", "data volume", "vol-1")
	log.With("member", "cassandra/1").WithGroup("hook").Info("hook output", "line", "drain done")
	log.Warn("a warning with a long message that is wider than the column", "branch", "graft/x")
	log.Error("member stopped\nsecond line", "error", errors.New(`copy: "snap-1" failed`), "empty", "")
	want := strings.Join([]string{
		"▸ clone --phase precopy",
		"✓ record written            path=/m/graft.lock volumes=3",
		"… progress                  member=cassandra/0 stage=\"precopy snapshot\" percent=25",
		"✓ legacy node               \"data volume\"=vol-1",
		"✓ hook output               member=cassandra/1 hook.line=\"drain done\"",
		"! a warning with a long message that is wider than the column  branch=graft/x",
		"✗ member stopped ⏎ second line  error=\"copy: \\\"snap-1\\\" failed\" empty=\"\"",
		"",
	}, "\n")
	if got := buf.String(); got != want {
		t.Errorf("the human lines:\n%s\nwant:\n%s", got, want)
	}
}

// TestHumanHandlerWidth: on a narrow terminal a line is not padded past
// the edge; the padding's colour codes do not count as width.
func TestHumanHandlerWidth(t *testing.T) {
	for _, pal := range []ansi.Palette{{}, ansi.New(true)} {
		var buf bytes.Buffer
		log := slog.New(newHumanHandler(&buf, humanOptions{Width: 50, Palette: pal}))
		log.Info("short", "k", "v")                                                      // fits padded: 2+24+1+3
		log.Info("legacy node", "instance", "i-0ee4200f3880a19eb", "zone", "us-east-1a") // would not
		lines := strings.Split(strings.TrimSuffix(sgr.ReplaceAllString(buf.String(), ""), "\n"), "\n")
		want := []string{"✓ short                     k=v", "✓ legacy node  instance=i-0ee4200f3880a19eb zone=us-east-1a"}
		if len(lines) != 2 || lines[0] != want[0] || lines[1] != want[1] {
			t.Errorf("colour %t: got\n%s\nwant\n%s", pal.On(), strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	}
}

var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestHumanHandlerColour: the markers, keys and stage are coloured with
// the palette on, and not a single escape is written with it off.
func TestHumanHandlerColour(t *testing.T) {
	var on, off bytes.Buffer
	for _, c := range []struct {
		buf *bytes.Buffer
		pal ansi.Palette
	}{{&on, ansi.New(true)}, {&off, ansi.Palette{}}} {
		log := slog.New(newHumanHandler(c.buf, humanOptions{Palette: c.pal}))
		(&env{log: log}).stage("plan")
		log.Info("done", "k", "v")
		log.Warn("careful")
		log.Error("failed")
	}
	pal := ansi.New(true)
	for _, want := range []string{pal.Cyan("▸") + " " + pal.Bold("plan"), pal.Green("✓"), pal.Dim("k="), pal.Yellow("!"), pal.Red("✗")} {
		if !strings.Contains(on.String(), want) {
			t.Errorf("with colour, %q is missing from:\n%q", want, on.String())
		}
	}
	if strings.Contains(off.String(), "\x1b") {
		t.Errorf("without colour, an escape code was written:\n%q", off.String())
	}
}

// TestHumanHandlerHostileValues: an outside value (a tag, a name, an
// error's text) in a message, an attribute's key or value, a group, or an
// attribute added with With cannot add a line or reach the terminal raw:
// one record is one line, and each value reads back as it was.
func TestHumanHandlerHostileValues(t *testing.T) {
	h := termtexttest.Hostile
	for _, pal := range []ansi.Palette{{}, ansi.New(true)} {
		var buf bytes.Buffer
		log := slog.New(newHumanHandler(&buf, humanOptions{Palette: pal}))
		(&env{log: log}).stage("discover " + h)
		log.Info("legacy node "+h, "name", h, "bare", "\x9b\x1b", h, "v")
		log.With("tag", h).WithGroup(h).Warn("w", "k", "v")
		log.Error("failed", "error", errors.New(h))
		ebs.NewLogProgress(log).Update(h, h, 50)
		out := buf.String()
		if pal.On() {
			out = sgr.ReplaceAllString(out, "")
		}
		termtexttest.Check(t, fmt.Sprintf("colour %t", pal.On()), out, 5)
		if pal.On() {
			continue
		}
		m := parseHuman(t, strings.Split(out, "\n")[1])
		if m["name"] != h || m["bare"] != "\x9b\x1b" {
			t.Errorf("the values do not read back: name=%q bare=%q", m["name"], m["bare"])
		}
	}
}

// lineCounter records every Write, to show each line comes in one piece.
type lineCounter struct {
	mu     sync.Mutex
	writes []string
}

func (w *lineCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// TestHumanHandlerConcurrent: handlers derived from one another share one
// lock and write each line whole, so lines from goroutines never
// interleave (run with -race to see the data race it would be otherwise).
func TestHumanHandlerConcurrent(t *testing.T) {
	w := &lineCounter{}
	base := slog.New(newHumanHandler(w, humanOptions{}))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := base.With("g", g).WithGroup("grp")
			for i := range 50 {
				log.Info("event", "i", i)
			}
		}()
	}
	wg.Wait()
	if len(w.writes) != 400 {
		t.Fatalf("%d writes, want 400", len(w.writes))
	}
	for _, s := range w.writes {
		if strings.Count(s, "\n") != 1 || !strings.HasPrefix(s, "✓ event") || !strings.Contains(s, " grp.i=") {
			t.Fatalf("a torn or malformed line: %q", s)
		}
	}
}

// TestLogFormats: auto is text on a terminal and logfmt elsewhere (as the
// tests and CI read it); json is slog's JSON; a stage is "== name" at INFO
// in both machine formats; a bad name is a usage error naming the flag.
func TestLogFormats(t *testing.T) {
	for _, c := range []struct {
		in   string
		tty  bool
		want string
	}{
		{"auto", true, logText}, {"auto", false, logLogfmt},
		{"text", false, logText}, {"logfmt", true, logLogfmt}, {"json", true, logJSON},
	} {
		got, err := resolveLogFormat(c.in, c.tty)
		if err != nil || got != c.want {
			t.Errorf("resolveLogFormat(%q, tty %t) = %q, %v; want %q", c.in, c.tty, got, err, c.want)
		}
	}
	if _, err := resolveLogFormat("yaml", false); err == nil || !strings.Contains(err.Error(), `--log-format: "yaml"`) {
		t.Errorf("a bad format: %v", err)
	}

	var logfmt, js bytes.Buffer
	(&env{log: slog.New(newLogHandler(logLogfmt, &logfmt, slog.LevelInfo, ansi.Palette{}, 0))}).stage("discover")
	if !strings.Contains(logfmt.String(), `level=INFO msg="== discover"`) {
		t.Errorf("logfmt stage: %q", logfmt.String())
	}
	log := slog.New(newLogHandler(logJSON, &js, slog.LevelInfo, ansi.Palette{}, 0))
	(&env{log: log.With("run", 1)}).stage("plan")
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil || rec["level"] != "INFO" || rec["msg"] != "== plan" || rec["run"] != float64(1) {
		t.Errorf("json stage: %q (%v)", js.String(), err)
	}
	var progress bytes.Buffer
	ebs.NewLogProgress(slog.New(newLogHandler(logLogfmt, &progress, slog.LevelInfo, ansi.Palette{}, 0))).Update("cassandra/0", "copy", 50)
	if !strings.Contains(progress.String(), `level=INFO msg=progress member=cassandra/0 stage=copy percent=50`) {
		t.Errorf("logfmt progress: %q", progress.String())
	}
	var warn bytes.Buffer
	(&env{log: slog.New(newLogHandler(logText, &warn, slog.LevelWarn, ansi.Palette{}, 0))}).stage("plan")
	if warn.Len() != 0 {
		t.Errorf("--log-level=warn still shows a stage: %q", warn.String())
	}
}

// TestLogFormatFlag: the flag reaches the handler through run, and a bad
// value exits 2 naming it.
func TestLogFormatFlag(t *testing.T) {
	code, _, stderr := graft(t, "--log-format", "yaml", "version")
	if code != exitError || !strings.Contains(stderr, `--log-format: "yaml" is not a log format, expected one of auto, text, logfmt, json`) {
		t.Errorf("a bad --log-format: exit %d, %q", code, stderr)
	}
	for format, want := range map[string]string{
		"text":   "✓ example spec written; edit it, then run graft discover  spec=",
		"json":   `{"time":`,
		"logfmt": `level=INFO msg="example spec written; edit it, then run graft discover" spec=`,
		"auto":   `level=INFO msg="example spec written; edit it, then run graft discover" spec=`, // not a terminal
	} {
		path := t.TempDir() + "/graft.yaml"
		code, stdout, stderr := graft(t, "init", "--log-format", format, "--spec", path)
		if code != exitOK || !strings.Contains(stderr, want) || stdout != "" {
			t.Errorf("--log-format %s: exit %d, stdout %q, stderr %q; want %q on stderr", format, code, stdout, stderr, want)
		}
	}
}

// TestColorFor: colour only on a terminal, never with --no-color or a
// non-empty NO_COLOR (no-color.org: an empty NO_COLOR does not count).
func TestColorFor(t *testing.T) {
	// getenv with one variable set.
	only := func(key, v string) func(string) string {
		return func(k string) string {
			if k == key {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		tty, flag bool
		noColor   string
		want      bool
	}{
		{true, false, "", true},
		{false, false, "", false},
		{true, true, "", false},
		{true, false, "1", false},
		{true, false, "0", false}, // any non-empty value
		{false, true, "1", false},
	} {
		if got := colorFor(c.tty, c.flag, only("NO_COLOR", c.noColor)); got != c.want {
			t.Errorf("colorFor(tty %t, --no-color %t, NO_COLOR=%q) = %t, want %t", c.tty, c.flag, c.noColor, got, c.want)
		}
	}
	// TERM=dumb: neither colour nor progress bars, on a terminal too.
	for _, c := range []struct {
		term        string
		color, bars bool
	}{
		{"dumb", false, false},
		{"xterm-256color", true, true},
		{"", true, true},
	} {
		if got := colorFor(true, false, only("TERM", c.term)); got != c.color {
			t.Errorf("colorFor on a terminal, TERM=%q: %t, want %t", c.term, got, c.color)
		}
		if got := barsFor(true, only("TERM", c.term)); got != c.bars {
			t.Errorf("barsFor on a terminal, TERM=%q: %t, want %t", c.term, got, c.bars)
		}
	}
	if barsFor(false, only("TERM", "xterm")) {
		t.Error("barsFor off a terminal: true")
	}
}

// TestJSONLogsErrorIsJSON: with --log-format json every line of stderr is
// a JSON object, the command's error too (level ERROR, the message and
// its hint, the command, the exit code).
func TestJSONLogsErrorIsJSON(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"render", "--spec", filepath.Join(dir, "graft.yaml")},
		{"render", "--spec", filepath.Join(dir, "graft.yaml"), "stray"},
		{"check", filepath.Join(dir, "missing")},
	} {
		code, _, stderr := graft(t, append([]string{"--log-format", "json"}, args...)...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		var last map[string]any
		for _, l := range lines {
			if err := json.Unmarshal([]byte(l), &last); err != nil {
				t.Errorf("graft %v: stderr line %q is not JSON: %v", args, l, err)
			}
		}
		if code != exitError || last["level"] != "ERROR" || last["exit"] != float64(exitError) || last["command"] != args[0] || last["msg"] == "" {
			t.Errorf("graft %v: exit %d, last record %v", args, code, last)
		}
	}
}
