package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/check"
	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/kubeclient"
	"github.com/graftctl/graft/generator/lock"
	"github.com/graftctl/graft/generator/preflight"
	"github.com/graftctl/graft/generator/publish"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
	"github.com/graftctl/graft/internal/testkit"
)

// reportOf runs report for command name over err and returns the exit code
// and what it printed.
func reportOf(t *testing.T, name string, err error) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	e := &env{stderr: &stderr, log: slog.New(slog.NewTextHandler(&stderr, nil))}
	return report(context.Background(), e, name, err), stderr.String()
}

// TestReportEscapesOutsideText: an error whose text ends in an outside
// value (an SDK's or git's message, a flag's name as pflag echoes it)
// reaches stderr with graft's own lines only and no raw control, format or
// non-UTF-8 byte.
func TestReportEscapesOutsideText(t *testing.T) {
	h := termtexttest.Hostile
	hostileLine := strings.ReplaceAll(h, "\n", " ")
	for _, c := range []struct {
		err   error
		lines int
	}{
		{errors.New("DescribeVolumes: " + hostileLine), 1},
		{fmt.Errorf("2 problem(s):\n  - %s\n  - b", hostileLine), 3},
		{finding("denied: %s", hostileLine), 1},
		{usagef("bad: %s", hostileLine), 2},
	} {
		_, out := reportOf(t, "render", c.err)
		termtexttest.Check(t, c.err.Error(), out, c.lines)
	}
	// graft's own colour codes in a message it coloured are kept; the
	// outside value's are escaped.
	pal := ansi.New(true)
	var stderr bytes.Buffer
	e := &env{stderr: &stderr, colorErr: pal, log: slog.New(slog.NewTextHandler(&stderr, nil))}
	report(context.Background(), e, "publish", finding("denied\n  %s %s", pal.Red("deny"), hostileLine))
	if !strings.Contains(stderr.String(), pal.Red("deny")+" ") {
		t.Errorf("graft's colour codes are lost:\n%q", stderr.String())
	}
	plain := stderr.String()
	for _, c := range pal.Codes() {
		plain = strings.ReplaceAll(plain, c, "")
	}
	termtexttest.Check(t, "a coloured report", plain, 2)
	for _, args := range [][]string{{"version", "--bo" + h}, {"--bo" + h, "version"}, {"version", "-" + h}} {
		code, stdout, stderr := graft(t, args...)
		if code != exitError {
			t.Errorf("graft %q: exit %d, want %d", args, code, exitError)
		}
		termtexttest.Check(t, fmt.Sprintf("graft %q", args), stdout+stderr, 2)
	}
}

