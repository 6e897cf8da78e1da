package ebs

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/graftctl/graft/generator/ownership"
)

// existing indexes the resources graft already created for this
// migration, found by tag: the look-up before every create, done for all
// members in a few paginated calls rather than one call per member. A
// resource is only ever created when its key is absent here.
type existing struct {
	mu sync.Mutex
	// snaps by role, member, phase and source volume: the winner of each
	// key (see snapshotWins).
	snaps map[string]types.Snapshot
	// failed are graft's snapshots in state error, by the same key.
	failed map[string]types.Snapshot
	// vols by member and claim template: the winner of each key.
	vols map[string]types.Volume
	// dups lists the losers of keys found more than once (two runs at
	// once, or an eventual-consistency race): "<key> <id>".
	dups []string
}

func snapKey(role, member, phase, sourceVolume string) string {
	return role + "|" + member + "|" + phase + "|" + sourceVolume
}

func volKey(member, template string) string { return member + "|" + template }

// snapKeyOf is the key of one of graft's snapshots: a snapshot's source
// is its VolumeId (one CreateSnapshots call tags all its snapshots alike),
// a copy's is its graft:source-volume tag (a copy's VolumeId is EC2's
// placeholder).
func snapKeyOf(s types.Snapshot) string {
	t := tagMap(s.Tags)
	src := aws.ToString(s.VolumeId)
	if t[ownership.TagRole] == ownership.RoleCopy || t[ownership.TagRole] == ownership.RoleShareCopy {
		src = t[ownership.TagSourceVolume]
	}
	return snapKey(t[ownership.TagRole], t[ownership.TagMember], t[ownership.TagPhase], src)
}

// volKeyOf is the key of one of graft's volumes, and whether it counts:
// volumes being deleted, deleted or in error never win a key.
func volKeyOf(v types.Volume) (string, bool) {
	t := tagMap(v.Tags)
	if t[ownership.TagRole] != ownership.RoleVolume {
		return "", false
	}
	if v.State == types.VolumeStateDeleting || v.State == types.VolumeStateDeleted || v.State == types.VolumeStateError {
		return "", false
	}
	return volKey(t[ownership.TagMember], t[ownership.TagClaimTemplate]), true
}

// The single rule for a key that maps to several of graft's resources
// (two runs at once on two machines, a retried create without a
// ClientToken): the oldest wins, by creation time, then by id. Every run
// applies it to what it sees — the look-up before creating, the re-check
// after creating, the record — so every run adopts the same resource and
// deletes only its own losers. A resource only gets older, and a new one
// is always newer, so the winner never changes once it is listed.
func snapshotWins(a, b types.Snapshot) bool {
	return older(aws.ToTime(a.StartTime), aws.ToString(a.SnapshotId), aws.ToTime(b.StartTime), aws.ToString(b.SnapshotId))
}

func volumeWins(a, b types.Volume) bool {
	return older(aws.ToTime(a.CreateTime), aws.ToString(a.VolumeId), aws.ToTime(b.CreateTime), aws.ToString(b.VolumeId))
}

func older(ta time.Time, ida string, tb time.Time, idb string) bool {
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return ida < idb
}

func (x *existing) snap(key string) (types.Snapshot, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	s, ok := x.snaps[key]
	return s, ok
}

func (x *existing) vol(key string) (types.Volume, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	v, ok := x.vols[key]
	return v, ok
}

func (x *existing) setSnap(key string, s types.Snapshot) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.snaps[key] = s
}

func (x *existing) setVol(key string, v types.Volume) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.vols[key] = v
}

// groupSnapshots sorts graft's snapshots into keys, each key's candidates
// ordered by the rule (the winner first); snapshots in state error are
// returned apart, by key (the oldest of them).
func groupSnapshots(snaps []types.Snapshot) (live map[string][]types.Snapshot, failed map[string]types.Snapshot) {
	live, failed = map[string][]types.Snapshot{}, map[string]types.Snapshot{}
	for _, s := range snaps {
		k := snapKeyOf(s)
		if s.State == types.SnapshotStateError {
			if f, ok := failed[k]; !ok || snapshotWins(s, f) {
				failed[k] = s
			}
			continue
		}
		live[k] = append(live[k], s)
	}
	for _, c := range live {
		sort.Slice(c, func(i, j int) bool { return snapshotWins(c[i], c[j]) })
	}
	return live, failed
}

// groupVolumes sorts graft's volumes into keys, each ordered by the rule.
func groupVolumes(vols []types.Volume) map[string][]types.Volume {
	out := map[string][]types.Volume{}
	for _, v := range vols {
		if k, ok := volKeyOf(v); ok {
			out[k] = append(out[k], v)
		}
	}
	for _, c := range out {
		sort.Slice(c, func(i, j int) bool { return volumeWins(c[i], c[j]) })
	}
	return out
}

// lookup lists every snapshot (both regions) and volume (target region)
// tagged with this migration.
func (e *Engine) lookup(ctx context.Context) (*existing, error) {
	x := &existing{snaps: map[string]types.Snapshot{}, failed: map[string]types.Snapshot{}, vols: map[string]types.Volume{}}
	clients := []*api{e.src}
	if e.dst != e.src {
		clients = append(clients, e.dst)
	}
	for _, c := range clients {
		snaps, err := e.listSnapshots(ctx, c)
		if err != nil {
			return nil, err
		}
		live, failed := groupSnapshots(snaps)
		for k, f := range failed {
			x.failed[k] = f
		}
		for _, k := range slices.Sorted(maps.Keys(live)) {
			c := live[k]
			x.snaps[k] = c[0]
			for _, s := range c[1:] {
				x.dups = append(x.dups, fmt.Sprintf("%s %s", k, aws.ToString(s.SnapshotId)))
			}
		}
	}
	vols, err := e.listVolumes(ctx, e.dst)
	if err != nil {
		return nil, err
	}
	groups := groupVolumes(vols)
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		c := groups[k]
		x.vols[k] = c[0]
		for _, v := range c[1:] {
			x.dups = append(x.dups, fmt.Sprintf("%s %s", k, aws.ToString(v.VolumeId)))
		}
	}
	return x, nil
}

func (e *Engine) migrationFilter(extra ...types.Filter) []types.Filter {
	return append([]types.Filter{{Name: aws.String("tag:" + ownership.TagMigration), Values: []string{e.m.Metadata.Name}}}, extra...)
}

// listSnapshots pages through this account's snapshots tagged with the
// migration (OwnerIds self: never another account's public snapshot),
// narrowed by the extra filters.
func (e *Engine) listSnapshots(ctx context.Context, c *api, extra ...types.Filter) ([]types.Snapshot, error) {
	pg := ec2.NewDescribeSnapshotsPaginator(c, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: e.migrationFilter(extra...), MaxResults: aws.Int32(snapshotKind.pageSize)})
	return listTagged(ctx, e.m.Metadata.Name, snapshotKind, pg)
}

// listVolumes pages through the volumes tagged with the migration,
// narrowed by the extra filters.
func (e *Engine) listVolumes(ctx context.Context, c *api, extra ...types.Filter) ([]types.Volume, error) {
	pg := ec2.NewDescribeVolumesPaginator(c, &ec2.DescribeVolumesInput{Filters: e.migrationFilter(extra...), MaxResults: aws.Int32(volumeKind.pageSize)})
	return listTagged(ctx, e.m.Metadata.Name, volumeKind, pg)
}
