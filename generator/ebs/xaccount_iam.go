package ebs

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/graftctl/graft/generator/kmskey"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/spec"
)

// CrossAccountPolicies are the policies of a cross-account migration: one
// IAM policy per account, and the statement the shared key's key policy
// (in the source account) needs for the target account.
type CrossAccountPolicies struct {
	// Source is the policy of the source credentials (the standard chain).
	Source PolicyDocument `json:"sourceAccount"`
	// Target is the policy of the target credentials
	// (spec.target.account.profile or roleArn), in account TargetAccount.
	Target        PolicyDocument `json:"targetAccount"`
	TargetAccount string         `json:"targetAccountId"`
	// SharedKeyPolicy is the statement to add to the key policy of the key
	// the shared snapshots are encrypted with (shareKmsKeyId, or the source
	// volumes' customer-managed key): graft checks for it, never adds it.
	SharedKeyPolicy Statement `json:"sharedKeyPolicyStatement"`
	SharedKey       string    `json:"sharedKey"`
	partition       string
}

// keyStatement is a key-policy statement: a Statement with a Principal.
type keyStatement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Principal map[string]any `json:"Principal"`
	Action    []string       `json:"Action"`
	Resource  string         `json:"Resource"`
}

// MarshalJSON writes the shared key statement with its Principal.
func (p CrossAccountPolicies) MarshalJSON() ([]byte, error) {
	type plain CrossAccountPolicies
	out := struct {
		plain
		SharedKeyPolicy keyStatement `json:"sharedKeyPolicyStatement"`
	}{plain: plain(p), SharedKeyPolicy: keyStatement{Sid: p.SharedKeyPolicy.Sid, Effect: "Allow",
		Principal: map[string]any{"AWS": "arn:" + p.partition + ":iam::" + p.TargetAccount + ":root"}, Action: p.SharedKeyPolicy.Action, Resource: "*"}}
	return json.Marshal(out)
}

// WriteJSON writes the policies.
func (p CrossAccountPolicies) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// CrossAccountIAMPolicies returns the least-privilege policies of a
// cross-account migration (spec.target.account), in the style of
// IAMPolicy: creates only with graft:migration=<name> in the request,
// changes and deletions only of resources carrying it, tags only on
// create, KMS through EC2 only. The source account snapshots, makes share
// copies, and shares and unshares its own snapshots with the target
// account alone (ec2:Add/userId, ec2:Remove/userId; never a group such as
// "all"); the target account copies the snapshots shared with it (which
// carry no tag it can see) and makes its volumes.
func CrossAccountIAMPolicies(m *spec.Migration) CrossAccountPolicies {
	x := newXPolicy(m)
	acct := x.acct
	source, target := x.source(), x.target()
	sharedKey := acct.ShareKMSKeyID
	if sharedKey == "" {
		sharedKey = "the source volumes' customer-managed key"
	}
	return CrossAccountPolicies{Source: source, Target: target, TargetAccount: acct.ID, SharedKey: sharedKey, partition: x.p,
		SharedKeyPolicy: Statement{Sid: "GraftTargetAccountUsesSharedSnapshots", Effect: "Allow", Action: slices.Clone(kmskey.SnapshotShareActions), Resource: []string{"*"}}}
}

// xPolicy holds what both accounts' policies are written from: the
// spec's account, the regions and partition, and the migration's tag
// conditions.
type xPolicy struct {
	s                  *spec.Spec
	acct               *spec.Account
	src, dst, p        string
	ownTag, reqTag     map[string]any
	srcSnaps, dstSnaps string
}

func newXPolicy(m *spec.Migration) *xPolicy {
	x := &xPolicy{s: &m.Spec, acct: m.Spec.Target.Account, src: m.Spec.Source.Region, dst: m.Spec.Target.Region, p: spec.Partition(m.Spec.Source.Region),
		ownTag: map[string]any{"aws:ResourceTag/" + ownership.TagMigration: m.Metadata.Name},
		reqTag: map[string]any{"aws:RequestTag/" + ownership.TagMigration: m.Metadata.Name}}
	x.srcSnaps, x.dstSnaps = x.arn(x.src, "", "snapshot/*"), x.arn(x.dst, "", "snapshot/*")
	return x
}

func (x *xPolicy) arn(region, account, res string) string {
	return fmt.Sprintf("arn:%s:ec2:%s:%s:%s", x.p, region, account, res)
}

func via(region string) map[string]any {
	return map[string]any{"kms:ViaService": fmt.Sprintf("ec2.%s.amazonaws.com", region)}
}

