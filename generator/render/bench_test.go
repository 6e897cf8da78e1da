package render_test

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/gctarget"
	"github.com/graftctl/graft/internal/testkit"
)

// syntheticMigration builds a GitOps tree with a base of sets StatefulSets
// (two claim templates each) and a spec and record of sets × ordinals
// members.
func syntheticMigration(b testing.TB, sets, ordinals int) (*spec.Migration, *record.Record, string) {
	b.Helper()
	root := b.TempDir()
	base := filepath.Join(root, "base")
	if err := os.MkdirAll(base, 0o755); err != nil {
		b.Fatal(err)
	}
	var kust strings.Builder
	kust.WriteString("resources:\n")
	m := &spec.Migration{APIVersion: spec.APIVersion, Kind: spec.Kind, Metadata: spec.Metadata{Name: "big"}}
	m.Spec.Source = spec.Source{Region: "us-east-1", Filters: []spec.Filter{{Name: "tag:app", Values: []string{"c"}}},
		Devices: []spec.Device{{Name: "/dev/xvdf", ClaimTemplate: "data"}, {Name: "/dev/xvdg", ClaimTemplate: "commitlog"}}}
	m.Spec.Mapping.Sort = &spec.SortMapping{By: "privateIp"}
	m.Spec.Target.Namespace = "db"
	m.Spec.GitOps = spec.GitOps{Engine: spec.EngineArgoCD, Base: "../../base"}
	rec := &record.Record{APIVersion: record.APIVersion, Kind: record.Kind, Migration: "big", SourceRegion: "us-east-1", TargetRegion: "us-east-1"}
	n := 0
	for s := 0; s < sets; s++ {
		name := fmt.Sprintf("cass-r%d", s)
		zone := "us-east-1" + string(rune('a'+s%3))
		m.Spec.Target.StatefulSets = append(m.Spec.Target.StatefulSets, spec.StatefulSet{Name: name, Replicas: ordinals, SourceZone: fmt.Sprintf("us-east-1%c", 'a'+s)})
		file := name + ".yaml"
		fmt.Fprintf(&kust, "  - %s\n", file)
		sts := fmt.Sprintf(`apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: %s
spec:
  serviceName: cass
  replicas: %d
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec: {containers: [{name: c, image: cassandra}]}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 100Gi}}}
    - metadata: {name: commitlog}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}
`, name, ordinals, name, name)
		if err := os.WriteFile(filepath.Join(base, file), []byte(sts), 0o644); err != nil {
			b.Fatal(err)
		}
		for o := 0; o < ordinals; o++ {
			for _, tmpl := range []string{"data", "commitlog"} {
				n++
				rec.Volumes = append(rec.Volumes, record.Volume{
					StatefulSet: name, Ordinal: o, ClaimTemplate: tmpl,
					SourceInstance: fmt.Sprintf("i-%017x", s*ordinals+o), SourceDevice: "/dev/xvdf",
					SourceVolume: fmt.Sprintf("vol-%017x", n), SourceZone: zone,
					TargetVolume: fmt.Sprintf("vol-%017x", 1<<40+n), TargetZone: zone,
					SizeGiB: 200, VolumeType: "gp3", FSType: "xfs",
				})
			}
		}
	}
	if err := os.WriteFile(filepath.Join(base, "kustomization.yaml"), []byte(kust.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	m.Default()
	if err := m.Validate(); err != nil {
		b.Fatal(err)
	}
	return m, rec, filepath.Join(root, "overlays", "big")
}

// BenchmarkRender renders, builds with krusty (every root, in parallel)
// and writes overlays of 100 and 1,000 members (10 StatefulSets, 2 claim
// templates each); the targets are in the README's performance
// table. cpu-s/op is the CPU time of one render.
func BenchmarkRender(b *testing.B) {
	defer gctarget.Apply()()
	for _, ordinals := range []int{10, 100} {
		b.Run(fmt.Sprintf("members=%d", 10*ordinals), func(b *testing.B) {
			m, rec, out := syntheticMigration(b, 10, ordinals)
			b.ReportAllocs()
			b.ResetTimer()
			defer testkit.ReportCPU(b)()
			for i := 0; i < b.N; i++ {
				if _, err := render.Render(m, rec, render.Options{OutDir: out}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLargestRoot renders overlays of 1,000 and 2,000 members × 2
// claim templates and times the build of every root, as a GitOps engine
// runs it: with krusty in process (Flux's kustomize-controller) and with
// `kubectl kustomize` (Argo CD's repo server runs kustomize build), when
// kubectl is installed. It reports the slowest root of each, each root
// timed by its best run (the target, in the README's performance table,
// is on it, at both sizes), and the median root under kubectl kustomize.
func BenchmarkLargestRoot(b *testing.B) {
	kubectl, _ := exec.LookPath("kubectl")
	for _, ordinals := range []int{100, 200} {
		b.Run(fmt.Sprintf("members=%d", 10*ordinals), func(b *testing.B) {
			m, rec, out := syntheticMigration(b, 10, ordinals)
			res, err := render.Render(m, rec, render.Options{OutDir: out})
			if err != nil {
				b.Fatal(err)
			}
			// Each root's time is its best of the b.N runs: the build's
			// own cost, not a shared machine's spikes; the slowest root
			// is the largest of those.
			krusty, cli := map[string]time.Duration{}, map[string]time.Duration{}
			best := func(m map[string]time.Duration, root string, d time.Duration) {
				if old, ok := m[root]; !ok || d < old {
					m[root] = d
				}
			}
			b.ResetTimer()
			for b.Loop() {
				for root := range res.Builds {
					dir := filepath.Join(out, root)
					start := time.Now()
					if _, err := render.Build(dir); err != nil {
						b.Fatal(err)
					}
					best(krusty, root, time.Since(start))
					if kubectl == "" {
						continue
					}
					start = time.Now()
					if data, err := exec.Command(kubectl, "kustomize", dir).CombinedOutput(); err != nil {
						b.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, data)
					}
					best(cli, root, time.Since(start))
				}
			}
			b.ReportMetric(float64(len(res.Builds)), "roots")
			b.ReportMetric(slices.Max(slices.Collect(maps.Values(krusty))).Seconds(), "s-largest-krusty")
			if kubectl != "" {
				times := slices.Sorted(maps.Values(cli))
				b.ReportMetric(times[len(times)-1].Seconds(), "s-largest-kubectl")
				b.ReportMetric(times[len(times)/2].Seconds(), "s-median-kubectl")
			}
		})
	}
}
