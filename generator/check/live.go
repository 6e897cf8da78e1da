package check

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/kmskey"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
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
	{ID: "GRAFT051", Level: LevelDeny, Title: "the target volume is available, or attached only to Kubernetes nodes"},
	{ID: "GRAFT052", Level: LevelDeny, Title: "the target volume is in the recorded zone"},
	{ID: "GRAFT053", Level: LevelDeny, Title: "the target volume has the recorded size"},
	{ID: "GRAFT054", Level: LevelDeny, Title: "the target volume has the recorded encryption"},
	{ID: "GRAFT055", Level: LevelDeny, Title: "the target volume is this migration's volume of its member (graft tags)"},
	{ID: "GRAFT056", Level: LevelDeny, Title: "the target volume carries the cluster tags graft.lock records, which the CSI driver's IAM policy needs to attach it, and names no other cluster"},
}

// batch is how many ids one Describe call filters on (EC2 takes at most
// 200 values in a filter).
const batch = 200

// nodeTags are the tags that mark an instance as a Kubernetes node: the
// cloud provider's and kOps' kubernetes.io/cluster/<name>, EKS managed node
// groups' eks:cluster-name, Karpenter's and EKS Auto Mode's
// eks:eks-cluster-name, the legacy cloud provider's KubernetesCluster.
var nodeTags = []string{"kubernetes.io/cluster/<name>", "eks:cluster-name", "eks:eks-cluster-name", "KubernetesCluster"}

// clusterOf returns the cluster an instance is a Kubernetes node of, by
// its tags, or "" when no node tag marks it.
func clusterOf(inst ec2types.Instance) string {
	for _, t := range inst.Tags {
		k, v := aws.ToString(t.Key), aws.ToString(t.Value)
		switch {
		case strings.HasPrefix(k, "kubernetes.io/cluster/") && len(k) > len("kubernetes.io/cluster/"):
			return strings.TrimPrefix(k, "kubernetes.io/cluster/")
		case (k == "eks:cluster-name" || k == "eks:eks-cluster-name" || k == "KubernetesCluster") && v != "":
			return v
		}
	}
	return ""
}

// Live checks the record against EC2: each target volume exists, is
// available (or attached only to Kubernetes nodes), is in the recorded
// zone, has the recorded size and encryption, and carries the graft tags
// of this migration and its member (so it is no other migration's volume,
// which that migration's cleanup would delete). lockPath names the file of
// the findings; in supplies their lines (it may be nil).
func Live(ctx context.Context, api EC2, rec *record.Record, lockPath string, in *Input) ([]Finding, error) {
	ids := make([]string, 0, len(rec.Volumes))
	for _, v := range rec.Volumes {
		ids = append(ids, v.TargetVolume)
	}
	found, err := describeVolumes(ctx, api, ids)
	if err != nil {
		return nil, err
	}
	clusters, err := describeNodes(ctx, api, found)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, v := range rec.Volumes {
		c := volumeCheck{rec: rec, v: v, lockPath: lockPath, in: in}
		vol, ok := found[v.TargetVolume]
		if !ok {
			c.add("GRAFT050", "targetVolume", "no such volume", "an existing volume", "the volume graft.lock records does not exist in EC2")
		} else {
			c.state(vol, clusters)
			c.ownership(vol)
			c.clusterTags(vol)
			c.shape(vol)
		}
		out = append(out, c.out...)
	}
	return out, nil
}

// describeVolumes returns the volumes of ids that EC2 lists, by id, in
// calls of at most batch ids.
func describeVolumes(ctx context.Context, api EC2, ids []string) (map[string]ec2types.Volume, error) {
	found := map[string]ec2types.Volume{}
	for chunk := range slices.Chunk(ids, batch) {
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
	return found, nil
}

// describeNodes returns the cluster each instance the volumes are attached
// to is a Kubernetes node of ("" for none); an instance EC2 does not list
// is absent.
func describeNodes(ctx context.Context, api EC2, volumes map[string]ec2types.Volume) (map[string]string, error) {
	attached := map[string]bool{}
	for _, v := range volumes {
		for _, a := range v.Attachments {
			attached[aws.ToString(a.InstanceId)] = true
		}
	}
	clusters := map[string]string{}
	for chunk := range slices.Chunk(slices.Sorted(maps.Keys(attached)), batch) {
		p := ec2.NewDescribeInstancesPaginator(api, &ec2.DescribeInstancesInput{
			Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: chunk}},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe instances: %w", err)
			}
			for _, r := range out.Reservations {
				for _, inst := range r.Instances {
					clusters[aws.ToString(inst.InstanceId)] = clusterOf(inst)
				}
			}
		}
	}
	return clusters, nil
}

// volumeCheck collects the findings of one recorded volume.
type volumeCheck struct {
	rec      *record.Record
	v        record.Volume
	lockPath string
	in       *Input
	out      []Finding
}

func (c *volumeCheck) add(id, field, found, expected, what string) {
	v := c.v
	f := Finding{
		ID: id, Level: LevelDeny, Kind: "EBSVolume", Name: v.TargetVolume,
		File: c.lockPath, Field: field, Found: found, Expected: expected,
		Message: fmt.Sprintf("[%s] EBSVolume %s (%s): %s: %s is %s, expected %s", id, v.TargetVolume, v.ClaimName(), what, field, found, expected),
	}
	if c.in != nil {
		f.Line = c.in.recordLine(v.TargetVolume)
	}
	c.out = append(c.out, f)
}

