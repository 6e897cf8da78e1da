package ebs_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/ebs"
)

var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestPlanTextColor: on a terminal the marks are coloured (+ green,
// = cyan, ! and ~ yellow, - red) and nothing else moves: without the escape
// codes the text is WriteText's, column for column.
func TestPlanTextColor(t *testing.T) {
	p := &ebs.Plan{Migration: "m", SourceRegion: "us-east-1", TargetRegion: "us-east-1",
		Members: []ebs.PlanMember{{Member: "cassandra/0", Instance: "i-1", SourceZone: "us-east-1a", TargetZone: "us-east-1a",
			Actions: []ebs.Action{
				{Phase: "precopy", Role: "snapshot", ClaimTemplate: "data", Detail: "of vol-1"},
				{Phase: "final", Role: "snapshot", ClaimTemplate: "data", Detail: "of vol-1", Exists: "snap-1"},
				{Phase: "final", Role: "volume", ClaimTemplate: "data", Detail: "gp3", Exists: "vol-9", Refused: "wrong size"},
				{Phase: "final", Role: "volume", ClaimTemplate: "logs", Detail: "gp3", Stopped: true},
				{Phase: "final", Role: "tag", ClaimTemplate: "data", Detail: "tag vol-8 k=v"},
			}}},
		Refused: 1, Retag: 1, Warnings: []string{"careful"}}
	var plain, colour strings.Builder
	if err := p.WriteText(&plain); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteTextColor(&colour, ansi.New(true)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b") {
		t.Errorf("WriteText wrote escape codes:\n%q", plain.String())
	}
	if got := sgr.ReplaceAllString(colour.String(), ""); got != plain.String() {
		t.Errorf("the coloured plan, without its colours, is not the plain one:\n%s\nwant:\n%s", got, plain.String())
	}
	pal := ansi.New(true)
	for _, want := range []string{"  " + pal.Green("+") + " precopy", "  " + pal.Cyan("=") + " final", "  " + pal.Yellow("!") + " final",
		"  " + pal.Red("-") + " final", "  " + pal.Yellow("~") + " final   tag", pal.Bold("Plan:"), pal.Yellow("Refused:"), pal.Yellow("Tag:"), pal.Yellow("Warnings:"), "  " + pal.Yellow("!") + " careful"} {
		if !strings.Contains(colour.String(), want) {
			t.Errorf("the coloured plan lacks %q:\n%q", want, colour.String())
		}
	}
}