// TestErrorTable: every sentinel of the generator packages maps, through
// report, to its exit code and hint, bare and wrapped twice.
func TestErrorTable(t *testing.T) {
	cases := []struct {
		sentinel error
		code     int
		hint     string // "" : no hint line
	}{
		{publish.ErrDenied, exitFinding, "The overlay was not pushed. Run graft render and graft check locally for the findings."},
		{lock.ErrHeld, exitError, "When the command named above has finished, run graft clone again."},
		{ebs.ErrCredentials, exitError, "Set AWS_PROFILE (shared config or SSO, after `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{ebs.ErrDryRun, exitError, "Fix the permissions or parameters named above, then run graft clone again."},
		{ebs.ErrMembersFailed, exitError, "Fix what is named above and run graft clone again: members that finished are not repeated."},
		{ebs.ErrDiscovery, exitError, "Check spec.source (filters, devices) and spec.mapping, then run graft clone again."},
		{ebs.ErrUnreachable, exitError, "Check the region (spec.source.region, spec.target.region), AWS_ENDPOINT_URL_EC2 and the network path to EC2 (a proxy, a VPC endpoint), then run graft clone again."},
		{ebs.ErrInput, exitError, "Fix the spec or the account as named above, then run graft clone again."},
		{spec.ErrInvalid, exitError, "graft init writes a commented example"},
		{spec.ErrNoSpec, exitError, "graft init writes a commented spec to start from (or name another with --spec FILE); then run graft clone again."},
		{record.ErrInvalid, exitError, "graft.lock is written by graft clone --phase final"},
		{render.ErrInvalid, exitError, "Fix what is named above (the spec, the base or the output directory), then run graft clone again."},
		{check.ErrInput, exitError, ""},
		{preflight.ErrInput, exitError, "Run graft render (and graft check) on the overlay first, then run graft clone again."},
		{kubeclient.ErrAPI, exitError, "Check that the kubeconfig's identity may get and list what graft reads (README: graft preflight, graft verify), then run graft clone again."},
		{publish.ErrDirty, exitError, "Commit or stash the changes of the working copy, then run graft clone again."},
		{publish.ErrConflict, exitError, "Resolve it in the branch (or delete the branch), then run graft clone again."},
		{publish.ErrRejected, exitError, "When the cause above is dealt with, run graft clone again."},
		{publish.ErrNoBaseBranch, exitError, ""},
		{publish.ErrRepo, exitError, ""},
		{publish.ErrAPI, exitError, "GITHUB_TOKEN or GITEA_TOKEN"},
		{kubeclient.ErrCluster, exitError, "Check that --kubeconfig and --context (or KUBECONFIG) name the target cluster, its credentials, and that its API server can be reached from here, then run graft clone again."},
		{publish.ErrInsecureURL, exitError, ""},
		{boundedio.ErrTooLarge, exitError, ""},
		{boundedio.ErrNotRegular, exitError, ""},
	}
	if len(cases) != len(errorTable) {
		t.Errorf("%d cases for %d rows of errorTable: give every row a case", len(cases), len(errorTable))
	}
	for _, c := range cases {
		for _, err := range []error{c.sentinel, fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", c.sentinel))} {
			code, out := reportOf(t, "clone", err)
			if code != c.code {
				t.Errorf("%v: exit %d, want %d", err, code, c.code)
			}
			if !strings.HasPrefix(out, "graft clone: "+err.Error()+"\n") {
				t.Errorf("%v: report printed %q, want the message first", err, out)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			switch {
			case c.hint == "" && len(lines) != 1:
				t.Errorf("%v: report printed %q, want the message alone", err, out)
			case c.hint != "" && (len(lines) != 2 || !strings.Contains(lines[1], c.hint)):
				t.Errorf("%v: report printed %q, want a hint line with %q", err, out, c.hint)
			}
		}
	}
}

// TestReportKinds: findings exit 1 with their message once; usage errors
// name the help; a stage's error carries its next step, and report adds
// no second one.
func TestReportKinds(t *testing.T) {
	if code, out := reportOf(t, "check", finding("%d denied, %d warned", 2, 0)); code != exitFinding || out != "graft check: 2 denied, 0 warned\n" {
		t.Errorf("finding: exit %d, %q", code, out)
	}
	if code, out := reportOf(t, "check", finding("")); code != exitFinding || out != "" {
		t.Errorf("a finding whose report is printed: exit %d, %q", code, out)
	}
	pub := finding("%w; nothing was pushed%s", publish.ErrDenied, "\n  deny GRAFT001 StatefulSet/x: y")
	if code, out := reportOf(t, "publish", pub); code != exitFinding || !strings.HasPrefix(out, "graft publish: "+pub.Error()+"\n") || strings.Count(out, "The overlay was not pushed") != 1 {
		t.Errorf("a denied publish: exit %d:\n%s", code, out)
	}
	if code, out := reportOf(t, "plan", usagef("plan takes no arguments")); code != exitError || !strings.Contains(out, "Run 'graft help plan' for usage.") {
		t.Errorf("usage: exit %d, %q", code, out)
	}
	s := &stages{command: "run"}
	code, out := reportOf(t, "run", s.failed(stageClone, "final", fmt.Errorf("x: %w", ebs.ErrMembersFailed)))
	if code != exitError || strings.Count(out, "again") != 1 || !strings.Contains(out, "run graft run again") {
		t.Errorf("a stage's error: exit %d, want one next step, got:\n%s", code, out)
	}
	demo := &stages{command: "demo"}
	for _, err := range []error{errors.New("boom"), fmt.Errorf("waiting: %w", context.Canceled)} {
		msg := demo.failed(stageClone, "final", err).Error()
		if !strings.Contains(strings.ToLower(msg), "run graft demo again (into a new --workdir)") || strings.Contains(msg, "resume") || strings.Contains(msg, "found by their tags") {
			t.Errorf("the demo, which starts over, says:\n%s", msg)
		}
	}
	// A stage's error that starts with the command's name says it once.
	if _, out := reportOf(t, "render", fmt.Errorf("render: replace %s: is a symlink", "x")); out != "graft render: replace x: is a symlink\n" {
		t.Errorf("an error with the command's prefix: %q", out)
	}
	if _, out := reportOf(t, "render", usagef("render: nope")); !strings.HasPrefix(out, "graft render: nope\n") {
		t.Errorf("a usage error with the command's prefix: %q", out)
	}
	denied := s.failed(stagePublish, "", fmt.Errorf("%w (1 denied)", publish.ErrDenied))
	denied.finding = true
	if code, out := reportOf(t, "run", denied); code != exitFinding || strings.Count(out, "The overlay was not pushed") != 1 {
		t.Errorf("a denied publish stage: exit %d:\n%s", code, out)
	}
}

// TestEverySentinelIsInTheTable: a sentinel error (a package-level
// errors.New named Err…) of a generator package is read by report through
// errorTable, or it should not exist.
func TestEverySentinelIsInTheTable(t *testing.T) {
	inTable := map[string]bool{}
	for _, r := range errorTable {
		inTable[r.sentinel.Error()] = true
	}
	found := 0
	for _, f := range testkit.GoFiles(t, filepath.Join("..", ".."), false, "generator") {
		if strings.HasPrefix(f.Rel, "generator/ec2sim/") {
			continue
		}
		for name, msg := range sentinels(f.File) {
			found++
			if !inTable[msg] {
				t.Errorf("%s: %s (%q) is not in errorTable: map it to an exit code, or delete it", f.Rel, name, msg)
			}
		}
	}
	if found < len(errorTable) {
		t.Errorf("found %d sentinels for %d rows: is the walk in the right directory?", found, len(errorTable))
	}
}

// sentinels are the package-level `ErrX = errors.New("msg")` of a file.
func sentinels(file *ast.File) map[string]string {
	out := map[string]string{}
	for _, d := range file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "Err") || i >= len(vs.Values) {
					continue
				}
				call, ok := vs.Values[i].(*ast.CallExpr)
				if !ok || len(call.Args) != 1 {
					continue
				}
				if lit, ok := call.Args[0].(*ast.BasicLit); ok {
					out[n.Name] = strings.Trim(lit.Value, "\"`")
				}
			}
		}
	}
	return out
}

