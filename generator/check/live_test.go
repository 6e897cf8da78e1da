package check

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/record"
)

// fakeEC2 answers from fixed volumes and instances, as the filters ask.
type fakeEC2 struct {
	volumes   []ec2types.Volume
	instances []ec2types.Instance
	calls     map[string]int
	err       error
}

func filterValues(fs []ec2types.Filter, name string) map[string]bool {
	out := map[string]bool{}
	for _, f := range fs {
		if aws.ToString(f.Name) == name {
			for _, v := range f.Values {
				out[v] = true
			}
		}
	}
	return out
}

func (f *fakeEC2) DescribeVolumes(_ context.Context, in *ec2.DescribeVolumesInput, _ ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	f.calls["DescribeVolumes"]++
	if f.err != nil {
		return nil, f.err
	}
	want := filterValues(in.Filters, "volume-id")
	out := &ec2.DescribeVolumesOutput{}
	for _, v := range f.volumes {
		if want[aws.ToString(v.VolumeId)] {
			out.Volumes = append(out.Volumes, v)
		}
	}
	return out, nil
}

func (f *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.calls["DescribeInstances"]++
	want := filterValues(in.Filters, "instance-id")
	out := &ec2.DescribeInstancesOutput{}
	for _, i := range f.instances {
		if want[aws.ToString(i.InstanceId)] {
			out.Reservations = append(out.Reservations, ec2types.Reservation{Instances: []ec2types.Instance{i}})
		}
	}
	return out, nil
}

func vol(id, zone string, size int32, state ec2types.VolumeState, encrypted bool, kms string, attached ...string) ec2types.Volume {
	v := ec2types.Volume{VolumeId: aws.String(id), AvailabilityZone: aws.String(zone), Size: aws.Int32(size), State: state, Encrypted: aws.Bool(encrypted)}
	if kms != "" {
		v.KmsKeyId = aws.String(kms)
	}
	for _, i := range attached {
		v.Attachments = append(v.Attachments, ec2types.VolumeAttachment{InstanceId: aws.String(i)})
	}
	return v
}

func TestLive(t *testing.T) {
	key := "arn:aws:kms:us-east-1:111122223333:key/k1"
	rec := &record.Record{Volumes: []record.Volume{
		{StatefulSet: "s", Ordinal: 0, ClaimTemplate: "d", TargetVolume: "vol-a", TargetZone: "us-east-1a", SizeGiB: 10, Encrypted: true, KMSKeyID: key},
		{StatefulSet: "s", Ordinal: 1, ClaimTemplate: "d", TargetVolume: "vol-b", TargetZone: "us-east-1b", SizeGiB: 10},
		{StatefulSet: "s", Ordinal: 2, ClaimTemplate: "d", TargetVolume: "vol-c", TargetZone: "us-east-1c", SizeGiB: 10},
		{StatefulSet: "s", Ordinal: 3, ClaimTemplate: "d", TargetVolume: "vol-d", TargetZone: "us-east-1a", SizeGiB: 10},
		{StatefulSet: "s", Ordinal: 4, ClaimTemplate: "d", TargetVolume: "vol-e", TargetZone: "us-east-1a", SizeGiB: 10, Encrypted: true},
		{StatefulSet: "s", Ordinal: 5, ClaimTemplate: "d", TargetVolume: "vol-f", TargetZone: "us-east-1a", SizeGiB: 10, Encrypted: true, KMSKeyID: "k1"},
		{StatefulSet: "s", Ordinal: 6, ClaimTemplate: "d", TargetVolume: "vol-g", TargetZone: "us-east-1a", SizeGiB: 10},
	}}
	api := &fakeEC2{calls: map[string]int{}, volumes: []ec2types.Volume{
		vol("vol-a", "us-east-1a", 10, ec2types.VolumeStateAvailable, true, "k1"),               // ok (key id vs ARN)
		vol("vol-b", "us-east-1c", 20, ec2types.VolumeStateAvailable, false, ""),                // zone, size
		vol("vol-c", "us-east-1c", 10, ec2types.VolumeStateInUse, false, "", "i-node"),          // attached to a node: ok
		vol("vol-d", "us-east-1a", 10, ec2types.VolumeStateInUse, false, "", "i-legacy"),        // attached outside
		vol("vol-e", "us-east-1a", 10, ec2types.VolumeStateAvailable, false, ""),                // encryption
		vol("vol-f", "us-east-1a", 10, ec2types.VolumeStateAvailable, true, "arn:aws:kms:x/k2"), // other key
		// vol-g is missing; and one volume is creating:
	}, instances: []ec2types.Instance{
		{InstanceId: aws.String("i-node"), Tags: []ec2types.Tag{{Key: aws.String("eks:cluster-name"), Value: aws.String("prod")}}},
		{InstanceId: aws.String("i-legacy"), Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("cassandra-3")}}},
	}}
	found, err := Live(context.Background(), api, rec, "graft.lock", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, f.ID+" "+f.Name+" "+f.Field)
	}
	sort.Strings(got)
	want := []string{
		"GRAFT050 vol-g targetVolume",
		"GRAFT051 vol-d state",
		"GRAFT052 vol-b targetZone",
		"GRAFT053 vol-b sizeGiB",
		"GRAFT054 vol-e encrypted",
		"GRAFT054 vol-f kmsKeyId",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if api.calls["DescribeVolumes"] != 1 || api.calls["DescribeInstances"] != 1 {
		t.Errorf("calls %v", api.calls)
	}

	// A volume that is not available and not attached.
	api.volumes = []ec2types.Volume{vol("vol-a", "us-east-1a", 10, ec2types.VolumeStateCreating, true, key)}
	found, err = Live(context.Background(), api, &record.Record{Volumes: rec.Volumes[:1]}, "graft.lock", nil)
	if err != nil || len(found) != 1 || found[0].ID != "GRAFT051" || found[0].Found != "creating" {
		t.Errorf("creating volume: %v %+v", err, found)
	}

	api.err = errors.New("throttled")
	if _, err := Live(context.Background(), api, rec, "graft.lock", nil); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("error not returned: %v", err)
	}
}

// Volumes are asked for in batches, not one call per volume.
func TestLiveBatches(t *testing.T) {
	rec := &record.Record{}
	api := &fakeEC2{calls: map[string]int{}}
	for i := range 450 {
		id := "vol-" + strings.Repeat("0", 3) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		rec.Volumes = append(rec.Volumes, record.Volume{TargetVolume: id, TargetZone: "z", SizeGiB: 1})
		api.volumes = append(api.volumes, vol(id, "z", 1, ec2types.VolumeStateAvailable, false, ""))
	}
	found, err := Live(context.Background(), api, rec, "graft.lock", nil)
	if err != nil || len(found) != 0 {
		t.Fatalf("%v %v", err, found)
	}
	if api.calls["DescribeVolumes"] != 3 {
		t.Errorf("%d DescribeVolumes calls for 450 volumes, want 3", api.calls["DescribeVolumes"])
	}
}
