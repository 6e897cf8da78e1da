package ebs_test

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/graftctl/graft/generator/ebs"
)

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
	bars := ebs.NewBarProgress(term, []string{"cassandra/0", "cassandra/1"})
	w, ok := bars.(io.Writer)
	if !ok {
		t.Fatal("the bar progress is not an io.Writer: logs cannot go through it")
	}
	bars.Update("cassandra/0", "hook beforeFinal", 10)
	if _, err := io.WriteString(w, "level=INFO msg=\"hook output\" line=during\n"); err != nil {
		t.Fatal(err)
	}
	bars.Done("cassandra/0", nil)
	bars.Done("cassandra/1", nil)
	bars.Close()
	if _, err := io.WriteString(w, "level=INFO msg=after\n"); err != nil {
		t.Fatalf("a write after Close: %v", err)
	}
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
