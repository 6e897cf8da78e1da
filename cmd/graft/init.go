package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/atomic"
	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/termtext"
	"github.com/graftctl/graft/templates"
)

func initCommand() *command {
	return &command{
		name:    "init",
		summary: "write a fully commented example spec (graft.yaml)",
		usage:   "init [--force]",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			force := fs.Bool("force", false, "overwrite an existing spec")
			return func(ctx context.Context, e *env, args []string) error {
				data, err := templates.Raw(templates.ExampleSpec)
				if err != nil {
					return err
				}
				// What is no file (a directory, a device) is never
				// overwritten: --force would not help, so it is not offered.
				switch fi, err := os.Stat(e.specPath); {
				case err == nil && !fi.Mode().IsRegular():
					return fmt.Errorf("--spec %s is %s; graft writes only regular files, and would replace it: name a file with --spec", termtext.Value(e.specPath), boundedio.FileKind(fi.Mode()))
				case err == nil && !*force:
					return fmt.Errorf("%s already exists; pass --force to overwrite it, or --spec to write elsewhere", termtext.Value(e.specPath))
				case err == nil:
					if what := graftData(ctx, e.specPath); what != "" {
						return fmt.Errorf("--spec %s is %s; graft init never overwrites it, --force or not: name another file with --spec", termtext.Value(e.specPath), what)
					}
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

// graftData names what the file at path is when it is data graft wrote
// that nothing else holds: a record (the only list of the volumes a clone
// created) or an inventory (what the reviewer saw); "" otherwise.
func graftData(ctx context.Context, path string) string {
	if rec, err := record.Load(path); err == nil {
		return fmt.Sprintf("the record of migration %q", rec.Migration)
	}
	if inv, err := ebs.LoadInventory(ctx, path); err == nil && inv != nil {
		return fmt.Sprintf("the inventory of migration %q", inv.Migration)
	}
	return ""
}
