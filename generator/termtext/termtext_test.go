package termtext_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/graftctl/graft/generator/termtext"
)

// hostile are values an EC2 tag, a spec field or a Kubernetes name can
// hold: each would forge a line or drive a terminal if printed raw.
var hostile = []string{
	"x\n✓ check passed",
	"x\r\nPASS  overlays/cassandra",
	"\x1b[2K\x1b[1A✓ done",
	"red\x1b[31m",
	"tab\there",
	"nel\u0085line",
	"csi\u009b2J",
	"rlo\u202etxt.exe",
	"isolate\u2066x\u2069",
	"ls\u2028ps\u2029",
	"zero\u200bwidth",
	"bom\ufeff",
	"nbsp\u00a0x",
	"bad\xffutf8",
	"nul\x00",
	"del\x7f",
	"vt\vff\f",
}

// rawUnsafe reports whether s holds a byte or rune a terminal acts on.
func rawUnsafe(s string) bool {
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r < 0xa0 || r >= 0x2000 && r <= 0x200f || r >= 0x2028 && r <= 0x202e ||
			r >= 0x2066 && r <= 0x2069 || r == 0xfeff || r == 0xa0 || r == 0xfffd {
			return true
		}
	}
	return !utf8.ValidString(s)
}

func TestHostileValuesAreEscaped(t *testing.T) {
	for _, s := range hostile {
		if !termtext.Unsafe(s) {
			t.Errorf("Unsafe(%q) = false", s)
		}
		for name, got := range map[string]string{"Value": termtext.Value(s), "Line": termtext.Line(s), "Lines": termtext.Lines(s)} {
			if name == "Lines" {
				got = strings.ReplaceAll(got, "\n", "")
			}
			if rawUnsafe(got) {
				t.Errorf("%s(%q) = %q: a raw control, format or invalid byte is left", name, s, got)
			}
		}
		if v := termtext.Value(s); v[0] != '"' || v[len(v)-1] != '"' {
			t.Errorf("Value(%q) = %q, want it quoted", s, v)
		}
	}
}

func TestSafeValuesAreUnchanged(t *testing.T) {
	for _, s := range []string{"", "cassandra-0", "i-0123456789abcdef0", "my node (rack 1)", `back\slash "q"`, "zone é ü 東京", "✓ ▸ …"} {
		for name, got := range map[string]string{"Value": termtext.Value(s), "Line": termtext.Line(s), "Lines": termtext.Lines(s)} {
			if got != s {
				t.Errorf("%s(%q) = %q, want it unchanged", name, s, got)
			}
		}
	}
}

func TestForms(t *testing.T) {
	for _, c := range []struct{ fn, in, want string }{
		{"Value", "x\n✓ check passed", `"x\n✓ check passed"`},
		{"Line", "x\n✓ check passed", `x\n✓ check passed`},
		{"Line", "a\x1b[31mb\u202ec\xff", `a\x1b[31mb\u202ec\xff`},
		{"Line", "\u009b", `\u009b`},
		{"Lines", "2 problems:\n  - a\x1b[2Kb\r\n  - c", "2 problems:\n  - a\\x1b[2Kb\\r\n  - c"},
	} {
		f := map[string]func(string) string{"Value": termtext.Value, "Line": termtext.Line, "Lines": termtext.Lines}[c.fn]
		if got := f(c.in); got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.fn, c.in, got, c.want)
		}
	}
	if n := strings.Count(termtext.Line("a\nb\rc\u2028d\u0085e"), "\n"); n != 0 {
		t.Errorf("Line left %d newline(s)", n)
	}
}

// TestLinesKeeping: the exact codes given pass whole; any other ESC,
// a partial code, and the other controls are escaped; newlines are kept.
func TestLinesKeeping(t *testing.T) {
	red, reset := "\x1b[31m", "\x1b[0m"
	in := red + "graft x:" + reset + " a\x1b[2Kb\x1b[31\n  - " + red + "deny" + reset + "\x1b[8mhidden"
	want := red + "graft x:" + reset + ` a\x1b[2Kb\x1b[31` + "\n  - " + red + "deny" + reset + `\x1b[8mhidden`
	if got := termtext.LinesKeeping(in, []string{red, reset}); got != want {
		t.Errorf("LinesKeeping:\n got %q\nwant %q", got, want)
	}
	if got := termtext.LinesKeeping(in, nil); got != termtext.Lines(in) {
		t.Errorf("LinesKeeping with no codes is not Lines: %q", got)
	}
}

// TestError: an error's unsafe text is escaped in place, its chain kept;
// a safe error is returned as it is.
func TestError(t *testing.T) {
	cause := &fs.PathError{Op: "open", Path: "a\nb\x1b[2K", Err: fs.ErrNotExist}
	err := termtext.Error(cause)
	if got, want := err.Error(), `open a\nb\x1b[2K: file does not exist`; got != want {
		t.Errorf("Error = %q, want %q", got, want)
	}
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe != cause {
		t.Errorf("the chain is lost: %#v", err)
	}
	safe := errors.New("plain")
	if termtext.Error(safe) != safe || termtext.Error(nil) != nil {
		t.Error("a safe error is not returned as it is")
	}
}
