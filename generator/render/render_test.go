package render_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite overlays/ from testdata/examples")

// repo is the repository root, relative to this package.
const repo = "../.."

func examples(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(repo, "testdata", "examples", "*", "graft.yaml"))
	if err != nil || len(dirs) < 3 {
		t.Fatalf("want at least 3 examples in testdata/examples, got %d (%v)", len(dirs), err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	return names
}

func load(t testing.TB, dir string) (*spec.Migration, *record.Record) {
	t.Helper()
	m, err := spec.Load(filepath.Join(dir, "graft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := record.Load(filepath.Join(dir, "graft.lock"))
	if err != nil {
		t.Fatal(err)
	}
	// An example's record holds what graft render records for its spec
	// (or, for the examples older than binding modes, nothing: static).
	want := record.BindingOf(&m.Spec.Target)
	if rec.Binding == nil && want.Mode != spec.BindingStatic || rec.Binding != nil && *rec.Binding != *want {
		t.Fatalf("%s/graft.lock binding %+v, want %+v (what graft render records for the spec)", dir, rec.Binding, want)
	}
	if w := record.WorkloadOf(&m.Spec); !record.EqualWorkloads(rec.Workload, w) {
		t.Fatalf("%s/graft.lock workload %+v, want %+v (what graft render records for the spec)", dir, rec.Workload, w)
	}
	return m, rec
}

// TestExampleOverlays is the golden test: overlays/ must be exactly what
// graft renders from testdata/examples. Run with -update to regenerate.
func TestExampleOverlays(t *testing.T) {
	for _, name := range examples(t) {
		t.Run(name, func(t *testing.T) {
			m, rec := load(t, filepath.Join(repo, "testdata", "examples", name))
			out := filepath.Join(repo, "overlays", name)
			if *update {
				must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out})))
			}
			files, err := render.Files(m, rec, out)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(out)
			if err != nil {
				t.Fatalf("overlays/%s is missing; run go test ./generator/render -update: %v", name, err)
			}
			var onDisk []string
			for _, e := range entries {
				onDisk = append(onDisk, e.Name())
			}
			if want := slices.Sorted(maps.Keys(files)); strings.Join(onDisk, ",") != strings.Join(want, ",") {
				t.Fatalf("overlays/%s holds %v, render gives %v; run go test ./generator/render -update", name, onDisk, want)
			}
			for fname, want := range files {
				got, err := os.ReadFile(filepath.Join(out, fname))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("overlays/%s/%s drifted from what graft renders; run go test ./generator/render -update", name, fname)
				}
			}
		})
	}
}

// TestDeterministic renders the same inputs twice into two directories and
// compares every byte.
func TestDeterministic(t *testing.T) {
	for _, name := range examples(t) {
		m, rec := load(t, filepath.Join(repo, "testdata", "examples", name))
		a, err := render.Files(m, rec, filepath.Join(repo, "overlays", name))
		if err != nil {
			t.Fatal(err)
		}
		// Shuffle the record's order: output must not depend on it.
		for i, j := 0, len(rec.Volumes)-1; i < j; i, j = i+1, j-1 {
			rec.Volumes[i], rec.Volumes[j] = rec.Volumes[j], rec.Volumes[i]
		}
		b, err := render.Files(m, rec, filepath.Join(repo, "overlays", name))
		if err != nil {
			t.Fatal(err)
		}
		for f := range a {
			if !bytes.Equal(a[f], b[f]) {
				t.Errorf("%s/%s differs between two renders", name, f)
			}
		}
	}
}

type builtObjects struct {
	pvs  map[string]corev1.PersistentVolume
	pvcs map[string]corev1.PersistentVolumeClaim
	sets map[string]appsv1.StatefulSet
}

// renderedPVs renders m and rec into root/overlays/x, builds the overlay
// and returns its PVs by name, one per recorded volume.
func renderedPVs(t *testing.T, root string, m *spec.Migration, rec *record.Record) map[string]corev1.PersistentVolume {
	t.Helper()
	out := filepath.Join(root, "overlays", "x")
	must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out})))
	built, err := render.Build(out)
	if err != nil {
		t.Fatal(err)
	}
	pvs := parseBuilt(t, built).pvs
	if len(pvs) != len(rec.Volumes) {
		t.Fatalf("%d PVs, want %d", len(pvs), len(rec.Volumes))
	}
	return pvs
}

func parseBuilt(t *testing.T, built []byte) builtObjects {
	t.Helper()
	out := builtObjects{map[string]corev1.PersistentVolume{}, map[string]corev1.PersistentVolumeClaim{}, map[string]appsv1.StatefulSet{}}
	for _, doc := range bytes.Split(built, []byte("\n---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "PersistentVolume":
			var pv corev1.PersistentVolume
			mustUnmarshal(t, doc, &pv)
			out.pvs[pv.Name] = pv
		case "PersistentVolumeClaim":
			var pvc corev1.PersistentVolumeClaim
			mustUnmarshal(t, doc, &pvc)
			out.pvcs[pvc.Name] = pvc
		case "StatefulSet":
			var sts appsv1.StatefulSet
			mustUnmarshal(t, doc, &sts)
			out.sets[sts.Name] = sts
		}
	}
	return out
}

