package spec_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/spec"
)

func withCluster(extra string) string {
	return strings.Replace(valid, "  target:\n", "  target:\n"+extra, 1)
}

// assertTargetProblems parses the valid spec with each extra text under
// spec.target and wants exactly the problems given (substrings, one each).
func assertTargetProblems(t *testing.T, cases map[string][]string) {
	t.Helper()
	for extra, want := range cases {
		_, err := spec.Parse([]byte(withCluster(extra)))
		var verr spec.ValidationError
		if !errors.As(err, &verr) || !errors.Is(err, spec.ErrInvalid) {
			t.Errorf("%q: error %v, want a ValidationError", extra, err)
			continue
		}
		if len(verr) != len(want) {
			t.Errorf("%q: %d problems, want %d: %v", extra, len(verr), len(want), err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: missing %q in\n%v", extra, w, err)
			}
		}
	}
}

// TestStorageWithoutCluster: no target.cluster is today's output: the
// ebs.csi.aws.com driver, the spec's topology key, no requirement, no tag.
func TestStorageWithoutCluster(t *testing.T) {
	for doc, key := range map[string]string{
		valid: spec.TopologyKeyKubernetes,
		withCluster("    topologyKey: topology.ebs.csi.aws.com/zone\n"): spec.TopologyKeyEBSCSI,
	} {
		m, err := spec.Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		st := m.Spec.Target.Storage()
		want := spec.Storage{CSIDriver: spec.CSIDriverEBS, TopologyKey: key}
		if !reflect.DeepEqual(st, want) {
			t.Errorf("Storage() = %+v, want %+v", st, want)
		}
	}
}

// TestStorageOfCluster: the driver, key, requirements, tags and policies
// of each storage driver come from target.cluster.
func TestStorageOfCluster(t *testing.T) {
	cases := map[string]spec.Storage{
		"    cluster:\n      name: prod-1\n": {
			CSIDriver: spec.CSIDriverEBS, TopologyKey: spec.TopologyKeyKubernetes,
			Tags:     map[string]string{"ebs.csi.aws.com/cluster": "true", "ebs.csi.aws.com/cluster-name": "prod-1"},
			Policies: []string{"AmazonEBSCSIDriverPolicyV2", "AmazonEBSCSIDriverEKSClusterScopedPolicy"},
		},
		"    topologyKey: topology.ebs.csi.aws.com/zone\n    cluster:\n      name: prod_2\n      storageDriver: ebs-csi\n": {
			CSIDriver: spec.CSIDriverEBS, TopologyKey: spec.TopologyKeyEBSCSI,
			Tags:     map[string]string{"ebs.csi.aws.com/cluster": "true", "ebs.csi.aws.com/cluster-name": "prod_2"},
			Policies: []string{"AmazonEBSCSIDriverPolicyV2", "AmazonEBSCSIDriverEKSClusterScopedPolicy"},
		},
		"    cluster:\n      name: auto\n      storageDriver: eks-auto-mode\n": {
			CSIDriver: "ebs.csi.eks.amazonaws.com", TopologyKey: "topology.kubernetes.io/zone",
			Requirements: []spec.NodeRequirement{{Key: "eks.amazonaws.com/compute-type", Values: []string{"auto"}}},
			Tags:         map[string]string{"eks:eks-cluster-name": "auto"},
			Policies:     []string{"AmazonEKSBlockStoragePolicy"},
		},
		"    topologyKey: topology.kubernetes.io/zone\n    cluster:\n      name: a\n      storageDriver: eks-auto-mode\n": {
			CSIDriver: "ebs.csi.eks.amazonaws.com", TopologyKey: "topology.kubernetes.io/zone",
			Requirements: []spec.NodeRequirement{{Key: "eks.amazonaws.com/compute-type", Values: []string{"auto"}}},
			Tags:         map[string]string{"eks:eks-cluster-name": "a"},
			Policies:     []string{"AmazonEKSBlockStoragePolicy"},
		},
	}
	for extra, want := range cases {
		m, err := spec.Parse([]byte(withCluster(extra)))
		if err != nil {
			t.Fatalf("%s: %v", extra, err)
		}
		if got := m.Spec.Target.Storage(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Storage() = %+v, want %+v", extra, got, want)
		}
	}
}

// TestClusterValidation: the name is EKS's, the driver one of two, Auto
// Mode refuses another topology key, and the driver's tags are graft's.
func TestClusterValidation(t *testing.T) {
	long := strings.Repeat("a", 101)
	cases := map[string][]string{
		"    cluster:\n      storageDriver: ebs-csi\n":                      {`spec.target.cluster.name: missing, expected an EKS cluster name`},
		"    cluster:\n      name: -prod\n":                                 {`spec.target.cluster.name: "-prod", expected an EKS cluster name: 1 to 100 letters`},
		"    cluster:\n      name: _prod\n":                                 {`spec.target.cluster.name: "_prod"`},
		"    cluster:\n      name: prod.1\n":                                {`spec.target.cluster.name: "prod.1"`},
		"    cluster:\n      name: " + long + "\n":                          {`spec.target.cluster.name: "` + long + `"`},
		"    cluster:\n      name: \"pröd\"\n":                              {`spec.target.cluster.name: "pröd"`},
		"    cluster:\n      name: p\n      storageDriver: auto-mode\n":     {`spec.target.cluster.storageDriver: "auto-mode", expected one of ebs-csi, eks-auto-mode`},
		"    cluster:\n      name: p\n      storageDriver: EKS-Auto-Mode\n": {`spec.target.cluster.storageDriver: "EKS-Auto-Mode"`},
		"    topologyKey: topology.ebs.csi.aws.com/zone\n    cluster:\n      name: p\n      storageDriver: eks-auto-mode\n": {
			`spec.target.topologyKey: "topology.ebs.csi.aws.com/zone", expected topology.kubernetes.io/zone (or no topologyKey): spec.target.cluster.storageDriver eks-auto-mode`},
		"    volume:\n      tags:\n        eks:eks-cluster-name: other\n    cluster:\n      name: p\n      storageDriver: eks-auto-mode\n": {
			`spec.target.volume.tags[eks:eks-cluster-name]: "other", expected no such tag: graft tags the volumes for spec.target.cluster itself (eks:eks-cluster-name=p)`},
		"    volume:\n      tags:\n        ebs.csi.aws.com/cluster: \"false\"\n    cluster:\n      name: p\n": {
			`spec.target.volume.tags[ebs.csi.aws.com/cluster]: "false"`},
		"    volume:\n      tags:\n        ebs.csi.aws.com/cluster-name: p\n    cluster:\n      name: p\n      storageDriver: eks-auto-mode\n": {
			`spec.target.volume.tags[ebs.csi.aws.com/cluster-name]: "p"`},
	}
	assertTargetProblems(t, cases)
	// Tags equal to the ones graft sets are allowed, and so are the keys
	// when no cluster is named (today's behaviour).
	for _, ok := range []string{
		"    volume:\n      tags:\n        ebs.csi.aws.com/cluster: \"true\"\n    cluster:\n      name: p\n",
		"    volume:\n      tags:\n        eks:eks-cluster-name: x\n",
		"    cluster:\n      name: " + strings.Repeat("a", 100) + "\n",
		"    cluster:\n      name: 0_a-B\n",
	} {
		if _, err := spec.Parse([]byte(withCluster(ok))); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
