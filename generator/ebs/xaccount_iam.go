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
	s := &m.Spec
	acct := s.Target.Account
	src, dst := s.Source.Region, s.Target.Region
	p := spec.Partition(src)
	arn := func(region, account, res string) string {
		return fmt.Sprintf("arn:%s:ec2:%s:%s:%s", p, region, account, res)
	}
	ownTag := map[string]any{"aws:ResourceTag/" + ownership.TagMigration: m.Metadata.Name}
	reqTag := map[string]any{"aws:RequestTag/" + ownership.TagMigration: m.Metadata.Name}
	srcSnaps, dstSnaps := arn(src, "", "snapshot/*"), arn(dst, "", "snapshot/*")
	via := func(r string) map[string]any {
		return map[string]any{"kms:ViaService": fmt.Sprintf("ec2.%s.amazonaws.com", r)}
	}
	grant := func(r string) map[string]map[string]any {
		return map[string]map[string]any{"StringEquals": via(r), "Bool": {"kms:GrantIsForAWSResource": true}}
	}
	keyOr := func(k string) []string {
		if ref := kmskey.Parse(k); ref.ARN && !ref.Alias && ref.Name != "" {
			return []string{k}
		}
		return []string{"*"}
	}

	source := PolicyDocument{Version: "2012-10-17"}
	add := func(d *PolicyDocument, st Statement) { st.Effect = "Allow"; d.Statement = append(d.Statement, st) }
	add(&source, Statement{Sid: "GraftDescribe", Action: []string{"ec2:DescribeAvailabilityZones", "ec2:DescribeInstances", "ec2:DescribeSnapshotAttribute", "ec2:DescribeSnapshots", "ec2:DescribeVolumes"}, Resource: []string{"*"}})
	for _, st := range sourceStatements(s, arn) {
		add(&source, st)
	}
	add(&source, Statement{Sid: "GraftCreateTaggedSnapshots", Action: []string{"ec2:CreateSnapshot", "ec2:CreateSnapshots", "ec2:CopySnapshot"},
		Resource: []string{srcSnaps}, Condition: map[string]map[string]any{"StringEquals": reqTag}})
	add(&source, Statement{Sid: "GraftShareCopyOwnSnapshots", Action: []string{"ec2:CopySnapshot"},
		Resource: []string{srcSnaps}, Condition: map[string]map[string]any{"StringEquals": ownTag}})
	add(&source, Statement{Sid: "GraftShareOwnSnapshotsWithTheTargetAccountOnly", Action: []string{"ec2:ModifySnapshotAttribute"},
		Resource: []string{srcSnaps}, Condition: map[string]map[string]any{
			"StringEquals":              ownTag,
			"ForAllValues:StringEquals": {"ec2:Add/userId": []string{acct.ID}, "ec2:Remove/userId": []string{acct.ID}},
			"Null":                      {"ec2:Add/group": "true"},
		}})
	add(&source, Statement{Sid: "GraftTagOnCreateOnly", Action: []string{"ec2:CreateTags"}, Resource: []string{srcSnaps},
		Condition: map[string]map[string]any{"StringEquals": {"ec2:CreateAction": []string{"CreateSnapshot", "CreateSnapshots", "CopySnapshot"}}}})
	add(&source, Statement{Sid: "GraftDeleteOwnSnapshotsOnly", Action: []string{"ec2:DeleteSnapshot"}, Resource: []string{srcSnaps},
		Condition: map[string]map[string]any{"StringEquals": ownTag}})
	// The source volumes' keys are known only after discover: decrypting
	// through EC2 on "*"; the share copies are encrypted with the share key
	// alone; graft reads keys, their policies and grants (never changes them).
	add(&source, Statement{Sid: "GraftKMSSourceKeysDecryptOnlyThroughEC2", Action: []string{"kms:Decrypt", "kms:DescribeKey", "kms:ReEncryptFrom"},
		Resource: []string{"*"}, Condition: map[string]map[string]any{"StringEquals": via(src)}})
	add(&source, Statement{Sid: "GraftKMSSourceKeysGrantsForEBS", Action: []string{"kms:CreateGrant"}, Resource: []string{"*"}, Condition: grant(src)})
	if acct.ShareKMSKeyID != "" {
		add(&source, Statement{Sid: "GraftKMSShareKeyEncryptThroughEC2", Action: []string{"kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptTo"},
			Resource: keyOr(acct.ShareKMSKeyID), Condition: map[string]map[string]any{"StringEquals": via(src)}})
	}
	if acct.RoleARN != "" {
		// The source credentials assume the target account's role (whose
		// trust policy must let them, with the external id if set).
		add(&source, Statement{Sid: "GraftAssumeTheTargetAccountRole", Action: []string{"sts:AssumeRole"}, Resource: []string{acct.RoleARN}})
	}
	add(&source, Statement{Sid: "GraftKMSReadKeysPoliciesAndGrants", Action: []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"}, Resource: []string{"*"}})

	target := PolicyDocument{Version: "2012-10-17"}
	add(&target, Statement{Sid: "GraftDescribe", Action: []string{"ec2:DescribeAvailabilityZones", "ec2:DescribeFastSnapshotRestores", "ec2:DescribeSnapshots", "ec2:DescribeVolumes"}, Resource: []string{"*"}})
	// A snapshot shared with the account shows it none of its owner's
	// tags: copying it cannot be narrowed by tag, only to the source
	// region's snapshots.
	add(&target, Statement{Sid: "GraftCopySnapshotsSharedWithThisAccount", Action: []string{"ec2:CopySnapshot"}, Resource: []string{srcSnaps}})
	add(&target, Statement{Sid: "GraftCreateTaggedCopies", Action: []string{"ec2:CopySnapshot"}, Resource: []string{dstSnaps}, Condition: map[string]map[string]any{"StringEquals": reqTag}})
	add(&target, Statement{Sid: "GraftUseOwnSnapshots", Action: []string{"ec2:CreateVolume", "ec2:EnableFastSnapshotRestores", "ec2:DisableFastSnapshotRestores"},
		Resource: []string{dstSnaps}, Condition: map[string]map[string]any{"StringEquals": ownTag}})
	clusterTags := requestTags(s.Target.Storage().Tags)
	volTag := maps.Clone(reqTag)
	maps.Copy(volTag, clusterTags)
	add(&target, Statement{Sid: "GraftCreateTaggedVolumes", Action: []string{"ec2:CreateVolume"},
		Resource: []string{arn(dst, "*", "volume/*")}, Condition: map[string]map[string]any{"StringEquals": volTag}})
	add(&target, Statement{Sid: "GraftTagOnCreateOnly", Action: []string{"ec2:CreateTags"}, Resource: []string{dstSnaps, arn(dst, "*", "volume/*")},
		Condition: map[string]map[string]any{"StringEquals": {"ec2:CreateAction": []string{"CopySnapshot", "CreateVolume"}}}})
	if tags := s.Target.Storage().Tags; len(tags) > 0 {
		add(&target, Statement{Sid: "GraftAddClusterTagsToOwnVolumes", Action: []string{"ec2:CreateTags"},
			Resource: []string{arn(dst, "*", "volume/*")}, Condition: map[string]map[string]any{
				"StringEquals":              ownTag,
				"StringEqualsIfExists":      clusterTags,
				"ForAllValues:StringEquals": {"aws:TagKeys": slices.Sorted(maps.Keys(tags))},
			}})
	}
	add(&target, Statement{Sid: "GraftDeleteOwnResourcesOnly", Action: []string{"ec2:DeleteSnapshot", "ec2:DeleteVolume"},
		Resource: []string{dstSnaps, arn(dst, "*", "volume/*")}, Condition: map[string]map[string]any{"StringEquals": ownTag}})
	// The target key encrypts the copies and volumes; the shared key (the
	// source account's) is only decrypted, through EC2.
	copyKey := keyOr(s.Target.CopyKMSKeyID())
	add(&target, Statement{Sid: "GraftKMSTargetKeyThroughEC2", Action: []string{"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"},
		Resource: copyKey, Condition: map[string]map[string]any{"StringEquals": via(dst)}})
	add(&target, Statement{Sid: "GraftKMSTargetKeyGrantsForEBS", Action: []string{"kms:CreateGrant"}, Resource: copyKey, Condition: grant(dst)})
	shared := keyOr(acct.ShareKMSKeyID)
	if acct.ShareKMSKeyID == "" {
		shared = []string{"*"} // the source volumes' own keys, known after discover
	}
	add(&target, Statement{Sid: "GraftKMSSharedKeyDecryptOnlyThroughEC2", Action: []string{"kms:Decrypt", "kms:ReEncryptFrom"},
		Resource: shared, Condition: map[string]map[string]any{"StringEquals": via(dst)}})
	add(&target, Statement{Sid: "GraftKMSSharedKeyGrantsForEBS", Action: []string{"kms:CreateGrant"}, Resource: shared, Condition: grant(dst)})
	add(&target, Statement{Sid: "GraftKMSDescribeSharedKey", Action: []string{"kms:DescribeKey"}, Resource: shared})

	sharedKey := acct.ShareKMSKeyID
	if sharedKey == "" {
		sharedKey = "the source volumes' customer-managed key"
	}
	return CrossAccountPolicies{Source: source, Target: target, TargetAccount: acct.ID, SharedKey: sharedKey, partition: p,
		SharedKeyPolicy: Statement{Sid: "GraftTargetAccountUsesSharedSnapshots", Effect: "Allow", Action: slices.Clone(kmskey.SnapshotShareActions), Resource: []string{"*"}}}
}
