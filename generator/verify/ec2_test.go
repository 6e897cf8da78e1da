package verify_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/verify"
	"github.com/graftctl/graft/internal/testkit/examples"
)

type volumeStatus struct {
	asked  [][]string
	status map[string]*types.InitializationStatusDetails
	err    error
}

func (f *volumeStatus) DescribeVolumeStatus(_ context.Context, in *ec2.DescribeVolumeStatusInput, _ ...func(*ec2.Options)) (*ec2.DescribeVolumeStatusOutput, error) {
	f.asked = append(f.asked, in.VolumeIds)
	if f.err != nil {
		return nil, f.err
	}
	out := &ec2.DescribeVolumeStatusOutput{}
	for _, id := range in.VolumeIds {
		out.VolumeStatuses = append(out.VolumeStatuses, types.VolumeStatusItem{VolumeId: aws.String(id), InitializationStatusDetails: f.status[id]})
	}
	return out, nil
}

// TestReadInitialization: each member gets its volume's initialization;
// the text says it; an EC2 error leaves the report as it was.
func TestReadInitialization(t *testing.T) {
	m, rec := example(t)
	rep := run(t, m, rec, examples.CutOver(m, rec))
	v0 := rec.Volumes[0].TargetVolume
	api := &volumeStatus{status: map[string]*types.InitializationStatusDetails{
		v0: {InitializationType: types.InitializationTypeProvisionedRate, Progress: aws.Int64(42), EstimatedTimeToCompleteInSeconds: aws.Int64(600)},
	}}
	if err := verify.ReadInitialization(context.Background(), api, rep); err != nil {
		t.Fatal(err)
	}
	if len(api.asked) != 1 || len(api.asked[0]) != len(rec.Volumes) || rep.EC2 != "checked" {
		t.Fatalf("asked %v, EC2 %q", api.asked, rep.EC2)
	}
	if i := rep.Members[0].Initialization; i == nil || i.Progress != 42 || i.Type != "provisioned-rate" || i.EstimatedSecondsLeft != 600 {
		t.Errorf("initialization %+v", i)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf, ansi.Palette{}); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "initialization 42% (provisioned-rate), about 600s left") || !strings.Contains(out, "PASS: 3 of 3 members cut over (EC2 checked)") {
		t.Errorf("text:\n%s", out)
	}
	rep2 := run(t, m, rec, examples.CutOver(m, rec))
	if err := verify.ReadInitialization(context.Background(), &volumeStatus{err: errors.New("no credentials")}, rep2); err == nil || rep2.EC2 != "skipped" || rep2.Members[0].Initialization != nil {
		t.Errorf("EC2 error: %v, EC2 %q", err, rep2.EC2)
	}
}
