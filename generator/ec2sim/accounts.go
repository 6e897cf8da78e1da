// Several accounts: snapshot sharing (createVolumePermission) and a
// simulated KMS (DescribeKey, GetKeyPolicy, ListGrants) whose key policies
// and grants decide which account may use a key.

package ec2sim

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/graftctl/graft/generator/kmskey"
)

// Operation names of the sharing calls and of the simulated KMS.
const (
	OpModifySnapshotAttribute   = "ModifySnapshotAttribute"
	OpDescribeSnapshotAttribute = "DescribeSnapshotAttribute"
	OpKMSDescribeKey            = "kms:DescribeKey"
	OpKMSGetKeyPolicy           = "kms:GetKeyPolicy"
	OpKMSListGrants             = "kms:ListGrants"
)

func init() { mutatingOps[OpModifySnapshotAttribute] = true }

// world is what linked simulators (NewRegion, NewAccount) share: the
// process's crash state, every simulator, and the KMS keys.
type world struct {
	crashed   bool
	crashAt   int
	mutations int
	crashWhen func(Call) bool
	sims      []*Sim
	keys      map[string]*kmsKey // by key ARN
}

// kmsKey is a simulated KMS key: its owner, whether AWS manages it (the
// aws/ebs key: its policy admits its own account only and cannot be
// changed), the accounts its key policy allows and the actions, and the
// grants.
type kmsKey struct {
	arn, id, account, region, alias string
	awsManaged                      bool
	policy                          map[string][]string // account -> actions its key policy allows
	grants                          map[string][]string // grantee account -> operations ("kms:Decrypt")
}

// KeySpec describes a key for AddKMSKey.
type KeySpec struct {
	// Alias, if set, is the key's alias ("alias/graft-share").
	Alias string
	// AllowAccounts are the other accounts the key policy allows, each with
	// AllowActions (default kmskey.SnapshotShareActions).
	AllowAccounts []string
	AllowActions  []string
}

// NewAccount returns a simulator of region in another account, on the same
// clock and linked to s: snapshots one account shares with the other
// (ModifySnapshotAttribute) can be described, copied and restored there,
// subject to the KMS keys' policies and grants. zones default to
// <region>a..c. Its CrashAfter and Revive are the process's, like s's.
func (s *Sim) NewAccount(accountID, region string, zones ...string) *Sim {
	o := s.opt
	o.AccountID, o.Region, o.Zones = accountID, region, zones
	o.Seed = s.opt.Seed + uint64(len(s.w.sims))*104729
	return s.linked(o, nil)
}

// AddKMSKey adds a customer-managed key of s's account and region and
// returns its ARN.
func (s *Sim) AddKMSKey(k KeySpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", s.rng.Uint32(), s.rng.Uint32()&0xffff, s.rng.Uint32()&0xfff, s.rng.Uint32()&0xfff, s.rng.Uint64()&0xffffffffffff)
	key := &kmsKey{arn: fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.opt.Region, s.opt.AccountID, id), id: id,
		account: s.opt.AccountID, region: s.opt.Region, alias: k.Alias, policy: map[string][]string{}, grants: map[string][]string{}}
	acts := k.AllowActions
	if acts == nil {
		acts = kmskey.SnapshotShareActions
	}
	for _, a := range k.AllowAccounts {
		key.policy[a] = slices.Clone(acts)
	}
	s.w.keys[key.arn] = key
	return key.arn
}

// GrantKMSKey gives account a grant on the key (an ARN from AddKMSKey) for
// the operations (default: kmskey.SnapshotShareActions).
func (s *Sim) GrantKMSKey(keyARN, account string, ops ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.w.keys[keyARN]
	if k == nil {
		return fmt.Errorf("ec2sim: no key %s", keyARN)
	}
	if len(ops) == 0 {
		ops = kmskey.SnapshotShareActions
	}
	k.grants[account] = append(k.grants[account], ops...)
	return nil
}

