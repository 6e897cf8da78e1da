package ec2sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/graftctl/graft/generator/ebs"
)

var (
	_ ebs.EC2   = (*Sim)(nil)
	_ ebs.Clock = (*Clock)(nil)
)

var ctx = context.Background()

// newSim returns a manual-clock simulator without rate limits.
func newSim(t testing.TB, o Options) *Sim {
	t.Helper()
	o.ManualClock = o.Clock == nil
	if o.Limits == (RateLimits{}) {
		o.Limits.Off = true
	}
	return New(o)
}

func seed(t testing.TB, s *Sim, spec ClusterSpec) Cluster {
	t.Helper()
	cl, err := s.SeedCluster(spec)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if code != "" && code != "Crash" {
		var g *smithy.GenericAPIError
		if !errors.As(err, &g) {
			t.Fatalf("%v is not a *smithy.GenericAPIError", err)
		}
	}
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func tagSpec(rt types.ResourceType, kv ...string) []types.TagSpecification {
	ts := types.TagSpecification{ResourceType: rt}
	for i := 0; i+1 < len(kv); i += 2 {
		ts.Tags = append(ts.Tags, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return []types.TagSpecification{ts}
}

func mustSnapshot(t testing.TB, s *Sim, vol string, kv ...string) string {
	t.Helper()
	out, err := s.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol), TagSpecifications: tagSpec(types.ResourceTypeSnapshot, kv...)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.SnapshotId)
}

func snapState(t testing.TB, s *Sim, id string) types.Snapshot {
	t.Helper()
	out, err := s.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Snapshots) != 1 {
		t.Fatalf("got %d snapshots", len(out.Snapshots))
	}
	return out.Snapshots[0]
}

// completedSnapshot snapshots vol and advances the manual clock past it.
func completedSnapshot(t testing.TB, s *Sim, vol string) string {
	t.Helper()
	id := mustSnapshot(t, s, vol)
	s.Clock().Advance(24 * time.Hour)
	if st := snapState(t, s, id).State; st != types.SnapshotStateCompleted {
		t.Fatalf("snapshot %s is %s", id, st)
	}
	return id
}

func TestDefaults(t *testing.T) {
	s := New(Options{})
	if s.Region() != "us-east-1" || strings.Join(s.Zones(), ",") != "us-east-1a,us-east-1b,us-east-1c" {
		t.Fatalf("region %s zones %v", s.Region(), s.Zones())
	}
	out, err := s.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil || len(out.AvailabilityZones) != 3 || aws.ToString(out.AvailabilityZones[0].ZoneId) != "use1-az1" {
		t.Fatalf("zones %+v %v", out, err)
	}
	_, err = s.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"eu-west-1a"}})
	wantCode(t, err, "InvalidParameterValue")
	out, err = s.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{filter("zone-name", "*b")}})
	if err != nil || len(out.AvailabilityZones) != 1 {
		t.Fatalf("filtered zones %+v %v", out, err)
	}
}

func TestDescribeInstances(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 7, Devices: []DeviceSpec{{Device: "/dev/xvdf"}, {Device: "/dev/xvdg"}}})
	if _, err := s.AddInstance(InstanceSpec{Tags: map[string]string{"Name": "kafka-0", "app": "kafka"}, State: types.InstanceStateNameStopped}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      ec2.DescribeInstancesInput
		want    int
		code    string
		nameTag string
	}{
		{name: "all", want: 8},
		{name: "tag", in: ec2.DescribeInstancesInput{Filters: []types.Filter{filter("tag:app", "cassandra")}}, want: 7},
		{name: "tag value", in: ec2.DescribeInstancesInput{Filters: []types.Filter{filter("tag:Name", "cassandra-3")}}, want: 1, nameTag: "cassandra-3"},
		{name: "wildcard", in: ec2.DescribeInstancesInput{Filters: []types.Filter{filter("tag:Name", "cassandra-?")}}, want: 7},
		{name: "tag-key", in: ec2.DescribeInstancesInput{Filters: []types.Filter{filter("tag-key", "app")}}, want: 8},
		{name: "state", in: ec2.DescribeInstancesInput{Filters: []types.Filter{filter("instance-state-name", "running")}}, want: 7},
		{name: "zone and tag", in: ec2.DescribeInstancesInput{Filters: []types.Filter{filter("availability-zone", "us-east-1b"), filter("tag:app", "cassandra")}}, want: 2},
		{name: "values are ORed", in: ec2.DescribeInstancesInput{Filters: []types.Filter{filter("tag:Name", "cassandra-0", "kafka-0")}}, want: 2},
		{name: "by id", in: ec2.DescribeInstancesInput{InstanceIds: []string{cl.Nodes[4].InstanceID}}, want: 1, nameTag: "cassandra-4"},
		{name: "volume filter", in: ec2.DescribeInstancesInput{Filters: []types.Filter{filter("block-device-mapping.volume-id", cl.Nodes[2].DataVolumes["/dev/xvdg"])}}, want: 1, nameTag: "cassandra-2"},
		{name: "unknown filter", in: ec2.DescribeInstancesInput{Filters: []types.Filter{filter("colour", "red")}}, code: "InvalidParameterValue"},
		{name: "unknown id", in: ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}}, code: "InvalidInstanceID.NotFound"},
		{name: "malformed id", in: ec2.DescribeInstancesInput{InstanceIds: []string{"cassandra-0"}}, code: "InvalidInstanceID.Malformed"},
		{name: "ids with max", in: ec2.DescribeInstancesInput{InstanceIds: []string{cl.Nodes[0].InstanceID}, MaxResults: aws.Int32(5)}, code: "InvalidParameterCombination"},
		{name: "max too small", in: ec2.DescribeInstancesInput{MaxResults: aws.Int32(4)}, code: "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.DescribeInstances(ctx, &tt.in)
			wantCode(t, err, tt.code)
			if tt.code != "" {
				return
			}
			n := 0
			for _, r := range out.Reservations {
				for _, in := range r.Instances {
					n++
					if tt.nameTag != "" && tagValue(in.Tags, "Name") != tt.nameTag {
						t.Errorf("got %s", tagValue(in.Tags, "Name"))
					}
				}
			}
			if n != tt.want {
				t.Fatalf("got %d instances, want %d", n, tt.want)
			}
		})
	}
	// The shape the engine reads: zone, IP, devices.
	out, _ := s.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{cl.Nodes[1].InstanceID}})
	in := out.Reservations[0].Instances[0]
	if aws.ToString(in.Placement.AvailabilityZone) != "us-east-1b" || aws.ToString(in.PrivateIpAddress) != cl.Nodes[1].PrivateIP ||
		len(in.BlockDeviceMappings) != 3 || aws.ToString(in.BlockDeviceMappings[1].Ebs.VolumeId) != cl.Nodes[1].DataVolumes["/dev/xvdf"] ||
		in.State.Name != types.InstanceStateNameRunning || aws.ToString(in.RootDeviceName) != "/dev/xvda" {
		t.Fatalf("instance shape: %+v", in)
	}
}

