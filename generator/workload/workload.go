// Package workload holds the naming rules of the operators that create
// StatefulSets for graft's target workloads: cass-operator (k8ssandra) and
// ECK (Elastic Cloud on Kubernetes), and the StatefulSet controller's own
// limits on a StatefulSet's name. Each rule lives here once, checked
// against the operator's source (cited at each function), so that the spec
// (which derives the StatefulSets), render (which patches the operator's
// resource) and the tests agree.
package workload

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// DNS-1123 and DNS-1035 forms, as k8s.io/apimachinery/pkg/util/validation
// spells them and cass-operator copies them
// (apis/cassandra/v1beta1/cassandradatacenter_types.go dns1035LabelFmt,
// dns1123SubdomainFmt).
const (
	dns1035LabelFmt     = `[a-z]([-a-z0-9]*[a-z0-9])?`
	dns1123LabelFmt     = `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
	dns1123SubdomainFmt = dns1123LabelFmt + `(\.` + dns1123LabelFmt + `)*`

	// LabelValueMaxLength and DNS1123SubdomainMaxLength are
	// k8s.io/apimachinery/pkg/util/validation's.
	LabelValueMaxLength       = 63
	DNS1123SubdomainMaxLength = 253
)

var (
	dns1035LabelRegexp      = regexp.MustCompile(dns1035LabelFmt)
	dns1035LabelAnchored    = regexp.MustCompile(`^` + dns1035LabelFmt + `$`)
	dns1123LabelAnchored    = regexp.MustCompile(`^` + dns1123LabelFmt + `$`)
	dns1123SubdomainRegexp  = regexp.MustCompile(dns1123SubdomainFmt)
	dns1123SubdomainAnchord = regexp.MustCompile(`^` + dns1123SubdomainFmt + `$`)
)

// IsDNS1035Label is validation.IsDNS1035Label without the messages.
func IsDNS1035Label(s string) bool {
	return len(s) <= LabelValueMaxLength && dns1035LabelAnchored.MatchString(s)
}

// IsDNS1123Label is validation.IsDNS1123Label without the messages.
func IsDNS1123Label(s string) bool {
	return len(s) <= LabelValueMaxLength && dns1123LabelAnchored.MatchString(s)
}

// IsDNS1123Subdomain is validation.IsDNS1123Subdomain without the messages.
func IsDNS1123Subdomain(s string) bool {
	return len(s) <= DNS1123SubdomainMaxLength && dns1123SubdomainAnchord.MatchString(s)
}

// RevisionHashMaxLength is the longest hash the StatefulSet controller
// appends to a StatefulSet's name to name a ControllerRevision, whose name
// every pod carries in its controller-revision-hash label: the decimal of
// an FNV-32 hash, rand.SafeEncodeString'd (kubernetes
// pkg/controller/history/controller_history.go HashControllerRevision,
// ControllerRevisionName). ECK reserves the same
// (pkg/apis/elasticsearch/v1/name.go controllerRevisionHashLen).
const RevisionHashMaxLength = 10

// MaxStatefulSetName is the longest StatefulSet name whose pods the
// controller can label: <name>-<hash> must be a label value
// (kubernetes/kubernetes#64023).
const MaxStatefulSetName = LabelValueMaxLength - 1 - RevisionHashMaxLength

// StatefulSetNameProblem says what is wrong with name as the name of a
// StatefulSet whose highest ordinal is maxOrdinal, "" if nothing is. The
// API server takes a DNS-1123 label (kubernetes
// pkg/apis/apps/validation/validation.go ValidateStatefulSetName); the
// controller must then be able to label its pods: <name>-<hash> for the
// controller-revision-hash label, and <name>-<ordinal> for the pod's name,
// its hostname and its statefulset.kubernetes.io/pod-name label.
func StatefulSetNameProblem(name string, maxOrdinal int) string {
	switch {
	case name == "":
		return "a StatefulSet name"
	case !IsDNS1123Label(name):
		return "a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters), as the API server requires of a StatefulSet's name"
	case len(name) > MaxStatefulSetName:
		return fmt.Sprintf("a StatefulSet name of at most %d characters (this one has %d): the controller labels every pod controller-revision-hash=<name>-<hash of up to %d characters>, and a label value holds at most %d", MaxStatefulSetName, len(name), RevisionHashMaxLength, LabelValueMaxLength)
	case len(name)+1+len(strconv.Itoa(maxOrdinal)) > LabelValueMaxLength:
		return fmt.Sprintf("a StatefulSet name short enough for its pod %s-%d (at most %d characters: the pod's hostname and its statefulset.kubernetes.io/pod-name label)", name, maxOrdinal, LabelValueMaxLength)
	}
	return ""
}

// CleanupForKubernetes is cass-operator's: a name that is not a DNS-1035
// label is lowercased, its underscores become dashes, and only the runs
// that match a DNS-1035 label are kept, joined
// (apis/cassandra/v1beta1/cassandradatacenter_types.go CleanupForKubernetes,
// the same since v1.10.0). A valid label that is too long is returned as
// it is, as the operator does.
func CleanupForKubernetes(input string) string {
	if IsDNS1035Label(input) {
		return input
	}
	input = strings.ReplaceAll(strings.ToLower(input), "_", "-")
	return strings.Join(dns1035LabelRegexp.FindAllString(input, -1), "")
}

// CleanupSubdomain is cass-operator's cleanup of a rack name, the same with
// DNS-1123 subdomains (apis/cassandra/v1beta1/cassandradatacenter_types.go
// CleanupSubdomain, used for the StatefulSet name since v1.13.0).
func CleanupSubdomain(input string) string {
	if IsDNS1123Subdomain(input) {
		return input
	}
	input = strings.ReplaceAll(strings.ToLower(input), "_", "-")
	return strings.Join(dns1123SubdomainRegexp.FindAllString(input, -1), "")
}

// CassandraDataClaim is the volumeClaimTemplate cass-operator gives the
// data volume (pkg/reconciliation/construct_podtemplatespec.go PvcName);
// storageConfig.additionalVolumes with a pvcSpec add templates named after
// them (pkg/reconciliation/construct_statefulset.go
// newStatefulSetForCassandraDatacenter).
const CassandraDataClaim = "server-data"

// CassOperatorVersion is a cass-operator release, major.minor; its naming
// of StatefulSets changed twice.
type CassOperatorVersion struct{ Major, Minor int }

// Naming eras of cass-operator's StatefulSet names
// (pkg/reconciliation/construct_statefulset.go NewNamespacedNameForStatefulSet
// at each tag).
var (
	// CassOperatorOldest is the oldest release graft knows the naming of:
	// <cluster>-<metadata.name>-<rack>-sts, the rack as written.
	CassOperatorOldest = CassOperatorVersion{1, 10}
	// CassOperatorRackCleanup (v1.13.0) cleans the rack up
	// (CleanupSubdomain).
	CassOperatorRackCleanup = CassOperatorVersion{1, 13}
	// CassOperatorDatacenterName (v1.14.0, "Allow DC names override"
	// #475) names by SanitizedName(): CleanupForKubernetes of
	// spec.datacenterName, else metadata.name.
	CassOperatorDatacenterName = CassOperatorVersion{1, 14}
	// CassOperatorLabelResourceName (v1.23.0, "Change default labels to
	// use Kubernetes resource name" #698) names by LabelResourceName():
	// CleanupForKubernetes of status.datacenterName if set, else of
	// metadata.name. A datacenter that graft's migration creates has no
	// status yet, so it is metadata.name.
	CassOperatorLabelResourceName = CassOperatorVersion{1, 23}
	// CassOperatorKeepsClaims (v1.25.0, #781) is the first release that
	// honours the annotation cassandra.datastax.com/delete-pvc: "false"
	// (pkg/reconciliation/reconcile_datacenter.go deletePVCs); an older one
	// deletes the datacenter's claims whenever the CassandraDatacenter is
	// deleted. graft requires it (the gate's GRAFT073 denies older ones).
	CassOperatorKeepsClaims = CassOperatorVersion{1, 25}
)

// Less reports whether v is older than o.
func (v CassOperatorVersion) Less(o CassOperatorVersion) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

func (v CassOperatorVersion) String() string { return fmt.Sprintf("v%d.%d", v.Major, v.Minor) }

var versionPattern = regexp.MustCompile(`^v?([0-9]{1,4})\.([0-9]{1,4})(\.[0-9]{1,4})?$`)

// ParseCassOperatorVersion reads v1.32, 1.32.0 or v1.32.0; "" is the
// current naming (CassOperatorKeepsClaims and later).
func ParseCassOperatorVersion(s string) (CassOperatorVersion, bool) {
	if s == "" {
		return CassOperatorKeepsClaims, true
	}
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return CassOperatorVersion{}, false
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return CassOperatorVersion{major, minor}, true
}

// CassandraDatacenter is what cass-operator names a rack's StatefulSet
// from.
type CassandraDatacenter struct {
	// ClusterName is spec.clusterName.
	ClusterName string
	// Name is metadata.name.
	Name string
	// DatacenterName is spec.datacenterName (the Cassandra datacenter's
	// name, when it differs from metadata.name).
	DatacenterName string
	// StatusDatacenterName is status.datacenterName, which the operator
	// sets once the datacenter is Ready (pkg/reconciliation/constructor.go
	// setOperatorProgressStatus).
	StatusDatacenterName string
	// Version is the operator's release.
	Version CassOperatorVersion
}

// ResourceName is the datacenter's part of its StatefulSets' names.
func (dc CassandraDatacenter) ResourceName() string {
	v := dc.Version
	switch {
	case !v.Less(CassOperatorLabelResourceName):
		// apis/cassandra/v1beta1/cassandradatacenter_types.go LabelResourceName
		if dc.StatusDatacenterName != "" {
			return CleanupForKubernetes(dc.StatusDatacenterName)
		}
		return CleanupForKubernetes(dc.Name)
	case !v.Less(CassOperatorDatacenterName):
		// v1.14-v1.22 SanitizedName: CleanupForKubernetes(DatacenterName())
		if dc.DatacenterName != "" {
			return CleanupForKubernetes(dc.DatacenterName)
		}
		return CleanupForKubernetes(dc.Name)
	}
	return dc.Name
}

// StatefulSet is the name cass-operator gives the StatefulSet of a rack:
// CleanupForKubernetes(clusterName)-<ResourceName>-CleanupSubdomain(rack)-sts
// (pkg/reconciliation/construct_statefulset.go
// NewNamespacedNameForStatefulSet).
func (dc CassandraDatacenter) StatefulSet(rack string) string {
	if dc.Version.Less(CassOperatorRackCleanup) {
		return CleanupForKubernetes(dc.ClusterName) + "-" + dc.ResourceName() + "-" + rack + "-sts"
	}
	return CleanupForKubernetes(dc.ClusterName) + "-" + dc.ResourceName() + "-" + CleanupSubdomain(rack) + "-sts"
}

// SplitRacks is cass-operator's spread of spec.size over the racks, in
// their order: each rack gets size/racks nodes, and the first size%racks
// racks one more (apis/cassandra/v1beta1/cassandradatacenter_types.go
// SplitRacks, used by pkg/reconciliation/reconcile_racks.go).
func SplitRacks(nodeCount, rackCount int) []int {
	if rackCount <= 0 {
		return nil
	}
	per, extra := nodeCount/rackCount, nodeCount%rackCount
	out := make([]int, rackCount)
	for i := range out {
		out[i] = per
		if i < extra {
			out[i]++
		}
	}
	return out
}

// ECK's limits and names (elastic/cloud-on-k8s, the same since 1.0).
const (
	// ElasticsearchDataClaim is the default claim template of a nodeSet
	// (pkg/controller/elasticsearch/volume/names.go
	// ElasticsearchDataVolumeName; volume/defaults.go
	// DefaultVolumeClaimTemplates).
	ElasticsearchDataClaim = "elasticsearch-data"
	// MaxElasticsearchName is the longest Elasticsearch metadata.name ECK
	// accepts (pkg/controller/common/name/name.go MaxResourceNameLength).
	MaxElasticsearchName = 36
	// maxECKSuffix is the longest suffix ECK's namer appends
	// (name.go MaxSuffixLength).
	maxECKSuffix = LabelValueMaxLength - MaxElasticsearchName
)

// ElasticsearchStatefulSet is the name ECK gives a nodeSet's StatefulSet:
// <es>-es-<nodeSet> (pkg/apis/elasticsearch/v1/name.go StatefulSet,
// ESNamer = NewNamer("es")).
func ElasticsearchStatefulSet(es, nodeSet string) string { return es + "-es-" + nodeSet }

// ElasticsearchNameProblems says what ECK's validation refuses in an
// Elasticsearch name and one nodeSet of count nodes (pkg/apis/
// elasticsearch/v1/name.go ValidateNames, Namer.SafeSuffix): the name at
// most 36 characters, the nodeSet a DNS-1123 subdomain whose suffix
// "-es-<nodeSet>" fits ECK's 27, and room in a label value for the
// StatefulSet's name, "-<count>" and the revision hash. Empty strings
// mean nothing is wrong.
func ElasticsearchNameProblems(es, nodeSet string, count int) (esProblem, nodeSetProblem string) {
	if len(es) > MaxElasticsearchName {
		esProblem = fmt.Sprintf("an Elasticsearch name of at most %d characters, as ECK requires (pkg/controller/common/name/name.go MaxResourceNameLength)", MaxElasticsearchName)
	} else if !IsDNS1123Label(es) {
		esProblem = "a DNS-1123 label (lowercase letters, digits and '-')"
	}
	sts := ElasticsearchStatefulSet(es, nodeSet)
	switch {
	case !IsDNS1123Subdomain(nodeSet):
		nodeSetProblem = "a DNS-1123 subdomain, as ECK requires of a nodeSet name"
	case len("-es-"+nodeSet) > maxECKSuffix:
		nodeSetProblem = fmt.Sprintf("a nodeSet name of at most %d characters (ECK's suffix -es-<nodeSet> holds at most %d)", maxECKSuffix-len("-es-"), maxECKSuffix)
	case esProblem == "" && LabelValueMaxLength-len(sts) < len(strconv.Itoa(count))+1+RevisionHashMaxLength:
		nodeSetProblem = fmt.Sprintf("a shorter nodeSet name: ECK refuses StatefulSet %s, longer than %d characters with %d nodes", sts, LabelValueMaxLength-len(strconv.Itoa(count))-1-RevisionHashMaxLength, count)
	}
	return esProblem, nodeSetProblem
}

// The resources graft patches, as the operators' CRDs name them.
const (
	// CassandraDatacenterAPIVersion and CassandraDatacenterKind: cass-operator's
	// apis/cassandra/v1beta1 (groupversion_info.go).
	CassandraDatacenterAPIVersion = "cassandra.datastax.com/v1beta1"
	CassandraDatacenterKind       = "CassandraDatacenter"
	// ElasticsearchAPIVersion and ElasticsearchKind: ECK's
	// pkg/apis/elasticsearch/v1.
	ElasticsearchAPIVersion = "elasticsearch.k8s.elastic.co/v1"
	ElasticsearchKind       = "Elasticsearch"

	// DeletePVCAnnotation, set to "false", keeps cass-operator from
	// deleting the datacenter's PVCs when the CassandraDatacenter is
	// deleted; by default it deletes them
	// (apis/cassandra/v1beta1/cassandradatacenter_types.go
	// DeletePVCAnnotation; pkg/reconciliation/reconcile_datacenter.go).
	DeletePVCAnnotation = "cassandra.datastax.com/delete-pvc"
	// VolumeClaimDeletePolicyRetain is ECK's spec.volumeClaimDeletePolicy
	// that keeps the PVCs when the Elasticsearch resource is deleted (the
	// default, DeleteOnScaledownAndClusterDeletion, deletes them)
	// (pkg/apis/elasticsearch/v1/elasticsearch_types.go
	// DeleteOnScaledownOnlyPolicy, ECK 1.5.0 and later).
	VolumeClaimDeletePolicyRetain = "DeleteOnScaledownOnly"
)
