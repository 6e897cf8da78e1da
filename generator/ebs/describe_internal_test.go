package ebs

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/spec"
)

// TestDescribeByID: the one by-id reader serves snapshots and volumes
// alike; an unknown id among known ones falls back to the id filter and
// is skipped, and describeOne says "not found" for it without an error.
func TestDescribeByID(t *testing.T) {
	ctx := context.Background()
	sim := ec2sim.New(ec2sim.Options{})
	tags := map[string]string{ownership.TagMigration: "m"}
	var vols, snaps []string
	for range 3 {
		v, err := sim.AddVolume(ec2sim.VolumeSpec{SizeGiB: 10, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		s, err := sim.AddSnapshot(v, tags)
		if err != nil {
			t.Fatal(err)
		}
		vols, snaps = append(vols, v), append(snaps, s)
	}
	const unknownVol, unknownSnap = "vol-0123456789abcdef0", "snap-0123456789abcdef0"
	// EC2 (and the simulator) refuse a by-id call with an unknown id, so
	// the cases below take the filter fallback.
	if _, err := volumeKind.byIDs(ctx, sim, []string{vols[0], unknownVol}); errorCode(err) != "InvalidVolume.NotFound" {
		t.Fatalf("DescribeVolumes with an unknown id: %v, want InvalidVolume.NotFound", err)
	}
	if _, err := snapshotKind.byIDs(ctx, sim, []string{unknownSnap, snaps[0]}); errorCode(err) != "InvalidSnapshot.NotFound" {
		t.Fatalf("DescribeSnapshots with an unknown id: %v, want InvalidSnapshot.NotFound", err)
	}

	for _, ids := range [][]string{vols, append(slices.Clone(vols), unknownVol)} {
		got, err := describeByID(ctx, sim, volumeKind, ids)
		if err != nil {
			t.Fatalf("volumes %v: %v", ids, err)
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, slices.Sorted(slices.Values(vols))) {
			t.Errorf("volumes %v: got %v, want %v", ids, keys, vols)
		}
	}
	for _, ids := range [][]string{snaps, append([]string{unknownSnap}, snaps...)} {
		got, err := describeByID(ctx, sim, snapshotKind, ids)
		if err != nil {
			t.Fatalf("snapshots %v: %v", ids, err)
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, slices.Sorted(slices.Values(snaps))) {
			t.Errorf("snapshots %v: got %v, want %v", ids, keys, snaps)
		}
	}

	if v, ok, err := describeOne(ctx, sim, volumeKind, vols[1]); err != nil || !ok || volumeKind.id(v) != vols[1] {
		t.Errorf("describeOne(%s) = %s, %v, %v", vols[1], volumeKind.id(v), ok, err)
	}
	if s, ok, err := describeOne(ctx, sim, snapshotKind, snaps[2]); err != nil || !ok || snapshotKind.id(s) != snaps[2] || tagMap(snapshotKind.tags(s))[ownership.TagMigration] != "m" {
		t.Errorf("describeOne(%s) = %s, %v, %v", snaps[2], snapshotKind.id(s), ok, err)
	}
	for _, c := range []struct {
		id   string
		find func() (bool, error)
	}{
		{unknownVol, func() (bool, error) { _, ok, err := describeOne(ctx, sim, volumeKind, unknownVol); return ok, err }},
		{unknownSnap, func() (bool, error) { _, ok, err := describeOne(ctx, sim, snapshotKind, unknownSnap); return ok, err }},
	} {
		if ok, err := c.find(); ok || err != nil {
			t.Errorf("describeOne(%s) = %v, %v; want not found, no error", c.id, ok, err)
		}
	}
}

// endless is an EC2 whose listings never end: every page has a NextToken.
type endless struct {
	EC2
	calls int
}

func (e *endless) DescribeSnapshots(context.Context, *ec2.DescribeSnapshotsInput, ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	e.calls++
	return &ec2.DescribeSnapshotsOutput{NextToken: aws.String("more")}, nil
}

func (e *endless) DescribeFastSnapshotRestores(context.Context, *ec2.DescribeFastSnapshotRestoresInput, ...func(*ec2.Options)) (*ec2.DescribeFastSnapshotRestoresOutput, error) {
	e.calls++
	return &ec2.DescribeFastSnapshotRestoresOutput{NextToken: aws.String("more"), FastSnapshotRestores: []types.DescribeFastSnapshotRestoreSuccessItem{{SnapshotId: aws.String("snap-1")}}}, nil
}

// TestPagingLimitIsAnError: a listing still going after maxPages pages is
// an error, in the look-up (lookup.go) and in the poller (poll.go) alike —
// the poller once stopped silently and used the partial listing.
func TestPagingLimitIsAnError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lim := Limits{MutatingBurst: 1 << 20, MutatingRate: 1 << 20, DescribeBurst: 1 << 20, DescribeRate: 1 << 20}
	fake := &endless{}
	e := New(&spec.Migration{Metadata: spec.Metadata{Name: "m"}}, Options{Source: fake, Limits: &lim})
	if _, err := e.listSnapshots(ctx, e.src); err == nil || !strings.Contains(err.Error(), "after 1000 pages") {
		t.Errorf("listSnapshots: %v", err)
	}
	if fake.calls != maxPages {
		t.Errorf("listSnapshots made %d calls, want %d", fake.calls, maxPages)
	}
	fake.calls = 0
	if _, err := describeFSR(ctx, e.src, []string{"snap-1"}); err == nil || !strings.Contains(err.Error(), "after 1000 pages") {
		t.Errorf("describeFSR: %v", err)
	}
	if fake.calls != maxPages {
		t.Errorf("describeFSR made %d calls, want %d", fake.calls, maxPages)
	}
}

// TestPollByID: a poll round reads ids in batches, one call each; an id
// found gets its resource's status, an unknown one "not found", and every
// id of a failed call that call's error.
func TestPollByID(t *testing.T) {
	ctx := context.Background()
	sim := ec2sim.New(ec2sim.Options{})
	var vols []string
	for range 3 {
		v, err := sim.AddVolume(ec2sim.VolumeSpec{SizeGiB: 10})
		if err != nil {
			t.Fatal(err)
		}
		vols = append(vols, v)
	}
	const unknown = "vol-0123456789abcdef0"
	sim.FailNth(ec2sim.OpDescribeVolumes, 2, "InternalError") // the second batch
	seen := map[watchKey]status{}
	calls := pollByID(ctx, sim, volumeKind, append(slices.Clone(vols), unknown), 2, watchVolume, seen, func(v types.Volume) status {
		return status{found: true, state: string(v.State)}
	})
	if calls != 2 {
		t.Errorf("4 ids in batches of 2: %d calls, want 2", calls)
	}
	for i, id := range append(slices.Clone(vols), unknown) {
		st, ok := seen[watchKey{kind: watchVolume, id: id}]
		switch {
		case !ok:
			t.Errorf("%s: no status", id)
		case i < 2 && (!st.found || st.state != string(types.VolumeStateAvailable) || st.err != nil):
			t.Errorf("%s (first batch): %+v, want found and available", id, st)
		case i >= 2 && (st.found || st.err == nil):
			t.Errorf("%s (failed batch): %+v, want the call's error", id, st)
		}
	}
	seen = map[watchKey]status{}
	pollByID(ctx, sim, volumeKind, []string{vols[2], unknown}, 2, watchVolume, seen, func(v types.Volume) status {
		return status{found: true, state: string(v.State)}
	})
	if st := seen[watchKey{kind: watchVolume, id: vols[2]}]; !st.found || st.err != nil {
		t.Errorf("%s beside an unknown id: %+v, want found", vols[2], st)
	}
	if st, ok := seen[watchKey{kind: watchVolume, id: unknown}]; !ok || st.found || st.err != nil {
		t.Errorf("an unknown id: %+v (%v), want not found and no error", st, ok)
	}
}

// TestLookupDevice: a spec's device matches the instance's attachment in
// either spelling of its slot (EC2 reports the name it was attached as),
// the exact name first, and never another slot.
func TestLookupDevice(t *testing.T) {
	devs := map[string]bdm{"/dev/xvdf": {volume: "vol-f"}, "/dev/sdg": {volume: "vol-g"}, "/dev/sda1": {volume: "vol-root"}}
	for _, tc := range []struct{ name, found, volume string }{
		{"/dev/xvdf", "/dev/xvdf", "vol-f"},
		{"/dev/sdf", "/dev/xvdf", "vol-f"},
		{"/dev/xvdg", "/dev/sdg", "vol-g"},
		{"/dev/sdh", "", ""},
		{"/dev/xvdf1", "", ""},
	} {
		name, b, ok := lookupDevice(devs, tc.name)
		if name != tc.found || b.volume != tc.volume || ok != (tc.found != "") {
			t.Errorf("lookupDevice(%s) = %q, %q, %v; want %q, %q", tc.name, name, b.volume, ok, tc.found, tc.volume)
		}
	}
}
