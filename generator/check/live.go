package check

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/record"
)

// EC2 is the part of the EC2 API the live check calls. Its methods copy
// the SDK's signatures, so the client ebs.NewClient builds (and fakes) fit.
type EC2 interface {
	DescribeVolumes(ctx context.Context, params *ec2.DescribeVolumesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// Rules of the live check, evaluated in Go against EC2.
var LiveRules = []Rule{
	{ID: "GRAFT050", Level: LevelDeny, Title: "the recorded target volume exists"},
	{ID: "GRAFT051", Level: LevelDeny, Title: "the target volume is available, or attached only to cluster nodes"},
	{ID: "GRAFT052", Level: LevelDeny, Title: "the target volume is in the recorded zone"},
	{ID: "GRAFT053", Level: LevelDeny, Title: "the target volume has the recorded size"},
	{ID: "GRAFT054", Level: LevelDeny, Title: "the target volume has the recorded encryption"},
}

// batch is how many volume ids one DescribeVolumes call filters on.
const batch = 200

// isClusterNode says whether an instance is a Kubernetes node: EKS and
// the cloud provider tag their nodes.
func isClusterNode(inst ec2types.Instance) bool {
	for _, t := range inst.Tags {
		k := aws.ToString(t.Key)
		if k == "eks:cluster-name" || strings.HasPrefix(k, "kubernetes.io/cluster/") {
			return true
		}
	}
	return false
}

// Live checks the record against EC2: each target volume exists, is
// available (or attached only to cluster nodes), is in the recorded zone
// and has the recorded size and encryption. lockPath names the file of the
// findings; in supplies their lines (it may be nil).
func Live(ctx context.Context, api EC2, rec *record.Record, lockPath string, in *Input) ([]Finding, error) {
	ids := make([]string, 0, len(rec.Volumes))
	for _, v := range rec.Volumes {
		ids = append(ids, v.TargetVolume)
	}
	found := map[string]ec2types.Volume{}
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		p := ec2.NewDescribeVolumesPaginator(api, &ec2.DescribeVolumesInput{
			Filters: []ec2types.Filter{{Name: aws.String("volume-id"), Values: chunk}},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe volumes: %w", err)
			}
			for _, v := range out.Volumes {
				found[aws.ToString(v.VolumeId)] = v
			}
		}
	}
	// The instances the volumes are attached to.
	attached := map[string]bool{}
	for _, v := range found {
		for _, a := range v.Attachments {
			attached[aws.ToString(a.InstanceId)] = true
		}
	}
	nodes := map[string]bool{}
	if len(attached) > 0 {
		instanceIDs := make([]string, 0, len(attached))
		for id := range attached {
			instanceIDs = append(instanceIDs, id)
		}
		sort.Strings(instanceIDs)
		p := ec2.NewDescribeInstancesPaginator(api, &ec2.DescribeInstancesInput{
			Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: instanceIDs}},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe instances: %w", err)
			}
			for _, r := range out.Reservations {
				for _, inst := range r.Instances {
					nodes[aws.ToString(inst.InstanceId)] = isClusterNode(inst)
				}
			}
		}
	}
	var out []Finding
	for _, v := range rec.Volumes {
		add := func(id, field, foundV, expected, what string) {
			f := Finding{
				ID: id, Level: LevelDeny, Kind: "EBSVolume", Name: v.TargetVolume,
				File: lockPath, Field: field, Found: foundV, Expected: expected,
				Message: fmt.Sprintf("[%s] EBSVolume %s (%s): %s: %s is %s, expected %s", id, v.TargetVolume, v.ClaimName(), what, field, foundV, expected),
			}
			if in != nil {
				f.Line = in.recordLine(v.TargetVolume)
			}
			out = append(out, f)
		}
		vol, ok := found[v.TargetVolume]
		if !ok {
			add("GRAFT050", "targetVolume", "no such volume", "an existing volume", "the volume graft.lock records does not exist in EC2")
			continue
		}
		state := string(vol.State)
		switch {
		case vol.State == ec2types.VolumeStateAvailable:
		case vol.State == ec2types.VolumeStateInUse:
			for _, a := range vol.Attachments {
				id := aws.ToString(a.InstanceId)
				if !nodes[id] {
					add("GRAFT051", "state", "attached to "+id, "available, or attached only to cluster nodes", "the volume is attached to an instance outside the cluster")
				}
			}
		default:
			add("GRAFT051", "state", state, "available", "the volume is not usable")
		}
		if z := aws.ToString(vol.AvailabilityZone); z != v.TargetZone {
			add("GRAFT052", "targetZone", z, v.TargetZone, "the volume is not in the recorded zone")
		}
		if s := aws.ToInt32(vol.Size); s != v.SizeGiB {
			add("GRAFT053", "sizeGiB", fmt.Sprint(s), fmt.Sprint(v.SizeGiB), "the volume does not have the recorded size")
		}
		if e := aws.ToBool(vol.Encrypted); e != v.Encrypted {
			add("GRAFT054", "encrypted", fmt.Sprint(e), fmt.Sprint(v.Encrypted), "the volume does not have the recorded encryption")
		} else if v.KMSKeyID != "" && !ebs.SameKMSKey(aws.ToString(vol.KmsKeyId), v.KMSKeyID) {
			add("GRAFT054", "kmsKeyId", aws.ToString(vol.KmsKeyId), v.KMSKeyID, "the volume is encrypted with another key")
		}
	}
	return out, nil
}
