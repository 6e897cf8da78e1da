// The plan of a cross-account migration: the share copies and shares per
// member, and the steps, calls and mutating-bucket floor per account.

package ebs

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/snaptime"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// PlanAccount is one account's part of a cross-account plan.
type PlanAccount struct {
	// Side is "source" or "target"; Account the target's id ("" for the
	// source, whose credentials come from the standard chain).
	Side    string `json:"side"`
	Account string `json:"account,omitempty"`
	Region  string `json:"region"`
	// Steps are the account's steps, in order.
	Steps []string `json:"steps"`
	// Budget is the account's part of Plan.Calls, the time its own
	// mutating bucket imposes on them, and the time of its steps in each
	// phase: the source's snapshots and share copies come before the
	// target's copies and volumes.
	Budget
}

// xPlan counts a cross-account plan's calls that are the source's, and
// the time each account's steps take per phase (the longest member's).
type xPlan struct {
	shareCopies, shares, attrChecks, srcSettle, srcDryRun int
	srcPrecopy, srcFinal, dstPrecopy, dstFinal            time.Duration
}

// time records a member's time left in each account in a phase.
func (x *xPlan) time(phase string, src, dst time.Duration) {
	if phase == spec.PhasePrecopy {
		x.srcPrecopy, x.dstPrecopy = max(x.srcPrecopy, src), max(x.dstPrecopy, dst)
		return
	}
	x.srcFinal, x.dstFinal = max(x.srcFinal, src), max(x.dstFinal, dst)
}

// shareActions adds a member's share copies and shares of a phase (a
// cross-account migration) and returns the time of the longest share copy
// left.
func (pl *planner) shareActions(pm *PlanMember, d *memberDecision, phase string, toCreate, calls map[string]int) time.Duration {
	e := pl.e
	if !e.crossAccount() {
		return 0
	}
	acct := e.targetAccount()
	var left time.Duration
	for _, c := range d.shareCopies {
		a := Action{Phase: phase, Role: ownership.RoleShareCopy, Op: "CopySnapshot", ClaimTemplate: c.d.ClaimTemplate, SourceVolume: c.d.VolumeID,
			Detail: fmt.Sprintf("copy of the %s snapshot of %s in the source account under %s (it is encrypted with aws/ebs, which cannot be shared)", phase, c.d.VolumeID, e.shareKMSKey())}
		if pl.tally(&a, ownership.RoleShareCopy, snapshotID(c.exists), toCreate) {
			calls["CopySnapshot"]++
			pl.x.shareCopies++
			left = max(left, snaptime.Copy(c.d.SizeGiB, false))
		}
		pm.Actions = append(pm.Actions, a)
	}
	if len(d.shareCopies) > 0 {
		pl.settleSnaps += 2
		pl.x.srcSettle += 2
	}
	for _, c := range d.copies {
		// The share check before the target copy, and the removal check
		// after it: of the snapshot, and of its share copy.
		n := 1
		if e.needsShareCopy(c.d) {
			n = 2
		}
		calls["DescribeSnapshotAttribute"] += 1 + n
		pl.x.attrChecks += 1 + n
		if c.exists != nil && c.exists.State == types.SnapshotStateCompleted {
			continue
		}
		toCreate[roleShare]++
		calls["ModifySnapshotAttribute"] += 2
		pl.x.shares += 2
		what := "snapshot"
		if n == 2 {
			what = "share copy"
		}
		pm.Actions = append(pm.Actions, Action{Phase: phase, Role: roleShare, Op: "ModifySnapshotAttribute", ClaimTemplate: c.d.ClaimTemplate, SourceVolume: c.d.VolumeID,
			Detail: fmt.Sprintf("share the %s %s of %s with account %s (createVolumePermission), removed once its copy there completed", phase, what, c.d.VolumeID, acct)})
	}
	return left
}

