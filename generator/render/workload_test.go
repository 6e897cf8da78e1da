package render_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/workload"
	"github.com/graftctl/graft/internal/opsim"
)

// workloadStatefulSets are the StatefulSets that the operator (from its
// resource in the built overlay) or the chart (the base, read by render,
// or none: one per spec StatefulSet) creates.
func workloadStatefulSets(t *testing.T, m *spec.Migration, built []byte) map[string]appsv1.StatefulSet {
	t.Helper()
	out := map[string]appsv1.StatefulSet{}
	if m.Spec.Target.WorkloadKind() != spec.WorkloadClaimsOnly {
		sets, err := opsim.FromYAML(built)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sets {
			out[s.Name] = s
		}
		return out
	}
	if m.Spec.GitOps.Base == "" {
		for _, set := range m.Spec.Target.StatefulSets {
			replicas := int32(set.Replicas)
			sts := appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: set.Name, Namespace: m.Spec.Target.Namespace}, Spec: appsv1.StatefulSetSpec{Replicas: &replicas}}
			for _, d := range m.Spec.Source.Devices {
				sts.Spec.VolumeClaimTemplates = append(sts.Spec.VolumeClaimTemplates, corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: d.ClaimTemplate}})
			}
			out[set.Name] = sts
		}
		return out
	}
	base, err := render.Build(filepath.Join(repo, "overlays", m.Metadata.Name, filepath.FromSlash(m.Spec.GitOps.Base)))
	if err != nil {
		t.Fatal(err)
	}
	for name, sts := range parseBuilt(t, base).sets {
		sts.Namespace = m.Spec.Target.Namespace // the chart's release namespace
		out[name] = sts
	}
	return out
}

// TestWorkloadOverlays: per kind, the built overlay holds no StatefulSet;
// the operator's resource carries the protection and the binding of its
// claim specs; every rack or nodeSet is pinned to the zone of its volumes;
// and the StatefulSets the operator makes of it name the claims graft
// rendered (TestNames checks those claims one by one).
func TestWorkloadOverlays(t *testing.T) {
	for _, name := range []string{"cass-operator-6node", "eck-logging", "bitnami-claims-only"} {
		t.Run(name, func(t *testing.T) {
			m, rec := load(t, filepath.Join(repo, "testdata", "examples", name))
			built, err := render.Build(filepath.Join(repo, "overlays", name))
			must(t, err)
			objs := parseBuilt(t, built)
			if len(objs.sets) != 0 {
				t.Fatalf("the overlay of a %s workload builds StatefulSets %v", m.Spec.Target.WorkloadKind(), objs.sets)
			}
			zoneOf := map[string]string{}
			for _, v := range rec.Volumes {
				zoneOf[v.StatefulSet] = v.TargetZone
			}
			kinds := builtKinds(t, built)
			switch m.Spec.Target.WorkloadKind() {
			case spec.WorkloadClaimsOnly:
				if strings.Join(kinds, ",") != "PersistentVolume,PersistentVolumeClaim" {
					t.Errorf("claims-only overlay builds %v, want only PersistentVolumes and PersistentVolumeClaims", kinds)
				}
			case spec.WorkloadCassOperator:
				dc := builtObject(t, built, workload.CassandraDatacenterKind)
				if got := dc.Metadata.Annotations[workload.DeletePVCAnnotation]; got != "false" {
					t.Errorf("annotation %s = %q, want \"false\"", workload.DeletePVCAnnotation, got)
				}
				if dc.Metadata.Namespace != m.Spec.Target.Namespace {
					t.Errorf("CassandraDatacenter namespace %q", dc.Metadata.Namespace)
				}
			case spec.WorkloadECK:
				es := builtObject(t, built, workload.ElasticsearchKind)
				if es.Spec["volumeClaimDeletePolicy"] != workload.VolumeClaimDeletePolicyRetain {
					t.Errorf("volumeClaimDeletePolicy %v", es.Spec["volumeClaimDeletePolicy"])
				}
			}
			if m.Spec.Target.WorkloadKind() == spec.WorkloadClaimsOnly {
				return
			}
			sets, err := opsim.FromYAML(built)
			must(t, err)
			if len(sets) != len(m.Spec.Target.StatefulSets) {
				t.Fatalf("the operator makes %d StatefulSets of the built resource, the spec derives %d", len(sets), len(m.Spec.Target.StatefulSets))
			}
			for i, sts := range sets {
				want := m.Spec.Target.StatefulSets[i]
				if sts.Name != want.Name || int(*sts.Spec.Replicas) != want.Replicas {
					t.Errorf("operator StatefulSet %s x%d, spec derives %s x%d", sts.Name, *sts.Spec.Replicas, want.Name, want.Replicas)
				}
				zone := requiredZone(sts.Spec.Template.Spec.Affinity, m.Spec.Target.Storage().TopologyKey)
				if zone == "" || zone != zoneOf[sts.Name] {
					t.Errorf("StatefulSet %s pods required in zone %q, its volumes are in %q", sts.Name, zone, zoneOf[sts.Name])
				}
				for _, tmpl := range sts.Spec.VolumeClaimTemplates {
					if tmpl.Spec.StorageClassName == nil || *tmpl.Spec.StorageClassName != m.Spec.Target.StorageClassName || tmpl.Spec.Selector == nil {
						t.Errorf("%s template %s: class %v selector %v", sts.Name, tmpl.Name, tmpl.Spec.StorageClassName, tmpl.Spec.Selector)
					}
				}
			}
		})
	}
}

