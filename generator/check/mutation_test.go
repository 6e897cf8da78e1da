package check

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/spec"
)

// The example overlays in overlays/ pass, with the record of their example.
func TestOverlaysPass(t *testing.T) {
	dirs, _ := filepath.Glob("../../overlays/*")
	if len(dirs) == 0 {
		t.Fatal("no overlays")
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			in, err := Load(context.Background(), []string{dir}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := in.AddRecord(filepath.Join("../../testdata/examples", name, lock)); err != nil {
				t.Fatal(err)
			}
			rep, err := engine(t).Check(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rep.Findings {
				t.Errorf("%s:%d %s", f.File, f.Line, f.Message)
			}
		})
	}
}

// mutation corrupts one field of one object of a built overlay.
type mutation struct {
	name string
	edit func(m *mutable)
}

// mutable is a deep copy of an input's documents, with finders.
type mutable struct {
	t    *testing.T
	docs []Document
}

// has reports whether the input holds an object of the kind.
func (m *mutable) has(kind string) bool {
	for _, d := range m.docs {
		if c, ok := d.Contents.(map[string]any); ok && c["kind"] == kind {
			return true
		}
	}
	return false
}

// selects reports whether the first StatefulSet's first claim template
// has a selector (the static binding mode); without a StatefulSet,
// whether an operator's resource is there to select graft's PVs (a
// claims-only overlay has nothing that reads their labels).
func (m *mutable) selects() bool {
	if !m.has("StatefulSet") {
		return (m.has("CassandraDatacenter") || m.has("Elasticsearch")) && str(m.first("Lock"), "binding", "mode") != "provisioned"
	}
	_, ok := dig(m.first("StatefulSet"), "spec", "volumeClaimTemplates").([]any)[0].(map[string]any)["spec"].(map[string]any)["selector"]
	return ok
}

// inStorageClass sets a field of the overlay's StorageClass, if it has one.
func (m *mutable) inStorageClass(value any, path ...string) {
	if m.has("StorageClass") {
		set(m.t, m.first("StorageClass"), value, path...)
	}
}

// first returns the first object of a kind; an overlay without one (a
// workload kind has no StatefulSet) skips the mutation.
func (m *mutable) first(kind string) map[string]any {
	for _, d := range m.docs {
		if c, ok := d.Contents.(map[string]any); ok && c["kind"] == kind {
			return c
		}
	}
	m.t.Skipf("no %s in this overlay", kind)
	return nil
}

// inFirst sets a field of the first object of a kind, if the overlay has
// one.
func (m *mutable) inFirst(kind string, value any, path ...string) {
	if m.has(kind) {
		set(m.t, m.first(kind), value, path...)
	}
}

// engineObject returns the first object of a kind whose apiVersion has
// the prefix (the Flux Kustomization or Argo CD Application beside the
// overlay), or nil.
func (m *mutable) engineObject(kind, apiPrefix string) map[string]any {
	for _, d := range m.docs {
		if c, ok := d.Contents.(map[string]any); ok && c["kind"] == kind && strings.HasPrefix(str(c, "apiVersion"), apiPrefix) {
			return c
		}
	}
	return nil
}

// workload returns graft.lock's workload, or nil.
func (m *mutable) workload() map[string]any {
	w, _ := get(m.first("Lock"), "workload").(map[string]any)
	return w
}

func (m *mutable) nth(kind string, n int) map[string]any {
	for _, d := range m.docs {
		if c, ok := d.Contents.(map[string]any); ok && c["kind"] == kind {
			if n == 0 {
				return c
			}
			n--
		}
	}
	m.t.Fatalf("no %s #%d", kind, n)
	return nil
}

