package ec2sim

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestDryRunAndDeny(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:123456789012:key/dead-beef"
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 1, Devices: []DeviceSpec{{Device: "/dev/xvdf", VolumeSpec: VolumeSpec{Encrypted: true, KMSKeyID: "arn:aws:kms:us-east-1:123456789012:key/src"}}}})
	n := cl.Nodes[0]
	vol := n.DataVolumes["/dev/xvdf"]
	snap := completedSnapshot(t, s, vol)
	dry := aws.Bool(true)
	calls := []struct {
		op string
		do func(dry *bool) error
	}{
		{OpCreateSnapshot, func(d *bool) error {
			_, err := s.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol), DryRun: d})
			return err
		}},
		{OpCreateSnapshots, func(d *bool) error {
			_, err := s.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(n.InstanceID)}, DryRun: d})
			return err
		}},
		{OpCopySnapshot, func(d *bool) error {
			_, err := s.CopySnapshot(ctx, &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(snap), SourceRegion: aws.String("us-east-1"), DryRun: d})
			return err
		}},
		{OpCreateVolume, func(d *bool) error {
			_, err := s.CreateVolume(ctx, &ec2.CreateVolumeInput{SnapshotId: aws.String(snap), AvailabilityZone: aws.String("us-east-1a"), ClientToken: aws.String("t"), DryRun: d})
			return err
		}},
		{OpEnableFastSnapshotRestores, func(d *bool) error {
			_, err := s.EnableFastSnapshotRestores(ctx, &ec2.EnableFastSnapshotRestoresInput{SourceSnapshotIds: []string{snap}, AvailabilityZones: []string{"us-east-1a"}, DryRun: d})
			return err
		}},
		{OpDisableFastSnapshotRestores, func(d *bool) error {
			_, err := s.DisableFastSnapshotRestores(ctx, &ec2.DisableFastSnapshotRestoresInput{SourceSnapshotIds: []string{snap}, AvailabilityZones: []string{"us-east-1a"}, DryRun: d})
			return err
		}},
		{OpDeleteSnapshot, func(d *bool) error {
			_, err := s.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap), DryRun: d})
			return err
		}},
		{OpDescribeVolumes, func(d *bool) error {
			_, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{DryRun: d})
			return err
		}},
	}
	for _, c := range calls {
		t.Run("dry run "+c.op, func(t *testing.T) {
			before, snaps, vols := s.Mutations(), len(s.Snapshots()), len(s.Volumes())
			wantCode(t, c.do(dry), "DryRunOperation")
			if s.Mutations() != before || len(s.Snapshots()) != snaps || len(s.Volumes()) != vols {
				t.Fatal("a DryRun call changed state")
			}
			last := s.Calls()[len(s.Calls())-1]
			if !last.DryRun || last.Mutated || last.Op != c.op {
				t.Fatalf("audit %+v", last)
			}
		})
	}
	t.Run("dry run still validates", func(t *testing.T) {
		_, err := s.CreateVolume(ctx, &ec2.CreateVolumeInput{SnapshotId: aws.String(snap), AvailabilityZone: aws.String("us-west-2a"), DryRun: dry})
		wantCode(t, err, "InvalidZone.NotFound")
	})
	// A KMS key the role may not use, caught by DryRun and refused without.
	s.DenyKMSKey(key)
	kmsTests := []struct {
		name string
		in   ec2.CreateVolumeInput
		code string
	}{
		{"denied key dry run", ec2.CreateVolumeInput{Encrypted: aws.Bool(true), KmsKeyId: aws.String(key), DryRun: dry}, "UnauthorizedOperation"},
		{"denied key", ec2.CreateVolumeInput{Encrypted: aws.Bool(true), KmsKeyId: aws.String(key)}, "UnauthorizedOperation"},
		{"denied by key id", ec2.CreateVolumeInput{Encrypted: aws.Bool(true), KmsKeyId: aws.String("dead-beef"), DryRun: dry}, "UnauthorizedOperation"},
		{"other key", ec2.CreateVolumeInput{Encrypted: aws.Bool(true), KmsKeyId: aws.String("arn:aws:kms:us-east-1:123456789012:key/ok"), DryRun: dry}, "DryRunOperation"},
	}
	for _, tt := range kmsTests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.SnapshotId, in.AvailabilityZone = aws.String(snap), aws.String("us-east-1a")
			_, err := s.CreateVolume(ctx, &in)
			wantCode(t, err, tt.code)
		})
	}
	t.Run("denied source key", func(t *testing.T) {
		s.DenyKMSKey("arn:aws:kms:us-east-1:123456789012:key/src")
		_, err := s.CopySnapshot(ctx, &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(snap), SourceRegion: aws.String("us-east-1"), DryRun: dry})
		wantCode(t, err, "UnauthorizedOperation")
	})
	t.Run("denied operation", func(t *testing.T) {
		s.DenyOperation(OpDeleteSnapshot)
		_, err := s.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
		wantCode(t, err, "UnauthorizedOperation")
		if len(s.Snapshots()) != 1 {
			t.Fatal("denied delete deleted")
		}
	})
}

