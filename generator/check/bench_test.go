package check

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/gctarget"
	"github.com/graftctl/graft/internal/testkit"
)

// synthetic writes a built overlay of sets StatefulSets × ordinals members
// × 2 claim templates (the shape graft renders) and its graft.lock, and
// returns their paths.
func synthetic(tb testing.TB, sets, ordinals int) (string, string) {
	tb.Helper()
	dir := tb.TempDir()
	const migration = "bench"
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	templates := []string{"data", "commitlog"}
	var docs []any
	var volumes []any
	for s := 0; s < sets; s++ {
		sts := fmt.Sprintf("rack%d", s)
		var vcts, mounts []any
		for _, t := range templates {
			mounts = append(mounts, map[string]any{"name": t, "mountPath": "/var/lib/" + t})
			vcts = append(vcts, map[string]any{
				"metadata": map[string]any{"name": t},
				"spec": map[string]any{
					"accessModes": []any{"ReadWriteOnce"}, "storageClassName": "",
					"resources": map[string]any{"requests": map[string]any{"storage": "100Gi"}},
					"selector": map[string]any{"matchLabels": map[string]any{
						spec.LabelMigration: migration, spec.LabelStatefulSet: sts, spec.LabelClaimTemplate: t,
					}},
				},
			})
		}
		docs = append(docs, map[string]any{
			"apiVersion": "apps/v1", "kind": "StatefulSet",
			"metadata": map[string]any{"name": sts, "namespace": "db"},
			"spec": map[string]any{
				"replicas":                             ordinals,
				"persistentVolumeClaimRetentionPolicy": map[string]any{"whenDeleted": "Retain", "whenScaled": "Retain"},
				"template":                             map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "volumeMounts": mounts}}}},
				"volumeClaimTemplates":                 vcts,
			},
		})
		for o := 0; o < ordinals; o++ {
			zone := zones[(s*ordinals+o)%len(zones)]
			for ti, t := range templates {
				n := (s*ordinals+o)*len(templates) + ti
				claim := spec.ClaimName(t, sts, o)
				lbls := map[string]any{spec.LabelMigration: migration, spec.LabelStatefulSet: sts, spec.LabelClaimTemplate: t, spec.LabelOrdinal: fmt.Sprint(o)}
				ann := map[string]any{
					"kustomize.toolkit.fluxcd.io/prune": "disabled",
					spec.AnnotationSourceInstance:       fmt.Sprintf("i-%017x", s*ordinals+o),
					spec.AnnotationSourceVolume:         fmt.Sprintf("vol-1%016x", n),
					spec.AnnotationSourceZone:           zone,
				}
				docs = append(docs, map[string]any{
					"apiVersion": "v1", "kind": "PersistentVolume",
					"metadata": map[string]any{"name": "db-" + claim, "labels": lbls, "annotations": ann},
					"spec": map[string]any{
						"accessModes": []any{"ReadWriteOnce"}, "volumeMode": "Filesystem",
						"capacity": map[string]any{"storage": "100Gi"}, "storageClassName": "",
						"persistentVolumeReclaimPolicy": "Retain",
						"claimRef":                      map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": "db", "name": claim},
						"csi":                           map[string]any{"driver": "ebs.csi.aws.com", "volumeHandle": fmt.Sprintf("vol-0%016x", n), "fsType": "xfs"},
						"nodeAffinity": map[string]any{"required": map[string]any{"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{
							map[string]any{"key": spec.TopologyKeyKubernetes, "operator": "In", "values": []any{zone}},
						}}}}},
					},
				}, map[string]any{
					"apiVersion": "v1", "kind": "PersistentVolumeClaim",
					"metadata": map[string]any{"name": claim, "namespace": "db", "labels": lbls, "annotations": map[string]any{"kustomize.toolkit.fluxcd.io/prune": "disabled"}},
					"spec": map[string]any{
						"accessModes": []any{"ReadWriteOnce"}, "volumeMode": "Filesystem", "storageClassName": "",
						"volumeName": "db-" + claim,
						"resources":  map[string]any{"requests": map[string]any{"storage": "100Gi"}},
					},
				})
				volumes = append(volumes, map[string]any{
					"statefulSet": sts, "ordinal": o, "claimTemplate": t,
					"sourceInstance": fmt.Sprintf("i-%017x", s*ordinals+o), "sourceDevice": "/dev/xvdf",
					"sourceVolume": fmt.Sprintf("vol-1%016x", n), "sourceZone": zone,
					"targetVolume": fmt.Sprintf("vol-0%016x", n), "targetZone": zone,
					"sizeGiB": 100, "volumeType": "gp3", "encrypted": true, "fsType": "xfs",
				})
			}
		}
	}
	var buf bytes.Buffer
	for i, d := range docs {
		data, err := yaml.Marshal(d)
		if err != nil {
			tb.Fatal(err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(data)
	}
	overlay := filepath.Join(dir, "overlay.yaml")
	if err := os.WriteFile(overlay, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	lockData, err := yaml.Marshal(map[string]any{
		"apiVersion": "graft.graftctl.io/v1alpha1", "kind": "Lock", "migration": migration,
		"sourceRegion": "us-east-1", "targetRegion": "us-east-1", "volumes": volumes,
	})
	if err != nil {
		tb.Fatal(err)
	}
	lockPath := filepath.Join(dir, lock)
	if err := os.WriteFile(lockPath, lockData, 0o644); err != nil {
		tb.Fatal(err)
	}
	return overlay, lockPath
}

// checkFiles is graft check end to end on files: parse, evaluate once.
func checkFiles(tb testing.TB, e *Engine, overlay, lockPath string) *Report {
	in, err := Load(context.Background(), []string{overlay}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := in.AddRecord(lockPath); err != nil {
		tb.Fatal(err)
	}
	rep, err := e.Check(context.Background(), in)
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

var benchSizes = []struct{ sets, ordinals int }{{10, 10}, {10, 100}}

// BenchmarkCheck: 100 and 1,000 members × 2 claim templates (about 400 and
// 4,000 objects), end to end as `graft check FILE --lock FILE` runs it:
// the policies compiled while the files are parsed, one evaluation, with
// the command's GC target. cpu-s/op is the CPU time of one check (on a
// shared machine it says more about the cost than wall time).
func BenchmarkCheck(b *testing.B) {
	defer gctarget.Apply()()
	for _, size := range benchSizes {
		overlay, lockPath := synthetic(b, size.sets, size.ordinals)
		b.Run(fmt.Sprintf("members=%d", size.sets*size.ordinals), func(b *testing.B) {
			benchLoadAndCheck(b, lockPath, func() (*Input, error) {
				return Load(context.Background(), []string{overlay}, nil)
			}, func(rep *Report) {
				if len(rep.Findings) != 0 {
					b.Fatalf("synthetic overlay has findings: %v", rep.Findings[0].Message)
				}
			})
		})
	}
}

// benchLoadAndCheck times LoadAndCheck of what load gives with the record
// at lockPath, as graft check runs it, reports its CPU time (cpu-s/op) and
// hands each report to verdict.
func benchLoadAndCheck(b *testing.B, lockPath string, load func() (*Input, error), verdict func(*Report)) {
	defer testkit.ReportCPU(b)()
	for b.Loop() {
		rep, _, err := LoadAndCheck(b.Context(), func() (*Input, error) {
			in, err := load()
			if err != nil {
				return nil, err
			}
			_, err = in.AddRecord(lockPath)
			return in, err
		})
		if err != nil {
			b.Fatal(err)
		}
		verdict(rep)
	}
}

// BenchmarkConftest runs conftest test --combine on the same documents.
func BenchmarkConftest(b *testing.B) {
	bin := conftestPath(b)
	for _, size := range benchSizes {
		overlay, lockPath := synthetic(b, size.sets, size.ordinals)
		b.Run(fmt.Sprintf("members=%d", size.sets*size.ordinals), func(b *testing.B) {
			for b.Loop() {
				out, err := exec.Command(bin, conftestArgs([]string{overlay, lockPath})...).CombinedOutput()
				if err != nil {
					b.Fatalf("conftest: %v\n%.2000s", err, out)
				}
			}
		})
	}
}

// TestCheckScales guards the policies' linearity in a normal test run: a
// join that scans every pair would cost about 100× for 10× the objects;
// the test allows 15× (the goal is 12×, and a shared machine's CPU ratios
// vary from run to run). Absolute speed is
// BenchmarkCheck's to report, not a timed test's to decide.
func TestCheckScales(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	// The collector's share grows with the heap; the policies' cost is what
	// must be linear, so collect less often while measuring.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	e := engine(t)
	best := func(sets, ordinals int) (time.Duration, time.Duration) {
		overlay, lockPath := synthetic(t, sets, ordinals)
		var minCPU, minWall time.Duration
		for range 3 {
			runtime.GC()
			c0, w0 := testkit.CPUTime(), time.Now()
			if rep := checkFiles(t, e, overlay, lockPath); len(rep.Findings) != 0 {
				t.Fatalf("synthetic overlay has findings: %s", rep.Findings[0].Message)
			}
			c, w := testkit.CPUTime()-c0, time.Since(w0)
			if minCPU == 0 || c < minCPU {
				minCPU = c
			}
			if minWall == 0 || w < minWall {
				minWall = w
			}
		}
		return minCPU, minWall
	}
	smallCPU, smallWall := best(10, 10)
	largeCPU, largeWall := best(10, 100)
	ratio := float64(largeCPU) / float64(smallCPU)
	t.Logf("100 members: %v CPU (%v wall); 1,000 members: %v CPU (%v wall); CPU ratio %.1f", smallCPU, smallWall, largeCPU, largeWall, ratio)
	if ratio > 15 {
		t.Errorf("10x the objects took %.1fx the CPU time, want at most 15x (the goal is 12x)", ratio)
	}
}