func mustUnmarshal(t *testing.T, data []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatal(err)
	}
}

// TestNames checks, on the built overlay, that there is exactly one PVC
// named <template>-<sts>-<ordinal> for every ordinal in [start,
// start+replicas), bound to a PV that claims it back, in the right zone.
func TestNames(t *testing.T) {
	for _, name := range examples(t) {
		t.Run(name, func(t *testing.T) {
			m, rec := load(t, filepath.Join(repo, "testdata", "examples", name))
			built, err := render.Build(filepath.Join(repo, "overlays", name))
			if err != nil {
				t.Fatal(err)
			}
			objs := parseBuilt(t, built)
			if !m.Spec.Target.PatchesStatefulSets() {
				// The operator or the chart creates the StatefulSets.
				objs.sets = workloadStatefulSets(t, m, built)
			}
			zones := map[string]string{}
			for _, v := range rec.Volumes {
				zones[v.ClaimName()] = v.TargetZone
			}
			want := 0
			for _, set := range m.Spec.Target.StatefulSets {
				sts, ok := objs.sets[set.Name]
				if !ok {
					t.Fatalf("StatefulSet %s missing from the built overlay", set.Name)
				}
				// The StatefulSet controller names claims from the built
				// StatefulSet, not from the spec: they must agree.
				builtStart := 0
				if sts.Spec.Ordinals != nil {
					builtStart = int(sts.Spec.Ordinals.Start)
				}
				if sts.Spec.Replicas == nil || int(*sts.Spec.Replicas) != set.Replicas || builtStart != set.Ordinals.Start {
					t.Errorf("built StatefulSet %s has replicas %v and ordinals.start %d; the spec says %d from %d",
						sts.Name, sts.Spec.Replicas, builtStart, set.Replicas, set.Ordinals.Start)
				}
				if sts.Namespace != m.Spec.Target.Namespace {
					t.Errorf("StatefulSet %s in namespace %q, want %q", sts.Name, sts.Namespace, m.Spec.Target.Namespace)
				}
				for _, tmpl := range sts.Spec.VolumeClaimTemplates {
					if m.Spec.Target.WorkloadKind() == spec.WorkloadClaimsOnly {
						break // graft does not patch a chart's templates
					}
					// The static mode selects graft's PVs; the provisioned
					// mode must not (the provisioner refuses a selector).
					if (tmpl.Spec.Selector == nil) != m.Spec.Target.Binding.Provisioned() || tmpl.Spec.StorageClassName == nil || *tmpl.Spec.StorageClassName != m.Spec.Target.StorageClassName {
						t.Errorf("%s template %s: selector %v class %v", sts.Name, tmpl.Name, tmpl.Spec.Selector, tmpl.Spec.StorageClassName)
					}
					if tmpl.Spec.Resources.Requests.Storage().IsZero() {
						t.Errorf("%s template %s lost its storage request: the patch must not replace the template", sts.Name, tmpl.Name)
					}
				}
				for o := set.Ordinals.Start; o < set.Ordinals.Start+set.Replicas; o++ {
					for _, d := range m.Spec.Source.Devices {
						want++
						claim := fmt.Sprintf("%s-%s-%d", d.ClaimTemplate, set.Name, o)
						pvc, ok := objs.pvcs[claim]
						if !ok {
							t.Errorf("no PVC %s", claim)
							continue
						}
						pv, ok := objs.pvs[pvc.Spec.VolumeName]
						if !ok {
							t.Errorf("PVC %s names PV %s, which does not exist", claim, pvc.Spec.VolumeName)
							continue
						}
						if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Name != claim || pv.Spec.ClaimRef.Namespace != sts.Namespace || pv.Spec.ClaimRef.UID != "" {
							t.Errorf("PV %s claimRef %+v, want %s/%s without uid", pv.Name, pv.Spec.ClaimRef, sts.Namespace, claim)
						}
						if got := pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values; len(got) != 1 || got[0] != zones[claim] {
							t.Errorf("PV %s zone %v, want [%s]", pv.Name, got, zones[claim])
						}
						if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
							t.Errorf("PV %s reclaim %s", pv.Name, pv.Spec.PersistentVolumeReclaimPolicy)
						}
						sel := sts.Spec.VolumeClaimTemplates[indexOf(sts, d.ClaimTemplate)].Spec.Selector
						if sel == nil {
							continue // the provisioned mode: pre-bound by name alone
						}
						for k, v := range sel.MatchLabels {
							if pv.Labels[k] != v {
								t.Errorf("PV %s label %s=%q, template selects %q", pv.Name, k, pv.Labels[k], v)
							}
						}
					}
				}
			}
			if len(objs.pvcs) != want || len(objs.pvs) != want {
				t.Errorf("built overlay has %d PVCs and %d PVs, want %d of each", len(objs.pvcs), len(objs.pvs), want)
			}
		})
	}
}

