package ec2sim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

const targetAcct = "111122223333"

func share(ctx context.Context, s *Sim, snap string, op types.OperationType, acct string) error {
	_, err := s.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snap), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		OperationType: op, UserIds: []string{acct}})
	return err
}

func copyShared(ctx context.Context, dst *Sim, snap, key string) (string, error) {
	in := &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(snap), SourceRegion: aws.String("us-east-1")}
	if key != "" {
		in.Encrypted, in.KmsKeyId = aws.Bool(true), aws.String(key)
	}
	out, err := dst.CopySnapshot(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.SnapshotId), nil
}

// twoAccounts seeds one encrypted volume with a completed snapshot in the
// source account, encrypted with a new key of the spec key (nil: the
// aws/ebs key), and returns both accounts and the snapshot.
func twoAccounts(t *testing.T, key *KeySpec) (src, dst *Sim, snap string) {
	t.Helper()
	src = newSim(t, Options{})
	cmk := ""
	if key != nil {
		cmk = src.AddKMSKey(*key)
	}
	dst = src.NewAccount(targetAcct, "us-east-1")
	vol, err := src.AddVolume(VolumeSpec{SizeGiB: 10, Type: types.VolumeTypeGp3, Encrypted: true, KMSKeyID: cmk, Zone: "us-east-1a"})
	if err != nil {
		t.Fatal(err)
	}
	return src, dst, completedSnapshot(t, src, vol)
}

func TestShareAndCopyAcrossAccounts(t *testing.T) {
	ctx := t.Context()
	src, dst, snap := twoAccounts(t, &KeySpec{Alias: "alias/share", AllowAccounts: []string{targetAcct}})
	dstKey := dst.AddKMSKey(KeySpec{})

	// Not shared yet: the target account does not see it.
	if _, err := copyShared(ctx, dst, snap, dstKey); ErrorCode(err) != "InvalidSnapshot.NotFound" {
		t.Fatalf("copy of an unshared snapshot: %v", err)
	}
	if err := share(ctx, src, snap, types.OperationTypeAdd, targetAcct); err != nil {
		t.Fatal(err)
	}
	if got := src.SharedWith(snap); len(got) != 1 || got[0] != targetAcct {
		t.Fatalf("shared with %v", got)
	}
	attr, err := src.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(snap), Attribute: types.SnapshotAttributeNameCreateVolumePermission})
	if err != nil || len(attr.CreateVolumePermissions) != 1 || aws.ToString(attr.CreateVolumePermissions[0].UserId) != targetAcct {
		t.Fatalf("DescribeSnapshotAttribute: %+v %v", attr, err)
	}
	// The target lists it as restorable by it, with the owner's id and
	// without the owner's tags; its own listing (OwnerIds self) does not.
	out, err := dst.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{RestorableByUserIds: []string{"self"}})
	if err != nil || len(out.Snapshots) != 1 || aws.ToString(out.Snapshots[0].OwnerId) != src.AccountID() || out.Snapshots[0].Tags != nil {
		t.Fatalf("restorable by the target: %+v %v", out, err)
	}
	if own, _ := dst.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}}); len(own.Snapshots) != 0 {
		t.Fatalf("the target's own snapshots include the shared one: %+v", own.Snapshots)
	}
	cp, err := copyShared(ctx, dst, snap, dstKey)
	if err != nil {
		t.Fatal(err)
	}
	dst.Clock().Advance(24 * time.Hour)
	got := dst.Snapshots()
	if len(got) != 1 || aws.ToString(got[0].SnapshotId) != cp || aws.ToString(got[0].KmsKeyId) != dstKey || aws.ToString(got[0].OwnerId) != targetAcct {
		t.Fatalf("the target's copy: %+v", got)
	}
	// Unshared again: the source keeps its snapshot, the target its copy.
	if err := share(ctx, src, snap, types.OperationTypeRemove, targetAcct); err != nil {
		t.Fatal(err)
	}
	if len(src.Shares()) != 0 {
		t.Fatalf("shares left: %v", src.Shares())
	}
	if _, err := copyShared(ctx, dst, snap, dstKey); ErrorCode(err) != "InvalidSnapshot.NotFound" {
		t.Fatalf("copy after the share was removed: %v", err)
	}
	// Removing a permission that is not there changes nothing.
	before := src.Mutations()
	if err := share(ctx, src, snap, types.OperationTypeRemove, targetAcct); err != nil || src.Mutations() != before {
		t.Fatalf("a second remove: %v, mutations %d -> %d", err, before, src.Mutations())
	}
}

func TestAWSManagedKeyCannotBeShared(t *testing.T) {
	src, _, snap := twoAccounts(t, nil)
	err := share(t.Context(), src, snap, types.OperationTypeAdd, targetAcct)
	if ErrorCode(err) != "InvalidParameter" || !strings.Contains(err.Error(), "AWS Managed") {
		t.Fatalf("sharing an aws/ebs snapshot: %v", err)
	}
	if len(src.Shares()) != 0 {
		t.Fatal("shared anyway")
	}
	out, err := src.KMS().DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")})
	if err != nil || out.KeyMetadata.KeyManager != kmstypes.KeyManagerTypeAws || aws.ToString(out.KeyMetadata.Arn) != src.DefaultKMSKey() {
		t.Fatalf("DescribeKey alias/aws/ebs: %+v %v", out, err)
	}
}

