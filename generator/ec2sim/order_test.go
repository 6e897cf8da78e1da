package ec2sim

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestDescribeAllInCreationOrder: the audit listings (Volumes, Snapshots)
// come in creation order, whatever the map order, through describeAll.
func TestDescribeAllInCreationOrder(t *testing.T) {
	s := newSim(t, Options{})
	vols, snaps, err := s.AddSnapshotted(20, VolumeSpec{SizeGiB: 1})
	if err != nil || len(vols) != 20 || len(snaps) != 20 {
		t.Fatalf("AddSnapshotted(20): %d volumes, %d snapshots, %v", len(vols), len(snaps), err)
	}
	var gotVols, gotSnaps []string
	for _, v := range s.Volumes() {
		gotVols = append(gotVols, aws.ToString(v.VolumeId))
	}
	for _, sn := range s.Snapshots() {
		gotSnaps = append(gotSnaps, aws.ToString(sn.SnapshotId))
	}
	if !slices.Equal(gotVols, vols) {
		t.Errorf("Volumes() = %v, want %v", gotVols, vols)
	}
	if !slices.Equal(gotSnaps, snaps) {
		t.Errorf("Snapshots() = %v, want %v", gotSnaps, snaps)
	}
	ids := describeAll(s.volumes, func(v *volume) string { return v.id })
	if !slices.Equal(ids, vols) {
		t.Errorf("describeAll = %v, want %v", ids, vols)
	}
	if got := describeAll(map[string]*volume{}, s.describeVolume); len(got) != 0 {
		t.Errorf("describeAll of nothing = %v", got)
	}
}

// TestAddSnapshotted: each seeded volume has one completed snapshot of
// its own, both tagged like the spec; a spec AddVolume refuses is an
// error and no ids.
func TestAddSnapshotted(t *testing.T) {
	s := newSim(t, Options{})
	tags := map[string]string{"app": "cassandra"}
	vols, snaps, err := s.AddSnapshotted(3, VolumeSpec{SizeGiB: 10, Tags: tags})
	if err != nil || len(vols) != 3 || len(snaps) != 3 {
		t.Fatalf("AddSnapshotted(3): %v, %v, %v", vols, snaps, err)
	}
	for i, sn := range s.Snapshots() {
		if aws.ToString(sn.SnapshotId) != snaps[i] || aws.ToString(sn.VolumeId) != vols[i] || sn.State != types.SnapshotStateCompleted || tagValue(sn.Tags, "app") != "cassandra" {
			t.Errorf("snapshot %d: %+v, want %s of %s, completed, tagged app=cassandra", i, sn, snaps[i], vols[i])
		}
	}
	for i, v := range s.Volumes() {
		if aws.ToString(v.VolumeId) != vols[i] || aws.ToInt32(v.Size) != 10 || tagValue(v.Tags, "app") != "cassandra" {
			t.Errorf("volume %d: %+v, want %s of 10 GiB, tagged app=cassandra", i, v, vols[i])
		}
	}
	if vols, snaps, err := s.AddSnapshotted(2, VolumeSpec{Zone: "eu-west-1a"}); err == nil || vols != nil || snaps != nil {
		t.Errorf("AddSnapshotted in a zone of another region: %v, %v, %v; want an error", vols, snaps, err)
	}
}

// TestSelected: a Describe call lists the named resources (lagging or
// not), or all but the lagging ones, that match, in creation order.
func TestSelected(t *testing.T) {
	m := map[string]*volume{}
	for i, id := range []string{"vol-c", "vol-a", "vol-d", "vol-b"} {
		m[id] = &volume{id: id, seq: i}
	}
	lagging := func(v *volume) bool { return v.id == "vol-d" }
	all := func(*volume) bool { return true }
	notA := func(v *volume) bool { return v.id != "vol-a" }
	ids := func(vs []*volume) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.id)
		}
		return out
	}
	for _, c := range []struct {
		name    string
		ids     []string
		lagging func(*volume) bool
		match   func(*volume) bool
		want    []string
	}{
		{"all, none lag", nil, nil, all, []string{"vol-c", "vol-a", "vol-d", "vol-b"}},
		{"all but the lagging", nil, lagging, all, []string{"vol-c", "vol-a", "vol-b"}},
		{"filtered", nil, lagging, notA, []string{"vol-c", "vol-b"}},
		{"by id, lagging too", []string{"vol-b", "vol-d"}, lagging, all, []string{"vol-d", "vol-b"}},
		{"by id, filtered", []string{"vol-a", "vol-b"}, nil, notA, []string{"vol-b"}},
	} {
		if got := ids(selected(m, c.ids, c.lagging, c.match)); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
