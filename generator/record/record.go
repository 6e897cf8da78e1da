// Package record reads and writes graft.lock, the record of what clone
// created: one entry per member (StatefulSet ordinal) and claim template.
// Render turns it into PersistentVolumes; the policies read it as data;
// `graft check --live` verifies it against EC2.
//
// The file is YAML, sorted and free of timestamps, so that two runs over the
// same volumes write the same bytes and a reviewer can diff it.
package record

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/graftctl/graft/generator/atomic"
	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// DefaultFile is the record's name beside the spec.
const DefaultFile = "graft.lock"

// APIVersion and Kind identify a record.
const (
	APIVersion = spec.APIVersion
	Kind       = "Lock"
)

// ErrInvalid is wrapped by every error caused by the record's content.
var ErrInvalid = errors.New("invalid graft.lock")

// Record is the whole graft.lock document.
type Record struct {
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	Kind       string `yaml:"kind" json:"kind"`
	// Migration is metadata.name of the spec the record belongs to.
	Migration    string `yaml:"migration" json:"migration"`
	SourceRegion string `yaml:"sourceRegion" json:"sourceRegion"`
	TargetRegion string `yaml:"targetRegion" json:"targetRegion"`
	// Binding is how the overlay binds the claims, written by graft render
	// from the spec for the gate. Absent is the static mode, as every
	// record before binding modes meant.
	Binding *Binding `yaml:"binding,omitempty" json:"binding,omitempty"`
	// Workload is what creates the StatefulSets (spec.target.workload),
	// written by graft render (and clone) for the gate. Absent is kind
	// statefulset: the base holds them.
	Workload *Workload `yaml:"workload,omitempty" json:"workload,omitempty"`
	// Volumes holds one entry per member and claim template, sorted by
	// StatefulSet, ordinal and claim template.
	Volumes []Volume `yaml:"volumes" json:"volumes"`
}

// Binding is spec.target.binding with the class it binds through.
type Binding struct {
	// Mode is static or provisioned.
	Mode string `yaml:"mode" json:"mode"`
	// StorageClassName is the class of the PVs, the PVCs and the claim
	// templates.
	StorageClassName string `yaml:"storageClassName" json:"storageClassName"`
	// StorageClass is, in provisioned mode, declare (the overlay holds the
	// StorageClass) or existing (the cluster does).
	StorageClass string `yaml:"storageClass,omitempty" json:"storageClass,omitempty"`
}

// BindingOf is the binding a (defaulted) spec target asks for.
func BindingOf(t *spec.Target) *Binding {
	return &Binding{Mode: t.Binding.Mode, StorageClassName: t.StorageClassName, StorageClass: t.Binding.StorageClass}
}

// Volume is one member's volume for one claim template.
type Volume struct {
	StatefulSet   string `yaml:"statefulSet" json:"statefulSet"`
	Ordinal       int    `yaml:"ordinal" json:"ordinal"`
	ClaimTemplate string `yaml:"claimTemplate" json:"claimTemplate"`

	SourceInstance string `yaml:"sourceInstance" json:"sourceInstance"`
	SourceDevice   string `yaml:"sourceDevice" json:"sourceDevice"`
	SourceVolume   string `yaml:"sourceVolume" json:"sourceVolume"`
	SourceZone     string `yaml:"sourceZone" json:"sourceZone"`

	// Snapshots by phase (precopy, final); the newest one is the volume's
	// origin.
	Snapshots map[string]string `yaml:"snapshots,omitempty" json:"snapshots,omitempty"`
	// CopiedSnapshot is set when the snapshot was copied to another region
	// or re-encrypted.
	CopiedSnapshot string `yaml:"copiedSnapshot,omitempty" json:"copiedSnapshot,omitempty"`

	TargetVolume string `yaml:"targetVolume" json:"targetVolume"`
	TargetZone   string `yaml:"targetZone" json:"targetZone"`
	SizeGiB      int32  `yaml:"sizeGiB" json:"sizeGiB"`
	VolumeType   string `yaml:"volumeType" json:"volumeType"`
	IOPS         int32  `yaml:"iops,omitempty" json:"iops,omitempty"`
	Throughput   int32  `yaml:"throughput,omitempty" json:"throughput,omitempty"`
	Encrypted    bool   `yaml:"encrypted" json:"encrypted"`
	KMSKeyID     string `yaml:"kmsKeyId,omitempty" json:"kmsKeyId,omitempty"`
	FSType       string `yaml:"fsType" json:"fsType"`
	// Partition is the partition of the volume that holds the filesystem
	// (spec.source.devices[].partition); absent (0) for the whole volume.
	Partition int `yaml:"partition,omitempty" json:"partition,omitempty"`
	// CSIDriver is the CSI driver the volume is attached by
	// (spec.target.cluster); absent is ebs.csi.aws.com, as before drivers
	// were recorded.
	CSIDriver string `yaml:"csiDriver,omitempty" json:"csiDriver,omitempty"`
	// ClusterTags are the tags graft set on the volume for the cluster's
	// driver and its IAM policy (spec.target.cluster).
	ClusterTags map[string]string `yaml:"clusterTags,omitempty" json:"clusterTags,omitempty"`
}

