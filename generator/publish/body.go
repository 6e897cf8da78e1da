package publish

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/templates"
)

// Bounds that keep a pull-request body under the forges' limits (GitHub
// rejects bodies over 65,536 characters); graft.lock in the branch holds
// everything.
const (
	maxMemberRows  = 150
	maxFindingRows = 50
)

// BodyData is the data of templates/pull-request.md.tmpl.
type BodyData struct {
	Migration      string
	MigrationLabel string
	Namespace      string
	OverlayPath    string
	Branch         string
	BaseBranch     string
	Engine         string
	SourceRegion   string
	TargetRegion   string
	CIWorkflow     bool
	HasHooks       bool
	// FinalDone: every volume comes from a final snapshot.
	FinalDone    bool
	StatefulSets []StatefulSetRow
	// Workload is spec.target.workload's kind (statefulset when graft's
	// overlay patches the StatefulSets) and, for an operator, the resource
	// that creates them ("CassandraDatacenter dc1").
	WorkloadKind     string
	WorkloadResource string
	Summary          Summary
	// Plan is the plan's summary as text, when the caller has one.
	Plan         string
	Members      []MemberRow
	MoreMembers  int
	Verdict      Verdict
	Findings     []Finding
	MoreFindings int
}

// StatefulSetRow is one target StatefulSet.
type StatefulSetRow struct {
	Name        string
	Replicas    int
	First, Last int
}

// MemberRow is one line of the members table.
type MemberRow struct {
	Instance     string
	StatefulSet  string
	Ordinal      int
	Claim        string
	SourceVolume string
	TargetVolume string
	SourceZone   string
	Zone         string
	SizeGiB      int32
	Type         string
}

// Summary is what graft.lock says about the clone as a whole.
type Summary struct {
	// Members counts (StatefulSet, ordinal) pairs; Volumes counts entries
	// (members × claim templates).
	Members   int
	Volumes   int
	TotalGiB  int64
	Types     string
	Encrypted int
	Zones     []ZoneCount
	Final     int
	Precopy   int
	Copied    int
}

// ZoneCount is the number of volumes in a target zone.
type ZoneCount struct {
	Zone  string
	Count int
}

// Summarize computes the summary of a record.
func Summarize(rec *record.Record) Summary {
	s := Summary{Volumes: len(rec.Volumes)}
	members := map[string]bool{}
	zones := map[string]int{}
	types := map[string]int{}
	for _, v := range rec.Volumes {
		members[fmt.Sprintf("%s/%d", v.StatefulSet, v.Ordinal)] = true
		zones[v.TargetZone]++
		if v.VolumeType != "" {
			types[v.VolumeType]++
		}
		s.TotalGiB += int64(v.SizeGiB)
		if v.Encrypted {
			s.Encrypted++
		}
		switch {
		case v.Snapshots[spec.PhaseFinal] != "":
			s.Final++
		case v.Snapshots[spec.PhasePrecopy] != "":
			s.Precopy++
		}
		if v.CopiedSnapshot != "" {
			s.Copied++
		}
	}
	s.Members = len(members)
	for z, n := range zones {
		s.Zones = append(s.Zones, ZoneCount{Zone: z, Count: n})
	}
	sort.Slice(s.Zones, func(i, j int) bool { return s.Zones[i].Zone < s.Zones[j].Zone })
	var ts []string
	for t, n := range types {
		ts = append(ts, fmt.Sprintf("%d × %s", n, t))
	}
	sort.Strings(ts)
	s.Types = strings.Join(ts, ", ")
	return s
}

