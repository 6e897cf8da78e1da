package check

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/ownership"
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

// own tags each volume as graft clone tags the volume of its record entry.
func own(rec *record.Record, vols []ec2types.Volume) []ec2types.Volume {
	for i := range vols {
		for _, v := range rec.Volumes {
			if v.TargetVolume == aws.ToString(vols[i].VolumeId) {
				vols[i].Tags = ec2Tags(map[string]string{
					ownership.TagMigration: rec.Migration, ownership.TagMember: ebs.Member{StatefulSet: v.StatefulSet, Ordinal: v.Ordinal}.Key(),
					ownership.TagClaimTemplate: v.ClaimTemplate, ownership.TagRole: ownership.RoleVolume,
				})
			}
		}
	}
	return vols
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for k, v := range m {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

func TestLive(t *testing.T) {
	key := "arn:aws:kms:us-east-1:111122223333:key/k1"
	rec := &record.Record{Migration: "m", Volumes: []record.Volume{
		{StatefulSet: "s", Ordinal: 0, ClaimTemplate: "d", TargetVolume: "vol-a", TargetZone: "us-east-1a", SizeGiB: 10, Encrypted: true, KMSKeyID: key},
		{StatefulSet: "s", Ordinal: 1, ClaimTemplate: "d", TargetVolume: "vol-b", TargetZone: "us-east-1b", SizeGiB: 10},
		{StatefulSet: "s", Ordinal: 2, ClaimTemplate: "d", TargetVolume: "vol-c", TargetZone: "us-east-1c", SizeGiB: 10},
		{StatefulSet: "s", Ordinal: 3, ClaimTemplate: "d", TargetVolume: "vol-d", TargetZone: "us-east-1a", SizeGiB: 10},
		{StatefulSet: "s", Ordinal: 4, ClaimTemplate: "d", TargetVolume: "vol-e", TargetZone: "us-east-1a", SizeGiB: 10, Encrypted: true},
		{StatefulSet: "s", Ordinal: 5, ClaimTemplate: "d", TargetVolume: "vol-f", TargetZone: "us-east-1a", SizeGiB: 10, Encrypted: true, KMSKeyID: "k1"},
		{StatefulSet: "s", Ordinal: 6, ClaimTemplate: "d", TargetVolume: "vol-g", TargetZone: "us-east-1a", SizeGiB: 10},
	}}
	api := &fakeEC2{calls: map[string]int{}, volumes: own(rec, []ec2types.Volume{
		vol("vol-a", "us-east-1a", 10, ec2types.VolumeStateAvailable, true, "k1"),               // ok (key id vs ARN)
		vol("vol-b", "us-east-1c", 20, ec2types.VolumeStateAvailable, false, ""),                // zone, size
		vol("vol-c", "us-east-1c", 10, ec2types.VolumeStateInUse, false, "", "i-node"),          // attached to a node: ok
		vol("vol-d", "us-east-1a", 10, ec2types.VolumeStateInUse, false, "", "i-legacy"),        // attached outside
		vol("vol-e", "us-east-1a", 10, ec2types.VolumeStateAvailable, false, ""),                // encryption
		vol("vol-f", "us-east-1a", 10, ec2types.VolumeStateAvailable, true, "arn:aws:kms:x/k2"), // other key
		// vol-g is missing; and one volume is creating:
	}), instances: []ec2types.Instance{
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
	api.volumes = own(rec, []ec2types.Volume{vol("vol-a", "us-east-1a", 10, ec2types.VolumeStateCreating, true, key)})
	found, err = Live(context.Background(), api, &record.Record{Migration: "m", Volumes: rec.Volumes[:1]}, "graft.lock", nil)
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
	api.volumes = own(rec, api.volumes)
	found, err := Live(context.Background(), api, rec, "graft.lock", nil)
	if err != nil || len(found) != 0 {
		t.Fatalf("%v %v", err, found)
	}
	if api.calls["DescribeVolumes"] != 3 {
		t.Errorf("%d DescribeVolumes calls for 450 volumes, want 3", api.calls["DescribeVolumes"])
	}
}

// TestLiveOwnership: a recorded volume must carry this migration's
// graft:migration tag and its member's graft:member (and claim template
// and role) tags; another migration's volume, which that migration's
// cleanup would delete, is denied with the volume, the tag, the value found
// and the value expected. Against the in-process EC2.
func TestLiveOwnership(t *testing.T) {
	sim := ec2sim.New(ec2sim.Options{})
	rec := &record.Record{Migration: "cass", Volumes: []record.Volume{
		{StatefulSet: "s", Ordinal: 0, ClaimTemplate: "data"},
		{StatefulSet: "s", Ordinal: 1, ClaimTemplate: "data"},
		{StatefulSet: "s", Ordinal: 2, ClaimTemplate: "data"},
		{StatefulSet: "s", Ordinal: 3, ClaimTemplate: "data"},
	}}
	owned := func(v record.Volume) map[string]string {
		return map[string]string{
			ownership.TagMigration: rec.Migration, ownership.TagMember: ebs.Member{StatefulSet: v.StatefulSet, Ordinal: v.Ordinal}.Key(),
			ownership.TagClaimTemplate: v.ClaimTemplate, ownership.TagRole: ownership.RoleVolume, ownership.TagPhase: "final",
		}
	}
	tags := []map[string]string{owned(rec.Volumes[0]), owned(rec.Volumes[1]), owned(rec.Volumes[2]), nil}
	tags[1][ownership.TagMigration] = "kafka"   // another migration's volume
	tags[2][ownership.TagMember] = "s/7"        // another member's
	delete(tags[2], ownership.TagClaimTemplate) // and untagged for its claim
	for i := range rec.Volumes {
		id, err := sim.AddVolume(ec2sim.VolumeSpec{SizeGiB: 10, Tags: tags[i]})
		if err != nil {
			t.Fatal(err)
		}
		rec.Volumes[i].TargetVolume, rec.Volumes[i].TargetZone, rec.Volumes[i].SizeGiB = id, "us-east-1a", 10
	}
	found, got := liveSummary(t, sim, rec)
	v := func(i int) string { return rec.Volumes[i].TargetVolume }
	want := []string{
		"GRAFT055 " + v(1) + ` tags["graft:migration"] found "kafka" expected "cass"`,
		"GRAFT055 " + v(2) + ` tags["graft:claim-template"] found missing expected "data"`,
		"GRAFT055 " + v(2) + ` tags["graft:member"] found "s/7" expected "s/2"`,
		"GRAFT055 " + v(3) + ` tags["graft:claim-template"] found missing expected "data"`,
		"GRAFT055 " + v(3) + ` tags["graft:member"] found missing expected "s/3"`,
		"GRAFT055 " + v(3) + ` tags["graft:migration"] found missing expected "cass"`,
		"GRAFT055 " + v(3) + ` tags["graft:role"] found missing expected "volume"`,
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range found {
		for _, part := range []string{f.Name, f.Field + " is " + f.Found + ", expected " + f.Expected} {
			if !strings.Contains(f.Message, part) {
				t.Errorf("message %q does not say %q", f.Message, part)
			}
		}
	}
}

// TestLiveClusterTags: GRAFT056 finds a recorded cluster tag the volume
// lacks or holds with another value, a volume naming another cluster, and
// a record of Auto Mode's driver without its tag; a volume with exactly the
// recorded tags, and a record without cluster tags, pass.
func TestLiveClusterTags(t *testing.T) {
	sim := ec2sim.New(ec2sim.Options{})
	addOn := map[string]string{"ebs.csi.aws.com/cluster": "true", "ebs.csi.aws.com/cluster-name": "prod"}
	auto := map[string]string{"eks:eks-cluster-name": "prod"}
	cases := []struct {
		driver   string
		recorded map[string]string
		extra    map[string]string // on the volume, besides graft's own tags
	}{
		{"ebs.csi.aws.com", addOn, addOn},                                                                                         // 0: passes
		{"ebs.csi.eks.amazonaws.com", auto, auto},                                                                                 // 1: passes
		{"", nil, map[string]string{"KubernetesCluster": "other"}},                                                                // 2: no cluster recorded: passes
		{"ebs.csi.aws.com", addOn, map[string]string{"ebs.csi.aws.com/cluster": "true"}},                                          // 3: cluster-name missing
		{"ebs.csi.aws.com", addOn, map[string]string{"ebs.csi.aws.com/cluster": "false", "ebs.csi.aws.com/cluster-name": "prod"}}, // 4: wrong value
		{"ebs.csi.eks.amazonaws.com", auto, map[string]string{"eks:eks-cluster-name": "prod", "KubernetesCluster": "staging"}},    // 5: another cluster
		{"ebs.csi.eks.amazonaws.com", nil, map[string]string{"eks:eks-cluster-name": "prod"}},                                     // 6: record lacks the tag
		{"ebs.csi.eks.amazonaws.com", auto, nil},                                                                                  // 7: volume untagged
	}
	rec := &record.Record{Migration: "cass"}
	for i, c := range cases {
		v := record.Volume{StatefulSet: "s", Ordinal: i, ClaimTemplate: "data", CSIDriver: c.driver, ClusterTags: c.recorded}
		tags := map[string]string{
			ownership.TagMigration: rec.Migration, ownership.TagMember: ebs.Member{StatefulSet: v.StatefulSet, Ordinal: v.Ordinal}.Key(),
			ownership.TagClaimTemplate: v.ClaimTemplate, ownership.TagRole: ownership.RoleVolume,
		}
		maps.Copy(tags, c.extra)
		id, err := sim.AddVolume(ec2sim.VolumeSpec{SizeGiB: 10, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		v.TargetVolume, v.TargetZone, v.SizeGiB = id, "us-east-1a", 10
		rec.Volumes = append(rec.Volumes, v)
	}
	_, got := liveSummary(t, sim, rec)
	v := func(i int) string { return rec.Volumes[i].TargetVolume }
	want := []string{
		"GRAFT056 " + v(3) + ` tags["ebs.csi.aws.com/cluster-name"] found missing expected "prod"`,
		"GRAFT056 " + v(4) + ` tags["ebs.csi.aws.com/cluster"] found "false" expected "true"`,
		"GRAFT056 " + v(5) + ` tags["KubernetesCluster"] found "staging" expected "prod" or no such tag`,
		"GRAFT056 " + v(6) + ` clusterTags found no eks:eks-cluster-name expected the tag eks:eks-cluster-name=<cluster>`,
		"GRAFT056 " + v(7) + ` tags["eks:eks-cluster-name"] found missing expected "prod"`,
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLiveAttachments: GRAFT051 is true in every case. An instance is a
// node when any Kubernetes node tag marks it (kubernetes.io/cluster/<name>,
// eks:cluster-name, eks:eks-cluster-name, KubernetesCluster): a Karpenter
// or EKS Auto Mode node was once called "outside the cluster". An instance
// without one is named as such, and one EC2 does not list is not called
// "outside the cluster" either. Instances are asked for in batches of 200
// (EC2's limit of values in a filter).
func TestLiveAttachments(t *testing.T) {
	sim := ec2sim.New(ec2sim.Options{})
	rec := &record.Record{Migration: "m"}
	nodeTags := []map[string]string{
		{"kubernetes.io/cluster/prod": "owned"},
		{"eks:cluster-name": "prod"},
		{"eks:eks-cluster-name": "prod", "karpenter.sh/nodepool": "default"},
		{"KubernetesCluster": "prod"},
		{"Name": "cassandra-legacy"},
	}
	var legacy, legacyVol string
	for i := range 450 {
		tags := nodeTags[i%4]
		if i == 449 {
			tags = nodeTags[4]
		}
		inst, err := sim.AddInstance(ec2sim.InstanceSpec{Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		v := record.Volume{StatefulSet: "s", Ordinal: i, ClaimTemplate: "data", TargetZone: "us-east-1a", SizeGiB: 10}
		id, err := sim.AddVolume(ec2sim.VolumeSpec{SizeGiB: 10, Tags: map[string]string{
			ownership.TagMigration: "m", ownership.TagMember: ebs.Member{StatefulSet: "s", Ordinal: i}.Key(), ownership.TagClaimTemplate: "data", ownership.TagRole: ownership.RoleVolume,
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := sim.Attach(id, inst, "/dev/xvdf"); err != nil {
			t.Fatal(err)
		}
		v.TargetVolume = id
		rec.Volumes = append(rec.Volumes, v)
		legacy, legacyVol = inst, id
	}
	sim.ResetAudit()
	found, err := Live(context.Background(), sim, rec, "graft.lock", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != "GRAFT051" || found[0].Name != legacyVol || found[0].Found != "attached to "+legacy ||
		!strings.Contains(found[0].Message, "no Kubernetes node tag") || strings.Contains(found[0].Message, "outside the cluster") {
		t.Errorf("findings %+v, want one GRAFT051 for %s on %s, which no node tag marks", found, legacyVol, legacy)
	}
	if n := sim.Count(ec2sim.OpDescribeInstances); n != 3 {
		t.Errorf("%d DescribeInstances calls for 450 instances, want 3", n)
	}

	// An instance EC2 does not list (the fake lists none).
	api := &fakeEC2{calls: map[string]int{}, volumes: own(rec, []ec2types.Volume{vol(rec.Volumes[0].TargetVolume, "us-east-1a", 10, ec2types.VolumeStateInUse, false, "", "i-0123456789abcdef0")})}
	found, err = Live(context.Background(), api, &record.Record{Migration: "m", Volumes: rec.Volumes[:1]}, "graft.lock", nil)
	if err != nil || len(found) != 1 || !strings.Contains(found[0].Message, "an instance EC2 does not list") {
		t.Errorf("unlisted instance: %v %+v", err, found)
	}
}

// liveSummary runs Live over rec and returns its findings, and one sorted
// line of each: rule, volume, field, what was found and what was expected.
func liveSummary(t *testing.T, api EC2, rec *record.Record) ([]Finding, []string) {
	t.Helper()
	found, err := Live(context.Background(), api, rec, "graft.lock", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, fmt.Sprintf("%s %s %s found %s expected %s", f.ID, f.Name, f.Field, f.Found, f.Expected))
	}
	sort.Strings(got)
	return found, got
}
