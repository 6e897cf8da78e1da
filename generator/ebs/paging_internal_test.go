package ebs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/spec"
)

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