func tagValue(tags []types.Tag, k string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == k {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func TestSDKPaginators(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 23, Devices: []DeviceSpec{{Device: "/dev/xvdf"}}})
	for _, n := range cl.Nodes {
		mustSnapshot(t, s, n.DataVolumes["/dev/xvdf"])
	}
	seen := map[string]bool{}
	p := ec2.NewDescribeInstancesPaginator(s, &ec2.DescribeInstancesInput{Filters: []types.Filter{filter("tag:app", "cassandra")}},
		func(o *ec2.DescribeInstancesPaginatorOptions) { o.Limit = 5; o.StopOnDuplicateToken = true })
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				if seen[*in.InstanceId] {
					t.Fatalf("duplicate %s", *in.InstanceId)
				}
				seen[*in.InstanceId] = true
			}
		}
	}
	if pages != 5 || len(seen) != 23 {
		t.Fatalf("instances: %d pages, %d seen", pages, len(seen))
	}
	vp := ec2.NewDescribeVolumesPaginator(s, &ec2.DescribeVolumesInput{}, func(o *ec2.DescribeVolumesPaginatorOptions) { o.Limit = 10 })
	nv, pages := 0, 0
	for vp.HasMorePages() {
		out, err := vp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		nv += len(out.Volumes)
	}
	if nv != 46 || pages != 5 {
		t.Fatalf("volumes: %d in %d pages", nv, pages)
	}
	sp := ec2.NewDescribeSnapshotsPaginator(s, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}}, func(o *ec2.DescribeSnapshotsPaginatorOptions) { o.Limit = 20 })
	ns := 0
	for sp.HasMorePages() {
		out, err := sp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ns += len(out.Snapshots)
	}
	if ns != 23 {
		t.Fatalf("snapshots: %d", ns)
	}
	_, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(501)})
	wantCode(t, err, "InvalidParameterValue")
	_, err = s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{NextToken: aws.String("garbage")})
	wantCode(t, err, "InvalidParameterValue")
}