// accounts splits the plan by account (cross-account only): pollCalls is
// one side's DescribeSnapshots calls of polling.
func (pl *planner) accounts(inv *Inventory, pollCalls int) {
	e, p, s := pl.e, pl.p, &pl.e.m.Spec
	if !e.crossAccount() {
		return
	}
	// The KMS checks (checkShareKeys): DescribeKey of each source key (and
	// of shareKmsKeyId), GetKeyPolicy and ListGrants of each shared key in
	// the source; DescribeKey of each shared key in the target.
	srcDescribe, shared := 0, map[string]bool{}
	for _, k := range e.xkeys {
		srcDescribe++
		if k.awsManaged {
			srcDescribe++
		}
		shared[k.shared] = true
	}
	if e.opts.SourceKMS != nil {
		p.Calls["kms:DescribeKey"] += srcDescribe
		p.Calls["kms:GetKeyPolicy"] += len(shared)
		p.Calls["kms:ListGrants"] += len(shared)
	}
	if e.opts.TargetKMS != nil {
		p.Calls["kms:DescribeKey"] += len(shared)
	}
	src := map[string]int{}
	for _, op := range []string{"CreateSnapshot", "CreateSnapshots", "ModifySnapshotAttribute", "DescribeSnapshotAttribute", "DescribeInstances", "kms:GetKeyPolicy", "kms:ListGrants"} {
		if n := p.Calls[op]; n > 0 {
			src[op] = n
		}
	}
	src["CopySnapshot"] = pl.x.shareCopies
	src["DescribeSnapshots"] = pollCalls + pl.x.srcSettle
	src["DescribeAvailabilityZones"] = 1
	src["kms:DescribeKey"] = srcDescribe
	src["DryRun"] = pl.x.srcDryRun
	if e.opts.SourceKMS == nil {
		delete(src, "kms:DescribeKey")
	}
	dst := map[string]int{}
	for op, n := range p.Calls {
		if m := n - src[op]; m > 0 {
			dst[op] = m
		}
	}
	for op, n := range src {
		if n <= 0 {
			delete(src, op)
		}
	}
	acct := s.Target.Account
	srcSteps, dstSteps := pl.accountSteps()
	p.Accounts = []PlanAccount{
		{Side: "source", Region: s.Source.Region, Steps: srcSteps, Budget: e.accountBudget(src, pl.x.srcPrecopy, pl.x.srcFinal)},
		{Side: "target", Account: acct.ID, Region: s.Target.Region, Steps: dstSteps, Budget: e.accountBudget(dst, pl.x.dstPrecopy, pl.x.dstFinal)},
	}
	// Each account has its own bucket: the floor is the larger account's,
	// not that of all calls together.
	if f := max(p.Accounts[0].MutatingFloor, p.Accounts[1].MutatingFloor); f < p.MutatingFloor {
		if p.Final > 0 {
			p.Final = Duration((time.Duration(p.Final) - time.Duration(p.MutatingFloor-f)).Round(time.Second))
		}
		p.MutatingFloor = f
	}
	p.Warnings = append(p.Warnings, fmt.Sprintf("cross-account: the snapshots are shared with account %s only while it copies them; the first copy into it is a full copy (and a re-encrypting share copy, when there is one, too)", acct.ID))
}

// accountBudget is one account's budget: its calls, the floor its own
// mutating bucket imposes on them, and the time of its steps.
func (e *Engine) accountBudget(calls map[string]int, precopy, final time.Duration) Budget {
	return Budget{Calls: calls, MutatingFloor: Duration(bucketFloor(mutatingCalls(calls), e.limits)),
		Precopy: Duration(precopy.Round(time.Second)), Final: Duration(final.Round(time.Second))}
}

// mutatingCalls counts the calls of c that draw on EC2's mutating bucket.
func mutatingCalls(c map[string]int) int {
	n := 0
	for _, op := range []string{"CreateSnapshot", "CreateSnapshots", "CopySnapshot", "ModifySnapshotAttribute", "CreateVolume", "EnableFastSnapshotRestores", "DisableFastSnapshotRestores", "CreateTags", "DryRun"} {
		n += c[op]
	}
	return n
}

// accountSteps are the steps of a cross-account migration in the source
// and in the target account, as the plan lists them.
func (pl *planner) accountSteps() (src, dst []string) {
	e, p, s := pl.e, pl.p, &pl.e.m.Spec
	acct := s.Target.Account
	src = []string{"snapshot each data volume (CreateSnapshots per instance, or CreateSnapshot)"}
	if pl.x.shareCopies > 0 || p.Existing[ownership.RoleShareCopy] > 0 {
		src = append(src, "copy each snapshot under "+e.shareKMSKey()+" (CopySnapshot): the source volumes use aws/ebs, which cannot be shared")
	}
	src = append(src,
		"check the shared key admits account "+acct.ID+" (kms:DescribeKey, kms:GetKeyPolicy, kms:ListGrants; graft never changes a key)",
		"share each snapshot with account "+acct.ID+" (ModifySnapshotAttribute add createVolumePermission, after DescribeSnapshotAttribute)",
		"remove each share once the target's copy completed (ModifySnapshotAttribute remove)")
	dst = []string{
		"check the shared key is usable from account " + acct.ID + " (kms:DescribeKey)",
		"copy each shared snapshot under " + cmp.Or(s.Target.CopyKMSKeyID(), "the account's default EBS key") + " (CopySnapshot)",
		"create each volume in its target zone from the copy (CreateVolume)",
	}
	if p.Calls["EnableFastSnapshotRestores"] > 0 {
		dst = append(dst, "fast snapshot restore on each copy until its volume exists (Enable/DisableFastSnapshotRestores)")
	}
	return src, dst
}

// writeAccounts writes the per-account part of the plan.
func (p *Plan) writeAccounts(w io.Writer) {
	for _, a := range p.Accounts {
		who := "source account"
		if a.Side == "target" {
			who = "target account " + a.Account
		}
		fmt.Fprintf(w, "  %s (%s): %s; precopy ~%s, final ~%s; mutating-bucket floor %s\n", termtext.Line(who), termtext.Value(a.Region), FormatCounts(a.Calls), time.Duration(a.Precopy), time.Duration(a.Final), time.Duration(a.MutatingFloor))
		for i, st := range a.Steps {
			fmt.Fprintf(w, "    %d. %s\n", i+1, termtext.Line(st))
		}
	}
}

// srcDryRuns counts the DryRun proofs made in the source account.
func srcDryRuns(checks []dryRunCheck) int {
	n := 0
	for _, c := range checks {
		if strings.HasPrefix(c.what, "CreateSnapshot") || strings.HasPrefix(c.what, "ModifySnapshotAttribute") || strings.Contains(c.what, "(share copy)") {
			n++
		}
	}
	return n
}