// TestPVVolumeSource: for every filesystem graft accepts, with and without
// a partition, each built PV names the record's fsType (without it the
// kubelet skips fsGroup ownership changes, aws-ebs-csi-driver#1365), has
// the volume attribute "partition" exactly when the record has one, as
// the decimal string the driver reads (aws-ebs-csi-driver#812), and sets
// no mount options: the driver adds nouuid for xfs itself, which a clone
// mounted on the node of its source needs.
func TestPVVolumeSource(t *testing.T) {
	for _, fs := range spec.FSTypes {
		for _, part := range []int{0, 1, 3, spec.MaxDevicePartition} {
			t.Run(fmt.Sprintf("%s-partition-%d", fs, part), func(t *testing.T) {
				root, m, rec := copyExample(t, "cassandra-3node")
				m.Spec.Source.Devices[0].FSType = fs
				m.Spec.Source.Devices[0].Partition = part
				for i := range rec.Volumes {
					rec.Volumes[i].FSType = fs
					rec.Volumes[i].Partition = part
				}
				pvs := renderedPVs(t, root, m, rec)
				for _, pv := range pvs {
					csi := pv.Spec.CSI
					if csi == nil || csi.FSType != fs {
						t.Errorf("PV %s: csi %+v, want fsType %s", pv.Name, csi, fs)
						continue
					}
					var want map[string]string
					if part > 0 {
						want = map[string]string{"partition": strconv.Itoa(part)}
					}
					if !maps.Equal(csi.VolumeAttributes, want) || (part == 0 && csi.VolumeAttributes != nil) {
						t.Errorf("PV %s: volumeAttributes %v, want %v", pv.Name, csi.VolumeAttributes, want)
					}
					if pv.Spec.MountOptions != nil {
						t.Errorf("PV %s: mountOptions %v, want none", pv.Name, pv.Spec.MountOptions)
					}
					if o, ok := pv.Annotations[corev1.MountOptionAnnotation]; ok {
						t.Errorf("PV %s: annotation %s=%q, want none", pv.Name, corev1.MountOptionAnnotation, o)
					}
				}
			})
		}
	}
}

// TestPVStorageDriver: the PV's driver and node affinity come from
// spec.target.cluster: none and ebs-csi keep the spec's topology key and
// add nothing; Auto Mode names its driver, topology.kubernetes.io/zone and
// the compute-type requirement.
func TestPVStorageDriver(t *testing.T) {
	zone := func(key, z string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{z}}
	}
	cases := []struct {
		name    string
		cluster *spec.Cluster
		key     string
		driver  string
		extra   []corev1.NodeSelectorRequirement
	}{
		{"none", nil, spec.TopologyKeyEBSCSI, "ebs.csi.aws.com", nil},
		{"ebs-csi", &spec.Cluster{Name: "prod", StorageDriver: spec.StorageDriverEBSCSI}, spec.TopologyKeyEBSCSI, "ebs.csi.aws.com", nil},
		{"eks-auto-mode", &spec.Cluster{Name: "prod", StorageDriver: spec.StorageDriverAutoMode}, spec.TopologyKeyKubernetes, "ebs.csi.eks.amazonaws.com",
			[]corev1.NodeSelectorRequirement{{Key: "eks.amazonaws.com/compute-type", Operator: corev1.NodeSelectorOpIn, Values: []string{"auto"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, m, rec := copyExample(t, "cassandra-3node")
			m.Spec.Target.TopologyKey = c.key
			m.Spec.Target.Cluster = c.cluster
			for i := range rec.Volumes {
				if c.cluster != nil {
					rec.Volumes[i].CSIDriver = c.driver
					rec.Volumes[i].ClusterTags = m.Spec.Target.Storage().Tags
				}
			}
			pvs := renderedPVs(t, root, m, rec)
			for _, pv := range pvs {
				if pv.Spec.CSI == nil || pv.Spec.CSI.Driver != c.driver {
					t.Errorf("PV %s: csi %+v, want driver %s", pv.Name, pv.Spec.CSI, c.driver)
				}
				terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
				if len(terms) != 1 {
					t.Fatalf("PV %s: %d terms, want 1", pv.Name, len(terms))
				}
				var vz string
				for _, v := range rec.Volumes {
					if render.PVName(m.Spec.Target.Namespace, v.ClaimName()) == pv.Name {
						vz = v.TargetZone
					}
				}
				want := append([]corev1.NodeSelectorRequirement{zone(c.key, vz)}, c.extra...)
				if fmt.Sprint(terms[0].MatchExpressions) != fmt.Sprint(want) {
					t.Errorf("PV %s: matchExpressions %v, want %v", pv.Name, terms[0].MatchExpressions, want)
				}
			}
		})
	}
}

func indexOf(sts appsv1.StatefulSet, template string) int {
	for i, t := range sts.Spec.VolumeClaimTemplates {
		if t.Name == template {
			return i
		}
	}
	return -1
}

// TestKustomizeCLI builds every example overlay with the standalone
// kustomize that Argo CD runs (kubectl kustomize), and requires the same
// output as krusty.
func TestKustomizeCLI(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is needed to compare with the kustomize command line (.ci/run installs it): %v", err)
	}
	for _, name := range examples(t) {
		dir := filepath.Join(repo, "overlays", name)
		want, err := render.Build(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := exec.Command(kubectl, "kustomize", dir).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v", dir, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: kubectl kustomize and krusty differ:\n--- kubectl\n%s\n--- krusty\n%s", name, got, want)
		}
	}
}

