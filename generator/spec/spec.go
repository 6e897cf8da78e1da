// Package spec defines graft's migration spec (graft.yaml): what to migrate,
// where to, and how the Kubernetes side is delivered. It decodes strictly,
// applies documented defaults and validates everything at once.
//
// The spec is the first stage of the pipeline; every later stage (discover,
// plan, clone, render, check, publish) reads a *Migration and nothing else
// from the user's configuration.
package spec

// Group is the API group of graft's own documents and the prefix of every
// label and annotation graft writes.
const Group = "graft.graftctl.io"

// APIVersion and Kind identify a migration spec.
const (
	APIVersion = Group + "/v1alpha1"
	Kind       = "Migration"
)

// Labels graft puts on the PersistentVolumes and PersistentVolumeClaims it
// renders. The StatefulSet patch selects on the first three, so a claim the
// controller creates for itself can only ever bind one of graft's volumes.
const (
	LabelMigration     = Group + "/migration"
	LabelStatefulSet   = Group + "/statefulset"
	LabelClaimTemplate = Group + "/claim-template"
	LabelOrdinal       = Group + "/ordinal"
)

// Annotations carrying the provenance of a rendered volume.
const (
	AnnotationSourceInstance = Group + "/source-instance"
	AnnotationSourceVolume   = Group + "/source-volume"
	AnnotationSourceZone     = Group + "/source-zone"
	AnnotationSnapshot       = Group + "/snapshot"
)

// Zone topology keys accepted for a PersistentVolume's node affinity.
const (
	TopologyKeyKubernetes = "topology.kubernetes.io/zone"
	TopologyKeyEBSCSI     = "topology.ebs.csi.aws.com/zone"
)

// GitOps engines.
const (
	EngineFlux   = "flux"
	EngineArgoCD = "argocd"
	EngineNone   = "none"
)

// Pull-request providers.
const (
	ProviderGitHub = "github"
	ProviderGitea  = "gitea"
	ProviderNone   = "none"
)

// Snapshot phases of a clone.
const (
	PhasePrecopy = "precopy"
	PhaseFinal   = "final"
)

// Migration is the whole spec document.
type Migration struct {
	APIVersion string   `yaml:"apiVersion" json:"apiVersion"`
	Kind       string   `yaml:"kind" json:"kind"`
	Metadata   Metadata `yaml:"metadata" json:"metadata"`
	Spec       Spec     `yaml:"spec" json:"spec"`
}

// Metadata names the migration. The name tags every AWS resource graft
// creates and names the git branch graft/<name>.
type Metadata struct {
	Name string `yaml:"name" json:"name"`
}

// Spec is the body of a migration.
type Spec struct {
	Source  Source  `yaml:"source" json:"source"`
	Mapping Mapping `yaml:"mapping" json:"mapping"`
	Target  Target  `yaml:"target" json:"target"`
	GitOps  GitOps  `yaml:"gitops" json:"gitops"`
	Hooks   Hooks   `yaml:"hooks,omitempty" json:"hooks,omitempty"`
}

// Source selects the legacy instances and the devices that hold data.
type Source struct {
	// Region of the legacy instances.
	Region string `yaml:"region" json:"region"`
	// Filters are EC2 DescribeInstances filters (for example tag:app).
	// graft always adds instance-state-name=running.
	Filters []Filter `yaml:"filters" json:"filters"`
	// Devices lists the attached devices that hold data, one claim
	// template each.
	Devices []Device `yaml:"devices" json:"devices"`
}

// Filter is one EC2 filter.
type Filter struct {
	Name   string   `yaml:"name" json:"name"`
	Values []string `yaml:"values" json:"values"`
}

// Device maps an attached block device to a volumeClaimTemplate.
type Device struct {
	// Name is the device name as EC2 reports it, e.g. /dev/xvdf.
	Name string `yaml:"name" json:"name"`
	// ClaimTemplate is the volumeClaimTemplate name in the StatefulSet.
	ClaimTemplate string `yaml:"claimTemplate" json:"claimTemplate"`
	// FSType is the filesystem on the volume (default ext4).
	FSType string `yaml:"fsType,omitempty" json:"fsType,omitempty"`
	// Partition is the number (1 to MaxDevicePartition) of the partition that
	// holds the filesystem, when it is not on the whole device (absent or
	// 0). The PV passes it to the EBS CSI driver as the volume attribute
	// "partition".
	Partition int `yaml:"partition,omitempty" json:"partition,omitempty"`
}