// Driver is the CSI driver of the volume, ebs.csi.aws.com when none is
// recorded.
func (v Volume) Driver() string { return spec.RecordedDriver(v.CSIDriver) }

// ClaimName is the PVC name this volume must be bound through.
func (v Volume) ClaimName() string {
	return spec.ClaimName(v.ClaimTemplate, v.StatefulSet, v.Ordinal)
}

// New returns an empty record for a migration.
func New(m *spec.Migration) *Record {
	return &Record{
		APIVersion:   APIVersion,
		Kind:         Kind,
		Migration:    m.Metadata.Name,
		SourceRegion: m.Spec.Source.Region,
		TargetRegion: m.Spec.Target.Region,
		Binding:      BindingOf(&m.Spec.Target),
		Workload:     WorkloadOf(&m.Spec),
	}
}

// Sort orders the volumes canonically (Compare).
func (r *Record) Sort() { slices.SortFunc(r.Volumes, Compare) }

// Compare is the canonical order of volumes: by StatefulSet, ordinal and
// claim template.
func Compare(a, b Volume) int {
	return cmp.Or(cmp.Compare(a.StatefulSet, b.StatefulSet), cmp.Compare(a.Ordinal, b.Ordinal), cmp.Compare(a.ClaimTemplate, b.ClaimTemplate))
}

// Upsert replaces the entry of the same member and claim template, or adds it.
func (r *Record) Upsert(v Volume) {
	for i := range r.Volumes {
		if r.Volumes[i].StatefulSet == v.StatefulSet && r.Volumes[i].Ordinal == v.Ordinal && r.Volumes[i].ClaimTemplate == v.ClaimTemplate {
			r.Volumes[i] = v
			return
		}
	}
	r.Volumes = append(r.Volumes, v)
}

// Marshal renders the record canonically.
func (r *Record) Marshal() ([]byte, error) {
	r.Sort()
	var buf bytes.Buffer
	buf.WriteString("# graft.lock: written by graft clone (the volumes) and graft render (the binding); read by graft check. Do not edit.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes the record atomically.
func (r *Record) Write(path string) error {
	data, err := r.Marshal()
	if err != nil {
		return fmt.Errorf("write %s: %w", termtext.Value(path), err)
	}
	return atomic.WriteFile(path, data, 0o644)
}

// Load reads and validates a record.
func Load(path string) (*Record, error) {
	data, err := ReadFile(context.Background(), path)
	if err != nil {
		return nil, err
	}
	return ParseFile(path, data)
}

// ReadFile reads the record's file, at most boundedio.MaxFileBytes,
// honouring ctx.
func ReadFile(ctx context.Context, path string) ([]byte, error) {
	data, err := boundedio.ReadFile(ctx, path, boundedio.MaxFileBytes)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist; run `graft clone` first, or pass --lock", ErrInvalid, termtext.Value(path))
		}
		if errors.Is(err, boundedio.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if errors.Is(err, boundedio.ErrNotRegular) {
			return nil, fmt.Errorf("read record: %w; the record is one file (--lock FILE, default %s beside the spec)", err, DefaultFile)
		}
		return nil, fmt.Errorf("read record: %w", err)
	}
	return data, nil
}

// ParseFile is Parse for the content of the file at path; errors name it.
func ParseFile(path string, data []byte) (*Record, error) {
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", termtext.Value(path), err)
	}
	return r, nil
}

