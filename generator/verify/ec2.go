package verify

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// VolumeStatusAPI is the one EC2 call verify makes, with the SDK's
// signature.
type VolumeStatusAPI interface {
	DescribeVolumeStatus(ctx context.Context, in *ec2.DescribeVolumeStatusInput, opts ...func(*ec2.Options)) (*ec2.DescribeVolumeStatusOutput, error)
}

// volumeStatusBatch is how many volume ids one DescribeVolumeStatus names.
const volumeStatusBatch = 200

// ReadInitialization fills each member's Initialization from EC2's
// DescribeVolumeStatus (InitializationStatusDetails), so the user knows
// when reads are at full speed. An error leaves the report as it was and
// is returned for the caller to report: EC2 only informs, it never fails a
// verification.
func ReadInitialization(ctx context.Context, api VolumeStatusAPI, rep *Report) error {
	byVolume := map[string]*Member{}
	var ids []string
	for i := range rep.Members {
		byVolume[rep.Members[i].Volume] = &rep.Members[i]
		ids = append(ids, rep.Members[i].Volume)
	}
	found := map[string]*Initialization{}
	for batch := range slices.Chunk(ids, volumeStatusBatch) {
		p := ec2.NewDescribeVolumeStatusPaginator(api, &ec2.DescribeVolumeStatusInput{VolumeIds: batch})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("DescribeVolumeStatus: %w", err)
			}
			for _, st := range out.VolumeStatuses {
				d := st.InitializationStatusDetails
				if d == nil {
					continue
				}
				found[aws.ToString(st.VolumeId)] = &Initialization{
					Type:                 string(d.InitializationType),
					Progress:             aws.ToInt64(d.Progress),
					EstimatedSecondsLeft: aws.ToInt64(d.EstimatedTimeToCompleteInSeconds),
				}
			}
		}
	}
	for id, init := range found {
		if m, ok := byVolume[id]; ok {
			m.Initialization = init
		}
	}
	rep.EC2 = "checked"
	return nil
}
