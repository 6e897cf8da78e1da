package check

import (
	"regexp"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/ansi"
)

// TestTextColor: deny and FAIL red, warn and "PASS with warnings" yellow,
// PASS green; without the codes the text is NewText's.
func TestTextColor(t *testing.T) {
	pal := ansi.New(true)
	sgr := regexp.MustCompile("\x1b\\[[0-9;]*m")
	deny := Finding{ID: "GRAFT001", Level: LevelDeny, Kind: "PersistentVolume", Name: "pv", Message: "bad"}
	warn := Finding{ID: "GRAFT002", Level: LevelWarn, Kind: "PersistentVolume", Name: "pv", Message: "meh"}
	for _, c := range []struct {
		findings []Finding
		want     []string
	}{
		{[]Finding{deny, warn}, []string{pal.Red("DENY") + " GRAFT001", pal.Yellow("WARN") + " GRAFT002", pal.Red("FAIL") + ":"}},
		{[]Finding{warn}, []string{pal.Yellow("PASS with warnings") + ":"}},
		{nil, []string{pal.Green("PASS") + ":"}},
	} {
		r := &Report{Findings: c.findings}
		var plain, colour strings.Builder
		if err := NewText(&plain).Write(r); err != nil {
			t.Fatal(err)
		}
		if err := NewTextColor(&colour, pal).Write(r); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(plain.String(), "\x1b") || sgr.ReplaceAllString(colour.String(), "") != plain.String() {
			t.Errorf("plain %q and coloured %q differ in more than colour", plain.String(), colour.String())
		}
		for _, w := range c.want {
			if !strings.Contains(colour.String(), w) {
				t.Errorf("the coloured report lacks %q:\n%q", w, colour.String())
			}
		}
	}
}
