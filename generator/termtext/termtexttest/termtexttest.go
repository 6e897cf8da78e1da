// Package termtexttest holds graft's tests to termtext's promise, from the
// outside: an output with hostile values in it has exactly the lines graft
// wrote and not one byte a terminal would act on. It does not call
// termtext, so that it can catch termtext's own mistakes.
package termtexttest

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Hostile is a value that would forge a line and drive a terminal if it
// were printed raw: a newline that starts a "✓ check passed" line, ESC
// sequences that erase a line and move up, a C1 CSI, a bidi override, an
// isolate, a line separator, a zero-width space, and a lone byte 0x9b
// (CSI in an 8-bit terminal), which is not UTF-8.
const Hostile = "x\n✓ check passed\r\x1b[2K\x1b[1A\u009b2J\u202eexe.txt\u2066\u2028\u200b\x9b"

// HostileUTF8 is Hostile without its byte that is not UTF-8: what a
// YAML document, which holds UTF-8 only, can carry.
var HostileUTF8 = strings.TrimSuffix(Hostile, "\x9b")

// YAMLQuoted is s as a YAML double-quoted scalar with every rune but
// printable ASCII escaped: YAML takes no raw control characters, so a
// hostile value reaches graft through a YAML file only written so.
func YAMLQuoted(s string) string {
	var q strings.Builder
	q.WriteByte('"')
	for _, r := range s {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' {
			q.WriteRune(r)
		} else {
			fmt.Fprintf(&q, "\\U%08x", r)
		}
	}
	q.WriteByte('"')
	return q.String()
}

// Raw returns the first raw byte or rune of s a terminal acts on
// (a control but '\n', a C1 control, a format or separator character, a
// byte that is not UTF-8), or "" if there is none.
func Raw(s string) string {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return fmt.Sprintf("byte %#x at %d", s[i], i)
		case r == '\n':
		case r < 0x20, r >= 0x7f && r < 0xa0, r >= 0x2000 && r <= 0x200f, r >= 0x2028 && r <= 0x202f,
			r >= 0x2060 && r <= 0x206f, r == 0xfeff, r == 0x061c:
			return fmt.Sprintf("%U at %d", r, i)
		}
		i += n
	}
	return ""
}

// Check fails t unless out is lines lines, each ended by '\n', with no raw
// byte or rune a terminal acts on.
func Check(t testing.TB, what, out string, lines int) {
	t.Helper()
	if raw := Raw(out); raw != "" {
		t.Errorf("%s: a raw %s reached the output:\n%s", what, raw, out)
	}
	if got := strings.Count(out, "\n"); got != lines || (out != "" && !strings.HasSuffix(out, "\n")) {
		t.Errorf("%s: %d line(s), want exactly %d:\n%s", what, got, lines, out)
	}
}
