package ec2sim

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestDescribeAllInCreationOrder: the audit listings (Volumes, Snapshots)
// come in creation order, whatever the map order, through describeAll.
func TestDescribeAllInCreationOrder(t *testing.T) {
	s := newSim(t, Options{})
	var vols, snaps []string
	for range 20 {
		v, err := s.AddVolume(VolumeSpec{SizeGiB: 1})
		if err != nil {
			t.Fatal(err)
		}
		sn, err := s.AddSnapshot(v, nil)
		if err != nil {
			t.Fatal(err)
		}
		vols, snaps = append(vols, v), append(snaps, sn)
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
