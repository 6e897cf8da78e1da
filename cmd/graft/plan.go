package main

import (
	"context"

	"github.com/spf13/pflag"
)

func planCommand() *command {
	return &command{
		name:    "plan",
		summary: "show every snapshot, copy and volume clone would create; changes nothing",
		usage:   "plan [-o text|json]",
		outputs: []string{"text", "json"},
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				_, eng, _, err := newEngine(ctx, e)
				if err != nil {
					return err
				}
				inv, diffs, err := discoverAndCompare(ctx, e, eng)
				if err != nil {
					return err
				}
				p, err := eng.Plan(ctx, inv)
				if err != nil {
					return err
				}
				for _, d := range diffs {
					p.Warnings = append(p.Warnings, "the source changed since graft discover: "+d+" (re-run graft discover)")
				}
				if e.output == "json" {
					return p.WriteJSON(e.stdout)
				}
				return p.WriteTextColor(e.stdout, e.colorOut)
			}
		},
	}
}