func TestDescribeVolumesAndSnapshotsFilters(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 3, Devices: []DeviceSpec{{Device: "/dev/xvdf", VolumeSpec: VolumeSpec{SizeGiB: 500, Encrypted: true}}}})
	n0 := cl.Nodes[0]
	snap := completedSnapshot(t, s, n0.DataVolumes["/dev/xvdf"])
	pending := mustSnapshot(t, s, cl.Nodes[1].DataVolumes["/dev/xvdf"], "graft:migration", "m1")
	vols := []struct {
		name string
		in   ec2.DescribeVolumesInput
		want int
		code string
	}{
		{"attached to", ec2.DescribeVolumesInput{Filters: []types.Filter{filter("attachment.instance-id", n0.InstanceID)}}, 2, ""},
		{"device", ec2.DescribeVolumesInput{Filters: []types.Filter{filter("attachment.device", "/dev/xvdf")}}, 3, ""},
		{"zone", ec2.DescribeVolumesInput{Filters: []types.Filter{filter("availability-zone", "us-east-1c")}}, 2, ""},
		{"status", ec2.DescribeVolumesInput{Filters: []types.Filter{filter("status", "in-use")}}, 6, ""},
		{"encrypted", ec2.DescribeVolumesInput{Filters: []types.Filter{filter("encrypted", "true")}}, 3, ""},
		{"tag", ec2.DescribeVolumesInput{Filters: []types.Filter{filter("tag:Name", "cassandra-2-xvdf")}}, 1, ""},
		{"ids", ec2.DescribeVolumesInput{VolumeIds: []string{n0.DataVolumes["/dev/xvdf"], n0.BootVolumeID}}, 2, ""},
		{"volume-id filter", ec2.DescribeVolumesInput{Filters: []types.Filter{filter("volume-id", n0.BootVolumeID)}}, 1, ""},
		{"missing id", ec2.DescribeVolumesInput{VolumeIds: []string{"vol-0123456789abcdef0"}}, 0, "InvalidVolume.NotFound"},
		{"bad filter", ec2.DescribeVolumesInput{Filters: []types.Filter{filter("instance-id", "x")}}, 0, "InvalidParameterValue"},
	}
	for _, tt := range vols {
		t.Run("volumes/"+tt.name, func(t *testing.T) {
			out, err := s.DescribeVolumes(ctx, &tt.in)
			wantCode(t, err, tt.code)
			if err == nil && len(out.Volumes) != tt.want {
				t.Fatalf("got %d, want %d", len(out.Volumes), tt.want)
			}
		})
	}
	snaps := []struct {
		name string
		in   ec2.DescribeSnapshotsInput
		want []string
		code string
	}{
		{"status completed", ec2.DescribeSnapshotsInput{Filters: []types.Filter{filter("status", "completed")}}, []string{snap}, ""},
		{"status pending", ec2.DescribeSnapshotsInput{Filters: []types.Filter{filter("status", "pending")}}, []string{pending}, ""},
		{"volume-id", ec2.DescribeSnapshotsInput{Filters: []types.Filter{filter("volume-id", n0.DataVolumes["/dev/xvdf"])}}, []string{snap}, ""},
		{"tag", ec2.DescribeSnapshotsInput{Filters: []types.Filter{filter("tag:graft:migration", "m1")}}, []string{pending}, ""},
		{"owner self", ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}}, []string{snap, pending}, ""},
		{"owner-id filter", ec2.DescribeSnapshotsInput{Filters: []types.Filter{filter("owner-id", "123456789012")}}, []string{snap, pending}, ""},
		{"other owner", ec2.DescribeSnapshotsInput{OwnerIds: []string{"999999999999"}}, nil, ""},
		{"ids", ec2.DescribeSnapshotsInput{SnapshotIds: []string{pending}}, []string{pending}, ""},
		{"snapshot-id filter", ec2.DescribeSnapshotsInput{Filters: []types.Filter{filter("snapshot-id", snap)}}, []string{snap}, ""},
		{"missing id", ec2.DescribeSnapshotsInput{SnapshotIds: []string{"snap-0123456789abcdef0"}}, nil, "InvalidSnapshot.NotFound"},
	}
	for _, tt := range snaps {
		t.Run("snapshots/"+tt.name, func(t *testing.T) {
			out, err := s.DescribeSnapshots(ctx, &tt.in)
			wantCode(t, err, tt.code)
			if err != nil {
				return
			}
			var got []string
			for _, sn := range out.Snapshots {
				got = append(got, *sn.SnapshotId)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	d := snapState(t, s, snap)
	if !aws.ToBool(d.Encrypted) || aws.ToString(d.KmsKeyId) != s.DefaultKMSKey() || aws.ToInt32(d.VolumeSize) != 500 || aws.ToString(d.OwnerId) != "123456789012" {
		t.Fatalf("snapshot shape %+v", d)
	}
}

func TestSnapshotProgress(t *testing.T) {
	s := newSim(t, Options{SnapshotDuration: func(i SnapInfo) time.Duration {
		if i.Incremental {
			return 10 * time.Minute
		}
		return 100 * time.Minute
	}})
	cl := seed(t, s, ClusterSpec{Nodes: 1})
	vol := cl.Nodes[0].DataVolumes["/dev/xvdf"]
	id := mustSnapshot(t, s, vol)
	steps := []struct {
		advance  time.Duration
		state    types.SnapshotState
		progress string
	}{
		{0, types.SnapshotStatePending, "0%"},
		{37 * time.Minute, types.SnapshotStatePending, "37%"},
		{62*time.Minute + 59*time.Second, types.SnapshotStatePending, "99%"},
		{time.Second, types.SnapshotStateCompleted, "100%"},
	}
	for _, st := range steps {
		s.Clock().Advance(st.advance)
		d := snapState(t, s, id)
		if d.State != st.state || aws.ToString(d.Progress) != st.progress {
			t.Fatalf("after %v: %s %s, want %s %s", s.Elapsed(), d.State, *d.Progress, st.state, st.progress)
		}
	}
	if d := snapState(t, s, id); d.CompletionTime == nil || d.CompletionTime.Sub(*d.StartTime) != 100*time.Minute {
		t.Fatalf("completion time %v", d.CompletionTime)
	}
	inc := mustSnapshot(t, s, vol)
	s.Clock().Advance(10 * time.Minute)
	if st := snapState(t, s, inc).State; st != types.SnapshotStateCompleted {
		t.Fatalf("incremental snapshot is %s after 10m", st)
	}
}

func TestCreateSnapshots(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 1, Devices: []DeviceSpec{
		{Device: "/dev/xvdf", VolumeSpec: VolumeSpec{Tags: map[string]string{"team": "data"}}},
		{Device: "/dev/xvdg"}, {Device: "/dev/xvdh"},
	}})
	n := cl.Nodes[0]
	tests := []struct {
		name string
		spec types.InstanceSpecification
		copy types.CopyTagsFromSource
		want []string
		code string
	}{
		{name: "all", spec: types.InstanceSpecification{}, want: []string{n.BootVolumeID, n.DataVolumes["/dev/xvdf"], n.DataVolumes["/dev/xvdg"], n.DataVolumes["/dev/xvdh"]}},
		{name: "no boot", spec: types.InstanceSpecification{ExcludeBootVolume: aws.Bool(true)}, want: []string{n.DataVolumes["/dev/xvdf"], n.DataVolumes["/dev/xvdg"], n.DataVolumes["/dev/xvdh"]}, copy: types.CopyTagsFromSourceVolume},
		{name: "exclude data", spec: types.InstanceSpecification{ExcludeBootVolume: aws.Bool(true), ExcludeDataVolumeIds: []string{n.DataVolumes["/dev/xvdg"]}}, want: []string{n.DataVolumes["/dev/xvdf"], n.DataVolumes["/dev/xvdh"]}},
		{name: "exclude foreign", spec: types.InstanceSpecification{ExcludeDataVolumeIds: []string{"vol-0123456789abcdef0"}}, code: "InvalidParameterValue"},
		{name: "exclude root", spec: types.InstanceSpecification{ExcludeDataVolumeIds: []string{n.BootVolumeID}}, code: "InvalidParameterValue"},
		{name: "unknown instance", spec: types.InstanceSpecification{InstanceId: aws.String("i-0123456789abcdef0")}, code: "InvalidInstanceID.NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			if spec.InstanceId == nil {
				spec.InstanceId = aws.String(n.InstanceID)
			}
			before := len(s.Snapshots())
			out, err := s.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{InstanceSpecification: &spec, CopyTagsFromSource: tt.copy,
				TagSpecifications: tagSpec(types.ResourceTypeSnapshot, "graft:role", "precopy")})
			wantCode(t, err, tt.code)
			if err != nil {
				if len(s.Snapshots()) != before {
					t.Fatal("a failed CreateSnapshots created snapshots")
				}
				return
			}
			var got []string
			for _, sn := range out.Snapshots {
				got = append(got, *sn.VolumeId)
				if !sn.StartTime.Equal(*out.Snapshots[0].StartTime) || sn.State != types.SnapshotStatePending || tagValue(sn.Tags, "graft:role") != "precopy" {
					t.Fatalf("snapshot %+v", sn)
				}
				if want := tt.copy != "" && *sn.VolumeId == n.DataVolumes["/dev/xvdf"]; (tagValue(sn.Tags, "team") == "data") != want {
					t.Fatalf("CopyTagsFromSource: tags %v", sn.Tags)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("snapshotted %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCreateVolumeValidation(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 1, Devices: []DeviceSpec{{Device: "/dev/xvdf", VolumeSpec: VolumeSpec{SizeGiB: 200}}}})
	vol := cl.Nodes[0].DataVolumes["/dev/xvdf"]
	snap := completedSnapshot(t, s, vol)
	pending := mustSnapshot(t, s, vol)
	base := func(f func(*ec2.CreateVolumeInput)) *ec2.CreateVolumeInput {
		in := &ec2.CreateVolumeInput{SnapshotId: aws.String(snap), AvailabilityZone: aws.String("us-east-1b"), VolumeType: types.VolumeTypeGp3}
		if f != nil {
			f(in)
		}
		return in
	}
	tests := []struct {
		name string
		in   *ec2.CreateVolumeInput
		code string
	}{
		{"ok", base(nil), ""},
		{"ok io2", base(func(in *ec2.CreateVolumeInput) { in.VolumeType = types.VolumeTypeIo2; in.Iops = aws.Int32(64000) }), ""},
		{"ok gp3 max", base(func(in *ec2.CreateVolumeInput) {
			in.Size = aws.Int32(200)
			in.Iops = aws.Int32(80000)
			in.Throughput = aws.Int32(2000)
		}), ""},
		{"zone of another region", base(func(in *ec2.CreateVolumeInput) { in.AvailabilityZone = aws.String("us-west-2a") }), "InvalidZone.NotFound"},
		{"unknown zone id", base(func(in *ec2.CreateVolumeInput) {
			in.AvailabilityZone = nil
			in.AvailabilityZoneId = aws.String("usw2-az1")
		}), "InvalidZone.NotFound"},
		{"no zone", base(func(in *ec2.CreateVolumeInput) { in.AvailabilityZone = nil }), "MissingParameter"},
		{"gp3 iops low", base(func(in *ec2.CreateVolumeInput) { in.Iops = aws.Int32(2999) }), "InvalidParameterValue"},
		{"gp3 iops high", base(func(in *ec2.CreateVolumeInput) { in.Iops = aws.Int32(80001) }), "InvalidParameterValue"},
		{"gp3 iops per GiB", base(func(in *ec2.CreateVolumeInput) { in.Size = aws.Int32(200); in.Iops = aws.Int32(100001) }), "InvalidParameterValue"},
		{"gp3 throughput low", base(func(in *ec2.CreateVolumeInput) { in.Throughput = aws.Int32(124) }), "InvalidParameterValue"},
		{"gp3 throughput high", base(func(in *ec2.CreateVolumeInput) { in.Iops = aws.Int32(16000); in.Throughput = aws.Int32(2001) }), "InvalidParameterValue"},
		{"gp3 throughput per iops", base(func(in *ec2.CreateVolumeInput) { in.Throughput = aws.Int32(1000) }), "InvalidParameterValue"},
		{"io1 without iops", base(func(in *ec2.CreateVolumeInput) { in.VolumeType = types.VolumeTypeIo1 }), "InvalidParameterCombination"},
		{"io1 iops per GiB", base(func(in *ec2.CreateVolumeInput) { in.VolumeType = types.VolumeTypeIo1; in.Iops = aws.Int32(20000) }), "InvalidParameterValue"},
		{"gp2 with iops", base(func(in *ec2.CreateVolumeInput) { in.VolumeType = types.VolumeTypeGp2; in.Iops = aws.Int32(3000) }), "InvalidParameterCombination"},
		{"throughput on io2", base(func(in *ec2.CreateVolumeInput) {
			in.VolumeType = types.VolumeTypeIo2
			in.Iops = aws.Int32(3000)
			in.Throughput = aws.Int32(200)
		}), "InvalidParameterCombination"},
		{"bad type", base(func(in *ec2.CreateVolumeInput) { in.VolumeType = "gp4" }), "InvalidParameterValue"},
		{"smaller than snapshot", base(func(in *ec2.CreateVolumeInput) { in.Size = aws.Int32(199) }), "InvalidParameterValue"},
		{"pending snapshot", base(func(in *ec2.CreateVolumeInput) { in.SnapshotId = aws.String(pending) }), "IncorrectState"},
		{"missing snapshot", base(func(in *ec2.CreateVolumeInput) { in.SnapshotId = aws.String("snap-0123456789abcdef0") }), "InvalidSnapshot.NotFound"},
		{"kms without encrypted", base(func(in *ec2.CreateVolumeInput) { in.KmsKeyId = aws.String("arn:aws:kms:us-east-1:123456789012:key/k") }), "InvalidParameterDependency"},
		{"init rate low", base(func(in *ec2.CreateVolumeInput) { in.VolumeInitializationRate = aws.Int32(99) }), "InvalidParameterValue"},
		{"init rate high", base(func(in *ec2.CreateVolumeInput) { in.VolumeInitializationRate = aws.Int32(301) }), "InvalidParameterValue"},
		{"init rate ok", base(func(in *ec2.CreateVolumeInput) { in.VolumeInitializationRate = aws.Int32(300) }), ""},
		{"init rate without snapshot", base(func(in *ec2.CreateVolumeInput) {
			in.SnapshotId = nil
			in.Size = aws.Int32(10)
			in.VolumeInitializationRate = aws.Int32(200)
		}), "InvalidParameterCombination"},
		{"aws: tag", base(func(in *ec2.CreateVolumeInput) {
			in.TagSpecifications = tagSpec(types.ResourceTypeVolume, "aws:x", "y")
		}), "InvalidParameterValue"},
		{"wrong tag resource type", base(func(in *ec2.CreateVolumeInput) { in.TagSpecifications = tagSpec(types.ResourceTypeSnapshot, "a", "b") }), "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.Volumes())
			out, err := s.CreateVolume(ctx, tt.in)
			wantCode(t, err, tt.code)
			created := len(s.Volumes()) - before
			if (err == nil) != (created == 1) {
				t.Fatalf("err %v but %d volumes created", err, created)
			}
			if err == nil && (out.State != types.VolumeStateCreating || aws.ToString(out.AvailabilityZone) != "us-east-1b" || aws.ToInt32(out.Size) < 200) {
				t.Fatalf("output %+v", out)
			}
		})
	}
	// creating -> available after VolumeCreateDuration (5 s).
	out, err := s.CreateVolume(ctx, base(nil))
	if err != nil {
		t.Fatal(err)
	}
	s.Clock().Advance(5 * time.Second)
	d, _ := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{*out.VolumeId}})
	if v := d.Volumes[0]; v.State != types.VolumeStateAvailable || aws.ToInt32(v.Iops) != 3000 || aws.ToInt32(v.Throughput) != 125 || aws.ToString(v.SnapshotId) != snap {
		t.Fatalf("volume %+v", v)
	}
}

func TestEncryption(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:123456789012:key/1111"
	const key2 = "arn:aws:kms:us-east-1:123456789012:key/2222"
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 1, Devices: []DeviceSpec{
		{Device: "/dev/xvdf", VolumeSpec: VolumeSpec{Encrypted: true, KMSKeyID: key}},
		{Device: "/dev/xvdg"},
	}})
	encSnap := completedSnapshot(t, s, cl.Nodes[0].DataVolumes["/dev/xvdf"])
	plainSnap := completedSnapshot(t, s, cl.Nodes[0].DataVolumes["/dev/xvdg"])
	tests := []struct {
		name    string
		snap    string
		enc     *bool
		kms     string
		wantEnc bool
		wantKey string
	}{
		{"inherits key", encSnap, nil, "", true, key},
		{"re-key", encSnap, aws.Bool(true), key2, true, key2},
		{"cannot decrypt", encSnap, aws.Bool(false), "", true, key},
		{"plain", plainSnap, nil, "", false, ""},
		{"encrypt with default", plainSnap, aws.Bool(true), "", true, s.DefaultKMSKey()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &ec2.CreateVolumeInput{SnapshotId: aws.String(tt.snap), AvailabilityZone: aws.String("us-east-1a"), Encrypted: tt.enc}
			if tt.kms != "" {
				in.KmsKeyId = aws.String(tt.kms)
			}
			out, err := s.CreateVolume(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToBool(out.Encrypted) != tt.wantEnc || aws.ToString(out.KmsKeyId) != tt.wantKey {
				t.Fatalf("encrypted %v key %q", aws.ToBool(out.Encrypted), aws.ToString(out.KmsKeyId))
			}
		})
	}
}

