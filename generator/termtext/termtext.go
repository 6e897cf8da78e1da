// Package termtext keeps values that come from outside graft (EC2 tags and
// ids, the spec, graft.lock, the overlay's Kubernetes names, git and forge
// messages) from forging graft's output lines or driving the terminal they
// are printed on.
//
// A value is unsafe when it holds a rune a terminal does not simply draw:
// a line break (\n, \r, \v, \f, NEL, U+2028, U+2029), another C0 or C1
// control (ESC and CSI start cursor moves and colours), a format character
// (the bidi overrides U+202A-U+202E and isolates U+2066-U+2069 that reorder
// text, zero-width characters, BOM), a space other than ' ', an unassigned
// or private-use code point, or a byte that is not UTF-8. That is every rune
// strconv.IsPrint rejects but the plain space, so an unsafe rune is escaped
// exactly as Go's %q escapes it (\n, \x1b, \u202e, \xff).
//
// kubectl escapes ESC and \r only (k8s.io/cli-runtime/pkg/printers
// EscapeTerminal); graft escapes every unsafe rune, newlines included,
// because its output is read line by line by people and by CI.
//
// Three forms, for three places (and Error, Line for an error that is
// wrapped):
//   - Value, for a value printed on its own (a column, a key=value): the
//     value as it is when safe, else quoted as %q quotes it, so that a
//     reader sees where it starts and ends;
//   - Line, for one line graft composed around outside values (a finding,
//     a problem, a warning): every unsafe rune escaped in place, the line
//     otherwise as it is;
//   - Lines, for a message of several lines graft writes itself (a list of
//     problems): Line on each line, graft's own newlines kept;
//     LinesKeeping keeps graft's own colour codes in it as well.
//
// Lines alone does not stop a value's newline from starting a line: the
// code that puts a value into a message quotes it (%q) or escapes it
// (Value, Line) there.
package termtext

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Safe reports whether r is drawn as it is: a printable rune or the plain
// space. utf8.RuneError stands for itself here; Unsafe tells a byte that
// is not UTF-8 from a U+FFFD.
func Safe(r rune) bool { return r == ' ' || strconv.IsPrint(r) }

// Unsafe reports whether s holds a rune that is not Safe, or a byte that
// is not UTF-8.
func Unsafe(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !Safe(r) || r == utf8.RuneError && n == 1 {
			return true
		}
		i += n
	}
	return false
}

// Value is s as it is when it is safe, else s quoted as strconv.Quote (and
// %q) quote it.
func Value(s string) string {
	if Unsafe(s) {
		return strconv.Quote(s)
	}
	return s
}

// Line is s with every unsafe rune escaped in place as %q escapes it
// (\n, \t, \x1b, \u202e, \xff); a safe s is returned as it is. Backslashes
// are not doubled: Line keeps a line readable, it does not make it a Go
// string.
func Line(s string) string { return escape(s, false, nil) }

// Lines is Line applied to each line of s: its newlines ("\n") are kept,
// every other unsafe rune (\r included) is escaped.
func Lines(s string) string { return escape(s, true, nil) }

// LinesKeeping is Lines that writes the exact escape sequences of keep
// as they are: graft's own colour codes (ansi.Palette.Codes) in a message
// it coloured. Any other ESC is escaped; a sequence is kept only whole,
// so that keep cannot be stretched into a cursor move.
func LinesKeeping(s string, keep []string) string { return escape(s, true, keep) }

// Error is err as it is when its text is safe, else err with its text
// escaped in place (Line), for an error graft did not write (the file
// system's, naming a path; kustomize's) that a message wraps with %w:
// errors.Is and errors.As still see err.
func Error(err error) error {
	if err == nil || !Unsafe(err.Error()) {
		return err
	}
	return lineError{err}
}

type lineError struct{ err error }

func (e lineError) Error() string { return Line(e.err.Error()) }
func (e lineError) Unwrap() error { return e.err }

func escape(s string, newlines bool, keep []string) string {
	if !Unsafe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
outer:
	for i := 0; i < len(s); {
		if s[i] == '\x1b' {
			for _, k := range keep {
				if k != "" && strings.HasPrefix(s[i:], k) {
					b.WriteString(k)
					i += len(k)
					continue outer
				}
			}
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n' && newlines:
			b.WriteByte('\n')
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&0xf, 16))
		case Safe(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}