type object struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     map[string]any    `json:"spec"`
}

func builtKinds(t *testing.T, built []byte) []string {
	seen := map[string]bool{}
	var kinds []string
	for _, doc := range strings.Split(string(built), "\n---\n") {
		var meta struct{ Kind string }
		must(t, yaml.Unmarshal([]byte(doc), &meta))
		if !seen[meta.Kind] {
			seen[meta.Kind] = true
			kinds = append(kinds, meta.Kind)
		}
	}
	return kinds
}

func builtObject(t *testing.T, built []byte, kind string) object {
	t.Helper()
	for _, doc := range strings.Split(string(built), "\n---\n") {
		var meta struct{ Kind string }
		must(t, yaml.Unmarshal([]byte(doc), &meta))
		if meta.Kind == kind {
			var o object
			must(t, yaml.Unmarshal([]byte(doc), &o))
			return o
		}
	}
	t.Fatalf("no %s in the built overlay", kind)
	return object{}
}

// requiredZone is the one zone every required node term pins pods to ("" if
// a term does not, or they differ).
func requiredZone(a *corev1.Affinity, key string) string {
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	zone := ""
	for i, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		z := ""
		for _, e := range term.MatchExpressions {
			if e.Key == key && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
				z = e.Values[0]
			}
		}
		if z == "" || (i > 0 && z != zone) {
			return ""
		}
		zone = z
	}
	return zone
}

