package ebs

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/graftctl/graft/generator/ec2sim"
)

// TestReadOnlyGuard: a mutating call through a read-only view fails
// before it reaches EC2; Describe calls go through.
func TestReadOnlyGuard(t *testing.T) {
	sim := ec2sim.New(ec2sim.Options{})
	l := DefaultLimits()
	mut, desc := newLimiters(l)
	a := newAPI(sim, sim.Clock(), l, newStats(), mut, desc)
	ro := a.readOnlyView()
	ctx := context.Background()
	calls := []struct {
		op   string
		call func() error
	}{
		{"CreateVolume", func() error {
			_, err := ro.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1)})
			return err
		}},
		{"CreateSnapshot", func() error {
			_, err := ro.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String("vol-12345678")})
			return err
		}},
		{"DeleteSnapshot", func() error {
			_, err := ro.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String("snap-12345678")})
			return err
		}},
		{"EnableFastSnapshotRestores", func() error {
			_, err := ro.EnableFastSnapshotRestores(ctx, &ec2.EnableFastSnapshotRestoresInput{})
			return err
		}},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, errReadOnly) {
			t.Errorf("%s through a read-only api: %v, want errReadOnly", c.op, err)
		}
	}
	if n := len(sim.Calls()); n != 0 {
		t.Errorf("the simulator saw %d calls; the guard must stop them first", n)
	}
	if _, err := ro.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err != nil {
		t.Errorf("DescribeVolumes through a read-only api: %v", err)
	}
	// The view shares the buckets and counters, and the original still mutates.
	if _, err := a.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1)}); err != nil {
		t.Errorf("CreateVolume through the read-write api: %v", err)
	}
	if c := a.stats.Calls(); c["DescribeVolumes"] != 1 || c["CreateVolume"] != 1 {
		t.Errorf("stats %v", c)
	}
}

// TestRetryerLeavesThrottlingToGraft: the SDK's retryer does not retry
// throttling (graft's own loop on the Clock does), but still retries 5xx
// answers and transport errors.
func TestRetryerLeavesThrottlingToGraft(t *testing.T) {
	r := newRetryer(ClientOptions{})
	respErr := func(status int, code string) error {
		return &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: code},
		}
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"RequestLimitExceeded (EC2 answers it with 503)", respErr(503, "RequestLimitExceeded"), false},
		{"Throttling 400", respErr(400, "Throttling"), false},
		{"InternalError 500", respErr(500, "InternalError"), true},
		{"Unavailable 503", respErr(503, "Unavailable"), true},
		{"InvalidParameterValue 400", respErr(400, "InvalidParameterValue"), false},
		{"dial error", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"canceled", &aws.RequestCanceledError{Err: context.Canceled}, false},
	}
	for _, c := range cases {
		if got := r.IsErrorRetryable(c.err); got != c.want {
			t.Errorf("%s: retryable %v, want %v", c.name, got, c.want)
		}
	}
	if r.MaxAttempts() != 5 {
		t.Errorf("MaxAttempts %d", r.MaxAttempts())
	}
}