func TestClientToken(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 1})
	snap := completedSnapshot(t, s, cl.Nodes[0].DataVolumes["/dev/xvdf"])
	in := func(token, zone string) *ec2.CreateVolumeInput {
		return &ec2.CreateVolumeInput{SnapshotId: aws.String(snap), AvailabilityZone: aws.String(zone), VolumeType: types.VolumeTypeGp3,
			ClientToken: aws.String(token), TagSpecifications: tagSpec(types.ResourceTypeVolume, "graft:member", "0")}
	}
	first, err := s.CreateVolume(ctx, in("tok-1", "us-east-1a"))
	if err != nil {
		t.Fatal(err)
	}
	mut := s.Mutations()
	again, err := s.CreateVolume(ctx, in("tok-1", "us-east-1a"))
	if err != nil || *again.VolumeId != *first.VolumeId {
		t.Fatalf("same token, same params: %v %v", again, err)
	}
	if s.Mutations() != mut || len(s.Volumes()) != 3 {
		t.Fatalf("replay mutated: %d volumes", len(s.Volumes()))
	}
	_, err = s.CreateVolume(ctx, in("tok-1", "us-east-1b"))
	wantCode(t, err, "IdempotentParameterMismatch")
	other, err := s.CreateVolume(ctx, in("tok-2", "us-east-1b"))
	if err != nil || *other.VolumeId == *first.VolumeId {
		t.Fatalf("new token: %v %v", other, err)
	}
	noTok := in("", "us-east-1a")
	noTok.ClientToken = nil
	a, _ := s.CreateVolume(ctx, noTok)
	b, _ := s.CreateVolume(ctx, noTok)
	if *a.VolumeId == *b.VolumeId {
		t.Fatal("calls without a token were deduplicated")
	}
	// A deleted volume's token still answers, with state deleted.
	s.Clock().Advance(time.Minute)
	if _, err := s.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: first.VolumeId}); err != nil {
		t.Fatal(err)
	}
	gone, err := s.CreateVolume(ctx, in("tok-1", "us-east-1a"))
	if err != nil || *gone.VolumeId != *first.VolumeId || gone.State != types.VolumeStateDeleted {
		t.Fatalf("token of deleted volume: %+v %v", gone, err)
	}
}

