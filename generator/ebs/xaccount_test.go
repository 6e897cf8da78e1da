package ebs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/spec"
)

const xTarget = "111122223333"

// xEnv is a cross-account migration on the simulator: the legacy cluster
// in the source account (simEnv's), the EKS side in xTarget.
type xEnv struct {
	*simEnv
	dst              *ec2sim.Sim
	shareKey, dstKey string
	// noSourceKMS runs the engine without a source KMS client.
	noSourceKMS bool
}

// xCase: the source volumes are encrypted with the aws/ebs key (cmk "")
// or with a customer-managed key of the source account.
type xCase struct {
	simCase
	// SourceCMK encrypts the source volumes with a customer-managed key
	// whose policy admits the target (instead of aws/ebs).
	SourceCMK bool
	// ShareKey overrides the share key's spec (nil: admits the target).
	ShareKey *ec2sim.KeySpec
	// NoShareKey leaves spec.target.account.shareKmsKeyId unset.
	NoShareKey bool
	// TargetRegion puts the target account in another region.
	TargetRegion string
}

func newXSim(t testing.TB, c xCase) *xEnv {
	t.Helper()
	x := &xEnv{}
	extra := c.ExtraSpec
	c.ExtraSpec = func(y string) string {
		acct := fmt.Sprintf("    account:\n      id: '%s'\n      profile: eks\n      kmsKeyId: %s\n", xTarget, x.dstKey)
		if !c.NoShareKey {
			acct += "      shareKmsKeyId: " + x.shareKey + "\n"
		}
		y = strings.Replace(y, "  target:\n", "  target:\n"+acct, 1)
		if extra != nil {
			y = extra(y)
		}
		return y
	}
	// prep makes the keys and the target account before newSimWith
	// parses the spec, which names them.
	x.simEnv = newSimWith(t, c.simCase, func(sim *ec2sim.Sim) string {
		ks := ec2sim.KeySpec{Alias: "alias/graft-share", AllowAccounts: []string{xTarget}}
		if c.ShareKey != nil {
			ks = *c.ShareKey
		}
		x.shareKey = sim.AddKMSKey(ks)
		region := c.TargetRegion
		if region == "" {
			region = "us-east-1"
		}
		x.dst = sim.NewAccount(xTarget, region)
		x.dstKey = x.dst.AddKMSKey(ec2sim.KeySpec{Alias: "alias/eks-ebs"})
		if c.SourceCMK {
			return sim.AddKMSKey(ec2sim.KeySpec{AllowAccounts: []string{xTarget}})
		}
		return ""
	})
	t.Cleanup(func() { assertSourceUntouched(t, x.dst, x.cl) })
	return x
}

func (x *xEnv) opts(o *ebs.Options) {
	o.Target = x.dst
	if !x.noSourceKMS {
		o.SourceKMS = x.sim.KMS()
	}
	o.TargetKMS = x.dst.KMS()
}

func (x *xEnv) cloneX(ctx context.Context, phase string) (*ebs.CloneResult, error) {
	return x.clone(ctx, phase, x.opts)
}

func (x *xEnv) cloneAllX(ctx context.Context) error { return x.cloneAll(ctx, x.opts) }