// copyExample copies an example's spec and record to a temp tree laid out
// like a GitOps repo, with the base at base/ and the overlay at
// overlays/<name>.
func copyExample(t *testing.T, name string) (root string, m *spec.Migration, rec *record.Record) {
	t.Helper()
	m, rec = load(t, filepath.Join(repo, "testdata", "examples", name))
	root = t.TempDir()
	baseSrc := filepath.Join(repo, "overlays", name, filepath.FromSlash(m.Spec.GitOps.Base))
	testkit.CopyDir(t, baseSrc, filepath.Join(root, "base"))
	m.Spec.GitOps.Base = "../../base"
	return root, m, rec
}

func TestRenderWritesAndReplacesOwnDirectory(t *testing.T) {
	root, m, rec := copyExample(t, "cassandra-3node")
	out := filepath.Join(root, "overlays", "x")
	must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out})))
	// A second render replaces graft's own directory.
	if _, err := render.Render(m, rec, render.Options{OutDir: out}); err != nil {
		t.Fatalf("re-render over graft's own directory: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "overlays", ".graft-*"))
	leftovers2, _ := filepath.Glob(out + ".graft-old")
	if len(leftovers)+len(leftovers2) > 0 {
		t.Errorf("temporary directories left behind: %v %v", leftovers, leftovers2)
	}
	if _, err := os.Stat(filepath.Join(out, render.KustomizationFile)); err != nil {
		t.Fatal(err)
	}
}

// TestRenderRecoversAnInterruptedSwap: graft died after moving the previous
// overlay aside and before moving the new one in; the next render restores
// the previous one first (so ownership is still known) and completes.
func TestRenderRecoversAnInterruptedSwap(t *testing.T) {
	root, m, rec := copyExample(t, "cassandra-3node")
	out := filepath.Join(root, "overlays", "x")
	must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out})))
	if err := os.Rename(out, out+".graft-old"); err != nil {
		t.Fatal(err)
	}
	if _, err := render.Render(m, rec, render.Options{OutDir: out}); err != nil {
		t.Fatalf("render after an interrupted swap: %v", err)
	}
	if _, err := os.Stat(out + ".graft-old"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the previous overlay was left beside the new one (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(out, render.KustomizationFile)); err != nil {
		t.Error(err)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	root, m, rec := copyExample(t, "cassandra-3node")
	out := filepath.Join(root, "overlays", "x")
	res, err := render.Render(m, rec, render.Options{OutDir: out, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(res.Built, []byte("kind: PersistentVolume\n")) {
		t.Errorf("dry run built no PersistentVolume:\n%s", res.Built)
	}
	if _, err := os.Stat(filepath.Join(root, "overlays")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run left %s behind (err %v)", filepath.Join(root, "overlays"), err)
	}
}

// TestBadInput covers every input error render must refuse, each with its
// message, with nothing written.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(t *testing.T, root string, m *spec.Migration, rec *record.Record)
		wantErr string
	}{
		{"missing base", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			m.Spec.GitOps.Base = "../../nowhere"
		}, "spec.gitops.base: " + "%ROOT%/nowhere is not a directory"},
		{"base without the StatefulSet", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			m.Spec.Target.StatefulSets[0].Name = "scylla"
			for i := range rec.Volumes {
				rec.Volumes[i].StatefulSet = "scylla"
			}
		}, `spec.target.statefulSets: "scylla", expected a StatefulSet of the base ../../base (it has cassandra)`},
		{"claim template absent from the base", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			m.Spec.Source.Devices[0].ClaimTemplate = "cassandra-data"
			for i := range rec.Volumes {
				rec.Volumes[i].ClaimTemplate = "cassandra-data"
			}
		}, `spec.source.devices claimTemplate: "cassandra-data", expected a volumeClaimTemplate of StatefulSet cassandra in the base (it has data)`},
		{"request larger than the volume", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			rec.Volumes[1].SizeGiB = 100
		}, `resources.requests.storage: "500Gi", expected at most the size of volume`},
		{"base that does not build", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			if err := os.WriteFile(filepath.Join(root, "base", "kustomization.yaml"), []byte("resources: [missing.yaml]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "does not build"},
		{"record of another migration", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			rec.Migration = "other"
		}, `graft.lock migration: "other", expected "cassandra-3node"`},
		{"record of another source region", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			rec.SourceRegion = "eu-west-1"
		}, `graft.lock sourceRegion: "eu-west-1", expected "us-east-1", the spec's spec.source.region`},
		{"record of another target region", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			rec.TargetRegion = "eu-west-1"
		}, `graft.lock targetRegion: "eu-west-1", expected "us-east-1", the spec's target region`},
		{"record missing a member", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			rec.Volumes = rec.Volumes[:2]
		}, `graft.lock volumes: "data-cassandra-2", expected a cloned volume for every member`},
		{"record zone differs from the spec", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			m.Spec.Target.StatefulSets[0].Zone = "us-east-1a"
		}, `graft.lock volumes[1].targetZone: "us-east-1b", expected us-east-1a`},
		{"record of the add-on driver, spec of Auto Mode", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			m.Spec.Target.Cluster = &spec.Cluster{Name: "prod", StorageDriver: spec.StorageDriverAutoMode}
			for i := range rec.Volumes {
				rec.Volumes[i].ClusterTags = m.Spec.Target.Storage().Tags
			}
		}, `graft.lock volumes[0].csiDriver: "ebs.csi.aws.com", expected ebs.csi.eks.amazonaws.com, the driver of spec.target.cluster`},
		{"record without the cluster's tags", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			m.Spec.Target.Cluster = &spec.Cluster{Name: "prod", StorageDriver: spec.StorageDriverEBSCSI}
			for i := range rec.Volumes {
				rec.Volumes[i].CSIDriver = spec.CSIDriverEBS
				rec.Volumes[i].ClusterTags = map[string]string{spec.TagEBSCSICluster: "true", spec.TagEBSCSIClusterName: "prod"}
			}
			rec.Volumes[2].ClusterTags = map[string]string{spec.TagEBSCSICluster: "true"}
		}, `graft.lock volumes[2].clusterTags: "ebs.csi.aws.com/cluster=true", expected ebs.csi.aws.com/cluster=true, ebs.csi.aws.com/cluster-name=prod, the tags spec.target.cluster's driver`},
		{"record tags of another cluster", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			m.Spec.Target.Cluster = &spec.Cluster{Name: "prod", StorageDriver: spec.StorageDriverAutoMode}
			for i := range rec.Volumes {
				rec.Volumes[i].CSIDriver = spec.CSIDriverAutoMode
				rec.Volumes[i].ClusterTags = map[string]string{spec.TagEKSClusterName: "prod"}
			}
			rec.Volumes[0].ClusterTags = map[string]string{spec.TagEKSClusterName: "staging"}
		}, `graft.lock volumes[0].clusterTags: "eks:eks-cluster-name=staging", expected eks:eks-cluster-name=prod`},
		{"record of Auto Mode, spec without a cluster", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			rec.Volumes[1].CSIDriver = spec.CSIDriverAutoMode
		}, `graft.lock volumes[1].csiDriver: "ebs.csi.eks.amazonaws.com", expected ebs.csi.aws.com`},
		{"record partition the spec does not give", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			rec.Volumes[2].Partition = 1
		}, `graft.lock volumes[2].partition: 1, expected 0, the partition of /dev/xvdf in spec.source.devices (0: the whole device)`},
		{"spec partition the record lacks", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			m.Spec.Source.Devices[0].Partition = 2
			rec.Volumes[0].Partition = 2
			rec.Volumes[2].Partition = 2
		}, `graft.lock volumes[1].partition: 0, expected 2, the partition of /dev/xvdf`},
		{"output directory graft did not create", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) {
			dir := filepath.Join(root, "overlays", "x")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: []\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "was not written by graft"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, m, rec := copyExample(t, "cassandra-3node")
			c.mutate(t, root, m, rec)
			before := snapshotTree(t, root)
			_, err := render.Render(m, rec, render.Options{OutDir: filepath.Join(root, "overlays", "x")})
			if err == nil {
				t.Fatal("render succeeded")
			}
			if !errors.Is(err, render.ErrInvalid) {
				t.Errorf("error is not render.ErrInvalid (it would not exit 2 as bad input): %v", err)
			}
			if strings.HasPrefix(c.wantErr, "graft.lock") && (!strings.Contains(err.Error(), "in the record (graft.lock)") || strings.Contains(err.Error(), "migration spec")) {
				t.Errorf("a problem of graft.lock is not worded as one: %v", err)
			}
			want := strings.ReplaceAll(c.wantErr, "%ROOT%", root)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, want)
			}
			if after := snapshotTree(t, root); after != before {
				t.Errorf("render wrote something on failure:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func snapshotTree(t *testing.T, root string) string {
	t.Helper()
	var paths []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, fmt.Sprintf("%s:%d", strings.TrimPrefix(p, root), info.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	return strings.Join(paths, " ")
}

// TestOutDirNeverReplaced: whatever --force says, render never writes into
// or replaces the base, a directory holding it, a git directory, a
// repository or another migration's overlay, comparing real paths
// (symlinks resolved). Each is refused as bad input with nothing changed.
func TestOutDirNeverReplaced(t *testing.T) {
	mkdir := func(t *testing.T, p string) {
		t.Helper()
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(t *testing.T, p, data string) {
		t.Helper()
		mkdir(t, filepath.Dir(p))
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// otherOverlay renders migration "other" into dir.
	otherOverlay := func(t *testing.T, dir string, m *spec.Migration, rec *record.Record) {
		t.Helper()
		om, orec := *m, *rec
		om.Metadata.Name, orec.Migration = "other", "other"
		must(t, renderErr(render.Render(&om, &orec, render.Options{OutDir: dir})))
	}
	// foreignGraftOld renders graft's overlay and puts someone's directory
	// at <out>.graft-old beside it.
	foreignGraftOld := func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
		out := filepath.Join(root, "overlays", "x")
		must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out})))
		write(t, out+".graft-old/data.txt", "precious\n")
		return out
	}
	cases := []struct {
		name string
		// setup returns the output directory.
		setup   func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string
		force   bool
		wantErr string
	}{
		{"the base itself (--out base/cassandra)", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			must(t, os.Rename(filepath.Join(root, "base"), filepath.Join(root, "cassandra")))
			mkdir(t, filepath.Join(root, "base"))
			must(t, os.Rename(filepath.Join(root, "cassandra"), filepath.Join(root, "base", "cassandra")))
			m.Spec.GitOps.Base = "../../base/cassandra"
			return filepath.Join(root, "base", "cassandra")
		}, true, "is the kustomize base %ROOT%/base/cassandra or lies inside it"},
		{"inside the base", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			m.Spec.GitOps.Base = ".."
			return filepath.Join(root, "base", "sub")
		}, true, "is the kustomize base %ROOT%/base or lies inside it"},
		{"a directory that holds the base", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			must(t, os.Rename(filepath.Join(root, "base"), filepath.Join(root, "ov-base")))
			mkdir(t, filepath.Join(root, "ov"))
			must(t, os.Rename(filepath.Join(root, "ov-base"), filepath.Join(root, "ov", "base")))
			m.Spec.GitOps.Base = "base"
			return filepath.Join(root, "ov")
		}, true, "holds the kustomize base %ROOT%/ov/base"},
		{"a symlink to the base", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			mkdir(t, filepath.Join(root, "overlays"))
			must(t, os.Symlink("../base", filepath.Join(root, "overlays", "x")))
			m.Spec.GitOps.Base = "../../base"
			return filepath.Join(root, "overlays", "x")
		}, true, "is the kustomize base %ROOT%/base or lies inside it"},
		{"another migration's overlay", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			out := filepath.Join(root, "overlays", "x")
			otherOverlay(t, out, m, rec)
			return out
		}, false, `is the overlay of migration "other", not "cassandra-3node"`},
		{"another migration's overlay, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			out := filepath.Join(root, "overlays", "x")
			otherOverlay(t, out, m, rec)
			return out
		}, true, `is the overlay of migration "other", not "cassandra-3node"; graft never replaces another migration's overlay, --force or not`},
		{"a directory holding another migration's overlay, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			otherOverlay(t, filepath.Join(root, "overlays", "x"), m, rec)
			m.Spec.GitOps.Base = "../base"
			return filepath.Join(root, "overlays")
		}, true, `holds the overlay of migration "other" (%ROOT%/overlays/x)`},
		{"in .git", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			write(t, filepath.Join(root, ".git", "HEAD"), "ref: refs/heads/main\n")
			m.Spec.GitOps.Base = "../../../base"
			return filepath.Join(root, ".git", "hooks", "x")
		}, true, "lies in the git directory %ROOT%/.git"},
		{"in a bare repository", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			write(t, filepath.Join(root, "gitops.git", "HEAD"), "ref: refs/heads/main\n")
			mkdir(t, filepath.Join(root, "gitops.git", "objects"))
			mkdir(t, filepath.Join(root, "gitops.git", "refs"))
			return filepath.Join(root, "gitops.git", "x")
		}, true, "lies in the git directory %ROOT%/gitops.git"},
		{"a directory holding a repository, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			out := filepath.Join(root, "overlays", "x")
			write(t, filepath.Join(out, "app", ".git", "HEAD"), "ref: refs/heads/main\n")
			return out
		}, true, "holds a git repository (%ROOT%/overlays/x/app/.git)"},
		{"inside another migration's overlay", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			otherOverlay(t, filepath.Join(root, "overlays", "x"), m, rec)
			m.Spec.GitOps.Base = "../../../base"
			return filepath.Join(root, "overlays", "x", "sub")
		}, true, `lies inside the overlay of migration "other" (%ROOT%/overlays/x)`},
		{"a symlink out of the repository", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			mkdir(t, filepath.Join(root, "repo", ".git"))
			mkdir(t, filepath.Join(root, "elsewhere"))
			testkit.CopyDir(t, filepath.Join(root, "base"), filepath.Join(root, "repo", "base"))
			must(t, os.Symlink(filepath.Join(root, "elsewhere"), filepath.Join(root, "repo", "overlays")))
			m.Spec.GitOps.Base = "../../base"
			return filepath.Join(root, "repo", "overlays", "x")
		}, true, "resolves to %ROOT%/elsewhere/x, outside the repository %ROOT%/repo that its path names"},
		{"a directory holding another migration's record, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			out := filepath.Join(root, "overlays", "x")
			other := *rec
			other.Migration = "other"
			must(t, os.MkdirAll(filepath.Join(out, "old"), 0o755))
			must(t, other.Write(filepath.Join(out, "old", "graft.lock")))
			return out
		}, true, `holds the record of migration "other" (%ROOT%/overlays/x/old/graft.lock)`},
		{"a directory holding an unreadable record, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			out := filepath.Join(root, "overlays", "x")
			write(t, filepath.Join(out, "graft.lock"), "volumes: [\n")
			return out
		}, true, "which is not a record graft can read"},
		// <out>.graft-old is where graft sets the previous overlay aside
		// while it swaps in the new one; anyone can name a directory so.
		{"a foreign <out>.graft-old beside graft's own overlay", foreignGraftOld, false, "%ROOT%/overlays/x.graft-old exists beside the output directory (--out, or spec.gitops.overlayPath) %ROOT%/overlays/x and is not an overlay of migration \"cassandra-3node\" that graft set aside"},
		{"a foreign <out>.graft-old beside graft's own overlay, --force", foreignGraftOld, true, "graft moves or deletes nothing it did not set aside, --force or not: remove or rename it"},
		{"a foreign <out>.graft-old and no <out>, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			out := filepath.Join(root, "overlays", "x")
			write(t, out+".graft-old/data.txt", "precious\n")
			return out
		}, true, "move it back (mv %ROOT%/overlays/x.graft-old %ROOT%/overlays/x)"},
		{"another migration's overlay at <out>.graft-old, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			out := filepath.Join(root, "overlays", "x")
			otherOverlay(t, out+".graft-old", m, rec)
			return out
		}, true, `is not an overlay of migration "cassandra-3node" that graft set aside`},
		{"a symlink at <out>.graft-old to this migration's overlay, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			mine := filepath.Join(root, "overlays", "mine")
			must(t, renderErr(render.Render(m, rec, render.Options{OutDir: mine})))
			out := filepath.Join(root, "overlays", "x")
			must(t, os.Symlink("mine", out+".graft-old"))
			return out
		}, true, `is not an overlay of migration "cassandra-3node" that graft set aside`},
		{"the base at <out>.graft-old, its marker forged, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			out := filepath.Join(root, "overlays", "x")
			mkdir(t, filepath.Join(root, "overlays"))
			must(t, os.Rename(filepath.Join(root, "base"), out+".graft-old"))
			k := filepath.Join(out+".graft-old", "kustomization.yaml")
			data, err := os.ReadFile(k)
			must(t, err)
			must(t, os.WriteFile(k, append([]byte(render.Marker+" Migration cassandra-3node: forged.\n"), data...), 0o644))
			m.Spec.GitOps.Base = "../x.graft-old"
			return out
		}, true, "is the kustomize base %ROOT%/overlays/x.graft-old or lies inside it"},
		{"a file, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			out := filepath.Join(root, "overlays", "x")
			write(t, out, "notes\n")
			return out
		}, true, "%ROOT%/overlays/x is a file; expected a directory"},
		{"a symlink to a file, --force", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			write(t, filepath.Join(root, "overlays", "notes"), "notes\n")
			must(t, os.Symlink("notes", filepath.Join(root, "overlays", "x")))
			return filepath.Join(root, "overlays", "x")
		}, true, "%ROOT%/overlays/x is a file; expected a directory"},
		{"a base outside the repository", func(t *testing.T, root string, m *spec.Migration, rec *record.Record) string {
			mkdir(t, filepath.Join(root, "repo", ".git"))
			m.Spec.GitOps.Base = "../../../base"
			return filepath.Join(root, "repo", "overlays", "x")
		}, true, `spec.gitops.base "../../../base" resolves to %ROOT%/base, outside the repository %ROOT%/repo`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, m, rec := copyExample(t, "cassandra-3node")
			root, err := filepath.EvalSymlinks(root)
			must(t, err)
			out := c.setup(t, root, m, rec)
			before := snapshotTree(t, root)
			_, err = render.Render(m, rec, render.Options{OutDir: out, Force: c.force})
			if err == nil {
				t.Fatal("render succeeded")
			}
			if !errors.Is(err, render.ErrInvalid) {
				t.Errorf("error is not render.ErrInvalid (it would not exit 2 as bad input): %v", err)
			}
			if want := strings.ReplaceAll(c.wantErr, "%ROOT%", root); !strings.Contains(err.Error(), want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, want)
			}
			if after := snapshotTree(t, root); after != before {
				t.Errorf("render changed the tree:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestForceReplacesAForeignDirectory: --force still does what it is for.
func TestForceReplacesAForeignDirectory(t *testing.T) {
	root, m, rec := copyExample(t, "cassandra-3node")
	out := filepath.Join(root, "overlays", "x")
	must(t, os.MkdirAll(out, 0o755))
	must(t, os.WriteFile(filepath.Join(out, "kustomization.yaml"), []byte("resources: []\n"), 0o644))
	must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out, Force: true})))
	data, err := os.ReadFile(filepath.Join(out, render.KustomizationFile))
	must(t, err)
	if !bytes.HasPrefix(data, []byte(render.Marker+" Migration cassandra-3node:")) {
		t.Errorf("the marker does not name the migration:\n%s", data)
	}
}