func TestCopySnapshot(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:123456789012:key/aaaa"
	s := newSim(t, Options{})
	west := s.NewRegion("us-west-2")
	cl := seed(t, s, ClusterSpec{Nodes: 1, Devices: []DeviceSpec{{Device: "/dev/xvdf", VolumeSpec: VolumeSpec{Encrypted: true}}}})
	vol := cl.Nodes[0].DataVolumes["/dev/xvdf"]
	pending := mustSnapshot(t, s, vol)
	_, err := s.CopySnapshot(ctx, &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(pending), SourceRegion: aws.String("us-east-1")})
	wantCode(t, err, "IncorrectState")
	s.Clock().Advance(24 * time.Hour)
	tests := []struct {
		name    string
		dst     *Sim
		in      ec2.CopySnapshotInput
		code    string
		wantKey string
	}{
		{name: "re-encrypt", dst: s, in: ec2.CopySnapshotInput{Encrypted: aws.Bool(true), KmsKeyId: aws.String(key)}, wantKey: key},
		{name: "same key", dst: s, in: ec2.CopySnapshotInput{}, wantKey: s.DefaultKMSKey()},
		{name: "cross region", dst: west, in: ec2.CopySnapshotInput{}, wantKey: west.DefaultKMSKey()},
		{name: "no source region", dst: s, in: ec2.CopySnapshotInput{SourceRegion: aws.String("")}, code: "MissingParameter"},
		{name: "unlinked region", dst: s, in: ec2.CopySnapshotInput{SourceRegion: aws.String("eu-west-1")}, code: "InvalidSnapshot.NotFound"},
		{name: "kms without encrypted", dst: s, in: ec2.CopySnapshotInput{KmsKeyId: aws.String(key)}, code: "InvalidParameterDependency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.SourceSnapshotId = aws.String(pending)
			if in.SourceRegion == nil {
				in.SourceRegion = aws.String("us-east-1")
			}
			in.TagSpecifications = tagSpec(types.ResourceTypeSnapshot, "graft:role", "copy")
			out, err := tt.dst.CopySnapshot(ctx, &in)
			wantCode(t, err, tt.code)
			if err != nil {
				return
			}
			tt.dst.Clock().Advance(24 * time.Hour)
			d := snapState(t, tt.dst, *out.SnapshotId)
			if aws.ToString(d.VolumeId) != "vol-ffffffff" || aws.ToString(d.KmsKeyId) != tt.wantKey || d.State != types.SnapshotStateCompleted || tagValue(d.Tags, "graft:role") != "copy" {
				t.Fatalf("copy %+v", d)
			}
		})
	}
	if len(west.Snapshots()) != 1 || len(s.Snapshots()) != 3 {
		t.Fatalf("east %d west %d snapshots", len(s.Snapshots()), len(west.Snapshots()))
	}
}