// TestWorkloadBaseMismatch: a base whose resource does not name the
// StatefulSets as the spec derives them, or cannot take the claims, is
// refused, naming the field, the value and what the base has; nothing is
// written.
func TestWorkloadBaseMismatch(t *testing.T) {
	cases := []struct {
		example, file, from, to, want string
	}{
		{"cass-operator-6node", "cassandradatacenter.yaml", "clusterName: Prod Cluster", "clusterName: prod", `spec.target.workload.cassandraDatacenter.clusterName: "Prod Cluster", expected "prod", spec.clusterName of the base's CassandraDatacenter dc1`},
		{"cass-operator-6node", "cassandradatacenter.yaml", "    - name: r1\n    - name: r2\n", "    - name: r2\n    - name: r1\n", `spec.target.workload.cassandraDatacenter.racks: "r1,r2,r3", expected the racks of the base's CassandraDatacenter dc1, in their order (r2,r1,r3)`},
		{"cass-operator-6node", "cassandradatacenter.yaml", "name: dc1", "name: dc2", `spec.target.workload.cassandraDatacenter.name: "dc1", expected a cassandra.datastax.com/v1beta1 CassandraDatacenter named so in the base`},
		{"cass-operator-6node", "cassandradatacenter.yaml", "      - name: commitlog\n", "      - name: commit-log\n", `spec.source.devices[1].claimTemplate: "commitlog", expected server-data or the name of an entry of spec.storageConfig.additionalVolumes with a pvcSpec`},
		{"cass-operator-6node", "cassandradatacenter.yaml", "    - name: r1\n", "    - name: r1\n      nodeAffinityLabels:\n        topology.kubernetes.io/zone: us-east-1c\n", `spec.target.workload.cassandraDatacenter.racks[0].zone: "us-east-1a", expected us-east-1c, the zone rack r1's nodeAffinityLabels pin it to`},
		{"cass-operator-6node", "cassandradatacenter.yaml", "      - name: commitlog\n        mountPath: /var/lib/cassandra/commitlog\n", "      - commitlog\n      - name: x\n        mountPath: /x\n", `spec.source.devices[1].claimTemplate: "commitlog", expected server-data or the name of an entry of spec.storageConfig.additionalVolumes with a pvcSpec`},
		{"cass-operator-6node", "cassandradatacenter.yaml", "  size: 6\n", "  size: 6\n  datacenterName: DC1\n", `spec.target.workload.cassandraDatacenter.datacenterName: "", expected "DC1", spec.datacenterName of the base's CassandraDatacenter dc1`},
		{"eck-logging", "elasticsearch.yaml", "    - name: warm\n", "    - name: cold\n", `spec.target.workload.elasticsearch.nodeSets[1].name: "warm", expected a nodeSet of the base's Elasticsearch logging (it has hot, cold)`},
		{"eck-logging", "elasticsearch.yaml", "            name: elasticsearch-data\n          spec:\n            accessModes: [ReadWriteOnce]\n            resources:\n              requests:\n                storage: 500Gi\n    - name: warm", "            name: data\n          spec:\n            accessModes: [ReadWriteOnce]\n            resources:\n              requests:\n                storage: 500Gi\n    - name: warm", `spec.target.workload.elasticsearch.nodeSets[0].claimTemplate: "elasticsearch-data", expected a volumeClaimTemplate of nodeSet hot in the base's Elasticsearch logging (it has data)`},
		{"eck-logging", "elasticsearch.yaml", "      podTemplate:\n        spec:\n", "      podTemplate:\n        spec:\n          affinity:\n            nodeAffinity:\n              requiredDuringSchedulingIgnoredDuringExecution:\n                nodeSelectorTerms:\n                  - matchExpressions:\n                      - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1b]}\n", `spec.target.workload.elasticsearch.nodeSets[0].zone: "us-east-1a", expected topology.kubernetes.io/zone In [us-east-1b] in the base's Elasticsearch logging's nodeSet hot`},
	}
	for _, c := range cases {
		if c.want == "" {
			continue
		}
		t.Run(c.example+" "+c.want[:40], func(t *testing.T) {
			root, m, rec := copyExample(t, c.example)
			p := filepath.Join(root, "base", c.file)
			data, err := os.ReadFile(p)
			must(t, err)
			if !strings.Contains(string(data), c.from) {
				t.Fatalf("%q not in %s", c.from, c.file)
			}
			must(t, os.WriteFile(p, []byte(strings.Replace(string(data), c.from, c.to, 1)), 0o644))
			out := filepath.Join(root, "overlays", "x")
			_, err = render.Render(m, rec, render.Options{OutDir: out})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant %q", err, c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a refused render left %s", out)
			}
		})
	}
}

// TestECKAffinityJoinsExistingTerms: a nodeSet whose podTemplate already
// requires other node labels keeps them, and every term gains the zone
// (terms are ORed: one without it would let pods run in any zone).
func TestECKAffinityJoinsExistingTerms(t *testing.T) {
	root, m, rec := copyExample(t, "eck-logging")
	p := filepath.Join(root, "base", "elasticsearch.yaml")
	data, err := os.ReadFile(p)
	must(t, err)
	terms := "      podTemplate:\n        spec:\n          affinity:\n            nodeAffinity:\n              requiredDuringSchedulingIgnoredDuringExecution:\n                nodeSelectorTerms:\n                  - matchExpressions:\n                      - {key: node.kubernetes.io/instance-type, operator: In, values: [r6i.2xlarge]}\n                  - matchExpressions:\n                      - {key: node.kubernetes.io/instance-type, operator: In, values: [r7i.2xlarge]}\n"
	must(t, os.WriteFile(p, []byte(strings.Replace(string(data), "      podTemplate:\n        spec:\n", terms, 1)), 0o644))
	res, err := render.Render(m, rec, render.Options{OutDir: filepath.Join(root, "overlays", "x"), DryRun: true})
	must(t, err)
	sets, err := opsim.FromYAML(res.Built)
	must(t, err)
	hot := sets[0]
	if zone := requiredZone(hot.Spec.Template.Spec.Affinity, spec.TopologyKeyKubernetes); zone != "us-east-1a" {
		t.Errorf("hot's pods required in zone %q, want us-east-1a: %+v", zone, hot.Spec.Template.Spec.Affinity)
	}
	got := hot.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(got) != 2 || len(got[1].MatchExpressions) != 2 || got[1].MatchExpressions[0].Values[0] != "r7i.2xlarge" {
		t.Errorf("terms %+v: the base's requirements must stay", got)
	}
}

