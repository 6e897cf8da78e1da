package ansi_test

import (
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/ansi"
)

func TestPalette(t *testing.T) {
	var off ansi.Palette
	on := ansi.New(true)
	for name, f := range map[string][2]func(string) string{
		"green":  {off.Green, on.Green},
		"red":    {off.Red, on.Red},
		"yellow": {off.Yellow, on.Yellow},
		"cyan":   {off.Cyan, on.Cyan},
		"bold":   {off.Bold, on.Bold},
		"dim":    {off.Dim, on.Dim},
	} {
		if got := f[0]("x"); got != "x" {
			t.Errorf("%s off: %q, want the text unchanged", name, got)
		}
		got := f[1]("x")
		if len(got) < 6 || got[0] != '\x1b' || got[len(got)-4:] != "\x1b[0m" || got == "x" {
			t.Errorf("%s on: %q, want an SGR code, the text and a reset", name, got)
		}
		if f[1]("") != "" {
			t.Errorf("%s on: an empty string gained codes", name)
		}
	}
	if off.On() || !on.On() {
		t.Error("On() does not say whether the palette colours")
	}
}

// TestCodes: an on palette lists every code it writes; an off one none.
func TestCodes(t *testing.T) {
	on := ansi.New(true)
	codes := on.Codes()
	for _, s := range []string{on.Green("x"), on.Red("x"), on.Yellow("x"), on.Cyan("x"), on.Bold("x"), on.Dim("x")} {
		for _, c := range codes {
			s = strings.ReplaceAll(s, c, "")
		}
		if s != "x" {
			t.Errorf("a code the palette writes is not listed: %q left", s)
		}
	}
	if (ansi.Palette{}).Codes() != nil {
		t.Error("an off palette lists codes")
	}
}