// TestKeyWithoutTheTargetAccount: a customer-managed key whose policy does
// not name the target account can be shared (EC2 does not check), but the
// target can neither describe the key nor copy the snapshot; a grant, or a
// policy statement with every action, lets it.
func TestKeyWithoutTheTargetAccount(t *testing.T) {
	ctx := t.Context()
	src := newSim(t, Options{})
	dst := src.NewAccount(targetAcct, "us-east-1")
	noPolicy := src.AddKMSKey(KeySpec{})
	partial := src.AddKMSKey(KeySpec{AllowAccounts: []string{targetAcct}, AllowActions: []string{"kms:Decrypt", "kms:DescribeKey"}})
	for _, key := range []string{noPolicy, partial} {
		vol, err := src.AddVolume(VolumeSpec{SizeGiB: 10, Type: types.VolumeTypeGp3, Encrypted: true, KMSKeyID: key, Zone: "us-east-1a"})
		if err != nil {
			t.Fatal(err)
		}
		snap := completedSnapshot(t, src, vol)
		if err := share(ctx, src, snap, types.OperationTypeAdd, targetAcct); err != nil {
			t.Fatal(err)
		}
		_, err = copyShared(ctx, dst, snap, "")
		if ErrorCode(err) != "UnauthorizedOperation" || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "kms:CreateGrant") {
			t.Fatalf("copy with key %s the target may not use: %v", key, err)
		}
		if key == noPolicy {
			if _, err := dst.KMS().DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)}); ErrorCode(err) != "AccessDeniedException" {
				t.Fatalf("the target describes a key that does not admit it: %v", err)
			}
		}
		if err := src.GrantKMSKey(key, targetAcct); err != nil {
			t.Fatal(err)
		}
		if _, err := copyShared(ctx, dst, snap, ""); err != nil {
			t.Fatalf("copy after the grant: %v", err)
		}
	}
	// The policy and grants are the owner's to read.
	pol, err := src.KMS().GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(partial), PolicyName: aws.String("default")})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Statement []map[string]any }
	if err := json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc); err != nil || len(doc.Statement) != 2 {
		t.Fatalf("policy %s: %v", aws.ToString(pol.Policy), err)
	}
	if _, err := dst.KMS().GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(partial)}); ErrorCode(err) != "AccessDeniedException" {
		t.Fatalf("the target read the source key's policy: %v", err)
	}
	gr, err := src.KMS().ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(partial)})
	if err != nil || len(gr.Grants) != 1 || !strings.Contains(aws.ToString(gr.Grants[0].GranteePrincipal), targetAcct) {
		t.Fatalf("ListGrants: %+v %v", gr, err)
	}
	src.DenyOperation(OpKMSListGrants)
	if _, err := src.KMS().ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(partial)}); ErrorCode(err) != "AccessDeniedException" {
		t.Fatalf("denied ListGrants: %v", err)
	}
}

// TestVolumeFromSharedSnapshot: the target account may also restore a
// shared snapshot directly, once it is shared, with its own key.
func TestVolumeFromSharedSnapshot(t *testing.T) {
	ctx := t.Context()
	src, dst, snap := twoAccounts(t, &KeySpec{AllowAccounts: []string{targetAcct}})
	in := &ec2.CreateVolumeInput{SnapshotId: aws.String(snap), AvailabilityZone: aws.String("us-east-1a")}
	if _, err := dst.CreateVolume(ctx, in); ErrorCode(err) != "InvalidSnapshot.NotFound" {
		t.Fatalf("a volume from an unshared snapshot: %v", err)
	}
	if err := share(ctx, src, snap, types.OperationTypeAdd, targetAcct); err != nil {
		t.Fatal(err)
	}
	out, err := dst.CreateVolume(ctx, in)
	if err != nil || aws.ToString(out.KmsKeyId) != dst.DefaultKMSKey() {
		t.Fatalf("a volume from the shared snapshot: %+v %v", out, err)
	}
}

// TestCrashIsTheProcesss: CrashAfter counts the calls of both accounts, and
// once it fired both fail until Revive.
func TestCrashIsTheProcesss(t *testing.T) {
	ctx := t.Context()
	src, dst, snap := twoAccounts(t, &KeySpec{AllowAccounts: []string{targetAcct}})
	src.CrashAfter(2)
	if err := share(ctx, src, snap, types.OperationTypeAdd, targetAcct); err != nil {
		t.Fatal(err)
	}
	if _, err := copyShared(ctx, dst, snap, ""); ErrorCode(err) != "Crash" || !src.Crashed() || !dst.Crashed() {
		t.Fatalf("the second mutating call (in the other account) did not crash: %v", err)
	}
	if _, err := src.DescribeSnapshots(ctx, nil); ErrorCode(err) != "Crash" {
		t.Fatalf("after the crash: %v", err)
	}
	dst.Revive()
	if _, err := src.DescribeSnapshots(ctx, nil); err != nil || src.ProcessMutations() != 3 {
		t.Fatalf("after Revive: %v, %d process mutations", err, src.ProcessMutations())
	}
}
