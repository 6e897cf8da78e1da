package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// newEC2Client builds the EC2 client of one region and the clock the
// engine waits on. It is a variable only so that the command tests can put
// graft's EC2 simulator (and its virtual clock) behind the CLI; production
// always uses ebs.NewClient (the SDK's standard chain, and
// AWS_ENDPOINT_URL_EC2 for emulators) and the wall clock.
var newEC2Client = func(ctx context.Context, log *slog.Logger, region string, counter *ebs.CallCounter) (ebs.EC2, ebs.Clock, error) {
	c, err := ebs.NewClient(ctx, ebs.ClientOptions{Region: region, Counter: counter, Log: log})
	return c, ebs.WallClock{}, err
}

// newEngine loads the spec and builds its engine (engineFor).
func newEngine(ctx context.Context, e *env) (*spec.Migration, *ebs.Engine, *ebs.CallCounter, error) {
	m, err := e.loadSpec(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	eng, counter, err := engineFor(ctx, e, m)
	return m, eng, counter, err
}

// engineFor builds the engine of m with clients for the source and (if
// different) target regions. A command that reads more local input than
// the spec (graft cleanup's record) reads it first, so that a bad file is
// reported before anything asks for AWS credentials.
func engineFor(ctx context.Context, e *env, m *spec.Migration) (*ebs.Engine, *ebs.CallCounter, error) {
	counter := ebs.NewCallCounter()
	src, clock, err := newEC2Client(ctx, e.log, m.Spec.Source.Region, counter)
	if err != nil {
		return nil, nil, err
	}
	dst := src
	if m.Spec.Target.Region != m.Spec.Source.Region {
		if dst, _, err = newEC2Client(ctx, e.log, m.Spec.Target.Region, counter); err != nil {
			return nil, nil, err
		}
	}
	opts := ebs.Options{Source: src, Target: dst, Clock: clock, Log: e.log}
	if m.Spec.Target.CrossAccount() {
		if opts.Target, opts.SourceKMS, opts.TargetKMS, err = newCrossAccountClients(ctx, e.log, m, counter); err != nil {
			return nil, nil, err
		}
	}
	if ep := ebs.EndpointOverride(); ep != "" {
		e.log.Info("using the EC2 endpoint from the environment", "endpoint", ep)
	}
	return ebs.New(m, opts), counter, nil
}

// newCrossAccountClients builds, for spec.target.account, the target
// account's EC2 client (its profile or role) and both accounts' KMS
// clients. Like newEC2Client, a variable only for the command tests.
var newCrossAccountClients = func(ctx context.Context, log *slog.Logger, m *spec.Migration, counter *ebs.CallCounter) (ebs.EC2, ebs.KMS, ebs.KMS, error) {
	acct := m.Spec.Target.Account
	// The target must be another account than the source credentials'.
	switch id, err := ebs.CallerAccount(ctx, ebs.ClientOptions{Region: m.Spec.Source.Region, Log: log}); {
	case err != nil:
		return nil, nil, nil, err
	case id == acct.ID:
		return nil, nil, nil, fmt.Errorf("%w: spec.target.account.id %s is the account of the source credentials: within one account leave spec.target.account out", ebs.ErrInput, acct.ID)
	}
	dst, err := ebs.NewClient(ctx, ebs.ClientOptions{Region: m.Spec.Target.Region, Counter: counter, Log: log, Account: acct})
	if err != nil {
		return nil, nil, nil, err
	}
	srcKMS, err := ebs.NewKMSClient(ctx, ebs.ClientOptions{Region: m.Spec.Source.Region, Log: log})
	if err != nil {
		return nil, nil, nil, err
	}
	dstKMS, err := ebs.NewKMSClient(ctx, ebs.ClientOptions{Region: m.Spec.Target.Region, Log: log, Account: acct})
	if err != nil {
		return nil, nil, nil, err
	}
	log.Info("target account", "account", acct.ID, "credentials", map[bool]string{true: "profile " + acct.Profile, false: "role " + acct.RoleARN}[acct.Profile != ""])
	return dst, srcKMS, dstKMS, nil
}

func discoverCommand() *command {
	return &command{
		name:    "discover",
		locks:   true,
		summary: "find the legacy instances and their data volumes, and write the inventory",
		usage:   "discover [-o text|json]",
		outputs: []string{"text", "json"},
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				_, eng, _, err := newEngine(ctx, e)
				if err != nil {
					return err
				}
				inv, err := eng.Discover(ctx)
				if err != nil {
					return err
				}
				path := ebs.InventoryPath(e.specPath)
				if _, err := savedInventory(ctx, path, inv.Migration); err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("interrupted; %s was not written: %w", termtext.Value(path), err)
				}
				if err := inv.WriteFile(path); err != nil {
					return fmt.Errorf("write inventory: %w", err)
				}
				e.log.Info("inventory written", "path", path, "members", len(inv.Members))
				if e.output == "json" {
					return inv.WriteJSON(e.stdout)
				}
				return inv.WriteText(e.stdout)
			}
		},
	}
}

// discoverAndCompare discovers live and compares with the inventory that
// `graft discover` saved, if any. plan and clone always re-discover,
// because the source is live; the saved file is what a reviewer saw.
func discoverAndCompare(ctx context.Context, e *env, eng *ebs.Engine) (*ebs.Inventory, []string, error) {
	inv, err := eng.Discover(ctx)
	if err != nil {
		return nil, nil, err
	}
	saved, err := savedInventory(ctx, ebs.InventoryPath(e.specPath), inv.Migration)
	if err != nil {
		return nil, nil, err
	}
	if saved == nil {
		return inv, nil, nil
	}
	return inv, inv.Diff(saved), nil
}

// savedInventory is the inventory saved at path, nil if there is none. One
// of another migration is refused: two specs in one directory share the
// file (as they share graft.lock), and it is neither what this
// migration's reviewer saw nor graft's to overwrite.
func savedInventory(ctx context.Context, path, migration string) (*ebs.Inventory, error) {
	saved, err := ebs.LoadInventory(ctx, path)
	if err != nil || saved == nil {
		return saved, err
	}
	if saved.Migration != migration {
		return nil, fmt.Errorf("%s is the inventory of migration %q, not %q: two specs in one directory share it, and graft never replaces another migration's files; give each spec a directory of its own", termtext.Value(path), saved.Migration, migration)
	}
	return saved, nil
}