func TestTokenBuckets(t *testing.T) {
	s := New(Options{ManualClock: true}) // EC2's limits
	cl := seed(t, s, ClusterSpec{Nodes: 1})
	vol := cl.Nodes[0].DataVolumes["/dev/xvdf"]
	mutate := func() error {
		_, err := s.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol), DryRun: aws.Bool(true)})
		if ErrorCode(err) == "DryRunOperation" {
			return nil
		}
		return err
	}
	describe := func() error { _, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); return err }
	burst := func(f func() error) int {
		n := 0
		for f() == nil {
			n++
		}
		return n
	}
	if n := burst(mutate); n != 100 {
		t.Fatalf("mutating burst %d, want 100", n)
	}
	if n := burst(describe); n != 100 {
		t.Fatalf("describe burst %d, want 100 (buckets are separate)", n)
	}
	steps := []struct {
		advance    time.Duration
		mut, descr int
	}{
		{100 * time.Millisecond, 0, 2},
		{100 * time.Millisecond, 1, 2},
		{time.Second, 5, 20},
		{time.Hour, 100, 100},
	}
	for _, st := range steps {
		s.Clock().Advance(st.advance)
		if m, d := burst(mutate), burst(describe); m != st.mut || d != st.descr {
			t.Fatalf("after %v: %d mutating, %d describe; want %d, %d", st.advance, m, d, st.mut, st.descr)
		}
	}
	stats := s.Stats()
	if stats.BucketThrottles != 2*len(steps)+2 || s.Throttles() != stats.BucketThrottles || stats.Errors["RequestLimitExceeded"] != stats.BucketThrottles {
		t.Fatalf("throttles %+v", stats)
	}
	if len(s.Snapshots()) != 0 {
		t.Fatal("dry runs created snapshots")
	}
}

func TestThrottleFraction(t *testing.T) {
	count := func(seed uint64) int {
		s := newSim(t, Options{Seed: seed})
		s.Throttle(0.3)
		n := 0
		for range 2000 {
			_, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
			if ErrorCode(err) == "RequestLimitExceeded" {
				n++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if st := s.Stats(); st.InjectedThrottles != n || st.BucketThrottles != 0 {
			t.Fatalf("stats %+v, counted %d", st, n)
		}
		return n
	}
	a, b := count(7), count(7)
	if a != b {
		t.Fatalf("same seed, different throttling: %d vs %d", a, b)
	}
	if math.Abs(float64(a)/2000-0.3) > 0.04 {
		t.Fatalf("throttled %d of 2000", a)
	}
	s := newSim(t, Options{})
	s.Throttle(1, OpCreateVolume)
	if _, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err != nil {
		t.Fatalf("throttling limited to CreateVolume hit Describe: %v", err)
	}
	_, err := s.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(1), AvailabilityZone: aws.String("us-east-1a")})
	wantCode(t, err, "RequestLimitExceeded")
	if len(s.Volumes()) != 0 {
		t.Fatal("throttled call created a volume")
	}
}

func TestInjectedFaults(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 2})
	v0, v1 := cl.Nodes[0].DataVolumes["/dev/xvdf"], cl.Nodes[1].DataVolumes["/dev/xvdf"]
	s.FailNth(OpCreateSnapshot, 2, "InternalError")
	s.Inject(Fault{Op: OpCreateSnapshot, Match: func(c Call) bool { return len(c.Reads) == 1 && c.Reads[0] == v1 }, Times: 1, Code: "ServiceUnavailable"})
	s.Inject(Fault{Op: OpCreateSnapshot, Nth: 3, AfterApply: true, Code: "InternalError"}) // 3rd applied call
	snap := func(vol string) error {
		_, err := s.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol)})
		return err
	}
	steps := []struct {
		vol       string
		code      string
		snapshots int
	}{
		{v0, "", 1},
		{v0, "InternalError", 1},      // 2nd call
		{v1, "ServiceUnavailable", 1}, // predicate, once
		{v1, "", 2},
		{v0, "InternalError", 3}, // applied, response lost
		{v0, "", 4},
	}
	for i, st := range steps {
		wantCode(t, snap(st.vol), st.code)
		if n := len(s.Snapshots()); n != st.snapshots {
			t.Fatalf("step %d: %d snapshots, want %d", i, n, st.snapshots)
		}
	}
	last := s.Calls()[4]
	if !last.Mutated || !last.Injected || last.Code != "InternalError" || len(last.Writes) != 1 {
		t.Fatalf("after-apply fault audit %+v", last)
	}
	s.ClearFaults()
	wantCode(t, snap(v0), "")
}

