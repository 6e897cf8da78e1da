package ebs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// fakeTerm is a terminal for mpb (its ConsoleWriter): what is written
// collects in a buffer, and Flush(lines) does what the real one does with
// cursor moves: it erases the previous frame's bar lines and prints the
// buffer. screen is then what a person sees.
type fakeTerm struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	screen  []string
	erase   int
	flushes int
	width   int
}

func (f *fakeTerm) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}

func (f *fakeTerm) ReadFrom(r io.Reader) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.ReadFrom(r)
}

func (f *fakeTerm) IsTerminal() bool { return true }

func (f *fakeTerm) GetTermSize() (int, int, error) { return f.width, 40, nil }

func (f *fakeTerm) Flush(lines int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.screen = f.screen[:max(len(f.screen)-f.erase, 0)]
	if s := strings.TrimSuffix(f.buf.String(), "\n"); s != "" {
		f.screen = append(f.screen, strings.Split(s, "\n")...)
	}
	f.buf.Reset()
	f.erase = lines
	f.flushes++
	return nil
}

// directWrite is what barProgress falls back to once the bars are closed:
// straight onto the screen.
func (f *fakeTerm) directWrite(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := strings.TrimSuffix(string(p), "\n"); s != "" {
		f.screen = append(f.screen, strings.Split(s, "\n")...)
	}
	f.erase = 0
}

func (f *fakeTerm) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.screen...)
}

// termOut is the io.Writer barProgress writes to after Close.
type termOut struct{ f *fakeTerm }

func (t termOut) Write(p []byte) (int, error) { t.f.directWrite(p); return len(p), nil }

// drawnBars draws members' bars on a fake terminal 100 columns wide and
// returns a function that refreshes them and waits until the screen
// satisfies ok (bounded: two seconds).
func drawnBars(t *testing.T, members []string) (*barProgress, *fakeTerm, func(what string, ok func([]string) bool)) {
	t.Helper()
	term := &fakeTerm{width: 100}
	refresh := make(chan any)
	bp := newBarProgress(termOut{term}, members, mpb.WithConsoleWriter(term), mpb.WithManualRefresh(refresh))
	// Close, if the test did not, so the render goroutine ends with it.
	t.Cleanup(func() {
		for _, b := range bp.bars {
			if !b.b.Completed() && !b.b.Aborted() {
				bp.Close()
				return
			}
		}
	})
	wait := func(what string, ok func([]string) bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case refresh <- time.Now():
			case <-time.After(10 * time.Millisecond):
			}
			if ok(term.lines()) {
				return
			}
		}
		t.Fatalf("the screen never showed %s:\n%s", what, strings.Join(term.lines(), "\n"))
	}
	return bp, term, wait
}

// barLine finds member's bar on the screen.
func barLine(screen []string, member string) string {
	for _, l := range screen {
		if strings.HasPrefix(l, member+" ") {
			return l
		}
	}
	return ""
}

// showing is a screen test: each member's bar holds each of its words.
func showing(want map[string][]string) func([]string) bool {
	return func(screen []string) bool {
		for m, words := range want {
			l := barLine(screen, m)
			for _, w := range words {
				if l == "" || !strings.Contains(l, w) {
					return false
				}
			}
		}
		return true
	}
}

// TestBarProgressDraws walks three members through their steps and reads
// the screen after each: one bar per member in the given order, names and
// stages in aligned columns, the percentage held under 100 until Done, a
// stopped member said to be stopped, nothing drawn for an unknown member,
// and Close ending the bars with their last frame left on the screen.
func TestBarProgressDraws(t *testing.T) {
	members := []string{"cassandra/0", "cassandra/1", "cassandra/10"}
	bp, term, wait := drawnBars(t, members)
	wait("every member waiting", showing(map[string][]string{"cassandra/0": {"waiting", "0 %"}, "cassandra/1": {"waiting"}, "cassandra/10": {"waiting"}}))

	bp.Update("cassandra/0", "snapshot precopy", 40)
	bp.Update("cassandra/1", "copy", 250) // clamped
	bp.Update("cassandra/9", "copy", 10)  // not a member: ignored
	wait("the stages and percentages", showing(map[string][]string{"cassandra/0": {"snapshot precopy", "40 %"}, "cassandra/1": {"copy", "99 %"}}))

	bp.Done("cassandra/0", nil)
	bp.Done("cassandra/1", errors.New("CreateVolume: quota"))
	wait("done and stopped", showing(map[string][]string{"cassandra/0": {"done", "100 %"}, "cassandra/1": {"stopped (see below)"}}))

	closed := make(chan struct{})
	go func() { bp.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a member (cassandra/10) still waiting")
	}

	screen := term.lines()
	if len(screen) != len(members) {
		t.Fatalf("the screen holds %d lines, want one bar per member (%d):\n%s", len(screen), len(members), strings.Join(screen, "\n"))
	}
	stageCol := -1
	for i, m := range members {
		l := screen[i]
		if !strings.HasPrefix(l, m+" ") {
			t.Errorf("line %d is %q, want %s's bar (the bars keep the members' order)", i, l, m)
		}
		if len([]rune(l)) > term.width {
			t.Errorf("bar %q is wider than the terminal (%d)", l, term.width)
		}
		col := len(m) + strings.IndexFunc(l[len(m):], func(r rune) bool { return r != ' ' })
		if stageCol >= 0 && col != stageCol {
			t.Errorf("the stage column of %s is %d, of the first bar %d:\n%s", m, col, stageCol, strings.Join(screen, "\n"))
		}
		stageCol = col
	}
	if l := barLine(screen, "cassandra/10"); !strings.Contains(l, "waiting") || strings.Contains(l, "100 %") {
		t.Errorf("a member never updated shows %q after Close, want it still waiting and not complete", l)
	}
	if strings.Contains(strings.Join(screen, "\n"), "cassandra/9") {
		t.Error("an unknown member got a bar")
	}
}