// assertXEndState: in the source account one snapshot per source volume
// and phase (and one share copy when the volumes use aws/ebs), none
// shared, no volume made; in the target account one copy per source
// volume and phase, one volume per member and template, each in the record
// and encrypted with the target's key; nothing else in either.
func (x *xEnv) assertXEndState(shareCopies bool) {
	t := x.t
	t.Helper()
	rec := x.finishedRecord()
	data := len(x.cl.DataVolumeIDs())
	srcIDs := assertOneSnapshotEach(t, x.sim, map[string]bool{ownership.RoleSnapshot: true, ownership.RoleShareCopy: shareCopies}, data)
	dstIDs := assertOneSnapshotEach(t, x.dst, map[string]bool{ownership.RoleCopy: true}, data)
	if sh := x.sim.Shares(); len(sh) > 0 {
		t.Errorf("shares left in the source account: %v", sh)
	}
	if leaked := x.sim.Leaked(srcIDs...); len(leaked) > 0 {
		t.Errorf("leaked in the source account (no volume is made there): %v", leaked)
	}
	for _, v := range rec.Volumes {
		if v.KMSKeyID != x.dstKey || v.CopiedSnapshot == "" {
			t.Errorf("record volume %s: key %s (want the target's %s), copy %q", v.TargetVolume, v.KMSKeyID, x.dstKey, v.CopiedSnapshot)
		}
	}
	refIDs := assertOneVolumeEach(t, x.dst, rec, data)
	if leaked := x.dst.Leaked(append(refIDs, dstIDs...)...); len(leaked) > 0 {
		t.Errorf("leaked in the target account: %v", leaked)
	}
	x.assertSourceSnapshotsOnlyShared()
}

// assertSourceSnapshotsOnlyShared is the source-untouched audit of the
// snapshots graft made in the source account: after its create, the only
// mutating calls on each are the share and its removal
// (ModifySnapshotAttribute) and, for its own duplicates, DeleteSnapshot.
func (x *xEnv) assertSourceSnapshotsOnlyShared() {
	t := x.t
	t.Helper()
	created := map[string]bool{}
	for _, c := range x.sim.Calls() {
		if !c.Mutating || c.DryRun {
			continue
		}
		switch c.Op {
		case ec2sim.OpCreateSnapshot, ec2sim.OpCreateSnapshots, ec2sim.OpCopySnapshot:
			for _, id := range c.Writes {
				created[id] = true
			}
		case ec2sim.OpModifySnapshotAttribute, ec2sim.OpDeleteSnapshot:
		default:
			t.Errorf("mutating call %s in the source account writes %v", c.Op, c.Writes)
		}
	}
	for _, c := range x.sim.Calls() {
		if c.Op == ec2sim.OpModifySnapshotAttribute {
			for _, id := range c.Writes {
				if !created[id] {
					t.Errorf("ModifySnapshotAttribute on %s, which graft did not create", id)
				}
			}
		}
	}
}

func TestSimCrossAccountBothPhases(t *testing.T) {
	x := newXSim(t, xCase{simCase: simCase{Nodes: 3, Devices: 2, NoHook: true}})
	ctx := ctxT(t, 30*time.Second)
	if err := x.cloneAllX(ctx); err != nil {
		t.Fatal(err)
	}
	x.assertXEndState(true)
	n := 0
	for _, c := range x.sim.Calls() {
		if c.Op == ec2sim.OpModifySnapshotAttribute && !c.DryRun {
			n++
		}
	}
	if n != 2*2*6 {
		t.Errorf("%d ModifySnapshotAttribute calls, want a share and its removal per share copy (24)", n)
	}
	// A third run changes nothing.
	before := x.sim.ProcessMutations()
	res, err := x.cloneX(ctx, spec.PhaseFinal)
	if err != nil || len(res.Created) != 0 || x.sim.ProcessMutations() != before {
		t.Errorf("re-run: %v, created %v, mutations %d -> %d", err, res.Created, before, x.sim.ProcessMutations())
	}
}

