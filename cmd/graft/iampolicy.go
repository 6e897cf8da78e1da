package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/ebs"
)

func iamPolicyCommand() *command {
	return &command{
		name:    "iam-policy",
		summary: "print the least-privilege IAM policy graft needs for the spec (one per account across accounts)",
		usage:   "iam-policy",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				m, err := e.loadSpec(ctx)
				if err != nil {
					return err
				}
				if m.Spec.Target.CrossAccount() {
					// One policy per account, and the statement the shared
					// key's policy needs (see README, Cross-account migrations).
					return ebs.CrossAccountIAMPolicies(m).WriteJSON(e.stdout)
				}
				return ebs.IAMPolicy(m).WriteJSON(e.stdout)
			}
		},
	}
}
