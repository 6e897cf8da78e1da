package record_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/testkit/examples"
)

// cassLock is a record of a two-rack cass-operator migration, one node
// each.
const cassLock = `apiVersion: graft.graftctl.io/v1alpha1
kind: Lock
migration: cass
sourceRegion: us-east-1
targetRegion: us-east-1
workload:
  kind: cass-operator
  resource:
    apiVersion: cassandra.datastax.com/v1beta1
    kind: CassandraDatacenter
    name: dc1
  clusterName: Cluster1
  groups:
    - name: r1
      statefulSet: cluster1-dc1-r1-sts
      zone: us-east-1a
      claimTemplates: [server-data]
    - name: r2
      statefulSet: cluster1-dc1-r2-sts
      zone: us-east-1b
      claimTemplates: [server-data]
volumes:
  - statefulSet: cluster1-dc1-r1-sts
    ordinal: 0
    claimTemplate: server-data
    sourceInstance: i-0aaaaaaaaaaaaaaa1
    sourceDevice: /dev/xvdf
    sourceVolume: vol-0aaaaaaaaaaaaaaa1
    sourceZone: us-east-1a
    targetVolume: vol-0bbbbbbbbbbbbbbb1
    targetZone: us-east-1a
    sizeGiB: 100
    volumeType: gp3
    encrypted: false
    fsType: ext4
  - statefulSet: cluster1-dc1-r2-sts
    ordinal: 0
    claimTemplate: server-data
    sourceInstance: i-0aaaaaaaaaaaaaaa2
    sourceDevice: /dev/xvdf
    sourceVolume: vol-0aaaaaaaaaaaaaaa2
    sourceZone: us-east-1b
    targetVolume: vol-0bbbbbbbbbbbbbbb2
    targetZone: us-east-1b
    sizeGiB: 100
    volumeType: gp3
    encrypted: false
    fsType: ext4
`

func TestWorkloadRecord(t *testing.T) {
	r, err := record.Parse([]byte(cassLock))
	if err != nil {
		t.Fatal(err)
	}
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "workload:\n  kind: cass-operator\n") {
		t.Errorf("marshalled record lacks its workload:\n%s", data)
	}
	if _, err := record.Parse(data); err != nil {
		t.Fatal(err)
	}
}

// TestWorkloadOf: the record's workload is the spec's, as the contract
// shapes it: every example's record holds the workload of its spec (none
// for a statefulset spec).
func TestWorkloadOf(t *testing.T) {
	entries, err := os.ReadDir(examples.Dir(""))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range entries {
		m, want := examples.Load(t, e.Name())
		got := record.New(m).Workload
		if !record.EqualWorkloads(got, want.Workload) {
			t.Errorf("%s: WorkloadOf = %+v, want %+v", e.Name(), got, want.Workload)
		}
		if kind := m.Spec.Target.WorkloadKind(); kind != spec.WorkloadStatefulSet {
			kinds[kind] = true
			m.Spec.Target.Workload = nil
			if got := record.WorkloadOf(&m.Spec); got != nil {
				t.Errorf("%s: statefulset workload recorded as %+v", e.Name(), got)
			}
		} else if got != nil {
			t.Errorf("%s: statefulset workload recorded as %+v", e.Name(), got)
		}
	}
	if len(kinds) != len(spec.WorkloadKinds)-1 {
		t.Errorf("the examples hold workload kinds %v, want every kind of %v", kinds, spec.WorkloadKinds)
	}
}

func TestWorkloadRecordInvalid(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"unknown kind", "kind: cass-operator", "kind: k8ssandra", `workload.kind: "k8ssandra", expected one of cass-operator, eck, claims-only`},
		{"statefulset kind", "kind: cass-operator", "kind: statefulset", `workload.kind: "statefulset", expected one of`},
		{"wrong resource kind", "kind: CassandraDatacenter", "kind: CassandraCluster", `workload.resource.kind: "CassandraCluster", expected "CassandraDatacenter"`},
		{"wrong resource group", "apiVersion: cassandra.datastax.com/v1beta1", "apiVersion: k8ssandra.io/v1alpha1", `workload.resource.apiVersion: "k8ssandra.io/v1alpha1"`},
		{"no cluster name", "  clusterName: Cluster1\n", "", `workload.clusterName: missing`},
		{"volume of no group", "statefulSet: cluster1-dc1-r2-sts\n    ordinal: 0", "statefulSet: cluster1-dc1-r9-sts\n    ordinal: 0", `volumes[1].statefulSet: "cluster1-dc1-r9-sts", expected the StatefulSet of a workload group`},
		{"volume outside its group's zone", "targetVolume: vol-0bbbbbbbbbbbbbbb2\n    targetZone: us-east-1b", "targetVolume: vol-0bbbbbbbbbbbbbbb2\n    targetZone: us-east-1c", `volumes[1].targetZone: "us-east-1c", expected us-east-1b, the zone of cluster1-dc1-r2-sts's group`},
		{"claim template of no group", "claimTemplates: [server-data]\n    - name: r2", "claimTemplates: [data]\n    - name: r2", `volumes[0].claimTemplate: "server-data", expected one of the claim templates of cluster1-dc1-r1-sts (data)`},
		{"group without zone", "      zone: us-east-1a\n", "", `workload.groups[0].zone: missing`},
		{"group StatefulSet twice", "statefulSet: cluster1-dc1-r2-sts\n      zone", "statefulSet: cluster1-dc1-r1-sts\n      zone", `workload.groups[1].statefulSet: "cluster1-dc1-r1-sts", expected a StatefulSet of one group only`},
		{"unknown group field", "      claimTemplates: [server-data]\n    - name: r2", "      claimTemplates: [server-data]\n      rack: r1\n    - name: r2", `field rack not found in a workload.groups entry of the record`},
		{"claims-only with a resource", "kind: cass-operator", "kind: claims-only", `workload.resource: "CassandraDatacenter/dc1", expected absent for kind claims-only`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(cassLock, c.from, c.to, 1)
			if doc == cassLock {
				t.Fatalf("%q not in the record", c.from)
			}
			_, err := record.Parse([]byte(doc))
			if err == nil || !errors.Is(err, record.ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("missing %q in\n%v", c.want, err)
			}
		})
	}
}