func get(m any, path ...string) any {
	for _, p := range path {
		switch x := m.(type) {
		case map[string]any:
			m = x[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			if i >= len(x) {
				return nil
			}
			m = x[i]
		default:
			return nil
		}
	}
	return m
}

func str(m any, path ...string) string { s, _ := get(m, path...).(string); return s }

func num(m any, path ...string) int {
	switch v := get(m, path...).(type) {
	case float64:
		return int(v)
	case int:
		return v
	}
	return 0
}

var zoneValues = []string{"spec", "nodeAffinity", "required", "nodeSelectorTerms", "0", "matchExpressions", "0"}

// mainMount is the first StatefulSet's first container's first mount (of
// its claim template, in every fixture).
var mainMount = []string{"spec", "template", "spec", "containers", "0", "volumeMounts", "0"}

// withRootSidecar adds a container that mounts the first mount's claim
// read-write at its root, so that only the comparison with the base sees
// what a mutation does to the main container's mount.
func withRootSidecar(m *mutable) map[string]any {
	sts := m.first("StatefulSet")
	claim := str(sts, append(mainMount, "name")...)
	containers, _ := get(sts, "spec", "template", "spec", "containers").([]any)
	set(m.t, sts, append(containers, map[string]any{"name": "sidecar", "volumeMounts": []any{map[string]any{"name": claim, "mountPath": "/sidecar"}}}), "spec", "template", "spec", "containers")
	return sts
}

var mutations = []mutation{
	{"mount path moved", func(m *mutable) {
		sts := m.first("StatefulSet")
		set(m.t, sts, str(sts, append(mainMount, "mountPath")...)+"-moved", append(mainMount, "mountPath")...)
	}},
	{"mount container renamed", func(m *mutable) {
		sts := m.first("StatefulSet")
		set(m.t, sts, str(sts, "spec", "template", "spec", "containers", "0", "name")+"-next", "spec", "template", "spec", "containers", "0", "name")
	}},
	{"mount subPath beside a root sidecar", func(m *mutable) { set(m.t, withRootSidecar(m), "data", append(mainMount, "subPath")...) }},
	{"mount hidden by another volume", func(m *mutable) {
		sts := m.first("StatefulSet")
		mounts, _ := get(sts, "spec", "template", "spec", "containers", "0", "volumeMounts").([]any)
		over := map[string]any{"name": "scratch", "mountPath": str(sts, append(mainMount, "mountPath")...) + "/data"}
		set(m.t, sts, append(mounts, over), "spec", "template", "spec", "containers", "0", "volumeMounts")
	}},
	{"init container mounts the claim", func(m *mutable) {
		sts := m.first("StatefulSet")
		wipe := map[string]any{"name": "wipe", "image": "busybox", "volumeMounts": []any{map[string]any{"name": str(sts, append(mainMount, "name")...), "mountPath": "/data"}}}
		set(m.t, sts, []any{wipe}, "spec", "template", "spec", "initContainers")
	}},
	{"mount read-only beside a root sidecar", func(m *mutable) { set(m.t, withRootSidecar(m), true, append(mainMount, "readOnly")...) }},
	{"pv zone", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), []any{"eu-north-1z"}, append(zoneValues, "values")...)
	}},
	{"pv zone key", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), "kubernetes.io/hostname", append(zoneValues, "key")...)
	}},
	{"pv zone operator", func(m *mutable) { set(m.t, m.first("PersistentVolume"), "NotIn", append(zoneValues, "operator")...) }},
	{"pv node affinity removed", func(m *mutable) { del(m.t, m.first("PersistentVolume"), "spec", "nodeAffinity") }},
	{"pv name", func(m *mutable) {
		pv := m.first("PersistentVolume")
		set(m.t, pv, str(pv, "metadata", "name")+"-x", "metadata", "name")
	}},
	{"pvc name", func(m *mutable) {
		pvc := m.first("PersistentVolumeClaim")
		set(m.t, pvc, str(pvc, "metadata", "name")+"x", "metadata", "name")
	}},
	{"pvc ordinal", func(m *mutable) {
		pvc := m.first("PersistentVolumeClaim")
		name := str(pvc, "metadata", "name")
		i := strings.LastIndex(name, "-")
		set(m.t, pvc, name[:i]+"-99", "metadata", "name")
	}},
	{"pvc namespace", func(m *mutable) { set(m.t, m.first("PersistentVolumeClaim"), "default", "metadata", "namespace") }},
	{"claimRef name", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), str(m.nth("PersistentVolumeClaim", 1), "metadata", "name"), "spec", "claimRef", "name")
	}},
	{"claimRef namespace", func(m *mutable) { set(m.t, m.first("PersistentVolume"), "default", "spec", "claimRef", "namespace") }},
	{"claimRef uid", func(m *mutable) { set(m.t, m.first("PersistentVolume"), "0b0e1f5a", "spec", "claimRef", "uid") }},
	{"claimRef removed", func(m *mutable) { del(m.t, m.first("PersistentVolume"), "spec", "claimRef") }},
	{"volumeName swapped", func(m *mutable) {
		set(m.t, m.first("PersistentVolumeClaim"), str(m.nth("PersistentVolumeClaim", 1), "spec", "volumeName"), "spec", "volumeName")
	}},
	{"volumeName removed", func(m *mutable) { del(m.t, m.first("PersistentVolumeClaim"), "spec", "volumeName") }},
	{"pv storage class", func(m *mutable) { set(m.t, m.first("PersistentVolume"), "gp3", "spec", "storageClassName") }},
	{"pvc storage class removed", func(m *mutable) { del(m.t, m.first("PersistentVolumeClaim"), "spec", "storageClassName") }},
	{"template storage class", func(m *mutable) {
		set(m.t, m.first("StatefulSet"), "gp3", "spec", "volumeClaimTemplates", "0", "spec", "storageClassName")
	}},
	{"pv capacity", func(m *mutable) { set(m.t, m.first("PersistentVolume"), "1Gi", "spec", "capacity", "storage") }},
	{"pvc request", func(m *mutable) {
		set(m.t, m.first("PersistentVolumeClaim"), "100Ti", "spec", "resources", "requests", "storage")
	}},
	{"pv access mode", func(m *mutable) { set(m.t, m.first("PersistentVolume"), []any{"ReadWriteMany"}, "spec", "accessModes") }},
	{"pvc volume mode", func(m *mutable) { set(m.t, m.first("PersistentVolumeClaim"), "Block", "spec", "volumeMode") }},
	{"reclaim policy", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), "Delete", "spec", "persistentVolumeReclaimPolicy")
	}},
	{"retention whenScaled", func(m *mutable) {
		set(m.t, m.first("StatefulSet"), "Delete", "spec", "persistentVolumeClaimRetentionPolicy", "whenScaled")
	}},
	{"pvc engine annotations", func(m *mutable) { del(m.t, m.first("PersistentVolumeClaim"), "metadata", "annotations") }},
	// A PV's labels bind it only where a selector reads them (the static
	// mode); a provisioned overlay pre-binds by name alone.
	{"pv selector label", func(m *mutable) {
		if m.selects() {
			set(m.t, m.first("PersistentVolume"), "other", "metadata", "labels", spec.LabelClaimTemplate)
		}
	}},
	{"pv migration label", func(m *mutable) {
		if m.selects() {
			set(m.t, m.first("PersistentVolume"), "other", "metadata", "labels", spec.LabelMigration)
		}
	}},
	{"template selector set", func(m *mutable) {
		set(m.t, m.first("StatefulSet"), map[string]any{"matchLabels": map[string]any{"app": "cassandra"}}, "spec", "volumeClaimTemplates", "0", "spec", "selector")
	}},
	{"storage class binds immediately", func(m *mutable) { m.inStorageClass("Immediate", "volumeBindingMode") }},
	{"storage class without expansion", func(m *mutable) { m.inStorageClass(false, "allowVolumeExpansion") }},
	{"storage class of another driver", func(m *mutable) { m.inStorageClass("kubernetes.io/aws-ebs", "provisioner") }},
	{"storage class renamed", func(m *mutable) { m.inStorageClass("gp2", "metadata", "name") }},
	{"storage class of the record renamed", func(m *mutable) {
		if m.has("StorageClass") {
			set(m.t, m.first("Lock"), "gp2", "binding", "storageClassName")
		}
	}},
	{"template selector removed", func(m *mutable) {
		del(m.t, m.first("StatefulSet"), "spec", "volumeClaimTemplates", "0", "spec", "selector")
	}},
	{"volumeHandle not recorded", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), "vol-0fffffffffffffff0", "spec", "csi", "volumeHandle")
	}},
	{"volumeHandle url", func(m *mutable) {
		pv := m.first("PersistentVolume")
		set(m.t, pv, "aws://x/"+str(pv, "spec", "csi", "volumeHandle"), "spec", "csi", "volumeHandle")
	}},
	{"volumeHandle source volume", func(m *mutable) {
		pv := m.first("PersistentVolume")
		set(m.t, pv, str(pv, "metadata", "annotations", spec.AnnotationSourceVolume), "spec", "csi", "volumeHandle")
	}},
	{"csi driver", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), "kubernetes.io/aws-ebs", "spec", "csi", "driver")
	}},
	{"fsType", func(m *mutable) { set(m.t, m.first("PersistentVolume"), "btrfs", "spec", "csi", "fsType") }},
	{"sts replicas", func(m *mutable) {
		sts := m.first("StatefulSet")
		set(m.t, sts, float64(num(sts, "spec", "replicas")+1), "spec", "replicas")
	}},
	{"sts ordinals start", func(m *mutable) {
		sts := m.first("StatefulSet")
		set(m.t, sts, float64(num(sts, "spec", "ordinals", "start")+1), "spec", "ordinals", "start")
	}},
	{"kustomization commonLabels", func(m *mutable) {
		set(m.t, m.first("Kustomization"), map[string]any{"app": "cassandra"}, "commonLabels")
	}},
	{"record target zone", func(m *mutable) {
		set(m.t, m.first("Lock"), "eu-north-1z", "volumes", "0", "targetZone")
	}},
	{"record target volume", func(m *mutable) {
		set(m.t, m.first("Lock"), "vol-0eeeeeeeeeeeeeee0", "volumes", "0", "targetVolume")
	}},
	{"record fsType", func(m *mutable) { set(m.t, m.first("Lock"), "zfs", "volumes", "0", "fsType") }},
	{"record size", func(m *mutable) { set(m.t, m.first("Lock"), float64(1), "volumes", "0", "sizeGiB") }},
	// What the input leaves out: the record must be delivered in full.
	{"record only", func(m *mutable) { m.keep("Lock") }},
	{"service only", func(m *mutable) { m.keep("Lock", "Service") }},
	{"storage dropped", func(m *mutable) { m.keep("Lock", "Service", "StatefulSet", "Kustomization") }},
	// (A claims-only overlay has no workload of its own to drop: the chart
	// may be released from anywhere.)
	{"statefulsets dropped", func(m *mutable) {
		if m.has("StatefulSet") || m.has("CassandraDatacenter") || m.has("Elasticsearch") {
			m.keep("Lock", "PersistentVolume", "PersistentVolumeClaim", "Kustomization")
		}
	}},
	{"one pv dropped", func(m *mutable) { m.drop(m.first("PersistentVolume")) }},
	{"record emptied", func(m *mutable) { set(m.t, m.first("Lock"), []any{}, "volumes") }},
	{"sts duplicated", func(m *mutable) {
		m.docs = append(m.docs, Document{Path: "extra.yaml", Contents: clone(m.t, m.first("StatefulSet"))})
	}},
	{"claim template duplicated", func(m *mutable) {
		sts := m.first("StatefulSet")
		t := clone(m.t, get(sts, "spec", "volumeClaimTemplates", "0").(map[string]any))
		del(m.t, t, "spec", "selector")
		set(m.t, sts, append(get(sts, "spec", "volumeClaimTemplates").([]any), t), "spec", "volumeClaimTemplates")
	}},
	{"sts replicas reduced", func(m *mutable) {
		sts := m.first("StatefulSet")
		set(m.t, sts, float64(num(sts, "spec", "replicas")-1), "spec", "replicas")
	}},
	// The member starts without its data, or cannot write it.
	{"container mounts removed", func(m *mutable) {
		del(m.t, m.first("StatefulSet"), "spec", "template", "spec", "containers", "0", "volumeMounts")
	}},
	{"mount readOnly", func(m *mutable) {
		set(m.t, m.first("StatefulSet"), true, "spec", "template", "spec", "containers", "0", "volumeMounts", "0", "readOnly")
	}},
	{"mount subPath", func(m *mutable) {
		set(m.t, m.first("StatefulSet"), "data", "spec", "template", "spec", "containers", "0", "volumeMounts", "0", "subPath")
	}},
	{"mount subPathExpr", func(m *mutable) {
		set(m.t, m.first("StatefulSet"), "$(POD_NAME)", "spec", "template", "spec", "containers", "0", "volumeMounts", "0", "subPathExpr")
	}},
	{"pv partition", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), map[string]any{"partition": "1"}, "spec", "csi", "volumeAttributes")
	}},
	{"sts custom resource", func(m *mutable) { set(m.t, m.first("StatefulSet"), "example.com/v1", "apiVersion") }},
	{"pv csi readOnly", func(m *mutable) { set(m.t, m.first("PersistentVolume"), true, "spec", "csi", "readOnly") }},
	{"pv mountOptions ro", func(m *mutable) { set(m.t, m.first("PersistentVolume"), []any{"noatime,ro"}, "spec", "mountOptions") }},
	{"pv mount-options annotation ro", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), "ro", "metadata", "annotations", "volume.beta.kubernetes.io/mount-options")
	}},
	{"block everywhere", func(m *mutable) {
		for _, d := range m.docs {
			c, _ := d.Contents.(map[string]any)
			switch c["kind"] {
			case "PersistentVolume", "PersistentVolumeClaim":
				set(m.t, c, "Block", "spec", "volumeMode")
			case "StatefulSet":
				for i := range get(c, "spec", "volumeClaimTemplates").([]any) {
					set(m.t, c, "Block", "spec", "volumeClaimTemplates", fmt.Sprint(i), "spec", "volumeMode")
				}
			}
		}
	}},
	{"pvc dataSource", func(m *mutable) {
		set(m.t, m.first("PersistentVolumeClaim"), map[string]any{"kind": "PersistentVolumeClaim", "name": "seed"}, "spec", "dataSource")
	}},
	{"template dataSourceRef", func(m *mutable) {
		set(m.t, m.first("StatefulSet"), map[string]any{"kind": "PersistentVolumeClaim", "name": "seed"}, "spec", "volumeClaimTemplates", "0", "spec", "dataSourceRef")
	}},
	{"claimRef kind", func(m *mutable) { set(m.t, m.first("PersistentVolume"), "Pod", "spec", "claimRef", "kind") }},
	// The workload kinds (issue 15): the operator's resource and the
	// record's workload.
	{"delete-pvc annotation removed", func(m *mutable) {
		if m.has("CassandraDatacenter") {
			del(m.t, m.first("CassandraDatacenter"), "metadata", "annotations", "cassandra.datastax.com/delete-pvc")
		}
	}},
	{"delete-pvc annotation true", func(m *mutable) {
		m.inFirst("CassandraDatacenter", "true", "metadata", "annotations", "cassandra.datastax.com/delete-pvc")
	}},
	{"delete-pvc annotation False", func(m *mutable) {
		m.inFirst("CassandraDatacenter", "False", "metadata", "annotations", "cassandra.datastax.com/delete-pvc")
	}},
	{"volumeClaimDeletePolicy default", func(m *mutable) {
		if m.has("Elasticsearch") {
			del(m.t, m.first("Elasticsearch"), "spec", "volumeClaimDeletePolicy")
		}
	}},
	{"volumeClaimDeletePolicy with cluster deletion", func(m *mutable) {
		m.inFirst("Elasticsearch", "DeleteOnScaledownAndClusterDeletion", "spec", "volumeClaimDeletePolicy")
	}},
	{"rack zone changed", func(m *mutable) {
		m.inFirst("CassandraDatacenter", "us-east-1z", "spec", "racks", "0", "nodeAffinityLabels", spec.TopologyKeyKubernetes)
	}},
	{"rack zone removed", func(m *mutable) {
		if m.has("CassandraDatacenter") {
			del(m.t, m.first("CassandraDatacenter"), "spec", "racks", "0", "nodeAffinityLabels")
		}
	}},
	{"nodeSet zone changed", func(m *mutable) {
		m.inFirst("Elasticsearch", []any{"us-east-1z"}, "spec", "nodeSets", "0", "podTemplate", "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", "0", "matchExpressions", "0", "values")
	}},
	{"nodeSet pod template removed", func(m *mutable) {
		if m.has("Elasticsearch") {
			del(m.t, m.first("Elasticsearch"), "spec", "nodeSets", "0", "podTemplate")
		}
	}},
	{"rack renamed", func(m *mutable) { m.inFirst("CassandraDatacenter", "r9", "spec", "racks", "0", "name") }},
	{"nodeSet renamed", func(m *mutable) { m.inFirst("Elasticsearch", "data-z", "spec", "nodeSets", "0", "name") }},
	{"resource renamed", func(m *mutable) {
		for _, k := range []string{"CassandraDatacenter", "Elasticsearch"} {
			if m.has(k) {
				set(m.t, m.first(k), str(m.first(k), "metadata", "name")+"x", "metadata", "name")
			}
		}
	}},
	{"resource dropped", func(m *mutable) {
		for _, k := range []string{"CassandraDatacenter", "Elasticsearch"} {
			if m.has(k) {
				m.drop(m.first(k))
			}
		}
	}},
	{"resource cluster name", func(m *mutable) {
		if m.has("CassandraDatacenter") {
			dc := m.first("CassandraDatacenter")
			set(m.t, dc, strings.ToLower(str(dc, "spec", "clusterName")), "spec", "clusterName")
		}
	}},
	{"resource status datacenter name", func(m *mutable) {
		m.inFirst("CassandraDatacenter", map[string]any{"datacenterName": "dc-renamed"}, "status")
	}},
	{"size reduced", func(m *mutable) {
		if m.has("CassandraDatacenter") {
			dc := m.first("CassandraDatacenter")
			set(m.t, dc, float64(num(dc, "spec", "size")-1), "spec", "size")
		}
	}},
	{"size grown", func(m *mutable) {
		if m.has("CassandraDatacenter") {
			dc := m.first("CassandraDatacenter")
			set(m.t, dc, float64(num(dc, "spec", "size")+1), "spec", "size")
		}
	}},
	{"size a string", func(m *mutable) { m.inFirst("CassandraDatacenter", "3", "spec", "size") }},
	{"nodeSet count reduced", func(m *mutable) {
		if m.has("Elasticsearch") {
			es := m.first("Elasticsearch")
			set(m.t, es, float64(num(es, "spec", "nodeSets", "0", "count")-1), "spec", "nodeSets", "0", "count")
		}
	}},
	{"nodeSet count grown", func(m *mutable) {
		if m.has("Elasticsearch") {
			es := m.first("Elasticsearch")
			set(m.t, es, float64(num(es, "spec", "nodeSets", "0", "count")+1), "spec", "nodeSets", "0", "count")
		}
	}},
	{"claim spec class", func(m *mutable) {
		m.inFirst("CassandraDatacenter", "gp3", "spec", "storageConfig", "cassandraDataVolumeClaimSpec", "storageClassName")
		m.inFirst("Elasticsearch", "gp3", "spec", "nodeSets", "0", "volumeClaimTemplates", "0", "spec", "storageClassName")
	}},
	{"claim spec selector removed", func(m *mutable) {
		if m.has("CassandraDatacenter") {
			del(m.t, m.first("CassandraDatacenter"), "spec", "storageConfig", "cassandraDataVolumeClaimSpec", "selector")
		}
		if m.has("Elasticsearch") {
			del(m.t, m.first("Elasticsearch"), "spec", "nodeSets", "0", "volumeClaimTemplates", "0", "spec", "selector")
		}
	}},
	{"claim spec renamed", func(m *mutable) {
		m.inFirst("Elasticsearch", "data", "spec", "nodeSets", "0", "volumeClaimTemplates", "0", "metadata", "name")
	}},
	// The operator targets' red team (h-redop3): what lets an operator
	// run a member without its migrated data, in another zone, or as
	// another node.
	{"orchestration paused", func(m *mutable) {
		m.inFirst("Elasticsearch", "true", "metadata", "annotations", "eck.k8s.elastic.co/pause-orchestration")
	}},
	{"StatefulSet for ECK to re-create", func(m *mutable) {
		m.inFirst("Elasticsearch", `{"metadata":{"name":"x-es-data"},"spec":{"replicas":1}}`, "metadata", "annotations", "elasticsearch.k8s.elastic.co/recreate-x-es-data")
	}},
	{"nodeSet zoneAwareness of another zone", func(m *mutable) {
		m.inFirst("Elasticsearch", map[string]any{"zones": []any{"us-east-1z"}}, "spec", "nodeSets", "0", "zoneAwareness")
	}},
	{"data directory elsewhere", func(m *mutable) {
		if m.has("CassandraDatacenter") {
			dc := m.first("CassandraDatacenter")
			set(m.t, dc, []any{"/data"}, "spec", "config", "cassandra-yaml", "data_file_directories")
		}
		m.inFirst("Elasticsearch", "/data", "spec", "nodeSets", "0", "config", "path.data")
	}},
	{"Elasticsearch v1beta1 recorded as claims-only", func(m *mutable) {
		if w := m.workload(); w != nil && m.has("Elasticsearch") {
			es := m.first("Elasticsearch")
			set(m.t, es, "elasticsearch.k8s.elastic.co/v1beta1", "apiVersion")
			del(m.t, es, "spec", "volumeClaimDeletePolicy")
			w["kind"] = "claims-only"
			delete(w, "resource")
		}
	}},
	{"operator pod volume of a delivered claim", func(m *mutable) {
		if !m.has("PersistentVolumeClaim") {
			return
		}
		vol := []any{map[string]any{"name": "old", "persistentVolumeClaim": map[string]any{"claimName": str(m.first("PersistentVolumeClaim"), "metadata", "name")}}}
		m.inFirst("CassandraDatacenter", vol, "spec", "podTemplateSpec", "spec", "volumes")
		m.inFirst("Elasticsearch", vol, "spec", "nodeSets", "0", "podTemplate", "spec", "volumes")
	}},
	{"replace nodes", func(m *mutable) {
		m.inFirst("CassandraDatacenter", []any{"member-0"}, "spec", "replaceNodes")
	}},
	{"datacenter nodeSelector of another zone", func(m *mutable) {
		m.inFirst("CassandraDatacenter", map[string]any{spec.TopologyKeyKubernetes: "us-east-1z"}, "spec", "nodeSelector")
	}},
	{"rack or nodeSet twice", func(m *mutable) {
		for k, list := range map[string]string{"CassandraDatacenter": "racks", "Elasticsearch": "nodeSets"} {
			if m.has(k) {
				o := m.first(k)
				groups := dig(o, "spec", list).([]any)
				set(m.t, o, append(groups, groups[0]), "spec", list)
			}
		}
	}},
	{"data mount moved", func(m *mutable) {
		m.inFirst("CassandraDatacenter", map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
			"name": "cassandra", "volumeMounts": []any{map[string]any{"name": "server-data", "mountPath": "/data"}},
		}}}}, "spec", "podTemplateSpec")
		m.inFirst("Elasticsearch", []any{map[string]any{
			"name": "elasticsearch", "volumeMounts": []any{map[string]any{"name": "elasticsearch-data", "mountPath": "/data"}},
		}}, "spec", "nodeSets", "0", "podTemplate", "spec", "containers")
	}},
	{"data hidden by another volume", func(m *mutable) {
		if m.has("CassandraDatacenter") {
			dc := m.first("CassandraDatacenter")
			avs, _ := dig(dc, "spec", "storageConfig", "additionalVolumes").([]any)
			set(m.t, dc, append(avs, map[string]any{"name": "scratch", "mountPath": "/var/lib/cassandra/data", "volumeSource": map[string]any{"emptyDir": map[string]any{}}}), "spec", "storageConfig", "additionalVolumes")
		}
		m.inFirst("Elasticsearch", []any{map[string]any{
			"name": "elasticsearch", "volumeMounts": []any{map[string]any{"name": "scratch", "mountPath": "/usr/share/elasticsearch/data"}},
		}}, "spec", "nodeSets", "0", "podTemplate", "spec", "containers")
	}},
	{"resource replaced by Argo CD", func(m *mutable) {
		for _, k := range []string{"CassandraDatacenter", "Elasticsearch"} {
			m.inFirst(k, "Replace=true", "metadata", "annotations", "argocd.argoproj.io/sync-options")
		}
	}},
	{"record workload removed", func(m *mutable) {
		if m.workload() != nil {
			del(m.t, m.first("Lock"), "workload")
		}
	}},
	{"record kind changed", func(m *mutable) {
		if w := m.workload(); w != nil {
			next := map[string]string{"cass-operator": "eck", "eck": "claims-only", "claims-only": "cass-operator"}
			w["kind"] = next[w["kind"].(string)]
		}
	}},
	{"record kind claims-only", func(m *mutable) {
		if w := m.workload(); w != nil && w["kind"] != "claims-only" {
			// Recorded as a chart's claims, with nothing else to betray it.
			w["kind"] = "claims-only"
			delete(w, "resource")
			delete(w, "clusterName")
		}
	}},
	{"record kind statefulset", func(m *mutable) {
		if w := m.workload(); w != nil {
			w["kind"] = "statefulset"
		}
	}},
	{"record kind unknown", func(m *mutable) {
		if w := m.workload(); w != nil {
			w["kind"] = "helm"
		}
	}},
	{"record group statefulSet renamed", func(m *mutable) {
		if w := m.workload(); w != nil {
			g := get(w, "groups", "0").(map[string]any)
			g["statefulSet"] = g["statefulSet"].(string) + "-0"
		}
	}},
	{"record group zone", func(m *mutable) {
		if w := m.workload(); w != nil {
			get(w, "groups", "0").(map[string]any)["zone"] = "us-east-1z"
		}
	}},
	{"record group claim template", func(m *mutable) {
		if w := m.workload(); w != nil {
			get(w, "groups", "0").(map[string]any)["claimTemplates"] = []any{"other"}
		}
	}},
	{"record cluster name", func(m *mutable) {
		if w := m.workload(); w != nil && w["clusterName"] != nil {
			w["clusterName"] = "Other"
		}
	}},
	{"record resource renamed", func(m *mutable) {
		if w := m.workload(); w != nil && w["resource"] != nil {
			r := w["resource"].(map[string]any)
			r["name"] = r["name"].(string) + "x"
		}
	}},
	// The engine object beside the overlay transforms what it applies.
	{"engine transforms the overlay", func(m *mutable) {
		if app := m.engineObject("Application", "argoproj.io/"); app != nil {
			set(m.t, app, map[string]any{"commonAnnotations": map[string]any{"argocd.argoproj.io/sync-options": "Prune=true"}}, "spec", "source", "kustomize")
		}
		if ks := m.engineObject("Kustomization", "kustomize.toolkit.fluxcd.io/"); ks != nil {
			set(m.t, ks, map[string]any{"annotations": map[string]any{"kustomize.toolkit.fluxcd.io/prune": "enabled"}}, "spec", "commonMetadata")
		}
	}},
	{"engine renders with another tool", func(m *mutable) {
		if app := m.engineObject("Application", "argoproj.io/"); app != nil {
			set(m.t, app, map[string]any{"recurse": true}, "spec", "source", "directory")
		}
		if ks := m.engineObject("Kustomization", "kustomize.toolkit.fluxcd.io/"); ks != nil {
			set(m.t, ks, "other", "spec", "targetNamespace")
		}
	}},
	// The engine object applies another directory than the one checked
	// (GRAFT081), or one the gate cannot resolve.
	{"engine applies another directory", func(m *mutable) {
		if app := m.engineObject("Application", "argoproj.io/"); app != nil {
			set(m.t, app, "overlays/elsewhere", "spec", "source", "path")
		}
		if ks := m.engineObject("Kustomization", "kustomize.toolkit.fluxcd.io/"); ks != nil {
			set(m.t, ks, "./overlays/elsewhere", "spec", "path")
		}
	}},
	{"engine path through ..", func(m *mutable) {
		if app := m.engineObject("Application", "argoproj.io/"); app != nil {
			set(m.t, app, "x/../"+str(app, "spec", "source", "path"), "spec", "source", "path")
		}
		if ks := m.engineObject("Kustomization", "kustomize.toolkit.fluxcd.io/"); ks != nil {
			set(m.t, ks, "./x/../"+str(ks, "spec", "path"), "spec", "path")
		}
	}},
	{"engine path a tail of the overlay's", func(m *mutable) {
		if app := m.engineObject("Application", "argoproj.io/"); app != nil {
			set(m.t, app, filepath.Base(str(app, "spec", "source", "path")), "spec", "source", "path")
		}
		if ks := m.engineObject("Kustomization", "kustomize.toolkit.fluxcd.io/"); ks != nil {
			set(m.t, ks, "./"+filepath.Base(str(ks, "spec", "path")), "spec", "path")
		}
	}},
	// Flux skips the object, or keeps the cluster's (GRAFT082).
	{"pv not reconciled by Flux", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), "Disabled", "metadata", "annotations", "kustomize.toolkit.fluxcd.io/reconcile")
	}},
	{"pvc applied by Flux only if absent", func(m *mutable) {
		set(m.t, m.first("PersistentVolumeClaim"), "IfNotPresent", "metadata", "labels", "kustomize.toolkit.fluxcd.io/ssa")
	}},
	{"engine object not reconciled", func(m *mutable) {
		if ks := m.engineObject("Kustomization", "kustomize.toolkit.fluxcd.io/"); ks != nil {
			set(m.t, ks, "Ignore", "metadata", "annotations", "kustomize.toolkit.fluxcd.io/ssa")
		}
	}},
	// Argo CD drops what the cluster's API does not know (GRAFT082).
	{"pv applied without validation", func(m *mutable) {
		pv := m.first("PersistentVolume")
		if o := str(pv, "metadata", "annotations", "argocd.argoproj.io/sync-options"); o != "" {
			set(m.t, pv, o+",Validate=false", "metadata", "annotations", "argocd.argoproj.io/sync-options")
		}
		if app := m.engineObject("Application", "argoproj.io/"); app != nil {
			opts, _ := get(app, "spec", "syncPolicy", "syncOptions").([]any)
			set(m.t, app, append(opts, "Validate=false"), "spec", "syncPolicy", "syncOptions")
		}
	}},
	// The operator runs no member (GRAFT075).
	{"operator runs no member", func(m *mutable) {
		m.inFirst("CassandraDatacenter", true, "spec", "stopped")
		m.inFirst("Elasticsearch", "false", "metadata", "annotations", "eck.k8s.elastic.co/managed")
	}},
	// What the scheduler and the PV controller read besides graft's fields.
	{"pv zone label of another zone", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), "eu-north-1z", "metadata", "labels", "topology.kubernetes.io/zone")
	}},
	{"pv second zone on the beta key", func(m *mutable) {
		pv := m.first("PersistentVolume")
		exprs := get(pv, zoneValues[:len(zoneValues)-1]...).([]any)
		beta := map[string]any{"key": "failure-domain.beta.kubernetes.io/zone", "operator": "In", "values": []any{"eu-north-1z"}}
		set(m.t, pv, append(exprs, beta), zoneValues[:len(zoneValues)-1]...)
	}},
	{"pod nodeName", func(m *mutable) {
		set(m.t, m.first("StatefulSet"), "ip-10-0-0-1.ec2.internal", "spec", "template", "spec", "nodeName")
	}},
	{"operator pod template nodeName", func(m *mutable) {
		m.inFirst("CassandraDatacenter", "ip-10-0-0-1.ec2.internal", "spec", "podTemplateSpec", "spec", "nodeName")
		m.inFirst("Elasticsearch", "ip-10-0-0-1.ec2.internal", "spec", "nodeSets", "0", "podTemplate", "spec", "nodeName")
	}},
	{"pod affinity empty term", func(m *mutable) {
		set(m.t, m.first("StatefulSet"), []any{map[string]any{}}, "spec", "template", "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	}},
	{"pvc marked bound", func(m *mutable) {
		set(m.t, m.first("PersistentVolumeClaim"), "yes", "metadata", "annotations", "pv.kubernetes.io/bind-completed")
	}},
	{"record claim twice", func(m *mutable) {
		lock := m.first("Lock")
		vols := get(lock, "volumes").([]any)
		again := clone(m.t, vols[0].(map[string]any))
		again["targetZone"] = "eu-north-1z"
		set(m.t, lock, append(vols, again), "volumes")
	}},
	{"pv forced by a Flux label", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), "Enabled", "metadata", "labels", "kustomize.toolkit.fluxcd.io/force")
	}},
	{"pvc as an Argo CD hook", func(m *mutable) {
		set(m.t, m.first("PersistentVolumeClaim"), "PreSync", "metadata", "annotations", "argocd.argoproj.io/hook")
	}},
	{"pv as a Helm hook", func(m *mutable) {
		set(m.t, m.first("PersistentVolume"), "pre-install", "metadata", "annotations", "helm.sh/hook")
	}},
	{"pod volume of a delivered claim", func(m *mutable) {
		sts := m.first("StatefulSet")
		vols, _ := get(sts, "spec", "template", "spec", "volumes").([]any)
		claim := map[string]any{"name": "backup", "persistentVolumeClaim": map[string]any{"claimName": str(m.first("PersistentVolumeClaim"), "metadata", "name")}}
		set(m.t, sts, append(vols, claim), "spec", "template", "spec", "volumes")
	}},
	// Applied where the applier defaults to: every object in "default" as
	// the rules read an unstated namespace, the claims' PVs included.
	{"namespaces unstated", func(m *mutable) {
		for _, d := range m.docs {
			c, _ := d.Contents.(map[string]any)
			switch c["kind"] {
			case "PersistentVolumeClaim", "StatefulSet", "CassandraDatacenter", "Elasticsearch":
				del(m.t, c, "metadata", "namespace")
			case "PersistentVolume":
				set(m.t, c, "default", "spec", "claimRef", "namespace")
			}
		}
	}},
	// More members than any input holds claims for (denied at once, not
	// after enumerating two billion claims).
	{"members beyond any input", func(m *mutable) {
		m.inFirst("StatefulSet", float64(2000000000), "spec", "replicas")
		m.inFirst("CassandraDatacenter", float64(2000000000), "spec", "size")
		if m.has("Elasticsearch") {
			set(m.t, m.first("Elasticsearch"), float64(2000000000), "spec", "nodeSets", "0", "count")
		}
	}},
	// Argo CD's waves as gitops-engine reads them.
	{"pv wave Argo CD cannot read", func(m *mutable) {
		pv := m.first("PersistentVolume")
		if w := str(pv, "metadata", "annotations", "argocd.argoproj.io/sync-wave"); w != "" {
			set(m.t, pv, w+".0", "metadata", "annotations", "argocd.argoproj.io/sync-wave")
		}
	}},
	{"sts wave from the Helm hook weight", func(m *mutable) {
		if str(m.first("PersistentVolume"), "metadata", "annotations", "argocd.argoproj.io/sync-wave") != "" {
			for _, k := range []string{"StatefulSet", "CassandraDatacenter", "Elasticsearch"} {
				m.inFirst(k, "-9", "metadata", "annotations", "helm.sh/hook-weight")
			}
		}
	}},
	{"claim owned", func(m *mutable) {
		owner := []any{map[string]any{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "cassandra", "uid": "0b0e1f5a-0000-4000-8000-000000000000"}}
		set(m.t, m.first("PersistentVolumeClaim"), owner, "metadata", "ownerReferences")
	}},
	{"claimRef resourceVersion", func(m *mutable) { set(m.t, m.first("PersistentVolume"), "1", "spec", "claimRef", "resourceVersion") }},
	{"pvc beta storage class", func(m *mutable) {
		set(m.t, m.first("PersistentVolumeClaim"), "gp3", "metadata", "annotations", "volume.beta.kubernetes.io/storage-class")
	}},
	{"pvc request removed", func(m *mutable) { del(m.t, m.first("PersistentVolumeClaim"), "spec", "resources") }},
	{"template request removed", func(m *mutable) {
		del(m.t, m.first("StatefulSet"), "spec", "volumeClaimTemplates", "0", "spec", "resources")
	}},
}

