// Preflight and dry run: the checks clone makes before it creates anything.

package ebs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// preflight proves, with EC2 DryRun, each kind of mutating call the phase
// will make, before anything is created: missing permissions, an unusable
// KMS key or a wrong zone stop the run here.
func (e *Engine) preflight(ctx context.Context, inv *Inventory, x *existing, phase string) error {
	checks := e.dryRunChecks(inv, x, phase)
	var fails []string
	for _, c := range checks {
		err := c.call(ctx)
		switch code := errorCode(err); {
		case code == "DryRunOperation":
			e.log.Debug("dry run ok", "call", c.what)
		case err == nil:
			fails = append(fails, fmt.Sprintf("%s: EC2 ignored DryRun and answered without error; not proven", c.what))
		default:
			fails = append(fails, fmt.Sprintf("%s: %s", c.what, dryRunHint(err)))
		}
	}
	if len(fails) > 0 {
		slices.Sort(fails)
		for i, f := range fails {
			fails[i] = termtext.Line(f) // one line a call: EC2's words
		}
		return fmt.Errorf("%w (nothing was created):\n  - %s", ErrDryRun, strings.Join(fails, "\n  - "))
	}
	return nil
}

// DryRun runs only the DryRun checks and reports what they proved.
func (e *Engine) DryRun(ctx context.Context, inv *Inventory, phase string) ([]string, error) {
	if err := e.checkShareKeys(ctx, inv); err != nil {
		return nil, err
	}
	x, err := e.lookup(ctx)
	if err != nil {
		return nil, err
	}
	var proved []string
	for _, c := range e.dryRunChecks(inv, x, phase) {
		proved = append(proved, c.what)
	}
	if err := e.preflight(ctx, inv, x, phase); err != nil {
		return nil, err
	}
	return proved, nil
}

func dryRunHint(err error) string {
	code := errorCode(err)
	msg := err.Error()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg = ae.ErrorMessage()
	}
	switch {
	case strings.Contains(code, "KMS") || strings.Contains(code, "Kms") || strings.Contains(strings.ToLower(msg), "kms"):
		return fmt.Sprintf("%s: %s (check spec.target.volume.kmsKeyId: the key must exist in the target region, be enabled, and its policy must let this principal use it through EC2)", code, msg)
	case code == "UnauthorizedOperation" || code == "AccessDenied":
		return fmt.Sprintf("%s: %s (see graft iam-policy)", code, msg)
	case code != "":
		return code + ": " + msg
	}
	return msg
}

type dryRunCheck struct {
	what string
	call func(ctx context.Context) error
}

// dryRunChecks are the DryRun proofs of a phase: the calls the members'
// decisions (decide) will make, with the very inputs clone sends, one per
// kind (operation, and for copies and volumes their encryption and key,
// zone and parameters). A copy needs a completed snapshot to name: the
// phase's when it exists, else the precopy one (same key and encryption);
// a volume is proved without its snapshot, which may not exist yet.
func (e *Engine) dryRunChecks(inv *Inventory, x *existing, phase string) []dryRunCheck {
	r := &dryRuns{seen: map[string]bool{}}
	for _, mb := range inv.Members {
		d := e.decide(inv, mb, x, phase)
		e.snapshotDryRuns(r, mb, d)
		e.copyDryRuns(r, mb, d, x, phase)
		e.volumeDryRuns(r, d)
	}
	return r.checks
}

// dryRuns collects one proof per kind of call.
type dryRuns struct {
	checks []dryRunCheck
	seen   map[string]bool
}

func (r *dryRuns) add(kind, what string, call func(ctx context.Context) error) {
	if !r.seen[kind] {
		r.seen[kind] = true
		r.checks = append(r.checks, dryRunCheck{what, call})
	}
}

