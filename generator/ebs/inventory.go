package ebs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/graftctl/graft/generator/atomic"
	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/termtext"
)

// InventoryFile is the name of the inventory discover writes beside the
// spec. plan and clone always re-discover (the source is live and may have
// changed since); when this file exists they compare it with what they
// found: plan warns about a difference, clone refuses to run until
// `graft discover` is re-run and its output reviewed.
const InventoryFile = "graft.inventory.json"

// InventoryPath is the inventory path beside a spec.
func InventoryPath(specPath string) string {
	return filepath.Join(filepath.Dir(specPath), InventoryFile)
}

// Inventory is what discover found: every legacy instance mapped to a
// StatefulSet ordinal, with its data volumes.
type Inventory struct {
	Migration    string   `json:"migration"`
	SourceRegion string   `json:"sourceRegion"`
	TargetRegion string   `json:"targetRegion"`
	Members      []Member `json:"members"`
}

// Member is one legacy instance and the StatefulSet ordinal it becomes.
type Member struct {
	StatefulSet string    `json:"statefulSet"`
	Ordinal     int       `json:"ordinal"`
	Instance    string    `json:"instance"`
	Name        string    `json:"name,omitempty"`
	PrivateIP   string    `json:"privateIp,omitempty"`
	LaunchTime  time.Time `json:"launchTime"`
	Zone        string    `json:"zone"`
	TargetZone  string    `json:"targetZone"`
	// RootDevice is the instance's root device name.
	RootDevice string `json:"rootDevice,omitempty"`
	// OtherVolumes are attached non-root EBS volumes that hold no data for
	// graft (scratch disks); CreateSnapshots excludes them by id, and the
	// root volume with ExcludeBootVolume.
	OtherVolumes []string `json:"otherVolumes,omitempty"`
	Devices      []Device `json:"devices"`
}

// Key names the member in tags and messages: <statefulset>/<ordinal>.
func (m Member) Key() string { return ownership.MemberKey(m.StatefulSet, m.Ordinal) }

// Device is one data volume of a member.
type Device struct {
	Device        string `json:"device"`
	ClaimTemplate string `json:"claimTemplate"`
	FSType        string `json:"fsType"`
	// Partition is spec.source.devices[].partition (0: the whole device).
	Partition int    `json:"partition,omitempty"`
	VolumeID  string `json:"volumeId"`
	// VolumeAttrs are the source volume's.
	VolumeAttrs
}

// Sort orders the members by StatefulSet and ordinal. It leaves each
// member's devices as they are: discover lists them in the order of
// spec.source.devices.
func (inv *Inventory) Sort() {
	slices.SortFunc(inv.Members, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.StatefulSet, b.StatefulSet), cmp.Compare(a.Ordinal, b.Ordinal))
	})
}

// WriteJSON writes the inventory as indented JSON.
func (inv *Inventory) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(inv)
}

// WriteText writes the inventory as a table. Its cells are EC2's values
// (ids, zones, devices, keys): each is written as it is when safe, else
// quoted (termtext.Value), so that none can add a row or drive the
// terminal.
func (inv *Inventory) WriteText(w io.Writer) error {
	v := termtext.Value
	fmt.Fprintf(w, "Migration %s: %d instances in %s, %d data volumes\n\n", v(inv.Migration), len(inv.Members), v(inv.SourceRegion), inv.volumeCount())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tINSTANCE\tZONE\tDEVICE\tTEMPLATE\tVOLUME\tSIZE\tTYPE\tIOPS\tTHROUGHPUT\tENCRYPTED\tKMS KEY")
	for _, m := range inv.Members {
		for _, d := range m.Devices {
			kms := d.KMSKeyID
			kms = cmp.Or(kms, "-")
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%dGiB\t%s\t%s\t%s\t%t\t%s\n", v(m.Key()), v(m.Instance), v(m.Zone), v(d.Device), v(d.ClaimTemplate),
				v(d.VolumeID), d.SizeGiB, v(d.Type), dash(d.IOPS), dashUnit(d.Throughput, "MiB/s"), d.Encrypted, v(kms))
		}
	}
	return tw.Flush()
}

