package ebs

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/graftctl/graft/generator/ownership"
)

// maxPages bounds every paginated Describe: a listing that has not ended
// after this many pages is an error, never a silent truncation (a missing
// page would hide a resource graft then creates twice, or a volume it
// then fails to keep).
const maxPages = 1000

// pager is an SDK paginator (ec2.NewDescribe…Paginator).
type pager[O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*ec2.Options)) (O, error)
}

// paginate runs a SDK paginator to its end, at most maxPages pages; what
// names the listing in errors.
func paginate[O any](ctx context.Context, what string, pg pager[O], each func(O)) error {
	for pages := 0; pg.HasMorePages(); pages++ {
		if pages >= maxPages {
			return fmt.Errorf("%s: still more results after %d pages; graft stopped rather than act on a partial listing", what, maxPages)
		}
		page, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		each(page)
	}
	return nil
}

// kind is what the describe and list helpers need to know of one EC2
// resource type, R, listed in pages of type O: snapshots or volumes.
type kind[O, R any] struct {
	op       string // the Describe operation
	plural   string // "snapshots"
	idFilter string // the filter that selects by id
	notFound string // the error code prefix of an unknown id
	pageSize int32  // EC2's largest MaxResults
	byIDs    func(ctx context.Context, c EC2, ids []string) ([]R, error)
	filtered func(c EC2, filters []types.Filter, pageSize int32) pager[O]
	items    func(O) []R
	id       func(R) string
	tags     func(R) []types.Tag
}

var snapshotKind = kind[*ec2.DescribeSnapshotsOutput, types.Snapshot]{
	op: "DescribeSnapshots", plural: "snapshots", idFilter: "snapshot-id", notFound: "InvalidSnapshot", pageSize: 1000,
	byIDs: func(ctx context.Context, c EC2, ids []string) ([]types.Snapshot, error) {
		res, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: ids})
		if err != nil {
			return nil, err
		}
		return res.Snapshots, nil
	},
	filtered: func(c EC2, f []types.Filter, n int32) pager[*ec2.DescribeSnapshotsOutput] {
		return ec2.NewDescribeSnapshotsPaginator(c, &ec2.DescribeSnapshotsInput{Filters: f, MaxResults: aws.Int32(n)})
	},
	items: func(o *ec2.DescribeSnapshotsOutput) []types.Snapshot { return o.Snapshots },
	id:    func(s types.Snapshot) string { return aws.ToString(s.SnapshotId) },
	tags:  func(s types.Snapshot) []types.Tag { return s.Tags },
}

var volumeKind = kind[*ec2.DescribeVolumesOutput, types.Volume]{
	op: "DescribeVolumes", plural: "volumes", idFilter: "volume-id", notFound: "InvalidVolume", pageSize: 500,
	byIDs: func(ctx context.Context, c EC2, ids []string) ([]types.Volume, error) {
		res, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: ids})
		if err != nil {
			return nil, err
		}
		return res.Volumes, nil
	},
	filtered: func(c EC2, f []types.Filter, n int32) pager[*ec2.DescribeVolumesOutput] {
		return ec2.NewDescribeVolumesPaginator(c, &ec2.DescribeVolumesInput{Filters: f, MaxResults: aws.Int32(n)})
	},
	items: func(o *ec2.DescribeVolumesOutput) []types.Volume { return o.Volumes },
	id:    func(v types.Volume) string { return aws.ToString(v.VolumeId) },
	tags:  func(v types.Volume) []types.Tag { return v.Tags },
}

// describeByID reads resources by id. EC2 fails the whole call when one id
// is unknown (just created and not yet visible, or deleted), so on that
// error it falls back to an id filter, which skips unknown ids instead,
// with at most filterValuesMax ids per filter, paging through.
func describeByID[O, R any](ctx context.Context, c EC2, k kind[O, R], ids []string) (map[string]R, error) {
	out := map[string]R{}
	add := func(page O) {
		for _, r := range k.items(page) {
			out[k.id(r)] = r
		}
	}
	items, err := k.byIDs(ctx, c, ids)
	if err == nil {
		for _, r := range items {
			out[k.id(r)] = r
		}
		return out, nil
	}
	if !strings.HasPrefix(errorCode(err), k.notFound) {
		return nil, err
	}
	for chunk := range slices.Chunk(ids, filterValuesMax) {
		pg := k.filtered(c, []types.Filter{{Name: aws.String(k.idFilter), Values: chunk}}, k.pageSize)
		if err := paginate(ctx, k.op+" (by "+k.idFilter+")", pg, add); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// describeOne reads one resource by id; found is false when EC2 does not
// know the id (any more).
func describeOne[O, R any](ctx context.Context, c EC2, k kind[O, R], id string) (_ R, found bool, _ error) {
	var zero R
	items, err := k.byIDs(ctx, c, []string{id})
	if strings.HasPrefix(errorCode(err), k.notFound+".NotFound") {
		return zero, false, nil
	}
	if err != nil {
		return zero, false, err
	}
	if len(items) != 1 {
		return zero, false, nil
	}
	return items[0], true, nil
}

// listTagged pages through pg and keeps the resources tagged with the
// migration: the tag filter of the listing is a request, and this is the
// check.
func listTagged[O, R any](ctx context.Context, migration string, k kind[O, R], pg pager[O]) ([]R, error) {
	var out []R
	err := paginate(ctx, k.op+" (graft's "+k.plural+" of "+migration+")", pg, func(page O) {
		for _, r := range k.items(page) {
			if tagMap(k.tags(r))[ownership.TagMigration] == migration {
				out = append(out, r)
			}
		}
	})
	return out, err
}