// TestClaimsOnlyWithoutBase: no base at all: the overlay is PVs and PVCs
// that ask for their volumes' sizes, and it builds.
func TestClaimsOnlyWithoutBase(t *testing.T) {
	root, m, rec := copyExample(t, "bitnami-claims-only")
	must(t, os.RemoveAll(filepath.Join(root, "base")))
	m.Spec.GitOps.Base = ""
	// With either engine object (the Argo CD one orders by the
	// StatefulSets' waves, of which there are none here).
	g := &m.Spec.GitOps
	g.Engine, g.SourceRef, g.DependsOn = spec.EngineArgoCD, "https://example.com/org/gitops.git", nil
	if _, err := render.Render(m, rec, render.Options{OutDir: filepath.Join(root, "overlays", "argo")}); err != nil {
		t.Fatalf("claims-only with an Argo CD Application: %v", err)
	}
	g.Engine, g.SourceRef = spec.EngineFlux, "flux-system"
	res, err := render.Render(m, rec, render.Options{OutDir: filepath.Join(root, "overlays", "x")})
	must(t, err)
	objs := parseBuilt(t, res.Built)
	if len(objs.pvcs) != 3 || len(objs.sets) != 0 {
		t.Fatalf("built %d PVCs, %d StatefulSets", len(objs.pvcs), len(objs.sets))
	}
	for _, v := range rec.Volumes {
		pvc := objs.pvcs[v.ClaimName()]
		if want := resource.NewQuantity(int64(v.SizeGiB)<<30, resource.BinarySI); pvc.Spec.Resources.Requests.Storage().Cmp(*want) != 0 {
			t.Errorf("PVC %s asks %s, want %s", v.ClaimName(), pvc.Spec.Resources.Requests.Storage(), want)
		}
	}
	if strings.Contains(string(res.Files[render.KustomizationFile]), "../") {
		t.Errorf("kustomization.yaml names a base:\n%s", res.Files[render.KustomizationFile])
	}
}

// TestCassOperatorSplitOverlay: a datacenter large enough to be split into
// storage roots keeps its CassandraDatacenter patch in the workload root
// (the overlay directory), and the patch sets spec.size to the spec's, so
// that the operator makes exactly the members graft cloned.
func TestCassOperatorSplitOverlay(t *testing.T) {
	root, m, rec := copyExample(t, "cass-operator-6node")
	dc := m.Spec.Target.Workload.CassandraDatacenter
	dc.Size = 60
	m.Spec.Target.StatefulSets = nil
	m.Default()
	must(t, m.Validate())
	proto := rec.Volumes
	rec.Volumes = nil
	n := 0
	for _, sts := range m.Spec.Target.StatefulSets {
		for o := range sts.Replicas {
			for _, p := range proto[:2] { // commitlog and server-data of one member
				v := p
				n++
				v.StatefulSet, v.Ordinal, v.TargetZone, v.SourceZone = sts.Name, o, sts.Zone, sts.Zone
				v.SourceVolume, v.TargetVolume = fmt.Sprintf("vol-%017x", n), fmt.Sprintf("vol-%017x", n+100000)
				rec.Volumes = append(rec.Volumes, v)
			}
		}
	}
	res, err := render.Render(m, rec, render.Options{OutDir: filepath.Join(root, "overlays", "x"), DryRun: true})
	must(t, err)
	if _, ok := res.Files["storage-001/"+render.KustomizationFile]; !ok {
		t.Fatalf("60 members are not split into storage roots: %v", slices.Sorted(maps.Keys(res.Files)))
	}
	if _, ok := res.Files["cassandradatacenter-dc1.patch.yaml"]; !ok || !strings.Contains(string(res.Files[render.KustomizationFile]), "cassandradatacenter-dc1.patch.yaml") {
		t.Fatalf("the CassandraDatacenter patch is not in the workload root")
	}
	sets, err := opsim.FromYAML(res.Builds[render.WorkloadRoot])
	must(t, err)
	if len(sets) != 3 || *sets[0].Spec.Replicas != 20 || *sets[2].Spec.Replicas != 20 {
		t.Errorf("the operator makes %d StatefulSets of the patched datacenter: %+v", len(sets), sets)
	}
	objs := parseBuilt(t, res.Built)
	if len(objs.pvcs) != 120 {
		t.Errorf("%d PVCs built, want 120", len(objs.pvcs))
	}
}