// resolveKey finds the key a reference names for s's account and region:
// a registered key by ARN, id or alias; the account's aws/ebs key
// (DefaultKMSKey, or alias/aws/ebs); any other reference stands for a
// customer-managed key of the account its ARN names (s's own without an
// ARN) that admits no other account.
func (s *Sim) resolveKey(ref string) *kmsKey {
	if k := s.w.keys[ref]; k != nil {
		return k
	}
	acct := kmskey.Account(ref)
	if acct == "" {
		acct = s.opt.AccountID
	}
	region := s.opt.Region
	if parts := strings.SplitN(ref, ":", 6); len(parts) == 6 {
		region = parts[3]
	}
	r := kmskey.Parse(ref)
	for _, k := range s.w.keys {
		if k.account == acct && k.region == region && ((!r.Alias && k.id == r.Name) || (r.Alias && k.alias == "alias/"+r.Name)) {
			return k
		}
	}
	def := defaultKMSKey(region, acct)
	if ref == def || ref == kmskey.AWSManagedEBSAlias || ref == "arn:aws:kms:"+region+":"+acct+":"+kmskey.AWSManagedEBSAlias || (!r.Alias && r.Name == keyID(def)) {
		return &kmsKey{arn: def, id: keyID(def), account: acct, region: region, alias: kmskey.AWSManagedEBSAlias, awsManaged: true}
	}
	id := r.Name
	arn := ref
	if !r.ARN {
		arn = fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, acct, id)
	}
	return &kmsKey{arn: arn, id: id, account: acct, region: region}
}

func defaultKMSKey(region, account string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/00000000-0000-4000-8000-0000000ebs00", region, account)
}

// missingFor lists the actions of want the key lets account use through
// neither its policy nor a grant (none for the owner).
func (k *kmsKey) missingFor(account string, want []string) []string {
	if k.account == account {
		return nil
	}
	var out []string
	for _, a := range want {
		covered := false
		for _, p := range append(slices.Clone(k.policy[account]), k.grants[account]...) {
			if kmskey.ActionCovers(p, a) {
				covered = true
			}
		}
		if !covered {
			out = append(out, a)
		}
	}
	return out
}

// keyUsable is nil when s's account may use the key of a snapshot shared
// with it (or the key it names for a copy or volume), else EC2's error.
func (s *Sim) keyUsable(ref string) error {
	if ref == "" {
		return nil
	}
	k := s.resolveKey(ref)
	if miss := k.missingFor(s.opt.AccountID, kmskey.SnapshotShareActions); len(miss) > 0 {
		return apiErr("UnauthorizedOperation", "You are not authorized to perform this operation. Account %s is not authorized to use KMS key %s (%s).", s.opt.AccountID, k.arn, strings.Join(miss, ", "))
	}
	return nil
}

// keysUsable checks keyUsable for each key.
func (s *Sim) keysUsable(refs ...string) error {
	for _, r := range refs {
		if err := s.keyUsable(r); err != nil {
			return err
		}
	}
	return nil
}

// sharedSnapshot finds a snapshot of another account in region that is
// shared with s's account.
func (s *Sim) sharedSnapshot(id, region string) (*snapshot, *Sim) {
	for _, o := range s.w.sims {
		if o.opt.AccountID == s.opt.AccountID || o.opt.Region != region {
			continue
		}
		if sn := o.snapshots[id]; sn != nil && sn.sharedWith[s.opt.AccountID] {
			return sn, o
		}
	}
	return nil, nil
}

// sharedWithMe lists the snapshots of the region's other accounts that are
// shared with s's account (owners narrows them to those accounts).
func (s *Sim) sharedWithMe(owners []string) (map[string]*snapshot, map[string]*Sim) {
	snaps, by := map[string]*snapshot{}, map[string]*Sim{}
	for _, o := range s.w.sims {
		if o.opt.AccountID == s.opt.AccountID || o.opt.Region != s.opt.Region {
			continue
		}
		if len(owners) > 0 && !slices.Contains(owners, o.opt.AccountID) {
			continue
		}
		for id, sn := range o.snapshots {
			if sn.sharedWith[s.opt.AccountID] {
				snaps[id], by[id] = sn, o
			}
		}
	}
	return snaps, by
}

