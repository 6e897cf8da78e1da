package spec

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Storage drivers of spec.target.cluster.storageDriver.
const (
	// StorageDriverEBSCSI is the self-managed or EKS add-on EBS CSI driver.
	StorageDriverEBSCSI = "ebs-csi"
	// StorageDriverAutoMode is the EBS driver built into EKS Auto Mode.
	StorageDriverAutoMode = "eks-auto-mode"
)

// StorageDrivers lists the accepted storage drivers, the default first.
var StorageDrivers = []string{StorageDriverEBSCSI, StorageDriverAutoMode}

// CSI driver names of the PVs.
const (
	CSIDriverEBS      = "ebs.csi.aws.com"
	CSIDriverAutoMode = "ebs.csi.eks.amazonaws.com"
)

// CSIDrivers lists every CSI driver a record may name.
var CSIDrivers = []string{CSIDriverEBS, CSIDriverAutoMode}

// Node labels and volume tags of EKS and the EBS CSI driver.
const (
	// LabelComputeType is the label EKS puts on a node; Auto Mode nodes
	// carry ComputeTypeAuto.
	LabelComputeType = "eks.amazonaws.com/compute-type"
	ComputeTypeAuto  = "auto"
	// TagEBSCSICluster marks a volume the driver's managed policy
	// AmazonEBSCSIDriverPolicyV2 lets it attach (value "true").
	TagEBSCSICluster = "ebs.csi.aws.com/cluster"
	// TagEBSCSIClusterName names the cluster for the cluster-scoped policy
	// AmazonEBSCSIDriverEKSClusterScopedPolicy.
	TagEBSCSIClusterName = "ebs.csi.aws.com/cluster-name"
	// TagEKSClusterName names the cluster whose Auto Mode may attach the
	// volume.
	TagEKSClusterName = "eks:eks-cluster-name"
)

// Managed IAM policies the volume tags satisfy.
const (
	PolicyEBSCSIV2            = "AmazonEBSCSIDriverPolicyV2"
	PolicyEBSCSIClusterScoped = "AmazonEBSCSIDriverEKSClusterScopedPolicy"
	PolicyAutoMode            = "AmazonEKSBlockStoragePolicy"
)

// Cluster is the EKS cluster the StatefulSets run in.
type Cluster struct {
	// Name of the EKS cluster.
	Name string `yaml:"name" json:"name"`
	// StorageDriver is ebs-csi (default: the self-managed or add-on EBS
	// CSI driver) or eks-auto-mode.
	StorageDriver string `yaml:"storageDriver,omitempty" json:"storageDriver,omitempty"`
}

