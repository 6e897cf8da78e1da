package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/atomic"
	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/templates"
)

func initCommand() *command {
	return &command{
		name:    "init",
		summary: "write a fully commented example spec (graft.yaml)",
		usage:   "init [--force]",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			force := fs.Bool("force", false, "overwrite an existing spec")
			return func(_ context.Context, e *env, args []string) error {
				data, err := templates.Raw(templates.ExampleSpec)
				if err != nil {
					return err
				}
				// What is no file (a directory, a device) is never
				// overwritten: --force would not help, so it is not offered.
				switch fi, err := os.Stat(e.specPath); {
				case err == nil && !fi.Mode().IsRegular():
					return fmt.Errorf("--spec %s is %s; graft writes only regular files, and would replace it: name a file with --spec", e.specPath, boundedio.FileKind(fi.Mode()))
				case err == nil && !*force:
					return fmt.Errorf("%s already exists; pass --force to overwrite it, or --spec to write elsewhere", e.specPath)
				case err != nil && !errors.Is(err, os.ErrNotExist):
					return err
				}
				if err := atomic.WriteFile(e.specPath, data, 0o644); err != nil {
					return err
				}
				e.log.Info("example spec written; edit it, then run graft discover", "spec", e.specPath)
				return nil
			}
		},
	}
}