// TestBarProgressLogsAbove: lines written through the bars while they are
// drawn land above them, whole, in order, and each once; a write after
// Close goes straight to the terminal rather than being lost. (This is why
// cmd routes the log through the bars.)
func TestBarProgressLogsAbove(t *testing.T) {
	bp, term, wait := drawnBars(t, []string{"cassandra/0", "cassandra/1"})
	var during []string
	for i := range 3 {
		during = append(during, fmt.Sprintf("level=INFO msg=\"hook output\" line=during-%d\n", i))
	}
	logAroundClose(t, bp, during, func() {
		wait("the hook lines above the bars", func(screen []string) bool {
			return len(screen) == 5 && strings.HasPrefix(screen[2], "level=INFO") && strings.HasPrefix(screen[3], "cassandra/0 ")
		})
	})
	screen := term.lines()
	want := []string{`level=INFO msg="hook output" line=during-0`, `level=INFO msg="hook output" line=during-1`, `level=INFO msg="hook output" line=during-2`}
	for i, l := range want {
		if screen[i] != l {
			t.Errorf("screen line %d is %q, want %q:\n%s", i, screen[i], l, strings.Join(screen, "\n"))
		}
	}
	for i, m := range []string{"cassandra/0", "cassandra/1"} {
		if l := screen[3+i]; !strings.HasPrefix(l, m+" ") || !strings.Contains(l, "done") || !strings.Contains(l, "100 %") {
			t.Errorf("screen line %d is %q, want %s's finished bar", 3+i, l, m)
		}
	}
	if len(screen) != 6 || screen[5] != "level=INFO msg=after" {
		t.Errorf("the line written after Close is not last on the screen:\n%s", strings.Join(screen, "\n"))
	}
}

// logAroundClose plays what the log does through the bars of cassandra/0
// and cassandra/1: cassandra/0 in its hook, the lines during written while
// the bars are drawn (drawn then waits for the screen, if it can), both
// members done, the bars closed, and a line written after Close.
func logAroundClose(t *testing.T, bars Progress, during []string, drawn func()) {
	t.Helper()
	w, ok := bars.(io.Writer)
	if !ok {
		t.Fatal("the bar progress is not an io.Writer: logs cannot go through it")
	}
	bars.Update("cassandra/0", "hook beforeFinal", 10)
	for _, l := range during {
		if _, err := io.WriteString(w, l); err != nil {
			t.Fatal(err)
		}
	}
	drawn()
	bars.Done("cassandra/0", nil)
	bars.Done("cassandra/1", nil)
	bars.Close()
	if _, err := io.WriteString(w, "level=INFO msg=after\n"); err != nil {
		t.Fatalf("a write after Close: %v", err)
	}
}

// syncBuffer is a terminal stand-in that mpb and the test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBarProgressIsTheLogsWriter: the bars are an io.Writer; a line
// written to them while they are drawn reaches the terminal through mpb
// (printed above the bars), and one written after Close goes straight to
// it instead of being lost.
func TestBarProgressIsTheLogsWriter(t *testing.T) {
	term := &syncBuffer{}
	bars := NewBarProgress(term, []string{"cassandra/0", "cassandra/1"})
	logAroundClose(t, bars, []string{"level=INFO msg=\"hook output\" line=during\n"}, func() {})
	out := term.String()
	// Not a terminal: mpb may print the last frame more than once, so a
	// bar may repeat; a log line must not (TestBarProgressLogsAbove reads
	// the screen of a fake terminal exactly).
	if !strings.Contains(out, "cassandra/1") {
		t.Errorf("the terminal never showed cassandra/1's bar:\n%q", out)
	}
	for _, want := range []string{"line=during\n", "msg=after\n"} {
		if strings.Count(out, want) != 1 {
			t.Errorf("the terminal shows %q %d times, want once:\n%q", want, strings.Count(out, want), out)
		}
	}
	if i, j := strings.Index(out, "line=during"), strings.LastIndex(out, "done"); i < 0 || j < i {
		t.Errorf("the line written while the bars were live is not above their last frame:\n%q", out)
	}
}

// TestBarProgressHostileLabels: a member's label and a stage are drawn
// escaped: a newline or an escape sequence in them cannot add a line to
// the bars or move the cursor.
func TestBarProgressHostileLabels(t *testing.T) {
	h := termtexttest.Hostile
	bp, term, wait := drawnBars(t, []string{"cassandra/0", h})
	bp.Update(h, h, 40)
	bp.Update("cassandra/0", "copy "+h, 10)
	wait("both bars updated", func(screen []string) bool {
		return len(screen) == 2 && strings.Contains(screen[0], `copy x\n✓`) && strings.Contains(screen[1], `"   x\n✓`)
	})
	bp.Close()
	screen := term.lines()
	if raw := termtexttest.Raw(strings.Join(screen, "\n")); raw != "" || len(screen) != 2 {
		t.Errorf("%d lines, want 2, raw %q:\n%s", len(screen), raw, strings.Join(screen, "\n"))
	}
}
