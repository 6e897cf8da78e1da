package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/mod/semver"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; a
// `go install …@vX` build reports the module version instead.
var version = ""

func graftVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}

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

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print graft's version",
		usage:   "version",
		setup: func(*pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(_ context.Context, e *env, args []string) error {
				fmt.Fprintf(e.stdout, "graft %s\n", graftVersion())
				return nil
			}
		},
	}
}