// Mapping says how an instance becomes (StatefulSet, ordinal). Exactly one
// of TagRegex, Table and Sort is set.
type Mapping struct {
	TagRegex *TagRegexMapping `yaml:"tagRegex,omitempty" json:"tagRegex,omitempty"`
	Table    []TableEntry     `yaml:"table,omitempty" json:"table,omitempty"`
	Sort     *SortMapping     `yaml:"sort,omitempty" json:"sort,omitempty"`
}

// TagRegexMapping reads the StatefulSet and ordinal from a tag value with a
// regular expression. The named group "ordinal" is required; the named
// group "statefulset" is required when there is more than one StatefulSet.
type TagRegexMapping struct {
	Tag     string `yaml:"tag" json:"tag"`
	Pattern string `yaml:"pattern" json:"pattern"`
}

// TableEntry maps one instance explicitly.
type TableEntry struct {
	Instance    string `yaml:"instance" json:"instance"`
	StatefulSet string `yaml:"statefulSet" json:"statefulSet"`
	Ordinal     int    `yaml:"ordinal" json:"ordinal"`
}

// SortMapping orders the instances of each StatefulSet by a key and numbers
// them from the StatefulSet's ordinals.start. With several StatefulSets each
// must name its sourceZone, and an instance goes to the StatefulSet of its
// zone.
type SortMapping struct {
	// By is one of launchTime, privateIp, instanceId or tag:<key>.
	By string `yaml:"by" json:"by"`
}

// Target describes the Kubernetes side and the new volumes.
type Target struct {
	// Region of the new volumes (default: the source region). A different
	// region makes clone copy the snapshots.
	Region string `yaml:"region,omitempty" json:"region,omitempty"`
	// Namespace of the StatefulSets.
	Namespace string `yaml:"namespace" json:"namespace"`
	// Workload says what creates the StatefulSets (default: the base
	// holds them). For kinds cass-operator and eck graft derives
	// StatefulSets from it, and they must not be listed.
	Workload     *Workload     `yaml:"workload,omitempty" json:"workload,omitempty"`
	StatefulSets []StatefulSet `yaml:"statefulSets,omitempty" json:"statefulSets,omitempty"`
	// StorageClassName on PVs, PVCs and templates (default "", which turns
	// dynamic provisioning off for these claims; binding mode provisioned
	// needs a class).
	StorageClassName string `yaml:"storageClassName" json:"storageClassName"`
	// Binding is how claims bind: static (default) or provisioned.
	Binding Binding `yaml:"binding,omitempty" json:"binding,omitempty"`
	// TopologyKey of the PV node affinity (default topology.kubernetes.io/zone;
	// with cluster.storageDriver eks-auto-mode it must be that default).
	TopologyKey string `yaml:"topologyKey,omitempty" json:"topologyKey,omitempty"`
	// Cluster names the EKS cluster and its storage driver (optional).
	// Storage derives the PV driver, node affinity and volume tags from it.
	Cluster *Cluster `yaml:"cluster,omitempty" json:"cluster,omitempty"`
	// Zones maps a source zone to a target zone, for members whose
	// StatefulSet names no zone (default: the source zone itself).
	Zones  map[string]string `yaml:"zones,omitempty" json:"zones,omitempty"`
	Volume Volume            `yaml:"volume" json:"volume"`
	// Account is the target AWS account when it is not the source's
	// (optional; see account.go).
	Account *Account `yaml:"account,omitempty" json:"account,omitempty"`
}

// StatefulSet is one target StatefulSet, e.g. one cass-operator rack.
type StatefulSet struct {
	Name     string   `yaml:"name" json:"name"`
	Replicas int      `yaml:"replicas" json:"replicas"`
	Ordinals Ordinals `yaml:"ordinals,omitempty" json:"ordinals,omitempty"`
	// Zone pins every member of this StatefulSet to one target zone.
	Zone string `yaml:"zone,omitempty" json:"zone,omitempty"`
	// SourceZone selects the instances of this StatefulSet for the sort
	// mapping.
	SourceZone string `yaml:"sourceZone,omitempty" json:"sourceZone,omitempty"`
}

