package opsim_test

import (
	"testing"

	"github.com/graftctl/graft/internal/opsim"
)

// TestCassandraDatacenter: one StatefulSet per rack, named and sized as
// cass-operator does, each pod required on its rack's labels (the
// datacenter's, the rack's over them, the deprecated zone last).
func TestCassandraDatacenter(t *testing.T) {
	sets, err := opsim.FromYAML([]byte(`apiVersion: cassandra.datastax.com/v1beta1
kind: CassandraDatacenter
metadata: {name: DC1, namespace: db}
spec:
  clusterName: Test Cluster
  size: 5
  nodeAffinityLabels: {pool: cassandra, topology.kubernetes.io/zone: us-east-1c}
  racks:
    - {name: Rack_A, nodeAffinityLabels: {topology.kubernetes.io/zone: us-east-1a}}
    - {name: r2, zone: us-east-1b}
  storageConfig:
    cassandraDataVolumeClaimSpec: {resources: {requests: {storage: 1Gi}}}
    additionalVolumes:
      - {name: logs, mountPath: /logs, volumeSource: {emptyDir: {}}}
      - {name: commitlog, mountPath: /c, pvcSpec: {resources: {requests: {storage: 1Gi}}}}
---
apiVersion: v1
kind: Service
metadata: {name: other}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 {
		t.Fatalf("%d StatefulSets", len(sets))
	}
	a, b := sets[0], sets[1]
	if a.Name != "testcluster-dc1-rack-a-sts" || *a.Spec.Replicas != 3 || b.Name != "testcluster-dc1-r2-sts" || *b.Spec.Replicas != 2 {
		t.Errorf("StatefulSets %s x%d, %s x%d", a.Name, *a.Spec.Replicas, b.Name, *b.Spec.Replicas)
	}
	if a.Namespace != "db" || a.Spec.ServiceName != "testcluster-dc1-all-pods-service" || a.Labels[opsim.ClusterLabel] != "TestCluster" || a.Labels[opsim.RackLabel] != "Rack_A" {
		t.Errorf("StatefulSet %s: namespace %q service %q labels %v", a.Name, a.Namespace, a.Spec.ServiceName, a.Labels)
	}
	if n := len(a.Spec.VolumeClaimTemplates); n != 2 || a.Spec.VolumeClaimTemplates[0].Name != "server-data" || a.Spec.VolumeClaimTemplates[1].Name != "commitlog" {
		t.Errorf("templates %+v", a.Spec.VolumeClaimTemplates)
	}
	for sts, want := range map[string]string{a.Name: "us-east-1a", b.Name: "us-east-1b"} {
		s := a
		if sts == b.Name {
			s = b
		}
		reqs := s.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions
		if len(reqs) != 2 || reqs[0].Key != "pool" || reqs[1].Key != "topology.kubernetes.io/zone" || reqs[1].Values[0] != want {
			t.Errorf("%s requires %+v, want pool and zone %s", sts, reqs, want)
		}
	}
}

func TestElasticsearch(t *testing.T) {
	sets, err := opsim.FromYAML([]byte(`apiVersion: elasticsearch.k8s.elastic.co/v1
kind: Elasticsearch
metadata: {name: logs, namespace: es}
spec:
  nodeSets:
    - {name: hot, count: 2}
    - name: warm
      count: 1
      volumeClaimTemplates: [{metadata: {name: data2}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 || sets[0].Name != "logs-es-hot" || sets[0].Spec.ServiceName != "logs-es-hot" || *sets[0].Spec.Replicas != 2 ||
		sets[0].Spec.VolumeClaimTemplates[0].Name != "elasticsearch-data" || sets[1].Spec.VolumeClaimTemplates[0].Name != "data2" {
		t.Errorf("StatefulSets %+v", sets)
	}
}

func TestCleanLabelValue(t *testing.T) {
	for in, want := range map[string]string{"Test Cluster": "TestCluster", "dc_1": "dc_1", "-x-": "x"} {
		if got := opsim.CleanLabelValue(in); got != want {
			t.Errorf("CleanLabelValue(%q) = %q, want %q", in, got, want)
		}
	}
}