func TestFastSnapshotRestore(t *testing.T) {
	s := newSim(t, Options{FSRSnapshotLimit: 1})
	cl := seed(t, s, ClusterSpec{Nodes: 2, Devices: []DeviceSpec{{Device: "/dev/xvdf", VolumeSpec: VolumeSpec{SizeGiB: 1024}}}})
	snap := completedSnapshot(t, s, cl.Nodes[0].DataVolumes["/dev/xvdf"])
	other := completedSnapshot(t, s, cl.Nodes[1].DataVolumes["/dev/xvdf"])
	pending := mustSnapshot(t, s, cl.Nodes[0].DataVolumes["/dev/xvdf"])
	out, err := s.EnableFastSnapshotRestores(ctx, &ec2.EnableFastSnapshotRestoresInput{SourceSnapshotIds: []string{snap, pending, other}, AvailabilityZones: []string{"us-east-1a", "us-east-1b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 2 || len(out.Unsuccessful) != 4 || out.Successful[0].State != types.FastSnapshotRestoreStateCodeEnabling {
		t.Fatalf("enable: %+v", out)
	}
	codes := map[string]bool{}
	for _, u := range out.Unsuccessful {
		codes[*u.FastSnapshotRestoreStateErrors[0].Error.Code] = true
	}
	if !codes["IncorrectState"] || !codes["ResourceLimitExceeded"] {
		t.Fatalf("unsuccessful codes %v", codes)
	}
	_, err = s.EnableFastSnapshotRestores(ctx, &ec2.EnableFastSnapshotRestoresInput{SourceSnapshotIds: []string{snap}, AvailabilityZones: []string{"eu-west-1a"}})
	wantCode(t, err, "InvalidZone.NotFound")
	state := func() string {
		d, err := s.DescribeFastSnapshotRestores(ctx, &ec2.DescribeFastSnapshotRestoresInput{Filters: []types.Filter{filter("snapshot-id", snap), filter("availability-zone", "us-east-1a")}})
		if err != nil || len(d.FastSnapshotRestores) != 1 {
			t.Fatalf("describe FSR %+v %v", d, err)
		}
		return string(d.FastSnapshotRestores[0].State)
	}
	steps := []struct {
		advance time.Duration
		want    string
	}{{0, "enabling"}, {time.Minute, "optimizing"}, {59 * time.Minute, "optimizing"}, {time.Minute, "enabled"}}
	for _, st := range steps {
		s.Clock().Advance(st.advance)
		if got := state(); got != st.want {
			t.Fatalf("at %v: %s, want %s", s.Elapsed(), got, st.want)
		}
	}
	// 1 TiB: one credit; the second volume in the zone is not fast-restored.
	for i, want := range []bool{true, false} {
		v, err := s.CreateVolume(ctx, &ec2.CreateVolumeInput{SnapshotId: aws.String(snap), AvailabilityZone: aws.String("us-east-1a")})
		if err != nil || aws.ToBool(v.FastRestored) != want {
			t.Fatalf("volume %d: fast restored %v, want %v (%v)", i, aws.ToBool(v.FastRestored), want, err)
		}
	}
	if _, err := s.DisableFastSnapshotRestores(ctx, &ec2.DisableFastSnapshotRestoresInput{SourceSnapshotIds: []string{snap}, AvailabilityZones: []string{"us-east-1a", "us-east-1b"}}); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != "disabling" {
		t.Fatalf("after disable: %s", got)
	}
	s.Clock().Advance(time.Minute)
	if got := state(); got != "disabled" {
		t.Fatalf("after disable: %s", got)
	}
	d, _ := s.DescribeFastSnapshotRestores(ctx, &ec2.DescribeFastSnapshotRestoresInput{Filters: []types.Filter{filter("state", "enabled", "enabling", "optimizing")}})
	if len(d.FastSnapshotRestores) != 0 {
		t.Fatalf("still enabled: %+v", d.FastSnapshotRestores)
	}
}

func TestDelete(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 1})
	src := cl.Nodes[0].DataVolumes["/dev/xvdf"]
	snap := completedSnapshot(t, s, src)
	v, _ := s.CreateVolume(ctx, &ec2.CreateVolumeInput{SnapshotId: aws.String(snap), AvailabilityZone: aws.String("us-east-1a")})
	tests := []struct {
		name string
		do   func() error
		code string
	}{
		{"attached source", func() error {
			_, err := s.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(src)})
			return err
		}, "VolumeInUse"},
		{"new volume", func() error { _, err := s.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: v.VolumeId}); return err }, ""},
		{"again", func() error { _, err := s.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: v.VolumeId}); return err }, "InvalidVolume.NotFound"},
		{"snapshot", func() error {
			_, err := s.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
			return err
		}, ""},
		{"snapshot again", func() error {
			_, err := s.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
			return err
		}, "InvalidSnapshot.NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.do(), tt.code) })
	}
	if len(s.Created()) != 0 || len(s.Snapshots()) != 0 {
		t.Fatalf("left: %v", s.Created())
	}
	if calls := s.MutatingCallsOn(cl.SourceIDs()...); len(calls) != 1 || calls[0].Op != OpDeleteVolume || calls[0].Code != "VolumeInUse" {
		t.Fatalf("the attempt on the source is not in the audit: %+v", calls)
	}
}

