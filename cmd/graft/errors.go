package main

import (
	"errors"
	"fmt"
	"strings"

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
	"github.com/graftctl/graft/generator/termtext"
)

// Exit codes, the same for every command.
const (
	exitOK      = 0
	exitFinding = 1 // a check denied, or a verdict the user must act on
	exitError   = 2 // usage, input or runtime error
)

// findingError is returned by a command whose work succeeded but whose
// result is a finding (for example, a denied overlay): graft exits 1 and
// prints its message, if any, after the command's report.
type findingError struct{ err error }

func (e findingError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e findingError) Unwrap() error { return e.err }

// finding makes a findingError; format may wrap an error with %w.
func finding(format string, args ...any) error {
	return findingError{fmt.Errorf(format, args...)}
}

// usageError marks an error in how graft was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errorRow is what graft does with an error that wraps sentinel: the exit
// code, and a hint line printed after the message; %s in the hint is the
// next step ("run graft clone --phase final again").
type errorRow struct {
	sentinel error
	code     int
	hint     string
}

// errorTable maps every sentinel error of the generator packages to an
// exit code and a hint, as conftest maps results to exit codes: report is
// the one reader. The first row an error wraps wins; an error that wraps
// none exits 2 with its message alone.
var errorTable = []errorRow{
	{publish.ErrDenied, exitFinding, "The overlay was not pushed. Run graft render and graft check locally for the findings."},
	{lock.ErrHeld, exitError, "When the command named above has finished, %s."},
	{ebs.ErrCredentials, exitError, "Set AWS_PROFILE (shared config or SSO, after `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run on an instance or pod with a role; then %s."},
	{ebs.ErrDryRun, exitError, "Fix the permissions or parameters named above, then %s."},
	{ebs.ErrMembersFailed, exitError, "Fix what is named above and %s: members that finished are not repeated."},
	{ebs.ErrDiscovery, exitError, "Check spec.source (filters, devices) and spec.mapping, then %s."},
	{ebs.ErrUnreachable, exitError, "Check the region (spec.source.region, spec.target.region), AWS_ENDPOINT_URL_EC2 and the network path to EC2 (a proxy, a VPC endpoint), then %s."},
	{ebs.ErrInput, exitError, "Fix the spec or the account as named above, then %s."},
	{spec.ErrInvalid, exitError, "Fix the spec where named above (graft init writes a commented example), then %s."},
	{spec.ErrNoSpec, exitError, "graft init writes a commented spec to start from (or name another with --spec FILE); then %s."},
	{record.ErrInvalid, exitError, "graft.lock is written by graft clone --phase final: restore it (from the overlay's copy or version control) rather than edit it."},
	{render.ErrInvalid, exitError, "Fix what is named above (the spec, the base or the output directory), then %s."},
	{check.ErrInput, exitError, ""},
	{preflight.ErrInput, exitError, "Run graft render (and graft check) on the overlay first, then %s."},
	{kubeclient.ErrAPI, exitError, "Check that the kubeconfig's identity may get and list what graft reads (README: graft preflight, graft verify), then %s."},
	{publish.ErrDirty, exitError, "Commit or stash the changes of the working copy, then %s."},
	{publish.ErrConflict, exitError, "Resolve it in the branch (or delete the branch), then %s."},
	{publish.ErrRejected, exitError, "When the cause above is dealt with, %s."},
	{publish.ErrNoBaseBranch, exitError, ""},
	{publish.ErrRepo, exitError, ""},
	{publish.ErrAPI, exitError, "Check the provider's token (GITHUB_TOKEN or GITEA_TOKEN) and its permissions, then %s: the pushed branch is reused."},
	{publish.ErrInsecureURL, exitError, ""},
	{kubeclient.ErrCluster, exitError, "Check that --kubeconfig and --context (or KUBECONFIG) name the target cluster, its credentials, and that its API server can be reached from here, then %s."},
	{boundedio.ErrTooLarge, exitError, ""},
	{boundedio.ErrNotRegular, exitError, ""},
}

// classify is the row of err, if any.
func classify(err error) (errorRow, bool) {
	for _, r := range errorTable {
		if errors.Is(err, r.sentinel) {
			return r, true
		}
	}
	return errorRow{}, false
}

// codeOf is the exit code of a command that returned err (not nil).
func codeOf(err error) int {
	var f findingError
	if errors.As(err, &f) {
		return exitFinding
	}
	if r, ok := classify(err); ok {
		return r.code
	}
	return exitError
}

// hintFor is the hint line for err, with again as the next step; "" if
// its row has none.
func hintFor(err error, again string) string {
	r, ok := classify(err)
	if !ok {
		return ""
	}
	return fillIn(r.hint, again)
}

// messageOf is err's message as graft prints it for command name: without
// a stage's own "name: " prefix (graft render: render: …), and with every
// rune a terminal would act on escaped (termtext.LinesKeeping): an error
// may end in an SDK's, git's or a forge's text. The message's own lines (a
// list of problems) are kept, and so are the codes of pal, with which a
// command may have coloured it (publish's denied findings); a value in it
// is quoted or escaped where the message was composed.
func messageOf(err error, name string, pal ansi.Palette) string {
	return termtext.LinesKeeping(strings.TrimPrefix(err.Error(), name+": "), pal.Codes())
}

// errText is the one-line message of a flag error (pflag's, which echoes
// an unknown flag's name raw) with every rune a terminal would act on
// escaped, newlines included.
func errText(err error) string { return termtext.Line(err.Error()) }
