package render_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
)

// provisionedExample is the 3-node example in the provisioned mode, with
// its base copied, and the base's claim template given a selector of its
// own (which the provisioned mode must remove).
func provisionedExample(t *testing.T, source string) (string, *spec.Migration) {
	t.Helper()
	root, m, _ := copyExample(t, "cassandra-3node")
	m.Spec.Target.StorageClassName = "gp3-retain"
	m.Spec.Target.Binding = spec.Binding{Mode: spec.BindingProvisioned, StorageClass: source}
	stsFile := filepath.Join(root, "base", "statefulset.yaml")
	data, err := os.ReadFile(stsFile)
	if err != nil {
		t.Fatal(err)
	}
	withSelector := strings.Replace(string(data), "        accessModes:", "        selector:\n          matchLabels:\n            app: cassandra\n        accessModes:", 1)
	if withSelector == string(data) {
		t.Fatal("the base's claim template has no accessModes line to put a selector before")
	}
	if err := os.WriteFile(stsFile, []byte(withSelector), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, m
}

// TestProvisionedBinding: the class on PVs, PVCs and templates; the PVCs
// pre-bound both ways; no selector, the base's removed; a StorageClass of
// the PVs' driver that expands, waits for the pod and retains, only when
// the spec declares it.
func TestProvisionedBinding(t *testing.T) {
	for _, source := range spec.StorageClassSources {
		t.Run(source, func(t *testing.T) {
			root, m := provisionedExample(t, source)
			_, _, rec := copyExample(t, "cassandra-3node")
			out := filepath.Join(root, "overlays", "x")
			res, err := render.Render(m, rec, render.Options{OutDir: out})
			if err != nil {
				t.Fatal(err)
			}
			objs := parseBuilt(t, res.Built)
			for _, sts := range objs.sets {
				for _, tmpl := range sts.Spec.VolumeClaimTemplates {
					if tmpl.Spec.Selector != nil {
						t.Errorf("template %s keeps a selector %v", tmpl.Name, tmpl.Spec.Selector)
					}
					if tmpl.Spec.StorageClassName == nil || *tmpl.Spec.StorageClassName != "gp3-retain" {
						t.Errorf("template %s class %v, want gp3-retain", tmpl.Name, tmpl.Spec.StorageClassName)
					}
				}
			}
			for _, pvc := range objs.pvcs {
				pv, ok := objs.pvs[pvc.Spec.VolumeName]
				if !ok || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Name != pvc.Name || pv.Spec.ClaimRef.Namespace != pvc.Namespace {
					t.Errorf("PVC %s is not pre-bound both ways (volumeName %q)", pvc.Name, pvc.Spec.VolumeName)
				}
				if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "gp3-retain" || pv.Spec.StorageClassName != "gp3-retain" {
					t.Errorf("PVC %s / PV %s: classes %v / %q, want gp3-retain", pvc.Name, pv.Name, pvc.Spec.StorageClassName, pv.Spec.StorageClassName)
				}
				if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
					t.Errorf("PV %s reclaim %s", pv.Name, pv.Spec.PersistentVolumeReclaimPolicy)
				}
			}
			sc, declared := res.Files[render.StorageClassFile]
			if declared != (source == spec.StorageClassDeclare) {
				t.Fatalf("storageclass.yaml written: %v, want %v", declared, source == spec.StorageClassDeclare)
			}
			if strings.Contains(string(res.Files[render.KustomizationFile]), render.StorageClassFile) != declared {
				t.Errorf("kustomization.yaml lists %s: %v, want %v", render.StorageClassFile, !declared, declared)
			}
			if !declared {
				return
			}
			var class storagev1.StorageClass
			mustUnmarshal(t, sc, &class)
			if class.Name != "gp3-retain" || class.Provisioner != spec.CSIDriverEBS ||
				class.AllowVolumeExpansion == nil || !*class.AllowVolumeExpansion ||
				class.VolumeBindingMode == nil || *class.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer ||
				class.ReclaimPolicy == nil || *class.ReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
				t.Errorf("StorageClass %+v", class)
			}
			if class.Parameters[render.ParamType] != "gp3" || class.Parameters[render.ParamFSType] != "ext4" {
				t.Errorf("StorageClass parameters %v, want type gp3 and fstype ext4", class.Parameters)
			}
		})
	}
}

// TestStorageClassParameters: the class makes a new member's volume like a
// migrated one: spec.target.volume's type, IOPS, throughput, encryption and
// key; Auto Mode's driver, restricted to Auto Mode nodes; Argo CD's
// protections and a wave before the claims.
func TestStorageClassParameters(t *testing.T) {
	root, m := provisionedExample(t, spec.StorageClassDeclare)
	_, _, rec := copyExample(t, "cassandra-3node")
	m.Spec.Target.Volume = spec.Volume{Type: "io2", IOPS: 8000, Encrypted: true, KMSKeyID: "alias/cassandra"}
	m.Spec.Target.Cluster = &spec.Cluster{Name: "prod", StorageDriver: spec.StorageDriverAutoMode}
	m.Spec.GitOps.Engine = spec.EngineArgoCD
	for i := range rec.Volumes {
		rec.Volumes[i].CSIDriver = spec.CSIDriverAutoMode
		rec.Volumes[i].ClusterTags = m.Spec.Target.Storage().Tags
	}
	res, err := render.Render(m, rec, render.Options{OutDir: filepath.Join(root, "overlays", "x")})
	if err != nil {
		t.Fatal(err)
	}
	var class storagev1.StorageClass
	mustUnmarshal(t, res.Files[render.StorageClassFile], &class)
	want := map[string]string{render.ParamType: "io2", render.ParamIOPS: "8000", render.ParamEncrypted: "true", render.ParamKMSKeyID: "alias/cassandra", render.ParamFSType: "ext4"}
	if !equalMaps(class.Parameters, want) {
		t.Errorf("parameters %v, want %v", class.Parameters, want)
	}
	if class.Provisioner != spec.CSIDriverAutoMode || len(class.AllowedTopologies) != 1 ||
		!slices.Equal(class.AllowedTopologies[0].MatchLabelExpressions[0].Values, []string{spec.ComputeTypeAuto}) ||
		class.AllowedTopologies[0].MatchLabelExpressions[0].Key != spec.LabelComputeType {
		t.Errorf("Auto Mode class: provisioner %s, topologies %+v", class.Provisioner, class.AllowedTopologies)
	}
	if class.Annotations[render.ArgoSyncOptions] != render.ArgoSyncOptionsKeep || class.Annotations[render.ArgoSyncWaveAnnotation] != "-2" {
		t.Errorf("Argo CD annotations %v, want the PVs' protections and wave -2", class.Annotations)
	}
}

func equalMaps(a, b map[string]string) bool {
	ka, _ := yaml.Marshal(a)
	kb, _ := yaml.Marshal(b)
	return string(ka) == string(kb)
}