func TestSetTags(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 1})
	vol := cl.Nodes[0].DataVolumes["/dev/xvdf"]
	snap := mustSnapshot(t, s, vol, "graft:migration", "a")
	if err := s.SetTags(snap, map[string]string{"graft:migration": "b"}); err != nil {
		t.Fatal(err)
	}
	if got := tagValue(snapState(t, s, snap).Tags, "graft:migration"); got != "b" {
		t.Errorf("snapshot tag %q, want b", got)
	}
	if err := s.SetTags(vol, map[string]string{"team": "x"}); err != nil {
		t.Fatal(err)
	}
	out, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("tag:team", "x")}})
	if err != nil || len(out.Volumes) != 1 || aws.ToString(out.Volumes[0].VolumeId) != vol {
		t.Errorf("volume by its new tag: %v %v", err, out)
	}
	if err := s.SetTags("vol-00000000", nil); err == nil {
		t.Error("SetTags of an unknown id: no error")
	}
	if n := len(s.Calls()); n != 3 {
		t.Errorf("%d audited calls, want 3 (CreateSnapshot and two Describes): SetTags is not an API call", n)
	}
}

func TestOnCallAndListLag(t *testing.T) {
	s := New(Options{ManualClock: true, ListLag: 5 * time.Second})
	var mu sync.Mutex
	var seen []string
	type key struct{}
	s.OnCall(func(ctx context.Context, op string, mutating bool) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%v %s %t", ctx.Value(key{}), op, mutating))
	})
	ctx := context.WithValue(context.Background(), key{}, "A")
	out, err := s.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	list := func() int {
		res, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Volumes)
	}
	if n := list(); n != 0 {
		t.Errorf("a volume created now is listed (%d) despite ListLag", n)
	}
	if res, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(out.VolumeId)}}); err != nil || len(res.Volumes) != 1 {
		t.Errorf("by id: %v %v", res, err)
	}
	s.Clock().Advance(5 * time.Second)
	if n := list(); n != 1 {
		t.Errorf("after the lag: %d volumes listed", n)
	}
	want := []string{"A CreateVolume true", "A DescribeVolumes false", "A DescribeVolumes false", "A DescribeVolumes false"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("OnCall saw %q, want %q", seen, want)
	}
}