// renderErr drops Render's result.
func renderErr(_ *render.Result, err error) error { return err }

// must is the shared testkit.Must.
var must = testkit.Must

// TestEngineObjectValuesAreData: values with YAML syntax in them (": ",
// " #", a number-like branch) reach the Flux Kustomization and the Argo CD
// Application as the same strings.
func TestEngineObjectValuesAreData(t *testing.T) {
	const overlayPath, branch = "overlays/a: b #c", "1.0"
	for _, engine := range []string{spec.EngineFlux, spec.EngineArgoCD} {
		t.Run(engine, func(t *testing.T) {
			root, m, rec := copyExample(t, "cassandra-3node")
			g := &m.Spec.GitOps
			g.Engine, g.EngineObject, g.OverlayPath, g.BaseBranch = engine, true, overlayPath, branch
			g.SourceRef = "flux-system"
			if engine == spec.EngineArgoCD {
				g.SourceRef, g.DependsOn = "https://example.com/org/gitops.git?x=\"y\"", nil
			}
			files, err := render.Files(m, rec, filepath.Join(root, "overlays", "x"))
			if err != nil {
				t.Fatal(err)
			}
			name := render.FluxFile
			if engine == spec.EngineArgoCD {
				name = render.ArgoFile
			}
			var obj struct {
				Spec struct {
					Path   string `json:"path"`
					Source struct {
						RepoURL        string `json:"repoURL"`
						TargetRevision string `json:"targetRevision"`
						Path           string `json:"path"`
					} `json:"source"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(files[name], &obj); err != nil {
				t.Fatalf("%s does not parse: %v\n%s", name, err, files[name])
			}
			if engine == spec.EngineFlux {
				if obj.Spec.Path != "./"+overlayPath {
					t.Errorf("spec.path = %q, want %q\n%s", obj.Spec.Path, "./"+overlayPath, files[name])
				}
				return
			}
			s := obj.Spec.Source
			if s.Path != overlayPath || s.TargetRevision != branch || s.RepoURL != g.SourceRef {
				t.Errorf("source = %+v, want path %q, targetRevision %q, repoURL %q\n%s", s, overlayPath, branch, g.SourceRef, files[name])
			}
		})
	}
}

// TestMarkerReadIsBounded: graft reads the ownership marker of every
// kustomization.yaml it meets (the output directory's, its parents', those
// under a directory it would replace) only from a regular file, and only its
// first line: a FIFO there blocked render, a link to /dev/zero was read
// without end.
func TestMarkerReadIsBounded(t *testing.T) {
	for _, c := range []struct {
		name string
		make func(path string) error
	}{
		{"fifo", func(p string) error { return mkfifo(p) }},
		{"dev-zero", func(p string) error {
			if _, err := os.Stat("/dev/zero"); err != nil {
				return err
			}
			return os.Symlink("/dev/zero", p)
		}},
	} {
		for _, where := range []string{"out", "parent", "under"} {
			t.Run(c.name+"/"+where, func(t *testing.T) {
				root, m, rec := copyExample(t, "cassandra-3node")
				out := filepath.Join(root, "overlays", "x")
				k := map[string]string{
					"out":    filepath.Join(out, "kustomization.yaml"),
					"parent": filepath.Join(root, "overlays", "kustomization.yaml"),
					"under":  filepath.Join(out, "sub", "kustomization.yaml"),
				}[where]
				must(t, os.MkdirAll(filepath.Dir(k), 0o755))
				if err := c.make(k); err != nil {
					t.Skip(err)
				}
				done := make(chan error, 1)
				go func() {
					// --force walks what it would replace ("under").
					_, err := render.Render(m, rec, render.Options{OutDir: out, Force: where == "under"})
					done <- err
				}()
				select {
				case err := <-done:
					if where == "out" && (err == nil || !strings.Contains(err.Error(), "was not written by graft")) {
						t.Errorf("render over a directory whose kustomization.yaml is not graft's: %v", err)
					}
					if where != "out" && err != nil {
						t.Errorf("render: %v", err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("render still reads the marker after 20 s")
				}
			})
		}
	}
}

// TestRenderRemovesABuildLeftByAKill: a render killed during its build
// leaves .graft-render-* beside the overlay (a copy of it that git add -A
// would commit); the next render removes it, and only it: a directory of
// that name that is not this migration's build stays.
func TestRenderRemovesABuildLeftByAKill(t *testing.T) {
	root, m, rec := copyExample(t, "cassandra-3node")
	out := filepath.Join(root, "overlays", "x")
	must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out})))
	stale := filepath.Join(root, "overlays", ".graft-render-123")
	testkit.CopyDir(t, out, stale)
	foreign := filepath.Join(root, "overlays", ".graft-render-mine")
	must(t, os.MkdirAll(foreign, 0o755))
	must(t, os.WriteFile(filepath.Join(foreign, "kustomization.yaml"), []byte("resources: []\n"), 0o644))
	other := filepath.Join(root, "overlays", ".graft-render-456")
	om, orec := *m, *rec
	om.Metadata.Name, orec.Migration = "other", "other"
	must(t, renderErr(render.Render(&om, &orec, render.Options{OutDir: filepath.Join(root, "overlays", "other")})))
	testkit.CopyDir(t, filepath.Join(root, "overlays", "other"), other)
	// A build-like directory holding a file render must keep (the record
	// given by --lock, say) stays.
	recDir := filepath.Join(root, "overlays", ".graft-render-789")
	testkit.CopyDir(t, out, recDir)
	must(t, renderErr(render.Render(m, rec, render.Options{OutDir: out, Keep: []string{filepath.Join(recDir, "persistentvolumes.yaml")}})))
	if _, err := os.Stat(filepath.Join(recDir, "persistentvolumes.yaml")); err != nil {
		t.Errorf("the record given to render was removed with %s: %v", recDir, err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed render's build %s is still there (%v)", stale, err)
	}
	for _, keep := range []string{foreign, other} {
		if _, err := os.Stat(filepath.Join(keep, "kustomization.yaml")); err != nil {
			t.Errorf("%s, not this migration's build, was removed: %v", keep, err)
		}
	}
}
