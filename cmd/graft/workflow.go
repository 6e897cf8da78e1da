package main

import (
	"bytes"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/mod/semver"

	"github.com/graftctl/graft/templates"
)

// latestInstall is how the workflows graft prints install graft.
const latestInstall = "github.com/graftctl/graft/cmd/graft@latest"

// pinInstall makes a workflow install the graft that printed it: a
// released build (a semantic version, pseudo-versions included) puts its
// version in place of @latest, so CI gates with the policies the overlay
// was rendered and checked with, not with whatever is newest on the day; a
// development build keeps @latest.
func pinInstall(workflow []byte) []byte {
	v := graftVersion()
	if !semver.IsValid(v) {
		return workflow
	}
	return bytes.ReplaceAll(workflow, []byte(latestInstall), []byte(strings.TrimSuffix(latestInstall, "latest")+v))
}

// printWorkflowFlag declares --print-workflow, which prints the named
// workflow of package templates, pinned to this graft, instead of running
// the command. The func it returns prints it when the flag is set, and
// reports whether it did.
func printWorkflowFlag(fs *pflag.FlagSet, workflow, help string) func(e *env, args []string) (bool, error) {
	set := fs.Bool("print-workflow", false, help)
	return func(e *env, args []string) (bool, error) {
		if !*set {
			return false, nil
		}
		if len(args) > 0 {
			return true, usagef("--print-workflow takes no PATH, got %q", args)
		}
		data, err := templates.Workflow(workflow)
		if err != nil {
			return true, err
		}
		_, err = e.stdout.Write(pinInstall(data))
		return true, err
	}
}
