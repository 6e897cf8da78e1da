package main

import (
	"fmt"
	"strings"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
)

// demoTargetAccount is the EKS account of graft demo --cross-account.
const demoTargetAccount = "111122223333"

// demoXAccount is graft demo --cross-account: the legacy cluster in the
// simulator's account, encrypted with the AWS-managed aws/ebs key; the
// EKS side in demoTargetAccount, a second simulated account; a
// customer-managed key in the source account whose policy admits the
// target (the share key), and the target's own key. A nil *demoXAccount
// is the single-account demo: every method leaves its input as it is.
type demoXAccount struct {
	src, dst         *ec2sim.Sim
	shareKey, dstKey string
}

func newDemoXAccount(on bool, sim *ec2sim.Sim) *demoXAccount {
	if !on {
		return nil
	}
	x := &demoXAccount{src: sim, dst: sim.NewAccount(demoTargetAccount, sim.Region())}
	x.shareKey = sim.AddKMSKey(ec2sim.KeySpec{Alias: "alias/graft-share", AllowAccounts: []string{demoTargetAccount}})
	x.dstKey = x.dst.AddKMSKey(ec2sim.KeySpec{Alias: "alias/eks-ebs"})
	return x
}

// cluster encrypts the legacy volumes with aws/ebs, the default that
// cannot be shared (so the demo shows the share copy).
func (x *demoXAccount) cluster(c ec2sim.ClusterSpec) ec2sim.ClusterSpec {
	if x == nil {
		return c
	}
	c.Devices = []ec2sim.DeviceSpec{{Device: "/dev/xvdf", VolumeSpec: ec2sim.VolumeSpec{Encrypted: true}}}
	return c
}

// spec adds spec.target.account to the demo spec.
func (x *demoXAccount) spec(y []byte) []byte {
	if x == nil {
		return y
	}
	acct := fmt.Sprintf("  target:\n    account:\n      id: \"%s\"\n      profile: demo-eks-account\n      kmsKeyId: %s\n      shareKmsKeyId: %s\n", demoTargetAccount, x.dstKey, x.shareKey)
	return []byte(strings.Replace(string(y), "  target:\n", acct, 1))
}

// options puts the target account and both accounts' KMS behind the engine.
func (x *demoXAccount) options(o ebs.Options) ebs.Options {
	if x == nil {
		return o
	}
	o.Target, o.SourceKMS, o.TargetKMS = x.dst, x.src.KMS(), x.dst.KMS()
	return o
}

// check is the demo's audit of the target account and of the shares: no
// call of the target account wrote a source resource, and no snapshot is
// left shared.
func (x *demoXAccount) check(cl ec2sim.Cluster) error {
	if x == nil {
		return nil
	}
	if calls := x.dst.MutatingCallsOn(cl.SourceIDs()...); len(calls) > 0 {
		return fmt.Errorf("the demo's target account changed a source volume or instance (%d calls); this is a bug", len(calls))
	}
	if sh := x.src.Shares(); len(sh) > 0 {
		return fmt.Errorf("the demo left %d snapshot(s) shared with the target account; this is a bug", len(sh))
	}
	return nil
}