func TestLatency(t *testing.T) {
	s := New(Options{Limits: RateLimits{Off: true}}) // auto clock: latency sleeps on it
	s.SetLatency(func(op string) time.Duration {
		if op == OpDescribeVolumes {
			return 3 * time.Second
		}
		return 0
	})
	start := time.Now()
	if _, err := s.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err != nil {
		t.Fatal(err)
	}
	if e := s.Elapsed(); e != 3*time.Second {
		t.Fatalf("virtual elapsed %v, want 3s", e)
	}
	if _, err := s.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{}); err != nil || s.Elapsed() != 3*time.Second {
		t.Fatalf("elapsed %v %v", s.Elapsed(), err)
	}
	if c := s.Calls()[0]; !c.At.Equal(s.Clock().Start().Add(3 * time.Second)) {
		t.Fatalf("call seen at %v", c.At)
	}
	if w := time.Since(start); w > time.Second {
		t.Fatalf("wall %v", w)
	}
}

func TestCrashPoints(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 3})
	snap := func(i int) (string, error) {
		out, err := s.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(cl.Nodes[i].DataVolumes["/dev/xvdf"])})
		if err != nil {
			return "", err
		}
		return *out.SnapshotId, nil
	}
	s.CrashAfter(2)
	if _, err := snap(0); err != nil {
		t.Fatal(err)
	}
	id, err := snap(1)
	if !errors.Is(err, ErrCrash) || id != "" || !s.Crashed() {
		t.Fatalf("2nd mutation: %q %v", id, err)
	}
	if n := len(s.Snapshots()); n != 2 {
		t.Fatalf("the crashing call must be applied: %d snapshots", n)
	}
	if _, err := s.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{}); !errors.Is(err, ErrCrash) {
		t.Fatalf("after the crash: %v", err)
	}
	if _, err := snap(2); !errors.Is(err, ErrCrash) || len(s.Snapshots()) != 2 {
		t.Fatalf("a dead process mutated: %v", err)
	}
	if c := s.Calls(); c[len(c)-1].Code != "Crash" || c[1].Code != "Crash" || !c[1].Mutated {
		t.Fatalf("audit %+v", c)
	}
	s.Revive()
	if _, err := snap(2); err != nil || s.Crashed() {
		t.Fatalf("after revive: %v", err)
	}
	// CrashWhen sees the created ids.
	s.CrashWhen(func(c Call) bool { return c.Op == OpCreateVolume })
	if _, err := snap(0); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(10), AvailabilityZone: aws.String("us-east-1a")})
	if !errors.Is(err, ErrCrash) || len(s.Created()) != 5 {
		t.Fatalf("CrashWhen: %v, created %v", err, s.Created())
	}
	// Failed and DryRun calls are not mutations; crash points skip them.
	s.Revive()
	s.CrashAfter(1)
	_, err = s.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String("vol-0123456789abcdef0")})
	wantCode(t, err, "InvalidVolume.NotFound")
	_, err = s.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(cl.Nodes[0].DataVolumes["/dev/xvdf"]), DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperation")
	_, err = snap(1)
	wantCode(t, err, "Crash")
}

