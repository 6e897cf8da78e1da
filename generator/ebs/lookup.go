package ebs

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// existing indexes the resources graft already created for this
// migration, found by tag: the look-up before every create, done for all
// members in a few paginated calls rather than one call per member. A
// resource is only ever created when its key is absent here.
type existing struct {
	mu sync.Mutex
	// snaps by role, member, phase and source volume.
	snaps map[string]types.Snapshot
	// failed are graft's snapshots in state error, by the same key.
	failed map[string]types.Snapshot
	// vols by member and claim template.
	vols map[string]types.Volume
	// dups lists keys found more than once (only possible after
	// eventual-consistency races); the newest wins, the rest are logged.
	dups []string
}

func snapKey(role, member, phase, sourceVolume string) string {
	return role + "|" + member + "|" + phase + "|" + sourceVolume
}

func volKey(member, template string) string { return member + "|" + template }

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
		sort.Slice(snaps, func(i, j int) bool { return aws.ToTime(snaps[i].StartTime).Before(aws.ToTime(snaps[j].StartTime)) })
		for _, s := range snaps {
			t := tagMap(s.Tags)
			src := aws.ToString(s.VolumeId)
			if t[TagRole] == RoleCopy {
				src = t[TagSourceVolume]
			}
			k := snapKey(t[TagRole], t[TagMember], t[TagPhase], src)
			if s.State == types.SnapshotStateError {
				x.failed[k] = s
				continue
			}
			if _, dup := x.snaps[k]; dup {
				x.dups = append(x.dups, fmt.Sprintf("%s %s", k, aws.ToString(s.SnapshotId)))
			}
			x.snaps[k] = s
		}
	}
	vols, err := e.listVolumes(ctx, e.dst)
	if err != nil {
		return nil, err
	}
	sort.Slice(vols, func(i, j int) bool { return aws.ToTime(vols[i].CreateTime).Before(aws.ToTime(vols[j].CreateTime)) })
	for _, v := range vols {
		t := tagMap(v.Tags)
		if t[TagRole] != RoleVolume {
			continue
		}
		if v.State == types.VolumeStateDeleting || v.State == types.VolumeStateDeleted || v.State == types.VolumeStateError {
			continue
		}
		k := volKey(t[TagMember], t[TagClaimTemplate])
		if _, dup := x.vols[k]; dup {
			x.dups = append(x.dups, fmt.Sprintf("%s %s", k, aws.ToString(v.VolumeId)))
		}
		x.vols[k] = v
	}
	return x, nil
}

func (e *Engine) migrationFilter() []types.Filter {
	return []types.Filter{{Name: aws.String("tag:" + TagMigration), Values: []string{e.m.Metadata.Name}}}
}

// listSnapshots pages through this account's snapshots tagged with the
// migration (OwnerIds self: never another account's public snapshot).
func (e *Engine) listSnapshots(ctx context.Context, c *api) ([]types.Snapshot, error) {
	var out []types.Snapshot
	pg := ec2.NewDescribeSnapshotsPaginator(c, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: e.migrationFilter(), MaxResults: aws.Int32(1000)})
	for pages := 0; pg.HasMorePages(); pages++ {
		if pages >= 1000 {
			return nil, fmt.Errorf("DescribeSnapshots: more than 1000 pages")
		}
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeSnapshots (graft's snapshots of %s): %w", e.m.Metadata.Name, err)
		}
		for _, s := range page.Snapshots {
			if tagMap(s.Tags)[TagMigration] == e.m.Metadata.Name {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// listVolumes pages through the volumes tagged with the migration.
func (e *Engine) listVolumes(ctx context.Context, c *api) ([]types.Volume, error) {
	var out []types.Volume
	pg := ec2.NewDescribeVolumesPaginator(c, &ec2.DescribeVolumesInput{Filters: e.migrationFilter(), MaxResults: aws.Int32(500)})
	for pages := 0; pg.HasMorePages(); pages++ {
		if pages >= 1000 {
			return nil, fmt.Errorf("DescribeVolumes: more than 1000 pages")
		}
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeVolumes (graft's volumes of %s): %w", e.m.Metadata.Name, err)
		}
		for _, v := range page.Volumes {
			if tagMap(v.Tags)[TagMigration] == e.m.Metadata.Name {
				out = append(out, v)
			}
		}
	}
	return out, nil
}