// eksClusterName is EKS's rule for a cluster name.
var eksClusterName = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`)

// EKSClusterNameExpected says what a cluster name is.
const EKSClusterNameExpected = "an EKS cluster name: 1 to 100 letters, digits, hyphens and underscores, starting with a letter or digit"

// ValidClusterName reports whether name is a valid EKS cluster name.
func ValidClusterName(name string) bool { return eksClusterName.MatchString(name) }

// NodeRequirement is one extra In requirement of a PV's node affinity.
type NodeRequirement struct {
	Key    string
	Values []string
}

// Storage is everything the target cluster's storage driver asks of a
// volume and its PV; StorageFor derives it from the spec, in this one
// place.
type Storage struct {
	// CSIDriver is the PV's spec.csi.driver.
	CSIDriver string
	// TopologyKey is the key of the zone in the PV's node affinity.
	TopologyKey string
	// Requirements are node-affinity requirements besides the zone.
	Requirements []NodeRequirement
	// Tags go on every volume graft creates, for the driver to attach it.
	Tags map[string]string
	// Policies are the managed IAM policies the tags satisfy.
	Policies []string
}

// Storage derives the target's storage from spec.target (after Default).
func (t *Target) Storage() Storage {
	st := Storage{CSIDriver: CSIDriverEBS, TopologyKey: t.TopologyKey}
	if st.TopologyKey == "" {
		st.TopologyKey = TopologyKeyKubernetes
	}
	c := t.Cluster
	if c == nil {
		return st
	}
	switch c.StorageDriver {
	case StorageDriverAutoMode:
		st.CSIDriver = CSIDriverAutoMode
		st.TopologyKey = TopologyKeyKubernetes
		st.Requirements = []NodeRequirement{{Key: LabelComputeType, Values: []string{ComputeTypeAuto}}}
		st.Tags = map[string]string{TagEKSClusterName: c.Name}
		st.Policies = []string{PolicyAutoMode}
	default:
		st.Tags = map[string]string{TagEBSCSICluster: "true", TagEBSCSIClusterName: c.Name}
		st.Policies = []string{PolicyEBSCSIV2, PolicyEBSCSIClusterScoped}
	}
	return st
}

// TagKubernetesCluster is the legacy cloud provider's cluster tag, and
// TagClusterPrefix the prefix of kubernetes.io/cluster/<cluster>.
const (
	TagKubernetesCluster = "KubernetesCluster"
	TagClusterPrefix     = "kubernetes.io/cluster/"
)

// ClusterNamedBy is the cluster a volume tag names, if it names one:
// eks:eks-cluster-name, ebs.csi.aws.com/cluster-name and KubernetesCluster
// by their value, kubernetes.io/cluster/<cluster> by its key. A volume
// that names another cluster is one graft never re-points.
func ClusterNamedBy(key, value string) (string, bool) {
	switch {
	case key == TagEKSClusterName || key == TagEBSCSIClusterName || key == TagKubernetesCluster:
		return value, true
	case strings.HasPrefix(key, TagClusterPrefix) && len(key) > len(TagClusterPrefix):
		return strings.TrimPrefix(key, TagClusterPrefix), true
	}
	return "", false
}

// ClusterTagKeys are the tag keys graft sets for a cluster's driver.
var ClusterTagKeys = []string{TagEBSCSICluster, TagEBSCSIClusterName, TagEKSClusterName}

// CheckClusterTag says what is expected of a recorded cluster tag, or ""
// when key=value is one graft sets.
func CheckClusterTag(key, value string) string {
	switch key {
	case TagEBSCSICluster:
		if value != "true" {
			return `"true"`
		}
	case TagEBSCSIClusterName, TagEKSClusterName:
		if !ValidClusterName(value) {
			return EKSClusterNameExpected
		}
	default:
		return "a tag key graft sets for a cluster: one of " + strings.Join(ClusterTagKeys, ", ")
	}
	return ""
}

// RecordedDriver is the CSI driver a record's volume names: "" is the one
// records meant before drivers were recorded, ebs.csi.aws.com.
func RecordedDriver(d string) string {
	if d == "" {
		return CSIDriverEBS
	}
	return d
}

func (v *validator) cluster(t *Target) {
	c := t.Cluster
	if c == nil {
		return
	}
	const f = "spec.target.cluster"
	if c.Name == "" {
		v.add(f+".name", nil, EKSClusterNameExpected)
	} else if !ValidClusterName(c.Name) {
		v.add(f+".name", c.Name, EKSClusterNameExpected)
	}
	v.oneOf(f+".storageDriver", c.StorageDriver, StorageDrivers)
	if c.StorageDriver == StorageDriverAutoMode && t.TopologyKey != TopologyKeyKubernetes {
		v.add("spec.target.topologyKey", t.TopologyKey, fmt.Sprintf("%s (or no topologyKey): spec.target.cluster.storageDriver %s labels nodes with it", TopologyKeyKubernetes, StorageDriverAutoMode))
	}
	tags := t.Storage().Tags
	for _, k := range ClusterTagKeys {
		if val, ok := t.Volume.Tags[k]; ok && tags[k] != val {
			v.add("spec.target.volume.tags["+k+"]", val, fmt.Sprintf("no such tag: graft tags the volumes for spec.target.cluster itself (%s)", FormatTags(tags)))
		}
	}
}

// FormatTags shows tags as k=v, sorted by key; "no tags" for none.
func FormatTags(tags map[string]string) string {
	if len(tags) == 0 {
		return "no tags"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		parts = append(parts, k+"="+tags[k])
	}
	return strings.Join(parts, ", ")
}
