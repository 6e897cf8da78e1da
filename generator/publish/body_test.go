package publish

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/testkit/examples"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestBodyGolden renders the pull-request body of the 3-node example with
// a warning, a plan summary and the CI workflow, and compares it with
// testdata/pull-request.golden.md (go test -run TestBodyGolden -update
// rewrites it).
func TestBodyGolden(t *testing.T) {
	m, rec := example(t, "https://github.com/octo-org/gitops.git")
	m.Spec.GitOps.CIWorkflow = true
	v := Verdict{Warns: 1, Source: "graft check v0.1.0, 37 rules over 10 objects", Findings: []Finding{
		{Severity: "warn", Rule: "GRAFT023", Resource: "StatefulSet/cassandra", Message: "zones a|b"},
	}}
	body, err := RenderBody(newBodyData(m, rec, Branch(m.Metadata.Name), "main", "3 snapshots, 3 volumes, about 12 minutes", v))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "pull-request.golden.md")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestBodyGolden -update)", err)
	}
	if body != string(want) {
		t.Errorf("body differs from %s (go test -run TestBodyGolden -update):\n%s", golden, body)
	}
	for _, want := range []string{
		"| `i-fbc15c2c26fd05cdd` | `cassandra`/0 | `data-cassandra-0` | `vol-8099042adcb909369` → `vol-49637af02ffd17625` | us-east-1a | 500 GiB gp3 |",
		"- [x] **Final snapshot**",
		"kubectl -n cassandra delete statefulset cassandra --cascade=orphan",
		"flux reconcile kustomization graft-cassandra-3node --with-source",
		"rollout status statefulset/cassandra",
		"**Roll back**",
		`zones a\|b`,
		"3 snapshots, 3 volumes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q", want)
		}
	}
}

// TestBodyMultipleStatefulSets covers the racks example: one orphan step
// per StatefulSet, no sync command for engine none, a denied verdict.
func TestBodyMultipleStatefulSets(t *testing.T) {
	m, rec := example(t, "")
	m.Spec.GitOps.Engine = spec.EngineNone
	m.Spec.Target.StatefulSets = append(m.Spec.Target.StatefulSets, spec.StatefulSet{Name: "rack2", Replicas: 1})
	delete(rec.Volumes[0].Snapshots, spec.PhaseFinal)
	body, err := RenderBody(newBodyData(m, rec, "graft/x", "main", "", Verdict{Denies: 2}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"delete statefulset cassandra --cascade=orphan", "delete statefulset rack2 --cascade=orphan", "kubectl apply -k overlays/cassandra-3node", "**denied**", "StatefulSets to 0", "- [ ] **Final snapshot**: `graft clone --phase final`"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "#### Plan") {
		t.Error("an empty plan has a section")
	}
}

// TestBodyWorkloadKinds: the cut-over checklist of an operator's or a
// chart's migration has no orphan step (there is no StatefulSet of graft's
// to orphan): it asks that the operator's resource not run yet, or that the
// chart be installed once the claims are Bound, naming the StatefulSets.
func TestBodyWorkloadKinds(t *testing.T) {
	for _, tc := range []struct {
		example string
		want    []string
	}{
		{"cass-operator-6node", []string{"**The CassandraDatacenter dc1 does not run yet**", "get CassandraDatacenter dc1", "`prodcluster-dc1-r1-sts`"}},
		{"eck-logging", []string{"**The Elasticsearch logging does not run yet**", "`logging-es-hot`"}},
		{"bitnami-claims-only", []string{"**Install the chart (or start the operator) after the sync**", "`cassandra`"}},
	} {
		t.Run(tc.example, func(t *testing.T) {
			m, rec := examples.Load(t, tc.example)
			body, err := RenderBody(newBodyData(m, rec, "graft/x", "main", "", Verdict{}))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
			if strings.Contains(body, "--cascade=orphan") {
				t.Errorf("an operator's or a chart's migration is told to orphan a StatefulSet:\n%s", body)
			}
		})
	}
}