// TestOneNextStep: a clone that stops says to run graft clone again, a run
// that stops says to run graft run again, each once; the engine's errors
// name no command.
func TestOneNextStep(t *testing.T) {
	eachCloner(t, func(s *cliSim, c cloner) {
		s.sims["us-east-1"].CrashAfter(5)
		code, _, stderr := graft(t, append(c.args, "--spec", s.spec, "--yes")...)
		msg := stderr[strings.Index(stderr, "graft "+c.args[0]+": "):]
		if code != exitError || strings.Count(msg, " again") != 1 || !strings.Contains(msg, c.next) || strings.Contains(msg, "re-run") {
			t.Errorf("graft %v: exit %d, want one next step %q:\n%s", c.args, code, c.next, msg)
		}
	})
}

// TestGeneratorErrorsNameNoCommand: the next step is cmd's (nextStep,
// errorTable); an error made in a generator package (errors.New,
// fmt.Errorf, or fmt.Sprintf for an Error method) says what went wrong and
// what is left, never which graft command to run again.
func TestGeneratorErrorsNameNoCommand(t *testing.T) {
	rerun := regexp.MustCompile(`re-run graft|run graft [a-z-]+ again`)
	checked := 0
	for _, f := range testkit.GoFiles(t, filepath.Join("..", ".."), false, "generator") {
		ast.Inspect(f.File, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !(sel.Sel.Name == "Errorf" || sel.Sel.Name == "New" || sel.Sel.Name == "Sprintf") {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				checked++
				if m := rerun.FindString(lit.Value); m != "" {
					t.Errorf("%s: an error says %q: leave the next step to cmd/graft", f.Fset.Position(lit.Pos()), m)
				}
			}
			return true
		})
	}
	if checked < 100 {
		t.Fatalf("checked only %d error messages", checked)
	}
}
