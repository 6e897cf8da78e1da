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