func (inv *Inventory) volumeCount() int {
	n := 0
	for _, m := range inv.Members {
		n += len(m.Devices)
	}
	return n
}

func dash(v int32) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprint(v)
}

func dashUnit(v int32, unit string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%d%s", v, unit)
}

// WriteFile writes the inventory atomically.
func (inv *Inventory) WriteFile(path string) error {
	var b strings.Builder
	if err := inv.WriteJSON(&b); err != nil {
		return err
	}
	return atomic.WriteFile(path, []byte(b.String()), 0o644)
}

// LoadInventory reads an inventory file, at most boundedio.MaxFileBytes and
// only until ctx is done; it returns (nil, nil) when the file does not
// exist.
func LoadInventory(ctx context.Context, path string) (*Inventory, error) {
	data, err := boundedio.ReadFile(ctx, path, boundedio.MaxFileBytes)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	// Strict, as graft writes it: a field it does not know (a hand edit's
	// typo) or a second value is an error, not silently dropped.
	var inv Inventory
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(&inv)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("more after the inventory's JSON object")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (graft discover rewrites it)", path, err)
	}
	return &inv, nil
}

// Diff lists how a discovered inventory differs from a saved one, as
// sentences; nil means they agree on every member, instance and volume.
func (inv *Inventory) Diff(saved *Inventory) []string {
	type row struct{ inst, zone, vol string }
	key := func(m Member, d Device) string { return m.Key() + " " + d.ClaimTemplate }
	index := func(in *Inventory) map[string]row {
		out := map[string]row{}
		for _, m := range in.Members {
			for _, d := range m.Devices {
				out[key(m, d)] = row{m.Instance, m.Zone, d.VolumeID}
			}
		}
		return out
	}
	now, before := index(inv), index(saved)
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(before)) {
		b := before[k]
		n, ok := now[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s (%s %s) is gone", k, b.inst, b.vol))
		case n != b:
			diffs = append(diffs, fmt.Sprintf("%s was %s %s in %s, is now %s %s in %s", k, b.inst, b.vol, b.zone, n.inst, n.vol, n.zone))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(now)) {
		if _, ok := before[k]; !ok {
			n := now[k]
			diffs = append(diffs, fmt.Sprintf("%s (%s %s) is new", k, n.inst, n.vol))
		}
	}
	// Each is one line of a list: the saved inventory is a file anyone
	// may have edited.
	for i, d := range diffs {
		diffs[i] = termtext.Line(d)
	}
	return diffs
}

// Problem kinds of discovery, each named in its message.
const (
	ProblemNoInstances      = "no instances matched"
	ProblemUnmapped         = "unmapped instance"
	ProblemAmbiguousMapping = "ambiguous mapping"
	ProblemOrdinalGap       = "ordinal gap"
	ProblemOrdinalDuplicate = "ordinal duplicate"
	ProblemOrdinalRange     = "ordinal out of range"
	ProblemMissingDevice    = "missing device"
	ProblemUnattached       = "unattached volume"
	ProblemMultiAttached    = "multi-attached volume"
	ProblemZoneNotInRegion  = "source zone not in region"
	ProblemTargetZone       = "target zone not in target region"
	ProblemVolumeParameters = "volume parameters out of range"
	ProblemNotRunning       = "instance not running"
)

// Problem is one reason discovery cannot produce a usable inventory.
type Problem struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// String is the problem on one line: its message may name tags, ids and
// zones as EC2 returns them, so every rune a terminal would act on (a
// newline, ESC, a bidi override) is escaped in place (termtext.Line).
func (p Problem) String() string { return p.Kind + ": " + termtext.Line(p.Message) }

// ErrDiscovery is wrapped by DiscoveryError.
var ErrDiscovery = errors.New("discovery found problems")

// DiscoveryError lists every problem found, so that one run shows them all.
type DiscoveryError struct {
	Region   string
	Problems []Problem
}

func (e *DiscoveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s) discovering the source in %s:", len(e.Problems), termtext.Value(e.Region))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrDiscovery) hold.
func (e *DiscoveryError) Unwrap() error { return ErrDiscovery }
