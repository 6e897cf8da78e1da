package workload_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/workload"
)

// TestCleanupForKubernetes: cass-operator's cleanup, as its own tests and
// code give it (apis/cassandra/v1beta1/cassandradatacenter_types.go).
func TestCleanupForKubernetes(t *testing.T) {
	for in, want := range map[string]string{
		"cluster1":        "cluster1",
		"Cluster1":        "cluster1",
		"Test_Cluster":    "test-cluster",
		"My_Cluster.Prod": "my-clusterprod",
		"1abc":            "abc",
		"a b":             "ab",
		"--x--":           "x",
		"ÜberCluster":     "bercluster",
		"123":             "",
	} {
		if got := workload.CleanupForKubernetes(in); got != want {
			t.Errorf("CleanupForKubernetes(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("a", 70) // a valid form, too long: kept as it is
	if got := workload.CleanupForKubernetes(long); got != long {
		t.Errorf("CleanupForKubernetes(70 a's) = %q", got)
	}
}

func TestCleanupSubdomain(t *testing.T) {
	for in, want := range map[string]string{
		"r1":     "r1",
		"Rack_1": "rack-1",
		"rack.a": "rack.a", // a valid subdomain: kept, dot and all
		"1":      "1",
		"R 1":    "r1",
	} {
		if got := workload.CleanupSubdomain(in); got != want {
			t.Errorf("CleanupSubdomain(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCassandraStatefulSetNaming: the StatefulSet name of each naming era
// of cass-operator (construct_statefulset.go at v1.10.0, v1.13.0,
// v1.14.0-v1.22.x and v1.23.0 on).
func TestCassandraStatefulSetNaming(t *testing.T) {
	dc := workload.CassandraDatacenter{ClusterName: "Test_Cluster", Name: "dc1", DatacenterName: "DC_East"}
	for _, c := range []struct {
		version string
		status  string
		rack    string
		want    string
	}{
		{"", "", "Rack_1", "test-cluster-dc1-rack-1-sts"},
		{"v1.32.0", "", "r1", "test-cluster-dc1-r1-sts"},
		{"1.23", "Old_DC", "r1", "test-cluster-old-dc-r1-sts"},
		{"v1.22.4", "", "r1", "test-cluster-dc-east-r1-sts"},
		{"v1.14.0", "", "Rack_1", "test-cluster-dc-east-rack-1-sts"},
		{"v1.13.0", "", "Rack_1", "test-cluster-dc1-rack-1-sts"},
		{"v1.10.0", "", "Rack_1", "test-cluster-dc1-Rack_1-sts"},
	} {
		v, ok := workload.ParseCassOperatorVersion(c.version)
		if !ok {
			t.Fatalf("version %q does not parse", c.version)
		}
		d := dc
		d.Version, d.StatusDatacenterName = v, c.status
		if got := d.StatefulSet(c.rack); got != c.want {
			t.Errorf("%s (status %q): StatefulSet(%q) = %q, want %q", c.version, c.status, c.rack, got, c.want)
		}
	}
	for _, bad := range []string{"1", "v1", "latest", "v1.2.3.4", "1.x"} {
		if _, ok := workload.ParseCassOperatorVersion(bad); ok {
			t.Errorf("version %q parsed", bad)
		}
	}
}

func TestSplitRacks(t *testing.T) {
	for _, c := range []struct {
		size, racks int
		want        []int
	}{
		{7, 3, []int{3, 2, 2}},
		{6, 3, []int{2, 2, 2}},
		{2, 3, []int{1, 1, 0}},
		{5, 1, []int{5}},
		{5, 0, nil},
	} {
		if got := workload.SplitRacks(c.size, c.racks); !slices.Equal(got, c.want) {
			t.Errorf("SplitRacks(%d, %d) = %v, want %v", c.size, c.racks, got, c.want)
		}
	}
}

// TestStatefulSetNameProblem: the controller's limits on a name.
func TestStatefulSetNameProblem(t *testing.T) {
	ok52 := strings.Repeat("a", workload.MaxStatefulSetName)
	for _, c := range []struct {
		name       string
		maxOrdinal int
		want       string
	}{
		{"cassandra", 2, ""},
		{ok52, 9999, ""},
		{ok52 + "b", 0, "at most 52 characters"},
		{"Cassandra", 0, "DNS-1123 label"},
		{"cass_a", 0, "DNS-1123 label"},
		{"cass.a", 0, "DNS-1123 label"},
		{"", 0, "a StatefulSet name"},
		{ok52, 12345678901, "short enough for its pod"},
		{strings.Repeat("a", 50), 123456789012, ""},
	} {
		got := workload.StatefulSetNameProblem(c.name, c.maxOrdinal)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("StatefulSetNameProblem(%q, %d) = %q, want %q", c.name, c.maxOrdinal, got, c.want)
		}
	}
}

// TestElasticsearchNames: ECK's names and its ValidateNames limits
// (pkg/apis/elasticsearch/v1/name.go).
func TestElasticsearchNames(t *testing.T) {
	if got := workload.ElasticsearchStatefulSet("quickstart", "data"); got != "quickstart-es-data" {
		t.Errorf("ElasticsearchStatefulSet = %q", got)
	}
	for _, c := range []struct {
		es, nodeSet  string
		count        int
		esErr, nsErr string
	}{
		{"quickstart", "data", 3, "", ""},
		{strings.Repeat("e", 36), "data", 3, "", ""},
		{strings.Repeat("e", 37), "data", 3, "at most 36", ""},
		{"Quick", "data", 3, "DNS-1123", ""},
		{"es", "Data", 3, "", "subdomain"},
		{"es", strings.Repeat("n", 24), 3, "", "at most 23"},
		// 36+4+12 = 52 characters leave 11, less than "-3" and the hash (12)
		{strings.Repeat("e", 36), strings.Repeat("n", 12), 3, "", "shorter nodeSet name"},
		{strings.Repeat("e", 36), strings.Repeat("n", 11), 3, "", ""},
		{strings.Repeat("e", 36), strings.Repeat("n", 11), 10, "", "shorter nodeSet name"},
	} {
		esErr, nsErr := workload.ElasticsearchNameProblems(c.es, c.nodeSet, c.count)
		if (c.esErr == "") != (esErr == "") || !strings.Contains(esErr, c.esErr) {
			t.Errorf("%s/%s: es problem %q, want %q", c.es, c.nodeSet, esErr, c.esErr)
		}
		if (c.nsErr == "") != (nsErr == "") || !strings.Contains(nsErr, c.nsErr) {
			t.Errorf("%s/%s: nodeSet problem %q, want %q", c.es, c.nodeSet, nsErr, c.nsErr)
		}
	}
}