// TestSimCrossAccountKillAtEveryStep crashes the process right after each
// state-changing call of the cross-account flow in turn (in either
// account: the snapshot, the share copy, the share, the target copy, the
// unshare, the volume, fast snapshot restore), re-runs it, and checks the
// end state: 0 duplicates, 0 leaks, no share left, the source untouched.
func TestSimCrossAccountKillAtEveryStep(t *testing.T) {
	c := xCase{simCase: simCase{Nodes: 2, Devices: 2, FSR: true, Snapshot: 2 * time.Minute}}
	ref := newXSim(t, c)
	if err := ref.cloneAllX(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	ref.assertXEndState(true)
	steps := ref.sim.ProcessMutations()
	byAcct, total := map[string]int{}, 0
	for _, s := range []*ec2sim.Sim{ref.sim, ref.dst} {
		for _, call := range s.Calls() {
			if call.Mutated {
				byAcct[s.AccountID()+" "+call.Op]++
				total++
			}
		}
	}
	t.Logf("%d state-changing steps: %v", steps, byAcct)
	for _, op := range []string{"123456789012 CreateSnapshots", "123456789012 CopySnapshot", "123456789012 ModifySnapshotAttribute", xTarget + " CopySnapshot", xTarget + " CreateVolume", xTarget + " EnableFastSnapshotRestores"} {
		if byAcct[op] == 0 {
			t.Fatalf("the reference run made no %s: %v", op, byAcct)
		}
	}
	if steps != total {
		t.Fatalf("%d process mutations, %d in the two accounts' logs", steps, total)
	}
	for k := 1; k <= steps; k++ {
		t.Run(fmt.Sprintf("after_%02d", k), func(t *testing.T) {
			t.Parallel()
			x := newXSim(t, c)
			ctx := ctxT(t, 60*time.Second)
			x.killAndResume(t, k, func() error { return x.cloneAllX(ctx) })
			x.assertXEndState(true)
			if d := append(x.sim.Duplicates(ownership.TagMember, ownership.TagRole, ownership.TagPhase, ownership.TagSourceVolume), x.dst.Duplicates(ownership.TagMember, ownership.TagRole, ownership.TagPhase, ownership.TagClaimTemplate)...); len(d) > 0 {
				t.Errorf("duplicates: %v", d)
			}
		})
	}
}

// TestSimCrossAccountCustomerKey: source volumes encrypted with a
// customer-managed key that admits the target are shared as they are (no
// share copy).
func TestSimCrossAccountCustomerKey(t *testing.T) {
	x := newXSim(t, xCase{simCase: simCase{Nodes: 2, Devices: 1, NoHook: true}, SourceCMK: true})
	if err := x.cloneAllX(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	x.assertXEndState(false)
	if n := x.sim.Count(ec2sim.OpCopySnapshot); n != 0 {
		t.Errorf("%d copies in the source account, want none", n)
	}
}

// TestSimCrossAccountKeyProblems: every key the target cannot use stops the
// run before anything is created, with the key, the account and what is
// missing; graft never changes a key.
func TestSimCrossAccountKeyProblems(t *testing.T) {
	partial := &ec2sim.KeySpec{AllowAccounts: []string{xTarget}, AllowActions: []string{"kms:Decrypt", "kms:DescribeKey", "kms:ReEncrypt*", "kms:GenerateDataKey*"}}
	cases := []struct {
		name string
		c    xCase
		want []string
		// grant fixes it: a grant of the missing operations to the target.
		grant bool
	}{
		{"aws/ebs without a share key", xCase{NoShareKey: true}, []string{"AWS-managed aws/ebs key", "spec.target.account.shareKmsKeyId", xTarget}, false},
		{"share key without the target", xCase{ShareKey: &ec2sim.KeySpec{}}, []string{"neither its key policy nor a grant allows account " + xTarget, "kms:CreateGrant", "kms:Decrypt", "arn:aws:iam::" + xTarget + ":root"}, true},
		{"missing grant", xCase{ShareKey: partial}, []string{"allows account " + xTarget + " kms:CreateGrant;"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.simCase = simCase{Nodes: 1, Devices: 1, NoHook: true}
			x := newXSim(t, tc.c)
			ctx := ctxT(t, 30*time.Second)
			_, err := x.cloneX(ctx, spec.PhasePrecopy)
			if err == nil || !errors.Is(err, ebs.ErrInput) {
				t.Fatalf("want an input error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := x.sim.ProcessMutations(); n != 0 {
				t.Errorf("%d state changes before the key check failed", n)
			}
			// Plan says the same, and changes nothing either.
			eng := x.engine(x.opts)
			if _, perr := eng.Plan(ctx, discover(t, ctx, eng)); perr == nil || !strings.Contains(perr.Error(), tc.want[0]) {
				t.Errorf("plan: %v", perr)
			}
			if !tc.grant {
				return
			}
			if err := x.sim.GrantKMSKey(x.shareKey, xTarget); err != nil {
				t.Fatal(err)
			}
			if _, err := x.cloneX(ctx, spec.PhasePrecopy); err != nil {
				t.Fatalf("after the grant: %v", err)
			}
		})
	}
}

// TestSimCrossAccountKeyPolicyUnreadable: when the source credentials may
// read neither the key policy nor its grants, the target's DescribeKey
// decides: a key that does not admit the target stops the run.
func TestSimCrossAccountKeyPolicyUnreadable(t *testing.T) {
	x := newXSim(t, xCase{simCase: simCase{Nodes: 1, Devices: 1, NoHook: true}, ShareKey: &ec2sim.KeySpec{}})
	x.sim.DenyOperation(ec2sim.OpKMSGetKeyPolicy)
	x.sim.DenyOperation(ec2sim.OpKMSListGrants)
	_, err := x.cloneX(ctxT(t, 30*time.Second), spec.PhasePrecopy)
	if err == nil || !strings.Contains(err.Error(), "cannot describe it (AccessDeniedException)") || !strings.Contains(err.Error(), x.shareKey) {
		t.Fatalf("want the target's DescribeKey refusal, got %v", err)
	}
}

func TestSimCrossAccountCleanup(t *testing.T) {
	x := newXSim(t, xCase{simCase: simCase{Nodes: 2, Devices: 1, NoHook: true}})
	ctx := ctxT(t, 30*time.Second)
	rec := x.cloneAndRecord(t, ctx, 2, x.opts)
	// A share a stopped run left behind.
	left := ""
	for _, s := range x.sim.Snapshots() {
		if tagMap(s.Tags)[ownership.TagRole] == ownership.RoleShareCopy {
			left = aws.ToString(s.SnapshotId)
			break
		}
	}
	if _, err := x.sim.ModifySnapshotAttribute(ctx, shareInput(left, xTarget)); err != nil {
		t.Fatal(err)
	}
	eng := x.engine(x.opts)
	cp, err := eng.PlanCleanup(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Delete) == 0 || cp.Delete[0].Kind != "share" || cp.Delete[0].ID != left || cp.Delete[0].Side != "source" {
		t.Fatalf("the share is not removed first: %+v", cp.Delete)
	}
	var buf strings.Builder
	_ = cp.WriteText(&buf)
	if !strings.Contains(buf.String(), "(source)") || !strings.Contains(buf.String(), "(target)") {
		t.Errorf("cleanup plan text:\n%s", buf.String())
	}
	if _, err := eng.Cleanup(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if sh := x.sim.Shares(); len(sh) > 0 {
		t.Errorf("shares left: %v", sh)
	}
	if n := len(x.sim.Snapshots()) + len(x.dst.Snapshots()); n != 0 {
		t.Errorf("%d snapshots left after cleanup", n)
	}
	if n := len(x.dst.Volumes()); n != 2 {
		t.Errorf("%d volumes in the target after cleanup, want the 2 the record references", n)
	}
	x.assertSourceSnapshotsOnlyShared()
}

func shareInput(snap, acct string) *ec2.ModifySnapshotAttributeInput {
	return &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snap), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{{UserId: aws.String(acct)}}}}
}

// TestSimCrossAccountIAMPolicies: every call each account's credentials
// made in a cross-account run (EC2 and KMS) is allowed by that account's
// policy, and no policy allows what only the other account does.
func TestSimCrossAccountIAMPolicies(t *testing.T) {
	x := newXSim(t, xCase{simCase: simCase{Nodes: 2, Devices: 2, FSR: true, NoHook: true}})
	ctx := ctxT(t, 30*time.Second)
	rec := x.cloneAndRecord(t, ctx, 4, x.opts)
	eng := x.engine(x.opts)
	cp, err := eng.PlanCleanup(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Cleanup(ctx, cp); err != nil {
		t.Fatal(err)
	}
	pols := ebs.CrossAccountIAMPolicies(x.m)
	actions := func(d ebs.PolicyDocument) map[string]bool {
		out := map[string]bool{}
		for _, st := range d.Statement {
			for _, a := range st.Action {
				out[a] = true
			}
		}
		return out
	}
	for _, side := range []struct {
		name  string
		sim   *ec2sim.Sim
		doc   ebs.PolicyDocument
		never []string
	}{
		{"source", x.sim, pols.Source, []string{"ec2:CreateVolume", "ec2:EnableFastSnapshotRestores", "ec2:DeleteVolume"}},
		{"target", x.dst, pols.Target, []string{"ec2:CreateSnapshot", "ec2:CreateSnapshots", "ec2:ModifySnapshotAttribute", "ec2:DescribeInstances", "kms:GetKeyPolicy"}},
	} {
		allowed := actions(side.doc)
		for op := range side.sim.Stats().Calls {
			a := "ec2:" + op
			if strings.HasPrefix(op, "kms:") {
				a = op
			}
			if !allowed[a] {
				t.Errorf("the %s account called %s, which its policy does not allow", side.name, a)
			}
		}
		for _, a := range side.never {
			if allowed[a] {
				t.Errorf("the %s policy allows %s", side.name, a)
			}
		}
	}
	if actions(pols.Source)["sts:AssumeRole"] {
		t.Error("the source policy allows sts:AssumeRole with a profile for the target")
	}
	role := *x.m
	acct := *role.Spec.Target.Account
	acct.Profile, acct.RoleARN = "", "arn:aws:iam::"+xTarget+":role/graft-target"
	role.Spec.Target.Account = &acct
	rp := ebs.CrossAccountIAMPolicies(&role)
	if i := slices.IndexFunc(rp.Source.Statement, func(st ebs.Statement) bool { return slices.Contains(st.Action, "sts:AssumeRole") }); i < 0 || !slices.Equal(rp.Source.Statement[i].Resource, []string{acct.RoleARN}) {
		t.Errorf("the source policy does not allow assuming exactly the target role: %+v", rp.Source.Statement)
	}
	var buf strings.Builder
	if err := pols.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"ec2:Add/userId": [` + "\n", `"` + xTarget + `"`, `"arn:aws:iam::` + xTarget + `:root"`, `"kms:CreateGrant"`, x.shareKey} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("policies lack %q:\n%s", want, buf.String())
		}
	}
}

// TestSimCrossAccountPlanMatchesClone: the plan's mutating calls of each
// account are the calls clone then makes there, and the text lists each
// account's steps. With -v it logs the budget of a 6-node, 2-device
// cross-account migration.
func TestSimCrossAccountPlanMatchesClone(t *testing.T) {
	x := newXSim(t, xCase{simCase: simCase{Nodes: 6, Devices: 2, NoHook: true}})
	ctx := ctxT(t, 30*time.Second)
	eng := x.engine(x.opts)
	inv := discover(t, ctx, eng)
	pl, err := eng.Plan(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	if x.sim.ProcessMutations() != 0 {
		t.Fatal("plan changed something")
	}
	if len(pl.Accounts) != 2 || pl.Accounts[1].Account != xTarget {
		t.Fatalf("accounts: %+v", pl.Accounts)
	}
	for _, a := range pl.Accounts {
		if a.Precopy <= 0 || a.Final <= 0 || a.Precopy+a.Final > pl.Precopy+pl.Final {
			t.Errorf("%s account's time: precopy %s, final %s (the plan's: %s, %s)", a.Side, time.Duration(a.Precopy), time.Duration(a.Final), time.Duration(pl.Precopy), time.Duration(pl.Final))
		}
	}
	var buf strings.Builder
	if err := pl.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"source account (us-east-1)", "target account " + xTarget, "share-copy", "ModifySnapshotAttribute", "remove each share"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("plan text lacks %q", w)
		}
	}
	t.Logf("6 nodes, 2 devices, cross-account: budget %s\n%s", ebs.FormatCounts(pl.Calls), buf.String())
	if err := x.cloneAllX(ctx); err != nil {
		t.Fatal(err)
	}
	for i, sim := range []*ec2sim.Sim{x.sim, x.dst} {
		got := map[string]int{}
		for _, c := range sim.Calls() {
			if c.Mutating && !c.DryRun && c.Code == "" {
				got[c.Op]++
			}
		}
		want := map[string]int{}
		for op, n := range pl.Accounts[i].Calls {
			if op != "DryRun" && (strings.HasPrefix(op, "Create") || strings.HasPrefix(op, "Copy") || strings.HasPrefix(op, "Modify") || strings.HasSuffix(op, "FastSnapshotRestores") && !strings.HasPrefix(op, "Describe")) {
				want[op] = n
			}
		}
		if ebs.FormatCounts(got) != ebs.FormatCounts(want) {
			t.Errorf("%s account: clone made %s, the plan said %s", pl.Accounts[i].Side, ebs.FormatCounts(got), ebs.FormatCounts(want))
		}
	}
}

// TestSimCrossAccountPlanJSON: the plan's JSON holds its budget (calls,
// mutating-bucket floor, phase times) at the top and each account's
// beside its side and steps, under the same keys.
func TestSimCrossAccountPlanJSON(t *testing.T) {
	x := newXSim(t, xCase{simCase: simCase{Nodes: 2, Devices: 1, NoHook: true}})
	pl := discoverAndPlan(t, ctxT(t, 30*time.Second), x.engine(x.opts))
	var buf bytes.Buffer
	if err := pl.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Budget   map[string]any   `json:"Budget"`
		Calls    map[string]int   `json:"calls"`
		Floor    string           `json:"mutatingFloor"`
		Precopy  string           `json:"precopy"`
		Final    string           `json:"final"`
		Accounts []map[string]any `json:"accounts"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Budget != nil || doc.Calls["CreateVolume"] != 2 || doc.Floor == "" || doc.Precopy != time.Duration(pl.Precopy).String() || doc.Final != time.Duration(pl.Final).String() {
		t.Errorf("the plan's budget in JSON: %s", buf.String())
	}
	for i, a := range doc.Accounts {
		var keys []string
		for k := range a {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := []string{"calls", "final", "mutatingFloor", "precopy", "region", "side", "steps"}
		if i == 1 {
			want = []string{"account", "calls", "final", "mutatingFloor", "precopy", "region", "side", "steps"}
		}
		if !slices.Equal(keys, want) {
			t.Errorf("account %d's keys in JSON: %v, want %v", i, keys, want)
		}
	}
}

// TestSimCrossAccountCrossRegion: the target account in another region
// copies the shared snapshot across regions in the same step.
func TestSimCrossAccountCrossRegion(t *testing.T) {
	x := newXSim(t, xCase{TargetRegion: "us-west-2", simCase: simCase{Nodes: 2, Devices: 2, NoHook: true, ExtraSpec: toUSWest2}})
	if err := x.cloneAllX(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	x.assertXEndState(true)
	rec := loadRecord(t, x.lock)
	for _, v := range rec.Volumes {
		if !strings.HasPrefix(v.TargetZone, "us-west-2") || !strings.Contains(v.KMSKeyID, ":us-west-2:"+xTarget+":") {
			t.Errorf("volume %+v", v)
		}
	}
}

// TestSimCrossAccountWithoutSourceKMS: without a KMS client for the source
// account graft goes by the spec: volumes encrypted with a key other than
// shareKmsKeyId get a share copy under it.
func TestSimCrossAccountWithoutSourceKMS(t *testing.T) {
	x := newXSim(t, xCase{simCase: simCase{Nodes: 2, Devices: 1, NoHook: true}})
	x.noSourceKMS = true
	if err := x.cloneAllX(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	x.assertXEndState(true)
	for _, c := range x.sim.Calls() {
		if strings.HasPrefix(c.Op, "kms:") {
			t.Fatalf("a KMS call in the source account: %s", c.Op)
		}
	}
}

// TestSimCrossAccountNeedsTheTargetClient: an engine without the target
// account's client refuses to run rather than use the source's.
func TestSimCrossAccountNeedsTheTargetClient(t *testing.T) {
	x := newXSim(t, xCase{simCase: simCase{Nodes: 1, Devices: 1, NoHook: true}})
	_, err := x.clone(ctxT(t, 30*time.Second), spec.PhasePrecopy)
	if err == nil || !strings.Contains(err.Error(), "no EC2 client of that account") || x.sim.ProcessMutations() != 0 {
		t.Fatalf("clone without the target client: %v (%d changes)", err, x.sim.ProcessMutations())
	}
}

// TestSimCrossAccountShareProvedBeforeTheFinalPhase: without permission to
// share, the final phase stops at its dry run, before the hook, a snapshot
// or a copy: the precopy snapshots it shares exist to prove it on.
func TestSimCrossAccountShareProvedBeforeTheFinalPhase(t *testing.T) {
	x := newXSim(t, xCase{simCase: simCase{Nodes: 2, Devices: 1}})
	ctx := ctxT(t, 30*time.Second)
	if _, err := x.cloneX(ctx, spec.PhasePrecopy); err != nil {
		t.Fatal(err)
	}
	x.sim.DenyOperation(ec2sim.OpModifySnapshotAttribute)
	before := x.sim.ProcessMutations()
	_, err := x.cloneX(ctx, spec.PhaseFinal)
	if !errors.Is(err, ebs.ErrDryRun) || !strings.Contains(err.Error(), "ModifySnapshotAttribute (share)") || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Fatalf("final phase without the share permission: %v", err)
	}
	if x.sim.ProcessMutations() != before || len(x.hook) != 0 {
		t.Fatalf("the final phase changed something (%d -> %d) or ran the hook (%v) before its dry run failed", before, x.sim.ProcessMutations(), x.hook)
	}
}

// TestSimCrossAccountTwoMachinesConverge is TestSimTwoMachinesConverge
// across accounts: run A paused at each of its mutating calls (in either
// account) while run B runs to its end or half-way; then both finish. One
// of everything remains, nothing is left shared, and both records agree.
// The race it guards: B removes the share once its copy completed, between
// A's share and A's copy (copyUnshared).
func TestSimCrossAccountTwoMachinesConverge(t *testing.T) {
	c := xCase{simCase: simCase{Nodes: 1, Devices: 2, Snapshot: 2 * time.Minute}}
	ref := newXSim(t, c)
	if err := ref.cloneOn(ctxT(t, 30*time.Second), "A", ref.lock, ref.opts); err != nil {
		t.Fatal(err)
	}
	ref.assertXEndState(true)
	steps := mutatingCalls(ref.sim, ref.dst)
	for k := 1; k <= steps; k++ {
		for _, j := range []int{0, steps / 2} {
			t.Run(fmt.Sprintf("A%02d_B%02d", k, j), func(t *testing.T) {
				t.Parallel()
				x := newXSim(t, c)
				ra, rb := x.twoMachines(t, k, j, []*ec2sim.Sim{x.sim, x.dst}, x.opts)
				x.assertXEndState(true)
				assertRecordsAgree(t, ra, rb)
			})
		}
	}
}
