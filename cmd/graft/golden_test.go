package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/graftctl/graft/internal/testkit"
)

// update rewrites the golden files instead of comparing with them:
//
//	go test ./cmd/graft -run 'TestGolden|TestTmux' -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// golden compares got with testdata/golden/<name>, or writes it there
// under -update. Every golden file of cmd/graft goes through it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		testkit.WriteFile(t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/graft -run %s -update to write it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./cmd/graft -run %s -update rewrites it after you have read the diff)\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

var (
	// A commit, short or full, and a wall-clock duration (the simulator's
	// virtual times are stable and kept).
	commitRE   = regexp.MustCompile(`\b[0-9a-f]{40}\b|((?:commit |commit=|at ))[0-9a-f]{7,12}\b`)
	durationRE = regexp.MustCompile(`\bin [0-9.]+(ms|s|µs)\b`)
	// The demo's simulated EC2 time: the auto-advancing clock jumps when
	// the process is idle, so a loaded machine can add a poll interval
	// (ec2sim.Clock); the demo's own test bounds it.
	simTimeRE = regexp.MustCompile(`simulated EC2 time: [0-9hms.]+`)
	// graft's version, in the verdict's source ("graft check devel, ...").
	versionRE = regexp.MustCompile(`graft check [^ ,]+, `)
)

// normalise makes output comparable across runs: the given directories
// become <DIR0>, <DIR1>..., commits <COMMIT>, wall-clock durations
// <DURATION>, the demo's simulated time <SIMTIME>, graft's version
// <VERSION>, and trailing blanks go.
func normalise(s string, dirs ...string) string {
	for i, d := range dirs {
		if d == "" {
			continue
		}
		s = strings.ReplaceAll(s, d, "<DIR"+string(rune('0'+i))+">")
	}
	s = commitRE.ReplaceAllStringFunc(s, func(m string) string {
		if sub := commitRE.FindStringSubmatch(m); sub[1] != "" {
			return sub[1] + "<COMMIT>"
		}
		return "<COMMIT>"
	})
	s = durationRE.ReplaceAllString(s, "in <DURATION>")
	s = simTimeRE.ReplaceAllString(s, "simulated EC2 time: <SIMTIME>")
	s = versionRE.ReplaceAllString(s, "graft check <VERSION>, ")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// TestGolden holds the text a person reads, stdout and (with
// --log-format=text) stderr, for discover, plan, check and publish.
func TestGolden(t *testing.T) {
	t.Run("discover-plan", func(t *testing.T) {
		s := newCLISim(t)
		dir := filepath.Dir(s.spec)
		code, stdout, stderr := graft(t, "discover", "--spec", s.spec, "--log-format", "text")
		if code != exitOK {
			t.Fatalf("discover: %d\n%s", code, stderr)
		}
		golden(t, "discover.stdout", normalise(stdout, dir))
		golden(t, "discover.stderr", normalise(stderr, dir))
		code, stdout, stderr = graft(t, "plan", "--spec", s.spec, "--log-format", "text")
		if code != exitOK {
			t.Fatalf("plan: %d\n%s", code, stderr)
		}
		golden(t, "plan.stdout", normalise(stdout, dir))
		golden(t, "plan.stderr", normalise(stderr, dir))
	})
	for _, c := range []struct {
		name, fixture string
		code          int
	}{
		{"check-pass", fixture("pass", "flux-3node"), exitOK},
		{"check-deny", fixture("fail", "GRAFT021-zone-not-recorded"), exitFinding},
		{"check-warn", fixture("fail", "GRAFT046-provenance"), exitOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := graft(t, "check", c.fixture, "--log-format", "text")
			if code != c.code {
				t.Fatalf("check %s: exit %d, want %d\n%s", c.fixture, code, c.code, stderr)
			}
			golden(t, c.name+".stdout", normalise(stdout))
			golden(t, c.name+".stderr", normalise(stderr))
		})
	}
	t.Run("publish", func(t *testing.T) {
		bare, specPath := publishEnv(t)
		code, stdout, stderr := graft(t, "--spec", specPath, "publish", "--repo", bare, "--log-format", "text")
		if code != exitOK {
			t.Fatalf("publish: %d\n%s\n%s", code, stdout, stderr)
		}
		golden(t, "publish.stdout", normalise(stdout, filepath.Dir(specPath), filepath.Dir(bare)))
		golden(t, "publish.stderr", normalise(stderr, filepath.Dir(specPath), filepath.Dir(bare)))
	})
}