func grantFor(region string) map[string]map[string]any {
	return map[string]map[string]any{"StringEquals": via(region), "Bool": {"kms:GrantIsForAWSResource": true}}
}

// keyOr is the key k as a policy resource: its ARN, or "*" for an alias
// or a key id (whose ARN IAM cannot match).
func keyOr(k string) []string {
	if ref := kmskey.Parse(k); ref.ARN && !ref.Alias && ref.Name != "" {
		return []string{k}
	}
	return []string{"*"}
}

// allow adds st to d as an Allow statement.
func allow(d *PolicyDocument, st Statement) {
	st.Effect = "Allow"
	d.Statement = append(d.Statement, st)
}

// source is the source account's policy: snapshot, share copy, share
// with the target account only, and read (never change) the keys.
func (x *xPolicy) source() PolicyDocument {
	s, acct, src, arn, ownTag, reqTag, srcSnaps, grant := x.s, x.acct, x.src, x.arn, x.ownTag, x.reqTag, x.srcSnaps, grantFor
	source := PolicyDocument{Version: "2012-10-17"}
	allow(&source, Statement{Sid: "GraftDescribe", Action: []string{"ec2:DescribeAvailabilityZones", "ec2:DescribeInstances", "ec2:DescribeSnapshotAttribute", "ec2:DescribeSnapshots", "ec2:DescribeVolumes"}, Resource: []string{"*"}})
	for _, st := range sourceStatements(s, arn) {
		allow(&source, st)
	}
	allow(&source, Statement{Sid: "GraftCreateTaggedSnapshots", Action: []string{"ec2:CreateSnapshot", "ec2:CreateSnapshots", "ec2:CopySnapshot"},
		Resource: []string{srcSnaps}, Condition: map[string]map[string]any{"StringEquals": reqTag}})
	allow(&source, Statement{Sid: "GraftShareCopyOwnSnapshots", Action: []string{"ec2:CopySnapshot"},
		Resource: []string{srcSnaps}, Condition: map[string]map[string]any{"StringEquals": ownTag}})
	allow(&source, Statement{Sid: "GraftShareOwnSnapshotsWithTheTargetAccountOnly", Action: []string{"ec2:ModifySnapshotAttribute"},
		Resource: []string{srcSnaps}, Condition: map[string]map[string]any{
			"StringEquals":              ownTag,
			"ForAllValues:StringEquals": {"ec2:Add/userId": []string{acct.ID}, "ec2:Remove/userId": []string{acct.ID}},
			"Null":                      {"ec2:Add/group": "true"},
		}})
	allow(&source, Statement{Sid: "GraftTagOnCreateOnly", Action: []string{"ec2:CreateTags"}, Resource: []string{srcSnaps},
		Condition: map[string]map[string]any{"StringEquals": {"ec2:CreateAction": []string{"CreateSnapshot", "CreateSnapshots", "CopySnapshot"}}}})
	allow(&source, Statement{Sid: "GraftDeleteOwnSnapshotsOnly", Action: []string{"ec2:DeleteSnapshot"}, Resource: []string{srcSnaps},
		Condition: map[string]map[string]any{"StringEquals": ownTag}})
	// The source volumes' keys are known only after discover: decrypting
	// through EC2 on "*"; the share copies are encrypted with the share key
	// alone; graft reads keys, their policies and grants (never changes them).
	allow(&source, Statement{Sid: "GraftKMSSourceKeysDecryptOnlyThroughEC2", Action: []string{"kms:Decrypt", "kms:DescribeKey", "kms:ReEncryptFrom"},
		Resource: []string{"*"}, Condition: map[string]map[string]any{"StringEquals": via(src)}})
	allow(&source, Statement{Sid: "GraftKMSSourceKeysGrantsForEBS", Action: []string{"kms:CreateGrant"}, Resource: []string{"*"}, Condition: grant(src)})
	if acct.ShareKMSKeyID != "" {
		allow(&source, Statement{Sid: "GraftKMSShareKeyEncryptThroughEC2", Action: []string{"kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptTo"},
			Resource: keyOr(acct.ShareKMSKeyID), Condition: map[string]map[string]any{"StringEquals": via(src)}})
	}
	if acct.RoleARN != "" {
		// The source credentials assume the target account's role (whose
		// trust policy must let them, with the external id if set).
		allow(&source, Statement{Sid: "GraftAssumeTheTargetAccountRole", Action: []string{"sts:AssumeRole"}, Resource: []string{acct.RoleARN}})
	}
	allow(&source, Statement{Sid: "GraftKMSReadKeysPoliciesAndGrants", Action: []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"}, Resource: []string{"*"}})

	return source
}

// target is the target account's policy: copy what is shared with it
// under its key, create the volumes, and delete only its own.
func (x *xPolicy) target() PolicyDocument {
	s, acct, dst, arn, ownTag, reqTag, srcSnaps, dstSnaps, grant := x.s, x.acct, x.dst, x.arn, x.ownTag, x.reqTag, x.srcSnaps, x.dstSnaps, grantFor
	target := PolicyDocument{Version: "2012-10-17"}
	allow(&target, Statement{Sid: "GraftDescribe", Action: []string{"ec2:DescribeAvailabilityZones", "ec2:DescribeFastSnapshotRestores", "ec2:DescribeSnapshots", "ec2:DescribeVolumes"}, Resource: []string{"*"}})
	// A snapshot shared with the account shows it none of its owner's
	// tags: copying it cannot be narrowed by tag, only to the source
	// region's snapshots.
	allow(&target, Statement{Sid: "GraftCopySnapshotsSharedWithThisAccount", Action: []string{"ec2:CopySnapshot"}, Resource: []string{srcSnaps}})
	allow(&target, Statement{Sid: "GraftCreateTaggedCopies", Action: []string{"ec2:CopySnapshot"}, Resource: []string{dstSnaps}, Condition: map[string]map[string]any{"StringEquals": reqTag}})
	allow(&target, Statement{Sid: "GraftUseOwnSnapshots", Action: []string{"ec2:CreateVolume", "ec2:EnableFastSnapshotRestores", "ec2:DisableFastSnapshotRestores"},
		Resource: []string{dstSnaps}, Condition: map[string]map[string]any{"StringEquals": ownTag}})
	clusterTags := requestTags(s.Target.Storage().Tags)
	volTag := maps.Clone(reqTag)
	maps.Copy(volTag, clusterTags)
	allow(&target, Statement{Sid: "GraftCreateTaggedVolumes", Action: []string{"ec2:CreateVolume"},
		Resource: []string{arn(dst, "*", "volume/*")}, Condition: map[string]map[string]any{"StringEquals": volTag}})
	allow(&target, Statement{Sid: "GraftTagOnCreateOnly", Action: []string{"ec2:CreateTags"}, Resource: []string{dstSnaps, arn(dst, "*", "volume/*")},
		Condition: map[string]map[string]any{"StringEquals": {"ec2:CreateAction": []string{"CopySnapshot", "CreateVolume"}}}})
	if tags := s.Target.Storage().Tags; len(tags) > 0 {
		allow(&target, Statement{Sid: "GraftAddClusterTagsToOwnVolumes", Action: []string{"ec2:CreateTags"},
			Resource: []string{arn(dst, "*", "volume/*")}, Condition: map[string]map[string]any{
				"StringEquals":              ownTag,
				"StringEqualsIfExists":      clusterTags,
				"ForAllValues:StringEquals": {"aws:TagKeys": slices.Sorted(maps.Keys(tags))},
			}})
	}
	allow(&target, Statement{Sid: "GraftDeleteOwnResourcesOnly", Action: []string{"ec2:DeleteSnapshot", "ec2:DeleteVolume"},
		Resource: []string{dstSnaps, arn(dst, "*", "volume/*")}, Condition: map[string]map[string]any{"StringEquals": ownTag}})
	// The target key encrypts the copies and volumes; the shared key (the
	// source account's) is only decrypted, through EC2.
	copyKey := keyOr(s.Target.CopyKMSKeyID())
	allow(&target, Statement{Sid: "GraftKMSTargetKeyThroughEC2", Action: []string{"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"},
		Resource: copyKey, Condition: map[string]map[string]any{"StringEquals": via(dst)}})
	allow(&target, Statement{Sid: "GraftKMSTargetKeyGrantsForEBS", Action: []string{"kms:CreateGrant"}, Resource: copyKey, Condition: grant(dst)})
	shared := keyOr(acct.ShareKMSKeyID)
	if acct.ShareKMSKeyID == "" {
		shared = []string{"*"} // the source volumes' own keys, known after discover
	}
	allow(&target, Statement{Sid: "GraftKMSSharedKeyDecryptOnlyThroughEC2", Action: []string{"kms:Decrypt", "kms:ReEncryptFrom"},
		Resource: shared, Condition: map[string]map[string]any{"StringEquals": via(dst)}})
	allow(&target, Statement{Sid: "GraftKMSSharedKeyGrantsForEBS", Action: []string{"kms:CreateGrant"}, Resource: shared, Condition: grant(dst)})
	allow(&target, Statement{Sid: "GraftKMSDescribeSharedKey", Action: []string{"kms:DescribeKey"}, Resource: shared})

	return target
}
