// Package ansi is graft's colour palette for a terminal: a handful of SGR
// escape codes. They are written by hand because go.mod holds no colour
// library and five codes do not need one; whether colour is on is decided
// once, in cmd/graft (a terminal, no --no-color, no NO_COLOR), and passed
// down as a Palette.
package ansi

// Palette colours text when it is on. The zero Palette is off: every
// method returns its argument unchanged, so a writer that takes a Palette
// prints plain text by default.
type Palette struct{ on bool }

// New returns a palette that colours when on is true.
func New(on bool) Palette { return Palette{on: on} }

// On says whether the palette colours.
func (p Palette) On() bool { return p.on }

// SGR codes: https://en.wikipedia.org/wiki/ANSI_escape_code#SGR.
const (
	reset  = "\x1b[0m"
	bold   = "\x1b[1m"
	dim    = "\x1b[2m"
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
)

func (p Palette) wrap(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return code + s + reset
}

// Codes are the escape codes the palette writes, none when it is off: a
// message graft coloured keeps them when termtext escapes the rest
// (termtext.LinesKeeping).
func (p Palette) Codes() []string {
	if !p.on {
		return nil
	}
	return []string{reset, bold, dim, red, green, yellow, cyan}
}

// Green is for what succeeded or will be created.
func (p Palette) Green(s string) string { return p.wrap(green, s) }

// Red is for what failed or was denied.
func (p Palette) Red(s string) string { return p.wrap(red, s) }

// Yellow is for warnings and what needs a look.
func (p Palette) Yellow(s string) string { return p.wrap(yellow, s) }

// Cyan is for stages and what already exists.
func (p Palette) Cyan(s string) string { return p.wrap(cyan, s) }

// Bold is for headings.
func (p Palette) Bold(s string) string { return p.wrap(bold, s) }

// Dim is for detail a reader may skip.
func (p Palette) Dim(s string) string { return p.wrap(dim, s) }