// SharedWith returns the accounts a snapshot of s is shared with.
func (s *Sim) SharedWith(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := s.snapshots[id]
	if sn == nil {
		return nil
	}
	var out []string
	for a, ok := range sn.sharedWith {
		if ok {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// Shares returns every snapshot of s shared with another account, with the
// accounts.
func (s *Sim) Shares() map[string][]string {
	out := map[string][]string{}
	for _, sn := range s.Snapshots() {
		id := aws.ToString(sn.SnapshotId)
		if a := s.SharedWith(id); len(a) > 0 {
			out[id] = a
		}
	}
	return out
}

// ModifySnapshotAttribute adds or removes createVolumePermission for
// accounts (the only attribute graft changes). A snapshot encrypted with
// the AWS-managed aws/ebs key cannot be shared, as in EC2. It changes state
// (Mutated) only when the permission set changes.
func (s *Sim) ModifySnapshotAttribute(ctx context.Context, in *ec2.ModifySnapshotAttributeInput, _ ...func(*ec2.Options)) (*ec2.ModifySnapshotAttributeOutput, error) {
	if in == nil {
		in = &ec2.ModifySnapshotAttributeInput{}
	}
	id := aws.ToString(in.SnapshotId)
	return run(s, ctx, OpModifySnapshotAttribute, in.DryRun, nil, []string{id}, func(c *call) (*ec2.ModifySnapshotAttributeOutput, error) {
		if id == "" {
			return nil, missing("SnapshotId")
		}
		if in.Attribute != types.SnapshotAttributeNameCreateVolumePermission {
			return nil, apiErr("InvalidParameterValue", "Value (%s) for parameter attribute is invalid. graft's simulator supports createVolumePermission only.", in.Attribute)
		}
		if err := checkID(snapshotIDs, id, s.snapshots); err != nil {
			return nil, err
		}
		sn := s.snapshots[id]
		var add, remove []string
		if m := in.CreateVolumePermission; m != nil {
			for _, p := range m.Add {
				add = append(add, aws.ToString(p.UserId))
			}
			for _, p := range m.Remove {
				remove = append(remove, aws.ToString(p.UserId))
			}
		}
		switch in.OperationType {
		case types.OperationTypeAdd:
			add = append(add, in.UserIds...)
		case types.OperationTypeRemove:
			remove = append(remove, in.UserIds...)
		}
		if len(add)+len(remove) == 0 {
			return nil, missing("CreateVolumePermission")
		}
		for _, a := range append(slices.Clone(add), remove...) {
			if len(a) != 12 || strings.Trim(a, "0123456789") != "" {
				return nil, apiErr("InvalidUserID.Malformed", "Invalid user id: %q", a)
			}
		}
		if len(add) > 0 && sn.encrypted && s.resolveKey(sn.kms).awsManaged {
			return nil, apiErr("InvalidParameter", "Snapshots encrypted with the AWS Managed CMK can't be shared. Try again with a different snapshot.")
		}
		if err := s.authorize(c); err != nil {
			return nil, err
		}
		if sn.sharedWith == nil {
			sn.sharedWith = map[string]bool{}
		}
		for _, a := range add {
			if !sn.sharedWith[a] {
				sn.sharedWith[a], c.Mutated = true, true
			}
		}
		for _, a := range remove {
			if sn.sharedWith[a] {
				delete(sn.sharedWith, a)
				c.Mutated = true
			}
		}
		return &ec2.ModifySnapshotAttributeOutput{}, nil
	})
}

// DescribeSnapshotAttribute answers createVolumePermission.
func (s *Sim) DescribeSnapshotAttribute(ctx context.Context, in *ec2.DescribeSnapshotAttributeInput, _ ...func(*ec2.Options)) (*ec2.DescribeSnapshotAttributeOutput, error) {
	if in == nil {
		in = &ec2.DescribeSnapshotAttributeInput{}
	}
	id := aws.ToString(in.SnapshotId)
	return run(s, ctx, OpDescribeSnapshotAttribute, in.DryRun, []string{id}, nil, func(c *call) (*ec2.DescribeSnapshotAttributeOutput, error) {
		if in.Attribute != types.SnapshotAttributeNameCreateVolumePermission {
			return nil, apiErr("InvalidParameterValue", "Value (%s) for parameter attribute is invalid. graft's simulator supports createVolumePermission only.", in.Attribute)
		}
		if err := checkID(snapshotIDs, id, s.snapshots); err != nil {
			return nil, err
		}
		if err := s.authorize(c); err != nil {
			return nil, err
		}
		out := &ec2.DescribeSnapshotAttributeOutput{SnapshotId: aws.String(id), CreateVolumePermissions: []types.CreateVolumePermission{}}
		sn := s.snapshots[id]
		accts := slices.Sorted(maps.Keys(sn.sharedWith))
		for _, a := range accts {
			out.CreateVolumePermissions = append(out.CreateVolumePermissions, types.CreateVolumePermission{UserId: aws.String(a)})
		}
		return out, nil
	})
}

// ---- KMS

// KMS is the simulated KMS of one account and region: DescribeKey,
// GetKeyPolicy and ListGrants, with the signatures of the SDK's kms.Client.
// Its calls are in the audit log (kms:<Op>), never mutating; DenyOperation
// of "kms:<Op>" makes one fail with AccessDeniedException, as when the
// caller's IAM policy does not allow it.
type KMS struct{ s *Sim }

// KMS returns the account's KMS client.
func (s *Sim) KMS() *KMS { return &KMS{s: s} }

func kmsErr(code, format string, args ...any) error { return apiErr(code, format, args...) }

func kmsRun[O any](k *KMS, ctx context.Context, op, keyRef string, fn func(key *kmsKey) (*O, error)) (*O, error) {
	s := k.s
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Call{Op: op, At: s.clock.Now(), Reads: []string{keyRef}}
	var out *O
	var err error
	switch {
	case s.w.crashed:
		err = ErrCrash
	case s.denyOps[op]:
		err = kmsErr("AccessDeniedException", "User: arn:aws:iam::%s:user/graft is not authorized to perform: %s on resource: %s", s.opt.AccountID, op, keyRef)
	case keyRef == "":
		err = kmsErr("ValidationException", "KeyId is required")
	default:
		out, err = fn(s.resolveKey(keyRef))
	}
	if err != nil {
		c.Code, c.Err = ErrorCode(err), err.Error()
		out = nil
	}
	c.Seq = len(s.audit) + 1
	s.audit = append(s.audit, c)
	return out, err
}

// visible is the error KMS gives a caller of another account that the key
// does not admit (its policy or a grant must allow the action), or nil.
func (k *KMS) visible(key *kmsKey, action string) error {
	s := k.s
	if key.account == s.opt.AccountID {
		return nil
	}
	if len(key.missingFor(s.opt.AccountID, []string{action})) > 0 {
		return kmsErr("AccessDeniedException", "User: arn:aws:iam::%s:root is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action", s.opt.AccountID, action, key.arn, action)
	}
	return nil
}

// DescribeKey describes a key of the account, or of another account that
// admits this one.
func (k *KMS) DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	return kmsRun(k, ctx, OpKMSDescribeKey, aws.ToString(in.KeyId), func(key *kmsKey) (*kms.DescribeKeyOutput, error) {
		if err := k.visible(key, "kms:DescribeKey"); err != nil {
			return nil, err
		}
		mgr := kmstypes.KeyManagerTypeCustomer
		if key.awsManaged {
			mgr = kmstypes.KeyManagerTypeAws
		}
		return &kms.DescribeKeyOutput{KeyMetadata: &kmstypes.KeyMetadata{KeyId: aws.String(key.id), Arn: aws.String(key.arn), AWSAccountId: aws.String(key.account),
			KeyManager: mgr, KeyState: kmstypes.KeyStateEnabled, Enabled: true, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt}}, nil
	})
}

// GetKeyPolicy returns the key policy (the owner's call only).
func (k *KMS) GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, _ ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error) {
	return kmsRun(k, ctx, OpKMSGetKeyPolicy, aws.ToString(in.KeyId), func(key *kmsKey) (*kms.GetKeyPolicyOutput, error) {
		if key.account != k.s.opt.AccountID {
			return nil, kmsErr("AccessDeniedException", "GetKeyPolicy of %s: only its account %s may read its policy", key.arn, key.account)
		}
		b, err := json.Marshal(key.policyDoc())
		if err != nil {
			return nil, err
		}
		return &kms.GetKeyPolicyOutput{Policy: aws.String(string(b)), PolicyName: aws.String("default")}, nil
	})
}

// ListGrants lists the key's grants (the owner's call only).
func (k *KMS) ListGrants(ctx context.Context, in *kms.ListGrantsInput, _ ...func(*kms.Options)) (*kms.ListGrantsOutput, error) {
	return kmsRun(k, ctx, OpKMSListGrants, aws.ToString(in.KeyId), func(key *kmsKey) (*kms.ListGrantsOutput, error) {
		if key.account != k.s.opt.AccountID {
			return nil, kmsErr("AccessDeniedException", "ListGrants of %s: only its account %s may list its grants", key.arn, key.account)
		}
		out := &kms.ListGrantsOutput{Grants: []kmstypes.GrantListEntry{}}
		accts := slices.Sorted(maps.Keys(key.grants))
		for i, a := range accts {
			var ops []kmstypes.GrantOperation
			for _, op := range key.grants[a] {
				ops = append(ops, kmstypes.GrantOperation(strings.TrimPrefix(op, "kms:")))
			}
			out.Grants = append(out.Grants, kmstypes.GrantListEntry{GrantId: aws.String(fmt.Sprintf("grant-%02d", i+1)), KeyId: aws.String(key.arn),
				GranteePrincipal: aws.String("arn:aws:iam::" + a + ":root"), IssuingAccount: aws.String("arn:aws:iam::" + key.account + ":root"), Operations: ops})
		}
		return out, nil
	})
}

// policyDoc is the key policy as KMS returns it: the owner's root may do
// everything (the default policy); each allowed account gets its actions,
// kms:CreateGrant in a statement of its own limited to AWS resources (as
// the EBS guide writes it). The aws/ebs key admits its own account through
// EC2 only.
func (key *kmsKey) policyDoc() map[string]any {
	var sts []map[string]any
	if key.awsManaged {
		sts = append(sts, map[string]any{"Sid": "Allow access through EBS for all principals in the account that are authorized to use EBS", "Effect": "Allow",
			"Principal": map[string]any{"AWS": "*"}, "Action": []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"}, "Resource": "*",
			"Condition": map[string]any{"StringEquals": map[string]any{"kms:CallerAccount": key.account, "kms:ViaService": "ec2." + key.region + ".amazonaws.com"}}})
		return map[string]any{"Version": "2012-10-17", "Id": "auto-ebs-2", "Statement": sts}
	}
	sts = append(sts, map[string]any{"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + key.account + ":root"}, "Action": "kms:*", "Resource": "*"})
	accts := slices.Sorted(maps.Keys(key.policy))
	for _, a := range accts {
		var use, grant []string
		for _, act := range key.policy[a] {
			if strings.EqualFold(act, "kms:CreateGrant") {
				grant = append(grant, act)
			} else {
				use = append(use, act)
			}
		}
		principal := map[string]any{"AWS": "arn:aws:iam::" + a + ":root"}
		if len(use) > 0 {
			sts = append(sts, map[string]any{"Sid": "Allow use of the key by " + a, "Effect": "Allow", "Principal": principal, "Action": use, "Resource": "*"})
		}
		if len(grant) > 0 {
			sts = append(sts, map[string]any{"Sid": "Allow attachment of persistent resources by " + a, "Effect": "Allow", "Principal": principal, "Action": grant, "Resource": "*",
				"Condition": map[string]any{"Bool": map[string]any{"kms:GrantIsForAWSResource": "true"}}})
		}
	}
	return map[string]any{"Version": "2012-10-17", "Id": "key-default-1", "Statement": sts}
}
