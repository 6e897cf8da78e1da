package spec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/testkit/examples"
)

// cassOperator is the cass-operator example (three racks, two devices)
// with names the operator cleans up (cluster Test_Cluster, rack Rack_2) and
// seven nodes, which it spreads unevenly.
func cassOperator(t testing.TB) string {
	return examples.Text(t, "cass-operator-6node", "graft.yaml",
		"clusterName: Prod Cluster", "clusterName: Test_Cluster", "size: 6", "size: 7", "{name: r2,", "{name: Rack_2,")
}

// eck is the ECK example: nodeSets hot (two nodes) and warm (one).
func eck(t testing.TB) string {
	return examples.Text(t, "eck-logging", "graft.yaml")
}

func parseOK(t *testing.T, doc string) *spec.Migration {
	t.Helper()
	m, err := spec.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCassOperatorDerivesStatefulSets: the racks become StatefulSets named
// as cass-operator names them, with spec.size spread as it spreads it.
func TestCassOperatorDerivesStatefulSets(t *testing.T) {
	m := parseOK(t, cassOperator(t))
	want := []spec.StatefulSet{
		{Name: "test-cluster-dc1-r1-sts", Replicas: 3, Zone: "us-east-1a", SourceZone: "us-east-1a"},
		{Name: "test-cluster-dc1-rack-2-sts", Replicas: 2, Zone: "us-east-1b", SourceZone: "us-east-1b"},
		{Name: "test-cluster-dc1-r3-sts", Replicas: 2, Zone: "us-east-1c", SourceZone: "us-east-1c"},
	}
	got := m.Spec.Target.StatefulSets
	if len(got) != len(want) {
		t.Fatalf("StatefulSets = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("StatefulSets[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if c := spec.ClaimName("server-data", got[1].Name, 1); c != "server-data-test-cluster-dc1-rack-2-sts-1" {
		t.Errorf("claim %s", c)
	}
	groups := m.Spec.Groups()
	if len(groups) != 3 || groups[1].Name != "Rack_2" || groups[1].StatefulSet != want[1].Name || groups[1].Zone != "us-east-1b" || strings.Join(groups[1].ClaimTemplates, ",") != "commitlog,server-data" {
		t.Errorf("Groups = %+v", groups)
	}
	// Validating again (a defaulted spec) still passes.
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestCassOperatorVersions: the releases graft accepts (v1.25 and later,
// which keep the claims) name the StatefulSets after metadata.name, not
// spec.datacenterName (the v1.14 to v1.22 naming, which generator/workload
// still knows, for the gate's reading of older records).
func TestCassOperatorVersions(t *testing.T) {
	for version, want := range map[string]string{
		"v1.25.0": "test-cluster-dc1-r1-sts",
		"v1.32.0": "test-cluster-dc1-r1-sts",
		"":        "test-cluster-dc1-r1-sts",
	} {
		doc := strings.Replace(cassOperator(t), "        size: 7\n", "        size: 7\n        datacenterName: DC_East\n        operatorVersion: \""+version+"\"\n", 1)
		m := parseOK(t, doc)
		if got := m.Spec.Target.StatefulSets[0].Name; got != want {
			t.Errorf("operatorVersion %q: %s, want %s", version, got, want)
		}
	}
}

func TestECKDerivesStatefulSets(t *testing.T) {
	m := parseOK(t, eck(t))
	got := m.Spec.Target.StatefulSets
	if len(got) != 2 || got[0].Name != "logging-es-hot" || got[0].Replicas != 2 || got[1].Name != "logging-es-warm" || got[1].Zone != "us-east-1b" {
		t.Fatalf("StatefulSets = %+v", got)
	}
	if ct := m.Spec.Target.Workload.Elasticsearch.NodeSets[0].ClaimTemplate; ct != "elasticsearch-data" {
		t.Errorf("default claim template %q", ct)
	}
}

// TestClaimsOnlyNeedsNoBase: the overlay holds only claims.
func TestClaimsOnlyNeedsNoBase(t *testing.T) {
	doc := strings.Replace(valid, "    namespace: cassandra\n", "    namespace: cassandra\n    workload:\n      kind: claims-only\n", 1)
	doc = strings.Replace(doc, "  gitops:\n    base: ../../base\n", "  gitops:\n    overlayPath: overlays/cass\n", 1)
	m := parseOK(t, doc)
	if m.Spec.Target.WorkloadKind() != spec.WorkloadClaimsOnly || m.Spec.Target.PatchesStatefulSets() || len(m.Spec.Target.StatefulSets) != 1 {
		t.Errorf("target %+v", m.Spec.Target)
	}
}

func TestWorkloadValidationErrors(t *testing.T) {
	rack := func(doc, from, to string) string { return strings.Replace(doc, from, to, 1) }
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown kind", rack(cassOperator(t), "kind: cass-operator", "kind: k8ssandra"),
			[]string{`spec.target.workload.kind: "k8ssandra", expected one of statefulset, cass-operator, eck, claims-only`, `spec.target.workload.cassandraDatacenter: "set", expected absent unless kind is cass-operator`}},
		{"no datacenter", rack(eck(t), "kind: eck", "kind: cass-operator"),
			[]string{`spec.target.workload.cassandraDatacenter: missing`, `spec.target.workload.elasticsearch: "set", expected absent unless kind is eck`}},
		{"StatefulSets listed too", rack(cassOperator(t), "  gitops:\n", "    statefulSets:\n      - {name: cassandra, replicas: 7}\n  gitops:\n"),
			[]string{`spec.target.statefulSets: "cassandra", expected absent: with workload kind cass-operator graft derives the StatefulSets`}},
		{"no server-data device", rack(cassOperator(t), "claimTemplate: server-data", "claimTemplate: data"),
			[]string{`spec.source.devices[].claimTemplate: "data,commitlog", expected a device with claimTemplate server-data`}},
		{"rack with a dot", rack(cassOperator(t), "name: r1,", "name: rack.a,"),
			[]string{`spec.target.workload.cassandraDatacenter.racks[0].name: "test-cluster-dc1-rack.a-sts", expected a DNS-1123 label`}},
		{"racks that clean up alike", rack(cassOperator(t), "name: r3,", "name: rack_2,"),
			[]string{`spec.target.workload.cassandraDatacenter.racks[2].name: "rack-2", expected a rack whose cleaned-up name differs from racks[1]'s`}},
		{"names too long for the revision label", rack(cassOperator(t), "clusterName: Test_Cluster", "clusterName: "+strings.Repeat("Long_", 8)),
			[]string{`spec.target.workload.cassandraDatacenter.racks[1].name: "long-long-long-long-long-long-long-long-dc1-rack-2-sts", expected a StatefulSet name of at most 52 characters (this one has 54)`}},
		{"cluster name without letters", rack(cassOperator(t), "clusterName: Test_Cluster", "clusterName: '2024'"),
			[]string{`spec.target.workload.cassandraDatacenter.clusterName: "2024", expected a cluster name with at least one letter`}},
		{"size smaller than the racks", rack(cassOperator(t), "size: 7", "size: 2"),
			[]string{`spec.target.workload.cassandraDatacenter.size: 2, expected 3 to 30000: at least one node per rack`}},
		{"rack without zone", rack(cassOperator(t), "{name: r1, zone: us-east-1a, sourceZone: us-east-1a}", "{name: r1, sourceZone: us-east-1a}"),
			[]string{`spec.target.workload.cassandraDatacenter.racks[0].zone: missing, expected the target zone of the rack`}},
		{"rack in another region", rack(cassOperator(t), "{name: r1, zone: us-east-1a,", "{name: r1, zone: eu-west-1a,"),
			[]string{`spec.target.workload.cassandraDatacenter.racks[0].zone: "eu-west-1a", expected a zone of the target region us-east-1`}},
		{"two racks from one source zone", rack(cassOperator(t), "zone: us-east-1b, sourceZone: us-east-1b", "zone: us-east-1b, sourceZone: us-east-1a"),
			[]string{`spec.target.workload.cassandraDatacenter.racks[1].sourceZone: "us-east-1a", expected a zone no other StatefulSet draws from (spec.target.workload.cassandraDatacenter.racks[0] does)`}},
		{"operator that deletes the claims", rack(cassOperator(t), "size: 7", "size: 7\n        operatorVersion: v1.24.2"),
			[]string{`spec.target.workload.cassandraDatacenter.operatorVersion: "v1.24.2", expected v1.25 or later: an older cass-operator deletes the datacenter's claims`}},
		{"operator too old", rack(cassOperator(t), "size: 7", "size: 7\n        operatorVersion: v1.9.0"),
			[]string{`spec.target.workload.cassandraDatacenter.operatorVersion: "v1.9.0", expected v1.10 or later`}},
		{"bad operator version", rack(cassOperator(t), "size: 7", "size: 7\n        operatorVersion: latest"),
			[]string{`spec.target.workload.cassandraDatacenter.operatorVersion: "latest", expected a cass-operator release`}},
		{"v1.10 is refused before its naming", rack(cassOperator(t), "size: 7", "size: 7\n        operatorVersion: v1.10.0"),
			[]string{`spec.target.workload.cassandraDatacenter.operatorVersion: "v1.10.0", expected v1.25 or later`}},
		{"elasticsearch name too long", rack(eck(t), "name: logging\n", "name: "+strings.Repeat("q", 37)+"\n"),
			[]string{`spec.target.workload.elasticsearch.name: "` + strings.Repeat("q", 37) + `", expected an Elasticsearch name of at most 36 characters`}},
		{"nodeSet in upper case", rack(eck(t), "name: hot,", "name: Hot_A,"),
			[]string{`spec.target.workload.elasticsearch.nodeSets[0].name: "Hot_A", expected a DNS-1123 subdomain, as ECK requires of a nodeSet name`}},
		{"nodeSet with a dot", rack(eck(t), "name: hot,", "name: hot.a,"),
			[]string{`spec.target.workload.elasticsearch.nodeSets[0].name: "logging-es-hot.a", expected a DNS-1123 label`}},
		{"nodeSet claim template not the device's", rack(eck(t), "count: 1, zone: us-east-1b,", "count: 1, claimTemplate: data, zone: us-east-1b,"),
			[]string{`spec.target.workload.elasticsearch.nodeSets[1].claimTemplate: "data", expected "elasticsearch-data", spec.source.devices[0].claimTemplate`}},
		{"nodeSet without count", rack(eck(t), "count: 2, ", ""),
			[]string{`spec.target.workload.elasticsearch.nodeSets[0].count: 0, expected 1 to 10000`}},
		{"datacenter on a statefulset workload", rack(valid, "    namespace: cassandra\n", "    namespace: cassandra\n    workload:\n      kind: statefulset\n      cassandraDatacenter: {name: dc1}\n"),
			[]string{`spec.target.workload.cassandraDatacenter: "set", expected absent unless kind is cass-operator`}},
		{"no base for a statefulset workload", rack(valid, "    base: ../../base\n", "    overlayPath: overlays/cass\n"),
			[]string{`spec.gitops.base: missing, expected the kustomize base`}},
		{"StatefulSet too long for the revision label", rack(valid, "name: cassandra\n        replicas: 3", "name: "+strings.Repeat("c", 53)+"\n        replicas: 3"),
			[]string{`spec.target.statefulSets[0].name: "` + strings.Repeat("c", 53) + `", expected a StatefulSet name of at most 52 characters`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := spec.Parse([]byte(c.doc))
			wantProblems(t, err, c.want)
		})
	}
}

// TestWorkloadDecodesStrictly: an unknown field of the workload is an
// error naming it.
func TestWorkloadDecodesStrictly(t *testing.T) {
	doc := strings.Replace(cassOperator(t), "        size: 7\n", "        size: 7\n        seeds: 3\n", 1)
	_, err := spec.Parse([]byte(doc))
	if err == nil || !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), "seeds") {
		t.Fatalf("err = %v", err)
	}
	doc = strings.Replace(cassOperator(t), "size: 7", "size: 7.5", 1)
	if _, err := spec.Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "size: 7.5, expected a whole number") {
		t.Fatalf("err = %v", err)
	}
}