// newBodyData gathers the body's data.
func newBodyData(m *spec.Migration, rec *record.Record, branch, base, plan string, v Verdict) BodyData {
	g := m.Spec.GitOps
	d := BodyData{
		Migration:      m.Metadata.Name,
		MigrationLabel: spec.LabelMigration,
		Namespace:      m.Spec.Target.Namespace,
		OverlayPath:    g.OverlayPath,
		Branch:         branch,
		BaseBranch:     base,
		Engine:         g.Engine,
		SourceRegion:   rec.SourceRegion,
		TargetRegion:   rec.TargetRegion,
		CIWorkflow:     g.CIWorkflow,
		HasHooks:       len(m.Spec.Hooks.BeforeFinal) > 0,
		Summary:        Summarize(rec),
		Plan:           strings.TrimSpace(plan),
		Verdict:        v,
	}
	d.FinalDone = d.Summary.Volumes > 0 && d.Summary.Final == d.Summary.Volumes
	d.WorkloadKind = m.Spec.Target.WorkloadKind()
	if w := record.WorkloadOf(&m.Spec); w != nil && w.Resource != nil {
		d.WorkloadResource = w.Resource.Kind + " " + w.Resource.Name
	}
	for _, s := range m.Spec.Target.StatefulSets {
		d.StatefulSets = append(d.StatefulSets, StatefulSetRow{Name: s.Name, Replicas: s.Replicas, First: s.Ordinals.Start, Last: s.Ordinals.Start + s.Replicas - 1})
	}
	vols := append([]record.Volume(nil), rec.Volumes...)
	slices.SortStableFunc(vols, record.Compare)
	for i, v := range vols {
		if i == maxMemberRows {
			d.MoreMembers = len(vols) - i
			break
		}
		d.Members = append(d.Members, MemberRow{
			Instance: v.SourceInstance, StatefulSet: v.StatefulSet, Ordinal: v.Ordinal, Claim: v.ClaimName(),
			SourceVolume: v.SourceVolume, TargetVolume: v.TargetVolume, SourceZone: v.SourceZone, Zone: v.TargetZone,
			SizeGiB: v.SizeGiB, Type: v.VolumeType,
		})
	}
	d.Findings = v.Findings
	if len(d.Findings) > maxFindingRows {
		d.MoreFindings = len(d.Findings) - maxFindingRows
		d.Findings = d.Findings[:maxFindingRows]
	}
	return d
}

// RenderBody renders the pull-request body from templates/.
func RenderBody(d BodyData) (string, error) {
	t, err := templates.Parse(templates.PullRequestBody)
	if err != nil {
		return "", err
	}
	// Markdown table cells must not break the table.
	esc := func(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }
	for i := range d.Findings {
		d.Findings[i].Message = esc(d.Findings[i].Message)
		d.Findings[i].Resource = esc(d.Findings[i].Resource)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return "", fmt.Errorf("pull-request body: %w", err)
	}
	return buf.String(), nil
}

// title is the pull request's title.
func title(m *spec.Migration, rec *record.Record) string {
	s := Summarize(rec)
	names := make([]string, 0, len(m.Spec.Target.StatefulSets))
	for _, st := range m.Spec.Target.StatefulSets {
		names = append(names, st.Name)
	}
	return fmt.Sprintf("graft: migrate %s (%d %s into StatefulSet %s in %s)", m.Metadata.Name, s.Members,
		plural(s.Members, "member", "members"), strings.Join(names, ", "), m.Spec.Target.Namespace)
}

// commitMessage is descriptive and deterministic (no time, no host), so
// that a re-run over the same inputs makes the same tree and no commit.
func commitMessage(m *spec.Migration, rec *record.Record, v Verdict, ci bool) string {
	s := Summarize(rec)
	var b strings.Builder
	b.WriteString(title(m, rec))
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "Overlay %s rendered by graft from graft.yaml and graft.lock:\n", m.Spec.GitOps.OverlayPath)
	fmt.Fprintf(&b, "%d %s (%d GiB) bound to claims in namespace %s, zones", s.Volumes, plural(s.Volumes, "volume", "volumes"), s.TotalGiB, m.Spec.Target.Namespace)
	for _, z := range s.Zones {
		fmt.Fprintf(&b, " %s:%d", z.Zone, z.Count)
	}
	b.WriteString(".\n")
	fmt.Fprintf(&b, "Policy check: %s, %d denied, %d %s.\n", map[bool]string{true: "denied", false: "passed"}[v.Denied()], v.Denies, v.Warns, plural(v.Warns, "warning", "warnings"))
	if ci {
		b.WriteString("Adds the graft-check CI workflow.\n")
	}
	fmt.Fprintf(&b, "\nGraft-Migration: %s\n", m.Metadata.Name)
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