// Ordinals mirrors StatefulSet spec.ordinals.
type Ordinals struct {
	Start int `yaml:"start" json:"start"`
}

// Volume holds the parameters of the new volumes.
type Volume struct {
	// Type is the EBS volume type (default: the source volume's type).
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// IOPS for io1, io2 and gp3 (default: the source volume's).
	IOPS int32 `yaml:"iops,omitempty" json:"iops,omitempty"`
	// Throughput in MiB/s, gp3 only (default: the source volume's).
	Throughput int32 `yaml:"throughput,omitempty" json:"throughput,omitempty"`
	// Encrypted forces encryption (default: as the source).
	Encrypted bool `yaml:"encrypted,omitempty" json:"encrypted,omitempty"`
	// KMSKeyID re-encrypts with this key (a copy is made when it differs
	// from the source key).
	KMSKeyID string `yaml:"kmsKeyId,omitempty" json:"kmsKeyId,omitempty"`
	// Initialization of the new volume from its snapshot.
	Initialization Initialization `yaml:"initialization,omitempty" json:"initialization,omitempty"`
	// Tags added to every resource graft creates.
	Tags map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Initialization chooses how the new volume is hydrated.
type Initialization struct {
	// RateMiBps is the provisioned volume initialization rate (100-300).
	RateMiBps int32 `yaml:"rateMiBps,omitempty" json:"rateMiBps,omitempty"`
	// FastSnapshotRestore enables FSR on the snapshot in the target zones
	// while the volumes are created, and disables it afterwards.
	FastSnapshotRestore bool `yaml:"fastSnapshotRestore,omitempty" json:"fastSnapshotRestore,omitempty"`
}

// GitOps describes the repository the overlay is delivered to.
type GitOps struct {
	// Engine is flux, argocd or none (default none).
	Engine string `yaml:"engine,omitempty" json:"engine,omitempty"`
	// Base is the kustomize base, relative to the overlay directory, as it
	// appears in kustomization.yaml resources. Optional for workload kind
	// claims-only, whose overlay holds only the claims: there it is read
	// (the chart's rendered StatefulSets, say) to check the names and
	// claim templates, and is not a resource of the overlay.
	Base string `yaml:"base" json:"base"`
	// OverlayPath is the overlay directory inside the repository (default
	// overlays/<name>); render writes there unless --out says otherwise.
	OverlayPath string `yaml:"overlayPath,omitempty" json:"overlayPath,omitempty"`
	// Repo is the GitOps repository URL or local path.
	Repo string `yaml:"repo,omitempty" json:"repo,omitempty"`
	// BaseBranch the pull request targets (default main).
	BaseBranch string `yaml:"baseBranch,omitempty" json:"baseBranch,omitempty"`
	// Provider of pull requests: github, gitea or none (default none).
	Provider string `yaml:"provider,omitempty" json:"provider,omitempty"`
	// EngineObject also renders a Flux Kustomization or an Argo CD
	// Application for the overlay (default false).
	EngineObject bool `yaml:"engineObject,omitempty" json:"engineObject,omitempty"`
	// SourceRef names the Flux GitRepository (default flux-system) or the
	// Argo CD repoURL (default: Repo) the engine object points at.
	SourceRef string `yaml:"sourceRef,omitempty" json:"sourceRef,omitempty"`
	// CIWorkflow adds graft's GitHub Actions gate to the repository.
	CIWorkflow bool `yaml:"ciWorkflow,omitempty" json:"ciWorkflow,omitempty"`
	// DependsOn lists the Flux Kustomizations (in flux-system) that must be
	// Ready before graft's: for example the one that creates the namespace
	// or the storage CRDs. Flux only.
	DependsOn []string `yaml:"dependsOn,omitempty" json:"dependsOn,omitempty"`
}

// Hooks are commands run around the final snapshot.
type Hooks struct {
	// BeforeFinal runs once per instance before the final snapshot (for
	// example nodetool drain over ssh). Each element is one argument; the
	// placeholders {instance}, {privateIp}, {statefulset} and {ordinal} are
	// substituted. No shell is involved.
	BeforeFinal []string `yaml:"beforeFinal,omitempty" json:"beforeFinal,omitempty"`
}