// ParseNode is ParseFile for data whose one YAML document the caller has
// parsed already (doc, by a yaml.v3 Decoder; data holds no other): the
// record is decoded from doc (spec.DecodeNode), not parsed a second and a
// third time. What DecodeNode cannot vouch for, every error among it, is
// ParseFile's: the same record, the same messages.
func ParseNode(path string, data []byte, doc *yaml.Node) (*Record, error) {
	var r Record
	if int64(len(data)) > boundedio.MaxFileBytes || !spec.DecodeNode(doc, &r) {
		return ParseFile(path, data)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", termtext.Value(path), err)
	}
	return &r, nil
}

// expected says what a record is, for the errors about its form.
var expected = fmt.Sprintf("one YAML document with apiVersion %s and kind %s, as `graft clone` writes it", APIVersion, Kind)

// Parse decodes strictly and validates a record.
func Parse(data []byte) (*Record, error) {
	if int64(len(data)) > boundedio.MaxFileBytes {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, &boundedio.TooLargeError{Name: DefaultFile, Size: int64(len(data)), Limit: boundedio.MaxFileBytes})
	}
	// The whole-number check parses the file on its own: beside the
	// typed decode (a large record's two parses take the time of one).
	whole := make(chan error, 1)
	go func() { whole <- spec.WholeNumbers(data, reflect.TypeFor[Record]()) }()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var r Record
	err := dec.Decode(&r)
	wholeErr := <-whole
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the file is empty (or only comments); expected %s", ErrInvalid, expected)
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalid, spec.TypeMessage(err, data, reflect.TypeFor[Record](), recordTypes...))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%w: line %d: a second YAML document; expected %s", ErrInvalid, extra.Line, expected)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, yamlMessage(err))
	}
	if wholeErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, wholeErr)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// recordTypes names the record's types in yaml.v3's messages as the
// file's parts.
var recordTypes = []string{
	"in type record.Record", "at the top level of the record",
	"in type record.Volume", "in a volumes entry of the record",
	"in type record.Workload", "in the workload of the record",
	"in type record.Resource", "in workload.resource of the record",
	"in type record.Group", "in a workload.groups entry of the record",
}

// yamlMessage names the record's types as the file's parts.
func yamlMessage(err error) string { return spec.YAMLMessage(err, recordTypes...) }

// ValidationError lists every problem found in a record, each with its
// field path (volumes[2].targetVolume).
type ValidationError []spec.FieldError