func TestSnapshotFates(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 4})
	vol := func(i int) string { return cl.Nodes[i].DataVolumes["/dev/xvdf"] }
	s.FailSnapshotsOf(vol(0), "Snapshot failed: internal error")
	s.StallSnapshotsOf(vol(1))
	failed, stalled, ok, forced := mustSnapshot(t, s, vol(0)), mustSnapshot(t, s, vol(1)), mustSnapshot(t, s, vol(2)), mustSnapshot(t, s, vol(3))
	if err := s.SetSnapshotState(forced, types.SnapshotStateError, "forced"); err != nil {
		t.Fatal(err)
	}
	s.Clock().Advance(1000 * time.Hour)
	tests := []struct {
		id, state, msg, progress string
	}{
		{failed, "error", "Snapshot failed: internal error", ""},
		{stalled, "pending", "", "42%"},
		{ok, "completed", "", "100%"},
		{forced, "error", "forced", ""},
	}
	for _, tt := range tests {
		d := snapState(t, s, tt.id)
		if string(d.State) != tt.state || aws.ToString(d.StateMessage) != tt.msg || (tt.progress != "" && *d.Progress != tt.progress) {
			t.Fatalf("%s: %s %q %s, want %s %q", tt.id, d.State, aws.ToString(d.StateMessage), *d.Progress, tt.state, tt.msg)
		}
	}
	// A copy of a snapshot whose source volume is set to fail fails too.
	s.FailSnapshotsOf(vol(2), "copy failed")
	cp, err := s.CopySnapshot(ctx, &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(ok), SourceRegion: aws.String("us-east-1")})
	if err != nil {
		t.Fatal(err)
	}
	s.Clock().Advance(1000 * time.Hour)
	if d := snapState(t, s, *cp.SnapshotId); d.State != types.SnapshotStateError {
		t.Fatalf("copy %s", d.State)
	}
}

func TestAuditSourceUntouched(t *testing.T) {
	s := newSim(t, Options{})
	cl := seed(t, s, ClusterSpec{Nodes: 3, Devices: []DeviceSpec{{Device: "/dev/xvdf"}, {Device: "/dev/xvdg"}}})
	var keep []string
	for i, n := range cl.Nodes {
		out, err := s.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{
			InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(n.InstanceID), ExcludeBootVolume: aws.Bool(true)},
			TagSpecifications:     tagSpec(types.ResourceTypeSnapshot, "graft:member", n.Name, "graft:phase", "precopy"),
			CopyTagsFromSource:    types.CopyTagsFromSourceVolume,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Clock().Advance(24 * time.Hour)
		for _, sn := range out.Snapshots {
			v, err := s.CreateVolume(ctx, &ec2.CreateVolumeInput{SnapshotId: sn.SnapshotId, AvailabilityZone: aws.String(n.Zone),
				TagSpecifications: tagSpec(types.ResourceTypeVolume, "graft:member", n.Name, "graft:device", *sn.VolumeId)})
			if err != nil {
				t.Fatal(err)
			}
			keep = append(keep, *v.VolumeId)
		}
		if i == 0 { // a duplicate from a "retry"
			if _, err := s.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(n.DataVolumes["/dev/xvdf"]),
				TagSpecifications: tagSpec(types.ResourceTypeSnapshot, "Name", n.Name+"-xvdf", "graft:phase", "precopy")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if calls := s.MutatingCallsOn(cl.SourceIDs()...); len(calls) != 0 {
		t.Fatalf("mutating calls on sources: %+v", calls)
	}
	if reads := s.CallsOn(cl.Nodes[0].DataVolumes["/dev/xvdf"]); len(reads) != 2 {
		t.Fatalf("calls reading a source volume: %d", len(reads))
	}
	if n := len(s.Leaked(keep...)); n != 7 { // 6 snapshots + the duplicate
		t.Fatalf("leaked %d: %v", n, s.Leaked(keep...))
	}
	d := s.Duplicates("Name", "graft:phase")
	if len(d) != 1 || len(d[0]) != 2 { // cassandra-0-xvdf and its retry
		t.Fatalf("duplicates %v", d)
	}
	// The two crash-consistent snapshots of a member, tagged alike, are not duplicates.
	if d := s.Duplicates("graft:member", "graft:phase"); len(d) != 0 {
		t.Fatalf("snapshots of different volumes grouped as duplicates: %v", d)
	}
	st := s.Stats()
	if st.Calls[OpCreateSnapshots] != 3 || st.Calls[OpCreateVolume] != 6 || st.Mutations != 10 || s.Count(OpCreateSnapshot) != 1 {
		t.Fatalf("stats %+v", st)
	}
	for _, c := range s.Calls() {
		if c.Op == OpCreateVolume && (len(c.Reads) != 1 || len(c.Writes) != 1 || !c.Mutated) {
			t.Fatalf("CreateVolume audit %+v", c)
		}
	}
	s.ResetAudit()
	if len(s.Calls()) != 0 {
		t.Fatal("reset")
	}
}