// state: available, or in use only by Kubernetes nodes (GRAFT051).
func (c *volumeCheck) state(vol ec2types.Volume, clusters map[string]string) {
	const want = "available, or attached only to Kubernetes nodes"
	switch vol.State {
	case ec2types.VolumeStateAvailable:
	case ec2types.VolumeStateInUse:
		for _, a := range vol.Attachments {
			id := aws.ToString(a.InstanceId)
			switch cluster, listed := clusters[id]; {
			case !listed:
				c.add("GRAFT051", "state", "attached to "+id, want, "the volume is attached to an instance EC2 does not list")
			case cluster == "":
				c.add("GRAFT051", "state", "attached to "+id, want, "the volume is attached to an instance that no Kubernetes node tag ("+strings.Join(nodeTags, ", ")+") marks as a node")
			}
		}
	default:
		c.add("GRAFT051", "state", string(vol.State), "available", "the volume is not usable")
	}
}

// ownership: the tags graft clone put on the volume, which cleanup keys on
// (GRAFT055).
func (c *volumeCheck) ownership(vol ec2types.Volume) {
	tags := map[string]string{}
	for _, t := range vol.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	for _, want := range []struct{ key, value string }{
		{ownership.TagMigration, c.rec.Migration},
		{ownership.TagMember, ownership.MemberKey(c.v.StatefulSet, c.v.Ordinal)},
		{ownership.TagClaimTemplate, c.v.ClaimTemplate},
		{ownership.TagRole, ownership.RoleVolume},
	} {
		got, ok := tags[want.key]
		if ok && got == want.value {
			continue
		}
		found := "missing"
		if ok {
			found = fmt.Sprintf("%q", got)
		}
		c.add("GRAFT055", fmt.Sprintf("tags[%q]", want.key), found, fmt.Sprintf("%q", want.value), "the volume does not carry the graft tags of this migration and member")
	}
}

// clusterTags: the tags graft.lock records for the cluster's driver
// (spec.target.cluster) are on the volume, and no cluster-name tag names
// another cluster (GRAFT056). A record of Auto Mode's driver without its
// tag is one no Auto Mode cluster attaches.
func (c *volumeCheck) clusterTags(vol ec2types.Volume) {
	tags := map[string]string{}
	for _, t := range vol.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	want := maps.Clone(c.v.ClusterTags)
	if want == nil {
		want = map[string]string{}
	}
	if c.v.Driver() == spec.CSIDriverAutoMode && want[spec.TagEKSClusterName] == "" {
		c.add("GRAFT056", "clusterTags", "no "+spec.TagEKSClusterName, "the tag "+spec.TagEKSClusterName+"=<cluster>", "graft.lock records EKS Auto Mode's driver but not the tag Auto Mode attaches volumes by")
	}
	cluster := cmp.Or(want[spec.TagEKSClusterName], want[spec.TagEBSCSIClusterName])
	for _, k := range slices.Sorted(maps.Keys(want)) {
		got, ok := tags[k]
		if ok && got == want[k] {
			continue
		}
		found := "missing"
		if ok {
			found = fmt.Sprintf("%q", got)
		}
		c.add("GRAFT056", fmt.Sprintf("tags[%q]", k), found, fmt.Sprintf("%q", want[k]), "the volume lacks a tag the cluster's CSI driver and its IAM policy need to attach it: the pod would hang in ContainerCreating")
	}
	if cluster == "" {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if _, recorded := want[k]; recorded {
			continue
		}
		if named, ok := spec.ClusterNamedBy(k, tags[k]); ok && named != cluster {
			c.add("GRAFT056", fmt.Sprintf("tags[%q]", k), fmt.Sprintf("%q", tags[k]), fmt.Sprintf("%q or no such tag", cluster), "the volume names another cluster than the one graft.lock records")
		}
	}
}

// shape: the recorded zone, size and encryption (GRAFT052-054).
func (c *volumeCheck) shape(vol ec2types.Volume) {
	v := c.v
	if z := aws.ToString(vol.AvailabilityZone); z != v.TargetZone {
		c.add("GRAFT052", "targetZone", z, v.TargetZone, "the volume is not in the recorded zone")
	}
	if s := aws.ToInt32(vol.Size); s != v.SizeGiB {
		c.add("GRAFT053", "sizeGiB", fmt.Sprint(s), fmt.Sprint(v.SizeGiB), "the volume does not have the recorded size")
	}
	if e := aws.ToBool(vol.Encrypted); e != v.Encrypted {
		c.add("GRAFT054", "encrypted", fmt.Sprint(e), fmt.Sprint(v.Encrypted), "the volume does not have the recorded encryption")
	} else if v.KMSKeyID != "" && !kmskey.Same(aws.ToString(vol.KmsKeyId), v.KMSKeyID) {
		c.add("GRAFT054", "kmsKeyId", aws.ToString(vol.KmsKeyId), v.KMSKeyID, "the volume is encrypted with another key")
	}
}