// keep drops every document whose kind is not one of kinds.
func (m *mutable) keep(kinds ...string) {
	var out []Document
	for _, d := range m.docs {
		c, _ := d.Contents.(map[string]any)
		for _, k := range kinds {
			if c["kind"] == k {
				out = append(out, d)
				break
			}
		}
	}
	m.docs = out
}

// drop removes one document.
func (m *mutable) drop(obj map[string]any) {
	for i, d := range m.docs {
		if c, ok := d.Contents.(map[string]any); ok && fmt.Sprintf("%p", c) == fmt.Sprintf("%p", obj) {
			m.docs = append(m.docs[:i], m.docs[i+1:]...)
			return
		}
	}
	m.t.Fatal("drop: no such document")
}

// copyDocs deep-copies documents through JSON.
func copyDocs(t *testing.T, docs []Document) []Document {
	data, err := json.Marshal(docs)
	if err != nil {
		t.Fatal(err)
	}
	var out []Document
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMutationsDenied corrupts one field at a time in each example overlay
// (rendered against the fixture bases) and expects a denial every time.
func TestMutationsDenied(t *testing.T) {
	if len(mutations) < 20 {
		t.Fatalf("%d mutations, want at least 20", len(mutations))
	}
	ctx := context.Background()
	applied := map[string]int{}
	for _, dir := range fixtureDirs(t, "pass") {
		n := 0
		in := fixtureInput(t, dir)
		rep, err := engine(t).Check(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(rep.Findings); n != 0 {
			t.Fatalf("%s: the uncorrupted overlay has %d findings", dir, n)
		}
		for _, mu := range mutations {
			t.Run(filepath.Base(dir)+"/"+mu.name, func(t *testing.T) {
				m := &mutable{t: t, docs: copyDocs(t, in.Docs)}
				before, _ := json.Marshal(m.docs)
				mu.edit(m)
				if after, _ := json.Marshal(m.docs); string(after) == string(before) {
					t.Skip("nothing to corrupt in this overlay (no engine annotations)")
				}
				applied[mu.name]++
				n++
				rep, err := engine(t).Check(ctx, &Input{Docs: m.docs, baseDocs: in.baseDocs})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Count(LevelDeny) == 0 {
					t.Errorf("not denied (findings: %v)", ruleIDs(rep))
				}
			})
		}
		if n < 20 {
			t.Errorf("%s: %d corruptions applied, want at least 20", dir, n)
		}
	}
	for _, mu := range mutations {
		if applied[mu.name] == 0 {
			t.Errorf("mutation %q applied to no overlay", mu.name)
		}
	}
}

// TestSplitOverlayEngineObjects: the Flux Kustomizations and the Argo CD
// Application render writes for a split overlay apply exactly its build
// roots, the storage roots first (GRAFT081), and pass; a storage root
// left out of the workload Kustomization's dependsOn, or out of the
// Application's sources, is denied by GRAFT081 alone.
func TestSplitOverlayEngineObjects(t *testing.T) {
	for _, c := range []struct {
		example, base string
		corrupt       func(m *mutable)
	}{
		{"cassandra-6node-racks", "cassandra-racks", func(m *mutable) {
			for _, d := range m.docs {
				ks, _ := d.Contents.(map[string]any)
				if ks["kind"] != "Kustomization" || !strings.HasPrefix(str(ks, "apiVersion"), "kustomize.toolkit.fluxcd.io/") || strings.Contains(str(ks, "spec", "path"), "storage-") {
					continue
				}
				deps := get(ks, "spec", "dependsOn").([]any)
				set(m.t, ks, deps[:len(deps)-1], "spec", "dependsOn")
			}
		}},
		{"cassandra-argocd-ordinals", "cassandra-single", func(m *mutable) {
			app := m.engineObject("Application", "argoproj.io/")
			sources := get(app, "spec", "sources").([]any)
			set(m.t, app, sources[1:], "spec", "sources")
		}},
	} {
		t.Run(c.example, func(t *testing.T) {
			out, res := grownOverlay(t, c.example, c.base, 30)
			if len(res.Builds) < 3 {
				t.Fatalf("%d roots, want a split overlay", len(res.Builds))
			}
			rep, in := checkDir(t, func() (*Input, error) { return Load(context.Background(), []string{out}, nil) }, filepath.Join(out, lock))
			if len(rep.Findings) != 0 {
				t.Fatalf("the split overlay has findings: %v", rep.Findings)
			}
			m := &mutable{t: t, docs: copyDocs(t, in.Docs)}
			before, _ := json.Marshal(m.docs)
			c.corrupt(m)
			if after, _ := json.Marshal(m.docs); string(after) == string(before) {
				t.Fatal("nothing corrupted")
			}
			rep, err := engine(t).Check(context.Background(), &Input{Docs: m.docs, baseDocs: in.baseDocs})
			if err != nil {
				t.Fatal(err)
			}
			if ids := ruleIDs(rep); len(ids) != 1 || ids[0] != "GRAFT081" {
				t.Errorf("rules %v fired, want GRAFT081 alone", ids)
			}
		})
	}
}