func (e *Engine) snapshotDryRuns(r *dryRuns, mb Member, d *memberDecision) {
	if d.multi != nil {
		in := *d.multi
		in.DryRun = aws.Bool(true)
		r.add("CreateSnapshots", "CreateSnapshots on "+mb.Instance, func(ctx context.Context) error {
			_, err := e.src.CreateSnapshots(ctx, &in)
			return err
		})
	}
	for _, st := range d.snaps {
		if st.create == nil {
			continue
		}
		in := *st.create
		in.DryRun = aws.Bool(true)
		r.add("CreateSnapshot", "CreateSnapshot of "+st.d.VolumeID, func(ctx context.Context) error {
			_, err := e.src.CreateSnapshot(ctx, &in)
			return err
		})
	}
}

func (e *Engine) copyDryRuns(r *dryRuns, mb Member, d *memberDecision, x *existing, phase string) {
	e.copyStepDryRuns(r, mb, d.shareCopies, e.src, "share copy", x, phase)
	if e.crossAccount() {
		// The target account cannot name a snapshot not yet shared with
		// it; checkShareKeys proved its keys instead. The share is proved
		// on a snapshot of the migration that exists.
		e.shareDryRuns(r, mb, x, phase)
		return
	}
	e.copyStepDryRuns(r, mb, d.copies, e.dst, "", x, phase)
}

func (e *Engine) copyStepDryRuns(r *dryRuns, mb Member, steps []copyStep, client *api, label string, x *existing, phase string) {
	for _, c := range steps {
		if c.create == nil {
			continue
		}
		in := *c.create
		in.DryRun = aws.Bool(true)
		src := ""
		for _, k := range []string{snapKey(ownership.RoleSnapshot, mb.Key(), phase, c.d.VolumeID), snapKey(ownership.RoleSnapshot, mb.Key(), spec.PhasePrecopy, c.d.VolumeID)} {
			if s, ok := x.snap(k); ok && s.State == types.SnapshotStateCompleted {
				src = aws.ToString(s.SnapshotId)
				break
			}
		}
		if src == "" {
			continue
		}
		in.SourceSnapshotId = aws.String(src)
		kind := fmt.Sprintf("CopySnapshot %s %t %s", label, aws.ToBool(in.Encrypted), aws.ToString(in.KmsKeyId))
		what := "CopySnapshot of " + src + " to " + e.m.Spec.Target.Region
		if label != "" {
			what = "CopySnapshot (" + label + ") of " + src + " in " + e.m.Spec.Source.Region
		}
		if in.KmsKeyId != nil {
			what += " with KMS key " + aws.ToString(in.KmsKeyId)
		}
		r.add(kind, what, func(ctx context.Context) error {
			_, err := client.CopySnapshot(ctx, &in)
			return err
		})
	}
}

func (e *Engine) volumeDryRuns(r *dryRuns, d *memberDecision) {
	for _, v := range d.vols {
		if v.tag != nil && !v.refused() {
			in := *v.tag
			in.DryRun = aws.Bool(true)
			r.add("CreateTags", "CreateTags "+spec.FormatTags(tagMap(in.Tags))+" on "+in.Resources[0], func(ctx context.Context) error {
				_, err := e.dst.CreateTags(ctx, &in)
				return err
			})
		}
		if v.create == nil {
			continue
		}
		in := *v.create
		in.SnapshotId = nil
		in.VolumeInitializationRate = nil
		in.DryRun = aws.Bool(true)
		p := v.params
		kind := fmt.Sprintf("CreateVolume %s %s %d %d %t %s", p.Zone, p.Type, p.IOPS, p.Throughput, p.Encrypted, aws.ToString(in.KmsKeyId))
		what := fmt.Sprintf("CreateVolume %s in %s", p.Type, p.Zone)
		if in.KmsKeyId != nil {
			what += " with KMS key " + aws.ToString(in.KmsKeyId)
		}
		r.add(kind, what, func(ctx context.Context) error {
			_, err := e.dst.CreateVolume(ctx, &in)
			return err
		})
	}
}
