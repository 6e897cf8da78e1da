package ec2sim

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
)

// TestIDChecks: every call that takes a volume or snapshot id checks it
// the one way (checkID): a malformed id is InvalidParameterValue, a
// well-formed unknown one Invalid<Kind>.NotFound, with EC2's wording.
func TestIDChecks(t *testing.T) {
	ctx := context.Background()
	s := newSim(t, Options{})
	vol, err := s.AddVolume(VolumeSpec{SizeGiB: 10})
	if err != nil {
		t.Fatal(err)
	}
	const (
		badVol, unknownVol   = "volume-1", "vol-0123456789abcdef0"
		badSnap, unknownSnap = "snap-xyz", "snap-0123456789abcdef0"
	)
	type callFn func(id string) error
	calls := map[string]struct {
		kind idKind
		call callFn
	}{
		"DescribeVolumes": {volumeIDs, func(id string) error {
			_, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vol, id}})
			return err
		}},
		"CreateSnapshot": {volumeIDs, func(id string) error {
			_, err := s.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(id)})
			return err
		}},
		"DeleteVolume": {volumeIDs, func(id string) error {
			_, err := s.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(id)})
			return err
		}},
		"DescribeSnapshots": {snapshotIDs, func(id string) error {
			_, err := s.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
			return err
		}},
		"CreateVolume": {snapshotIDs, func(id string) error {
			_, err := s.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: aws.String(id)})
			return err
		}},
		"DeleteSnapshot": {snapshotIDs, func(id string) error {
			_, err := s.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
			return err
		}},
	}
	bad := map[string][2]string{"vol": {badVol, unknownVol}, "snap": {badSnap, unknownSnap}}
	for op, c := range calls {
		ids := bad[c.kind.prefix]
		for i, want := range []struct{ code, msg string }{
			{"InvalidParameterValue", `Invalid id: "` + ids[0] + `" (expecting "` + c.kind.prefix + `-...")`},
			{c.kind.notFound, "The " + c.kind.noun + " '" + ids[1] + "' does not exist."},
		} {
			var ae smithy.APIError
			if err := c.call(ids[i]); !errors.As(err, &ae) || ae.ErrorCode() != want.code || ae.ErrorMessage() != want.msg {
				t.Errorf("%s(%s) = %v, want %s: %s", op, ids[i], err, want.code, want.msg)
			}
		}
	}
	// CopySnapshot checks the form of the source id before the region's
	// snapshots.
	_, err = s.CopySnapshot(ctx, &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(badSnap), SourceRegion: aws.String("us-east-1")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValue" {
		t.Errorf("CopySnapshot(%s) = %v, want InvalidParameterValue", badSnap, err)
	}
	if err := checkID(volumeIDs, vol, s.volumes); err != nil {
		t.Errorf("checkID(%s) = %v", vol, err)
	}
}
