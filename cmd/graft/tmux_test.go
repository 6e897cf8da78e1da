package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tmuxPane runs commands in a real terminal: a tmux server of its own
// (socket graft-test-<pid>), 120 columns by 50 lines, killed when the test
// ends.
type tmuxPane struct {
	t      *testing.T
	socket string
	n      int
}

func newTmux(t *testing.T) *tmuxPane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed, and CI must check the terminal captures (.ci/deps.sh installs it)")
		}
		t.Skip("tmux is not installed")
	}
	p := &tmuxPane{t: t, socket: fmt.Sprintf("graft-test-%d", os.Getpid())}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", p.socket, "kill-server").Run() })
	// A session that outlives the others keeps the server up between
	// runs (tmux exits with its last session).
	p.tmux("new-session", "-d", "-s", "keep", "sleep", "600")
	return p
}

func (p *tmuxPane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", p.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// exitLine is what the pane's shell prints once the command has ended.
var exitLine = regexp.MustCompile(`\[graft exited (\d+)\]`)

// run runs shell in a new session from dir, waits (at most two minutes)
// for it to end, and returns the pane's text, its text with the colour
// codes tmux keeps (-e), and the exit code.
func (p *tmuxPane) run(dir, shell string) (text, coloured string, code int) {
	p.t.Helper()
	p.n++
	name := fmt.Sprintf("s%d", p.n)
	// The pane's shell stays after the command, so that the pane can be
	// read; kill-session ends it.
	script := shell + `; echo "[graft exited $?]"; exec sleep 600`
	p.tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "50", "-c", dir, "sh", "-c", script)
	defer p.tmux("kill-session", "-t", name)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		text = p.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", name)
		if m := exitLine.FindStringSubmatch(text); m != nil {
			fmt.Sscan(m[1], &code)
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not finish in the pane within two minutes:\n%s", shell, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
	coloured = p.tmux("capture-pane", "-p", "-e", "-J", "-S", "-", "-t", name)
	return tidyPane(text), coloured, code
}

// tidyPane drops the exit line and the blank lines at the end of a pane.
func tidyPane(s string) string {
	s = exitLine.ReplaceAllString(s, "")
	return strings.TrimRight(s, "\n ") + "\n"
}

// TestTmux runs graft in a real terminal, as a person would, and keeps what
// the pane shows as golden files (testdata/golden/tmux-*.txt): `graft
// demo`, `graft plan` against the demo's spec and the simulator, and a
// denied `graft check`. They are where to look at the output; -update
// rewrites them. The graft in the pane is this test binary running graft's
// main (childMain, with the EC2 simulator behind the EBS commands).
func TestTmux(t *testing.T) {
	p := newTmux(t)
	self, err := os.Executable()
	must(t, err)
	cwd, err := os.Getwd()
	must(t, err)
	work := filepath.Join(t.TempDir(), "demo")
	home := t.TempDir()
	gitcfg := filepath.Join(home, "gitconfig")
	must(t, os.WriteFile(gitcfg, []byte("[user]\n\tname = Test\n\temail = test@example.com\n"), 0o644))
	// The pane's environment is set, not inherited: no NO_COLOR from the
	// caller, a private git config.
	graftCmd := func(extra ...string) string {
		env := []string{"env", "-u", "NO_COLOR", "-u", "CI", childEnv + "=1", "HOME=" + home, "GIT_CONFIG_GLOBAL=" + gitcfg, "GIT_CONFIG_NOSYSTEM=1", "TERM=tmux-256color"}
		return strings.Join(append(append(env, extra...), self), " ")
	}

	text, coloured, code := p.run(cwd, graftCmd()+" demo --workdir "+work)
	if code != exitOK {
		t.Fatalf("graft demo in tmux: exit %d\n%s", code, text)
	}
	demo := normalise(text, work)
	golden(t, "tmux-demo.txt", demo)
	checkPane(t, "demo", demo, coloured)

	text, coloured, code = p.run(cwd, graftCmd()+" plan --spec "+filepath.Join(work, "graft.yaml"))
	if code != exitOK {
		t.Fatalf("graft plan in tmux: exit %d\n%s", code, text)
	}
	plan := normalise(text, work)
	golden(t, "tmux-plan.txt", plan)
	checkPane(t, "plan", plan, coloured)
	if !strings.Contains(coloured, "\x1b[32m+") {
		t.Errorf("the plan's + marks are not green on a terminal:\n%q", coloured)
	}

	denied := filepath.Join(policyFixtures, "fail", "GRAFT021-zone-not-recorded")
	text, coloured, code = p.run(cwd, graftCmd()+" check "+denied)
	if code != exitFinding {
		t.Fatalf("a denied graft check in tmux: exit %d, want %d\n%s", code, exitFinding, text)
	}
	check := normalise(text, work)
	golden(t, "tmux-check-denied.txt", check)
	checkPane(t, "check", check, coloured)
	if !strings.Contains(coloured, "\x1b[31mDENY") || !strings.Contains(coloured, "\x1b[31mFAIL") {
		t.Errorf("DENY and FAIL are not red on a terminal:\n%q", coloured)
	}

	// No colour with NO_COLOR or --no-color, on the same terminal; and
	// stdout redirected to a file gets none while stderr is a terminal.
	for _, c := range []string{graftCmd("NO_COLOR=1") + " check " + denied, graftCmd() + " check --no-color " + denied} {
		text2, coloured2, _ := p.run(cwd, c)
		if strings.Contains(coloured2, "\x1b[") {
			t.Errorf("%s: the pane has colour codes:\n%q", c, coloured2)
		}
		if normalise(text2, work) != check {
			t.Errorf("%s: the pane differs from the coloured one in more than colour:\n%s", c, text2)
		}
	}
	out := filepath.Join(home, "plan.txt")
	if _, _, code := p.run(cwd, graftCmd()+" plan --spec "+filepath.Join(work, "graft.yaml")+" > "+out); code != exitOK {
		t.Fatalf("graft plan > file: exit %d", code)
	}
	data, err := os.ReadFile(out)
	must(t, err)
	if strings.Contains(string(data), "\x1b") || !strings.Contains(string(data), "  + precopy") {
		t.Errorf("graft plan > file wrote colour codes, or not the plan:\n%q", data)
	}
}

// checkPane holds a pane to what an operator should see: no logfmt (the
// terminal gets the short lines), no line a progress bar broke into, no
// status line wider than the pane, and colour on the terminal.
func checkPane(t *testing.T, name, text, coloured string) {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "level=") || strings.Contains(l, "time=") {
			t.Errorf("%s, line %d is logfmt on a terminal: %q", name, i+1, l)
		}
		// Status lines and bars fit the pane (data on stdout may wrap).
		if status := strings.IndexAny(l, "▸✓!✗·[") == 0 || strings.Contains(l, "%"); status && len([]rune(l)) > 120 {
			t.Errorf("%s, line %d is wider than the pane: %q", name, i+1, l)
		}
		if strings.Contains(l, "%") && strings.ContainsAny(l, "✓▸!✗") && strings.Contains(l, "[") {
			t.Errorf("%s, line %d mixes a log line and a bar: %q", name, i+1, l)
		}
	}
	if !strings.Contains(coloured, "\x1b[") {
		t.Errorf("%s: no colour at all on a terminal", name)
	}
}
