package ebs_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ec2sim"
)

func deleteVolumeInput(id string) *ec2.DeleteVolumeInput {
	return &ec2.DeleteVolumeInput{VolumeId: aws.String(id)}
}

func createVolume(t *testing.T, sim *ec2sim.Sim, tags map[string]string) string {
	t.Helper()
	ts := types.TagSpecification{ResourceType: types.ResourceTypeVolume}
	for k, v := range tags {
		ts.Tags = append(ts.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := sim.CreateVolume(context.Background(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(10), VolumeType: types.VolumeTypeGp3, TagSpecifications: []types.TagSpecification{ts}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.VolumeId)
}
