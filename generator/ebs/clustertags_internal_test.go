package ebs

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestClusterTagDiff: graft adds a missing cluster tag and never changes
// one; a tag naming another cluster is a conflict, one naming this
// cluster (another driver's, say) is not; other tags do not matter.
func TestClusterTagDiff(t *testing.T) {
	addOn := map[string]string{"ebs.csi.aws.com/cluster": "true", "ebs.csi.aws.com/cluster-name": "prod"}
	auto := map[string]string{"eks:eks-cluster-name": "prod"}
	cases := []struct {
		name      string
		want      map[string]string
		have      map[string]string
		add       map[string]string
		conflicts []string
	}{
		{"untagged", addOn, map[string]string{"team": "x"}, addOn, nil},
		{"tagged", addOn, addOn, nil, nil},
		{"one missing", addOn, map[string]string{"ebs.csi.aws.com/cluster": "true"}, map[string]string{"ebs.csi.aws.com/cluster-name": "prod"}, nil},
		{"driver changed, same cluster", auto, addOn, auto, nil},
		{"same cluster's driver tag", addOn, map[string]string{"kubernetes.io/cluster/prod": "owned"}, addOn, nil},
		{"other name", addOn, map[string]string{"ebs.csi.aws.com/cluster-name": "blue"}, map[string]string{"ebs.csi.aws.com/cluster": "true"},
			[]string{`tags["ebs.csi.aws.com/cluster-name"]: found "blue", expected "prod"`}},
		{"other cluster, other driver", auto, map[string]string{"ebs.csi.aws.com/cluster-name": "blue", "KubernetesCluster": "blue"}, auto,
			[]string{`tags["KubernetesCluster"]: found "blue", expected "prod" or no such tag`, `tags["ebs.csi.aws.com/cluster-name"]: found "blue", expected "prod" or no such tag`}},
		{"other driver cluster-id", auto, map[string]string{"kubernetes.io/cluster/blue": "owned"}, auto,
			[]string{`tags["kubernetes.io/cluster/blue"]: found, expected no such tag (it names cluster "blue", not "prod")`}},
		{"empty value", addOn, map[string]string{"ebs.csi.aws.com/cluster": ""}, map[string]string{"ebs.csi.aws.com/cluster-name": "prod"},
			[]string{`tags["ebs.csi.aws.com/cluster"]: found "", expected "true"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tags []types.Tag
			for _, k := range slices.Sorted(maps.Keys(c.have)) {
				tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(c.have[k])})
			}
			add, conflicts := clusterTagDiff(c.want, "prod", tags)
			if !maps.Equal(add, c.add) || fmt.Sprint(conflicts) != fmt.Sprint(c.conflicts) {
				t.Errorf("add %v, conflicts %q; want %v, %q", add, conflicts, c.add, c.conflicts)
			}
		})
	}
}
