package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/graftctl/graft/generator/spec"
)

// What to do next after a failure is said here, and only here: the
// generator packages say what went wrong and what is left behind, never
// which command to run, because the same engine runs under graft clone,
// graft run and graft demo.

// The stages, as they are announced and named in errors.
const (
	stageDiscover = "discover"
	stagePlan     = "plan"
	stageClone    = "clone"
	stageRender   = "render"
	stageCheck    = "check"
	stagePublish  = "publish"
)

// resumeBy is how a command is run again when that is not "run graft
// <command> again"; %s is the clone phase.
var resumeBy = map[string]string{
	"clone": "run graft clone --phase %s again",
	"demo":  "run graft demo again (into a new --workdir)",
}

// nextStep is how the user runs command again: "run graft run again".
// phase is the clone phase that failed, if any.
func nextStep(command, phase string) string {
	f, ok := resumeBy[command]
	if !ok || strings.Contains(f, "%s") && phase == "" {
		return "run graft " + command + " again"
	}
	return fillIn(f, phase)
}

// fillIn puts v in the %s of a text of the tables here (resumeBy,
// errorTable's hints); a text without one is returned as it is.
func fillIn(text, v string) string {
	if !strings.Contains(text, "%s") {
		return text
	}
	return fmt.Sprintf(text, v)
}

// afterClone is what graft clone says next when a phase finished.
var afterClone = map[string]string{
	spec.PhasePrecopy: "precopy snapshots complete; quiesce the application, then run graft clone --phase final",
	spec.PhaseFinal:   "final phase complete; next: graft render",
}

// resumable says what a run that stopped leaves behind.
const resumable = "finished stages are not repeated, created resources are found by their tags."

// startsOver are the commands that do not resume: the demo's simulated
// cluster lives only as long as the process.
var startsOver = map[string]bool{"demo": true}

// stageFixes is what to do when a stage fails for a reason errorTable has
// no hint for (a hint names the cause: spec, credentials, discovery...);
// %s is the next step. Any other stage: "Fix it and %s."
var stageFixes = map[string]string{
	stagePlan:  "Fix it and %s: " + resumable,
	stageClone: "Fix it and %s: " + resumable,
}

// stageFix is the fix of stage, given the next step.
func stageFix(stage, again string, startsOver bool) string {
	if f, ok := stageFixes[stage]; ok && !startsOver {
		return fmt.Sprintf(f, again)
	}
	return fmt.Sprintf("Fix it and %s.", again)
}

// sourceChangedFix is the fix when the source differs from the inventory.
func sourceChangedFix(again string) string {
	return fmt.Sprintf("Review the change with graft discover (which rewrites the inventory) and graft plan, then %s.", again)
}

// checkDeniedFix is the fix of an overlay the policies denied in the check
// stage (a denied publish has errorTable's hint).
func checkDeniedFix(overlayDir string) string {
	return "Run graft check " + overlayDir + " for the findings."
}

// stageError names the stage that failed and what to do about it.
type stageError struct {
	stage string
	// again is the next step ("run graft run again").
	again string
	// startsOver: running again starts over, it does not resume.
	startsOver bool
	// fix is what to do, unless the error taxonomy has a hint for err.
	fix string
	err error
	// finding makes the command exit 1: the work succeeded and found a
	// problem (a denied overlay).
	finding bool
}

func (s *stageError) Error() string {
	if errors.Is(s.err, context.Canceled) {
		// A signal, not something to fix.
		if s.startsOver {
			return fmt.Sprintf("%s interrupted (SIGINT or SIGTERM): %v\n%s.", s.stage, s.err, capitalize(s.again))
		}
		return fmt.Sprintf("%s interrupted (SIGINT or SIGTERM): %v\n%s to resume: %s", s.stage, s.err, capitalize(s.again), resumable)
	}
	msg := fmt.Sprintf("%s failed: %v", s.stage, s.err)
	fix := s.fix
	if h := hintFor(s.err, s.again); h != "" {
		fix = h
	}
	if fix != "" {
		msg += "\n" + fix
	}
	return msg
}

func (s *stageError) Unwrap() []error {
	if s.finding {
		return []error{s.err, findingError{}}
	}
	return []error{s.err}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