func (v ValidationError) Error() string {
	return spec.FormatProblems("the record ("+DefaultFile+")", v)
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (v ValidationError) Unwrap() error { return ErrInvalid }

// Add records the problem at field: its value and what was expected.
func (v *ValidationError) Add(field string, value any, expected string) {
	*v = append(*v, spec.FieldError{Field: field, Value: value, Expected: expected})
}

var (
	volumeID   = regexp.MustCompile(`^vol-[0-9a-f]+$`)
	snapshotID = regexp.MustCompile(`^snap-[0-9a-f]+$`)
	instanceID = regexp.MustCompile(`^i-[0-9a-f]+$`)
)

// IsVolumeID reports whether s has the form of an EBS volume id, as the
// record's volumes must.
func IsVolumeID(s string) bool { return volumeID.MatchString(s) }

// Validate checks the record on its own; render checks it against the spec.
func (r *Record) Validate() error {
	var errs ValidationError
	add := errs.Add
	if r.APIVersion != APIVersion {
		add("apiVersion", r.APIVersion, spec.APIVersionExpected(r.APIVersion))
	}
	if r.Kind != Kind {
		add("kind", r.Kind, fmt.Sprintf("%q", Kind))
	}
	if r.Migration == "" {
		add("migration", nil, "the migration name")
	}
	if r.Binding != nil {
		validateBinding(*r.Binding, add)
	}
	if r.Workload != nil {
		r.validateWorkload(add)
	}
	seen := map[string]int{}
	targets := map[string]int{}
	for i, v := range r.Volumes {
		f := fmt.Sprintf("volumes[%d]", i)
		if v.StatefulSet == "" {
			add(f+".statefulSet", nil, "a StatefulSet name")
		}
		if v.Ordinal < 0 || v.Ordinal > spec.MaxOrdinal {
			add(f+".ordinal", v.Ordinal, fmt.Sprintf("0 to %d", spec.MaxOrdinal))
		}
		if v.ClaimTemplate == "" {
			add(f+".claimTemplate", nil, "a claim template name")
		}
		if j, dup := seen[v.ClaimName()]; dup {
			add(f, v.ClaimName(), fmt.Sprintf("one entry per member and claim template (volumes[%d] has it too)", j))
		}
		seen[v.ClaimName()] = i
		if !instanceID.MatchString(v.SourceInstance) {
			add(f+".sourceInstance", v.SourceInstance, "an instance id i-…")
		}
		if !IsVolumeID(v.SourceVolume) {
			add(f+".sourceVolume", v.SourceVolume, "a volume id vol-…")
		}
		if !IsVolumeID(v.TargetVolume) {
			add(f+".targetVolume", v.TargetVolume, "a volume id vol-…")
		} else if v.TargetVolume == v.SourceVolume {
			add(f+".targetVolume", v.TargetVolume, "a cloned volume, never the source volume")
		} else if j, dup := targets[v.TargetVolume]; dup {
			add(f+".targetVolume", v.TargetVolume, fmt.Sprintf("a volume used once (volumes[%d] uses it too)", j))
		}
		targets[v.TargetVolume] = i
		for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
			if id, ok := v.Snapshots[phase]; ok && !snapshotID.MatchString(id) {
				add(f+".snapshots."+phase, id, "a snapshot id snap-…")
			}
		}
		for phase := range v.Snapshots {
			if phase != spec.PhasePrecopy && phase != spec.PhaseFinal {
				add(f+".snapshots", phase, "only precopy and final")
			}
		}
		r.validateDisk(f, v, add)
		validateCluster(f, v, add)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// validateDisk checks what a volume records of its disk: the zones, the
// size, the filesystem and the partition.
func (r *Record) validateDisk(f string, v Volume, add func(field string, value any, expected string)) {
	if !spec.ZoneInRegion(v.TargetZone, r.TargetRegion) {
		add(f+".targetZone", v.TargetZone, fmt.Sprintf("a zone of the target region %s", r.TargetRegion))
	}
	if v.SizeGiB < 1 {
		add(f+".sizeGiB", v.SizeGiB, "1 or more")
	}
	if !spec.ZoneInRegion(v.SourceZone, r.SourceRegion) {
		add(f+".sourceZone", v.SourceZone, fmt.Sprintf("a zone of the source region %s", r.SourceRegion))
	}
	if v.FSType == "" {
		add(f+".fsType", nil, "a filesystem type")
	} else if !slices.Contains(spec.FSTypes, v.FSType) {
		add(f+".fsType", v.FSType, "one of "+strings.Join(spec.FSTypes, ", ")+", as spec.source.devices[].fsType")
	}
	if !spec.ValidDevicePartition(v.Partition) {
		add(f+".partition", v.Partition, spec.DevicePartitionExpected)
	}
}

// validateBinding checks the recorded binding by the spec's rule.
func validateBinding(b Binding, add func(field string, value any, expected string)) {
	modeExp, sourceExp, classExp := spec.BindingExpected(b.Mode, b.StorageClass, b.StorageClassName)
	for _, e := range []struct{ field, value, expected string }{
		{"binding.mode", b.Mode, modeExp},
		{"binding.storageClass", b.StorageClass, sourceExp},
		{"binding.storageClassName", b.StorageClassName, classExp},
	} {
		if e.expected != "" {
			add(e.field, e.value, e.expected)
		}
	}
}

// validateCluster checks what a volume records of the cluster's driver:
// a known CSI driver, and only the cluster tags graft sets.
func validateCluster(f string, v Volume, add func(field string, value any, expected string)) {
	if v.CSIDriver != "" && !slices.Contains(spec.CSIDrivers, v.CSIDriver) {
		add(f+".csiDriver", v.CSIDriver, "one of "+strings.Join(spec.CSIDrivers, ", ")+" (or none, for "+spec.CSIDriverEBS+")")
	}
	for _, k := range slices.Sorted(maps.Keys(v.ClusterTags)) {
		if err := spec.CheckClusterTag(k, v.ClusterTags[k]); err != "" {
			add(f+".clusterTags["+k+"]", v.ClusterTags[k], err)
		}
	}
}

// Path returns the record path for a spec path and an optional --lock value.
func Path(specPath, lockFlag string) string {
	if lockFlag != "" {
		return lockFlag
	}
	return filepath.Join(filepath.Dir(specPath), DefaultFile)
}