// TestDescribeChecksInOrder: the three listing calls check as EC2 does, in
// one order (list): a bad filter before a bad id, a bad id before the
// caller's permission; and another owner's snapshots are none, though their
// ids are still checked.
func TestDescribeChecksInOrder(t *testing.T) {
	badFilter := []types.Filter{filter("colour", "red")}
	calls := []struct {
		op     string
		call   func(s *Sim, filters []types.Filter, ids []string) error
		badID  string
		notFnd string
	}{
		{OpDescribeInstances, func(s *Sim, f []types.Filter, ids []string) error {
			_, err := s.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{Filters: f, InstanceIds: ids})
			return err
		}, "i-0123456789abcdef0", "InvalidInstanceID.NotFound"},
		{OpDescribeVolumes, func(s *Sim, f []types.Filter, ids []string) error {
			_, err := s.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{Filters: f, VolumeIds: ids})
			return err
		}, "vol-0123456789abcdef0", "InvalidVolume.NotFound"},
		{OpDescribeSnapshots, func(s *Sim, f []types.Filter, ids []string) error {
			_, err := s.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{Filters: f, SnapshotIds: ids, OwnerIds: []string{"999999999999"}})
			return err
		}, "snap-0123456789abcdef0", "InvalidSnapshot.NotFound"},
	}
	for _, c := range calls {
		t.Run(c.op, func(t *testing.T) {
			s := newSim(t, Options{})
			s.DenyOperation(c.op)
			wantCode(t, c.call(s, badFilter, []string{c.badID}), "InvalidParameterValue")
			wantCode(t, c.call(s, nil, []string{c.badID}), c.notFnd)
			wantCode(t, c.call(s, nil, nil), "UnauthorizedOperation")
		})
	}
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Name: "c", Nodes: 1, Devices: []DeviceSpec{{Device: "/dev/xvdf", VolumeSpec: VolumeSpec{SizeGiB: 10, Type: types.VolumeTypeGp3}}}})
	snap := completedSnapshot(t, s, cl.Nodes[0].DataVolumes["/dev/xvdf"])
	out, err := s.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}, OwnerIds: []string{"999999999999"}})
	if err != nil || len(out.Snapshots) != 0 {
		t.Errorf("another owner's snapshot %s: %v, %v, want none", snap, out, err)
	}
}

// TestCreateTags: CreateTags adds and overwrites tags on existing volumes
// and snapshots, checks every id and tag first (all or nothing), answers
// DryRun without changing anything, and is audited as a mutating call on
// the ids it names.
func TestCreateTags(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 1})
	vol := cl.Nodes[0].DataVolumes["/dev/xvdf"]
	snap := mustSnapshot(t, s, vol, "graft:migration", "a")
	tag := func(k, v string) []types.Tag { return []types.Tag{{Key: aws.String(k), Value: aws.String(v)}} }
	volTags := func() map[string]string {
		out, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vol}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, tg := range out.Volumes[0].Tags {
			m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return m
	}
	before := volTags()
	tests := []struct {
		name string
		in   *ec2.CreateTagsInput
		code string
	}{
		{"dry run", &ec2.CreateTagsInput{Resources: []string{vol}, Tags: tag("k", "v"), DryRun: aws.Bool(true)}, "DryRunOperation"},
		{"unknown volume", &ec2.CreateTagsInput{Resources: []string{vol, "vol-00000000000000000"}, Tags: tag("k", "v")}, "InvalidVolume.NotFound"},
		{"reserved key", &ec2.CreateTagsInput{Resources: []string{vol}, Tags: tag("aws:x", "v")}, "InvalidParameterValue"},
		{"no tags", &ec2.CreateTagsInput{Resources: []string{vol}}, "MissingParameter"},
		{"no resources", &ec2.CreateTagsInput{Tags: tag("k", "v")}, "MissingParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateTags(ctx, tt.in)
			wantCode(t, err, tt.code)
		})
	}
	if got := volTags(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a refused CreateTags changed the tags: %v -> %v", before, got)
	}
	if _, err := s.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{vol, snap}, Tags: tag("k", "v")}); err != nil {
		t.Fatal(err)
	}
	if got := volTags(); got["k"] != "v" || len(got) != len(before)+1 {
		t.Errorf("volume tags %v, want %v plus k=v", got, before)
	}
	if got := tagValue(snapState(t, s, snap).Tags, "k"); got != "v" {
		t.Errorf("snapshot tag k=%q, want v", got)
	}
	if _, err := s.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{snap}, Tags: tag("k", "w")}); err != nil || tagValue(snapState(t, s, snap).Tags, "k") != "w" {
		t.Errorf("overwrite: %v, k=%q", err, tagValue(snapState(t, s, snap).Tags, "k"))
	}
	calls := s.MutatingCallsOn(vol)
	if len(calls) != len(tests)-1+1 || calls[len(calls)-1].Op != OpCreateTags || !calls[len(calls)-1].Mutated {
		t.Errorf("audit on %s: %+v", vol, calls)
	}
}
