package main

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/spf13/pflag"
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
