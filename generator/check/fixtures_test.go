package check

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
)

var update = flag.Bool("update", false, "rewrite golden files and policy fixtures")

const fixtureRoot = "../../testdata/policy"

// passFixture is an overlay rendered by graft from an example spec and
// record, with the base path adjusted to the fixture directory.
type passFixture struct {
	name, example, base string
	engineNone          bool
	// partition puts every device's filesystem on this partition, in the
	// spec and in the record.
	partition int
	// cluster is spec.target.cluster; the record names its driver.
	cluster *spec.Cluster
	// hand names a hand-written overlay and record under workloadRoot,
	// taken as they are instead of rendered: the workload kinds (issue
	// 15), written from the render contract's shapes.
	hand string
}

// workloadRoot holds the hand-written overlays of the workload kinds; their
// bases are in fixtureRoot/bases.
const workloadRoot = fixtureRoot + "/workload"

var passFixtures = []passFixture{
	{name: "flux-3node", example: "cassandra-3node", base: "../../../bases/cassandra-single"},
	{name: "flux-racks", example: "cassandra-6node-racks", base: "../../../bases/cassandra-racks"},
	// The example's base numbers pods from 0; this base says ordinals.start: 1.
	{name: "argocd-ordinals", example: "cassandra-argocd-ordinals", base: "../../bases/cassandra-ordinals"},
	{name: "none-3node", example: "cassandra-3node", base: "../../../bases/cassandra-single", engineNone: true},
	{name: "flux-3node-partition", example: "cassandra-3node", base: "../../../bases/cassandra-single", partition: 1},
	{name: "flux-3node-auto-mode", example: "cassandra-3node", base: "../../../bases/cassandra-single", cluster: &spec.Cluster{Name: "prod", StorageDriver: spec.StorageDriverAutoMode}},
	{name: "flux-3node-provisioned", example: "cassandra-3node-provisioned", base: "../../../bases/cassandra-single"},
	{name: "flux-3node-auto-mode-provisioned", example: "cassandra-3node-auto-mode-provisioned", base: "../../../bases/cassandra-single"},
	// cass-operator: CassandraDatacenter dc1 of cluster Prod_Cluster, racks
	// r1-r3 in three zones; ECK: Elasticsearch logs, nodeSets data-a (2
	// members) and data-b; claims-only: a chart's StatefulSet cassandra.
	{name: "cass-operator", hand: "cass-operator"},
	{name: "eck", hand: "eck"},
	{name: "claims-only", hand: "claims-only"},
}

// fixtureFiles is an overlay held in memory as parsed documents.
type fixtureFiles struct {
	t      *testing.T
	header map[string]string
	docs   map[string][]any
	raw    map[string][]byte
}

func parseFixtureFiles(t *testing.T, files map[string][]byte) *fixtureFiles {
	t.Helper()
	f := &fixtureFiles{t: t, header: map[string]string{}, docs: map[string][]any{}, raw: map[string][]byte{}}
	for name, data := range files {
		f.raw[name] = data
		var header strings.Builder
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if !strings.HasPrefix(line, "#") {
				break
			}
			header.WriteString(line)
		}
		f.header[name] = header.String()
		nodes, err := splitYAML(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, n := range nodes {
			v, err := nodeContents(n)
			if err != nil {
				t.Fatal(err)
			}
			f.docs[name] = append(f.docs[name], v)
		}
	}
	return f
}

// files marshals the documents back; untouched files keep their bytes.
func (f *fixtureFiles) files(touched map[string]bool) map[string][]byte {
	out := map[string][]byte{}
	for name, docs := range f.docs {
		if !touched[name] {
			out[name] = f.raw[name]
			continue
		}
		var b bytes.Buffer
		b.WriteString(f.header[name])
		for i, d := range docs {
			data, err := yaml.Marshal(d)
			if err != nil {
				f.t.Fatal(err)
			}
			if i > 0 {
				b.WriteString("---\n")
			}
			b.Write(data)
		}
		out[name] = b.Bytes()
	}
	return out
}

// obj returns the document of a kind and name in a file.
func (f *fixtureFiles) obj(file, kind, name string) map[string]any {
	for _, d := range f.docs[file] {
		m, _ := d.(map[string]any)
		if k, n := kindName(m); k == kind && (name == "" || n == name) {
			return m
		}
	}
	f.t.Fatalf("no %s %s in %s", kind, name, file)
	return nil
}

// set sets a value at a path of maps and list indexes (as "0").
func set(t *testing.T, m any, value any, path ...string) {
	t.Helper()
	for i, p := range path {
		last := i == len(path)-1
		switch x := m.(type) {
		case map[string]any:
			if last {
				x[p] = value
				return
			}
			next, ok := x[p]
			if !ok {
				next = map[string]any{}
				x[p] = next
			}
			m = next
		case []any:
			var idx int
			fmt.Sscan(p, &idx)
			if last {
				x[idx] = value
				return
			}
			m = x[idx]
		default:
			t.Fatalf("set %v: %T at %q", path, m, p)
		}
	}
}

// del deletes the key at the end of a path.
func del(t *testing.T, m any, path ...string) {
	t.Helper()
	for _, p := range path[:len(path)-1] {
		switch x := m.(type) {
		case map[string]any:
			m = x[p]
		case []any:
			var idx int
			fmt.Sscan(p, &idx)
			m = x[idx]
		}
	}
	x, ok := m.(map[string]any)
	if !ok {
		t.Fatalf("del %v: not a map", path)
	}
	delete(x, path[len(path)-1])
}

// addPatchOp appends a JSON 6902 operation to a patch file.
func (f *fixtureFiles) addPatchOp(file string, op map[string]any) {
	ops, ok := f.docs[file][0].([]any)
	if !ok {
		f.t.Fatalf("%s is not a JSON 6902 patch", file)
	}
	f.docs[file][0] = append(ops, op)
}

// failFixture corrupts one pass fixture in one way that exactly one rule
// catches.
type failFixture struct {
	name, from string
	// edit changes the files and returns the names it touched.
	edit func(t *testing.T, f *fixtureFiles) []string
	// built writes the built overlay as overlay.yaml instead of a
	// kustomize directory (for what kustomize itself would refuse).
	built bool
}

const (
	pvFile  = render.PVFile
	pvcFile = render.PVCFile
	lock    = record.DefaultFile
)

var failFixtures = []failFixture{
	{name: "GRAFT001-missing-claim", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		docs := f.docs[pvcFile]
		f.docs[pvcFile] = append(docs[:1:1], docs[2:]...)
		return []string{pvcFile}
	}},
	{name: "GRAFT002-duplicate-claim", from: "flux-3node", built: true, edit: func(t *testing.T, f *fixtureFiles) []string {
		docs := f.docs["overlay.yaml"]
		for _, d := range docs {
			if k, _ := kindName(d); k == "PersistentVolumeClaim" {
				f.docs["overlay.yaml"] = append(docs, d)
				break
			}
		}
		return []string{"overlay.yaml"}
	}},
	{name: "GRAFT003-stray-member", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		pv := clone(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-2"))
		set(t, pv, "cassandra-data-cassandra-3", "metadata", "name")
		set(t, pv, "3", "metadata", "labels", spec.LabelOrdinal)
		set(t, pv, "data-cassandra-3", "spec", "claimRef", "name")
		set(t, pv, "vol-0123456789abcdef0", "spec", "csi", "volumeHandle")
		pvc := clone(t, f.obj(pvcFile, "PersistentVolumeClaim", "data-cassandra-2"))
		set(t, pvc, "data-cassandra-3", "metadata", "name")
		set(t, pvc, "3", "metadata", "labels", spec.LabelOrdinal)
		set(t, pvc, "cassandra-data-cassandra-3", "spec", "volumeName")
		f.docs[pvFile] = append(f.docs[pvFile], pv)
		f.docs[pvcFile] = append(f.docs[pvcFile], pvc)
		return []string{pvFile, pvcFile}
	}},
	{name: "GRAFT004-scaled-in", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		// graft.lock records members 0-2; the StatefulSet runs 0 and 1.
		file := "statefulset-cassandra.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "replace", "path": "/spec/replicas", "value": 2})
		return []string{file}
	}},
	{name: "GRAFT005-invalid-type", from: "none-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		// A string where the StatefulSet's type has a number: every Rego
		// rule that reads replicas would be undefined.
		file := "statefulset-cassandra.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "replace", "path": "/spec/replicas", "value": "3"})
		return []string{file}
	}},
	{name: "GRAFT010-dangling-volume-name", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvcFile, "PersistentVolumeClaim", "data-cassandra-1"), "cassandra-data-cassandra-9", "spec", "volumeName")
		return []string{pvcFile}
	}},
	{name: "GRAFT011-no-claimref", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		del(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-1"), "spec", "claimRef")
		return []string{pvFile}
	}},
	{name: "GRAFT012-claimref-uid", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-1"), "6f0e4c1e-0d3c-4a55-9f1c-2b7a5d0e9a11", "spec", "claimRef", "uid")
		return []string{pvFile}
	}},
	{name: "GRAFT013-storage-class", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), "gp3", "spec", "storageClassName")
		return []string{pvFile}
	}},
	{name: "GRAFT014-access-mode", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), []any{"ReadWriteMany"}, "spec", "accessModes")
		return []string{pvFile}
	}},
	{name: "GRAFT015-request-exceeds-capacity", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvcFile, "PersistentVolumeClaim", "data-cassandra-0"), "600Gi", "spec", "resources", "requests", "storage")
		return []string{pvcFile}
	}},
	{name: "GRAFT016-unselected-labels", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), "commitlog", "metadata", "labels", spec.LabelClaimTemplate)
		return []string{pvFile}
	}},
	{name: "GRAFT017-overlapping-selector", from: "flux-racks", edit: func(t *testing.T, f *fixtureFiles) []string {
		file := "statefulset-prod-dc1-r2-sts.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "add", "path": "/spec/volumeClaimTemplates/0/spec/selector", "value": map[string]any{
			"matchLabels":      map[string]any{spec.LabelMigration: "cassandra-6node-racks", spec.LabelClaimTemplate: "server-data"},
			"matchExpressions": []any{map[string]any{"key": spec.LabelStatefulSet, "operator": "In", "values": []any{"prod-dc1-r1-sts", "prod-dc1-r2-sts"}}},
		}})
		return []string{file}
	}},
	{name: "GRAFT018-pvc-data-source", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvcFile, "PersistentVolumeClaim", "data-cassandra-0"), map[string]any{
			"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "cassandra-0-nightly",
		}, "spec", "dataSource")
		return []string{pvcFile}
	}},
	{name: "GRAFT019-read-only-mount", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		file := "statefulset-cassandra.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "add", "path": "/spec/template/spec/containers/0/volumeMounts/0/readOnly", "value": true})
		return []string{file}
	}},
	// The overlay moves the mount the base has: the container still mounts
	// the claim read-write at its root, but not where the application
	// keeps its data (compared with the base graft check builds).
	{name: "GRAFT019-mount-path-moved", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		file := "statefulset-cassandra.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "replace", "path": "/spec/template/spec/containers/0/volumeMounts/0/mountPath", "value": "/var/lib/cassandra-data"})
		return []string{file}
	}},
	{name: "GRAFT019-mount-container-renamed", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		file := "statefulset-cassandra.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "replace", "path": "/spec/template/spec/containers/0/name", "value": "cassandra-next"})
		return []string{file}
	}},
	{name: "GRAFT020-two-zones", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), []any{"us-east-1a", "us-east-1b"},
			"spec", "nodeAffinity", "required", "nodeSelectorTerms", "0", "matchExpressions", "0", "values")
		return []string{pvFile}
	}},
	{name: "GRAFT021-zone-not-recorded", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), []any{"us-east-1b"},
			"spec", "nodeAffinity", "required", "nodeSelectorTerms", "0", "matchExpressions", "0", "values")
		return []string{pvFile}
	}},
	{name: "GRAFT022-pod-affinity-excludes-zone", from: "flux-racks", edit: func(t *testing.T, f *fixtureFiles) []string {
		file := "statefulset-prod-dc1-r1-sts.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "replace",
			"path":  "/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/0/values",
			"value": []any{"us-east-1b"}})
		return []string{file}
	}},
	{name: "GRAFT023-spread-skew", from: "flux-racks", edit: func(t *testing.T, f *fixtureFiles) []string {
		file := "statefulset-prod-dc1-r1-sts.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "remove", "path": "/spec/template/spec/affinity"})
		f.addPatchOp(file, map[string]any{"op": "add", "path": "/spec/template/spec/topologySpreadConstraints", "value": []any{map[string]any{
			"maxSkew": 1, "topologyKey": spec.TopologyKeyKubernetes, "whenUnsatisfiable": "DoNotSchedule",
			"labelSelector": map[string]any{"matchLabels": map[string]any{"cassandra.datastax.com/rack": "r1"}},
		}}})
		return []string{file}
	}},
	{name: "GRAFT024-member-split-across-zones", from: "flux-racks", edit: func(t *testing.T, f *fixtureFiles) []string {
		file := "statefulset-prod-dc1-r1-sts.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "remove", "path": "/spec/template/spec/affinity"})
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-commitlog-prod-dc1-r1-sts-0"), []any{"us-east-1b"},
			"spec", "nodeAffinity", "required", "nodeSelectorTerms", "0", "matchExpressions", "0", "values")
		lk := f.obj(lock, "Lock", "")
		for _, v := range lk["volumes"].([]any) {
			m := v.(map[string]any)
			if m["statefulSet"] == "prod-dc1-r1-sts" && m["claimTemplate"] == "commitlog" && fmt.Sprint(m["ordinal"]) == "0" {
				m["targetZone"] = "us-east-1b"
			}
		}
		return []string{file, pvFile, lock}
	}},
	{name: "GRAFT030-csi-driver", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), "efs.csi.aws.com", "spec", "csi", "driver")
		return []string{pvFile}
	}},
	{name: "GRAFT031-handle-url", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		pv := f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0")
		h := pv["spec"].(map[string]any)["csi"].(map[string]any)["volumeHandle"].(string)
		set(t, pv, "aws://us-east-1a/"+h, "spec", "csi", "volumeHandle")
		return []string{pvFile}
	}},
	{name: "GRAFT032-handle-not-recorded", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), "vol-0aaaaaaaaaaaaaaaa", "spec", "csi", "volumeHandle")
		return []string{pvFile}
	}},
	{name: "GRAFT033-shared-volume", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		h := f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0")["spec"].(map[string]any)["csi"].(map[string]any)["volumeHandle"]
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-1"), h, "spec", "csi", "volumeHandle")
		return []string{pvFile}
	}},
	{name: "GRAFT034-fstype", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), "xfs", "spec", "csi", "fsType")
		return []string{pvFile}
	}},
	{name: "GRAFT035-source-volume", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		pv := f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0")
		src := pv["metadata"].(map[string]any)["annotations"].(map[string]any)[spec.AnnotationSourceVolume]
		set(t, pv, src, "spec", "csi", "volumeHandle")
		return []string{pvFile}
	}},
	{name: "GRAFT036-recorded-volume-not-delivered", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		lk := f.obj(lock, "Lock", "")
		vols := lk["volumes"].([]any)
		extra := clone(t, vols[0].(map[string]any))
		extra["claimTemplate"] = "commitlog"
		extra["sourceDevice"] = "/dev/xvdg"
		extra["sourceVolume"] = "vol-0bbbbbbbbbbbbbbbb"
		extra["targetVolume"] = "vol-0cccccccccccccccc"
		lk["volumes"] = append(vols, extra)
		return []string{lock}
	}},
	{name: "GRAFT037-capacity-not-recorded", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), "600Gi", "spec", "capacity", "storage")
		return []string{pvFile}
	}},
	{name: "GRAFT038-pv-read-only", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), true, "spec", "csi", "readOnly")
		return []string{pvFile}
	}},
	{name: "GRAFT039-pv-partition", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-1"), map[string]any{"partition": "1"}, "spec", "csi", "volumeAttributes")
		return []string{pvFile}
	}},
	{name: "GRAFT039-pv-lacks-recorded-partition", from: "flux-3node-partition", edit: func(t *testing.T, f *fixtureFiles) []string {
		del(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-2"), "spec", "csi", "volumeAttributes")
		return []string{pvFile}
	}},
	{name: "GRAFT039-pv-other-partition", from: "flux-3node-partition", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), "01", "spec", "csi", "volumeAttributes", "partition")
		return []string{pvFile}
	}},
	{name: "GRAFT025-auto-mode-ebs-zone-key", from: "flux-3node-auto-mode", edit: func(t *testing.T, f *fixtureFiles) []string {
		pv := f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-1")
		exprs := pv["spec"].(map[string]any)["nodeAffinity"].(map[string]any)["required"].(map[string]any)["nodeSelectorTerms"].([]any)[0].(map[string]any)["matchExpressions"].([]any)
		set(t, exprs[0].(map[string]any), spec.TopologyKeyEBSCSI, "key")
		return []string{pvFile}
	}},
	{name: "GRAFT025-auto-mode-no-compute-type", from: "flux-3node-auto-mode", edit: func(t *testing.T, f *fixtureFiles) []string {
		pv := f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-2")
		term := pv["spec"].(map[string]any)["nodeAffinity"].(map[string]any)["required"].(map[string]any)["nodeSelectorTerms"].([]any)[0].(map[string]any)
		term["matchExpressions"] = term["matchExpressions"].([]any)[:1]
		return []string{pvFile}
	}},
	{name: "GRAFT026-auto-mode-volume-untagged", from: "flux-3node-auto-mode", edit: func(t *testing.T, f *fixtureFiles) []string {
		lk := f.obj(lock, "Lock", "")
		del(t, lk["volumes"].([]any)[1].(map[string]any), "clusterTags")
		return []string{lock}
	}},
	{name: "GRAFT030-add-on-driver-for-auto-mode", from: "flux-3node-auto-mode", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), spec.CSIDriverEBS, "spec", "csi", "driver")
		return []string{pvFile}
	}},
	{name: "GRAFT060-provisioned-template-selector", from: "flux-3node-provisioned", edit: func(t *testing.T, f *fixtureFiles) []string {
		file := "statefulset-cassandra.patch.yaml"
		f.docs[file][0] = append(f.docs[file][0].([]any), map[string]any{
			"op": "add", "path": "/spec/volumeClaimTemplates/0/spec/selector",
			"value": map[string]any{"matchLabels": map[string]any{spec.LabelMigration: "cassandra-3node-provisioned"}},
		})
		return []string{file}
	}},
	{name: "GRAFT061-storage-class-missing", from: "flux-3node-provisioned", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(render.StorageClassFile, "StorageClass", ""), "gp3", "metadata", "name")
		return []string{render.StorageClassFile}
	}},
	{name: "GRAFT061-storage-class-immediate", from: "flux-3node-provisioned", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(render.StorageClassFile, "StorageClass", ""), "Immediate", "volumeBindingMode")
		return []string{render.StorageClassFile}
	}},
	{name: "GRAFT061-storage-class-no-expansion", from: "flux-3node-provisioned", edit: func(t *testing.T, f *fixtureFiles) []string {
		del(t, f.obj(render.StorageClassFile, "StorageClass", ""), "allowVolumeExpansion")
		return []string{render.StorageClassFile}
	}},
	{name: "GRAFT061-storage-class-other-driver", from: "flux-3node-auto-mode-provisioned", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(render.StorageClassFile, "StorageClass", ""), spec.CSIDriverEBS, "provisioner")
		return []string{render.StorageClassFile}
	}},
	{name: "GRAFT062-storage-class-deletes", from: "flux-3node-provisioned", edit: func(t *testing.T, f *fixtureFiles) []string {
		del(t, f.obj(render.StorageClassFile, "StorageClass", ""), "reclaimPolicy")
		return []string{render.StorageClassFile}
	}},
	{name: "GRAFT013-pv-class-not-recorded", from: "flux-3node-provisioned", edit: func(t *testing.T, f *fixtureFiles) []string {
		lk := f.obj(lock, "Lock", "")
		set(t, lk, "gp3", "binding", "storageClassName")
		set(t, lk, spec.StorageClassExisting, "binding", "storageClass")
		return []string{lock}
	}},
	// The workload kinds (issue 15).
	{name: "GRAFT071-rack-renamed", from: "cass-operator", edit: func(t *testing.T, f *fixtureFiles) []string {
		f.addPatchOp(cassPatch, map[string]any{"op": "replace", "path": "/spec/racks/2/name", "value": "rack3"})
		return []string{cassPatch}
	}},
	{name: "GRAFT071-cluster-name", from: "cass-operator", edit: func(t *testing.T, f *fixtureFiles) []string {
		// The cleaned name is the same, but Cassandra refuses data of
		// another cluster name.
		f.addPatchOp(cassPatch, map[string]any{"op": "replace", "path": "/spec/clusterName", "value": "prod-cluster"})
		return []string{cassPatch}
	}},
	{name: "GRAFT072-rack-zone", from: "cass-operator", edit: func(t *testing.T, f *fixtureFiles) []string {
		op := patchOpAt(t, f, cassPatch, "/spec/racks/1/nodeAffinityLabels")
		op["value"] = map[string]any{spec.TopologyKeyKubernetes: "us-east-1a"}
		return []string{cassPatch}
	}},
	{name: "GRAFT072-nodeset-zone", from: "eck", edit: func(t *testing.T, f *fixtureFiles) []string {
		op := patchOpAt(t, f, eckPatch, "/spec/nodeSets/1/podTemplate")
		set(t, op, []any{"us-east-1c"}, "value", "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", "0", "matchExpressions", "0", "values")
		return []string{eckPatch}
	}},
	{name: "GRAFT073-delete-pvc-unset", from: "cass-operator", edit: func(t *testing.T, f *fixtureFiles) []string {
		removePatchOp(t, f, cassPatch, "/metadata/annotations")
		return []string{cassPatch}
	}},
	{name: "GRAFT073-eck-delete-policy-default", from: "eck", edit: func(t *testing.T, f *fixtureFiles) []string {
		removePatchOp(t, f, eckPatch, "/spec/volumeClaimDeletePolicy")
		return []string{eckPatch}
	}},
	{name: "GRAFT074-claim-spec-class", from: "eck", edit: func(t *testing.T, f *fixtureFiles) []string {
		patchOpAt(t, f, eckPatch, "/spec/nodeSets/1/volumeClaimTemplates/0/spec/storageClassName")["value"] = "gp3"
		return []string{eckPatch}
	}},
	{name: "GRAFT074-claim-spec-selector", from: "cass-operator", edit: func(t *testing.T, f *fixtureFiles) []string {
		removePatchOp(t, f, cassPatch, "/spec/storageConfig/cassandraDataVolumeClaimSpec/selector")
		return []string{cassPatch}
	}},
	{name: "GRAFT075-size-reduced", from: "cass-operator", edit: func(t *testing.T, f *fixtureFiles) []string {
		// Two nodes over three racks: rack r3 runs none, and cass-operator
		// would decommission its member and delete its claim.
		f.addPatchOp(cassPatch, map[string]any{"op": "replace", "path": "/spec/size", "value": 2})
		return []string{cassPatch}
	}},
	{name: "GRAFT075-nodeset-count-reduced", from: "eck", edit: func(t *testing.T, f *fixtureFiles) []string {
		f.addPatchOp(eckPatch, map[string]any{"op": "replace", "path": "/spec/nodeSets/0/count", "value": 1})
		return []string{eckPatch}
	}},
	{name: "GRAFT076-datacenter-name-override", from: "cass-operator", edit: func(t *testing.T, f *fixtureFiles) []string {
		// The legacy datacenter's name; cass-operator before v1.23 would
		// name the StatefulSets after it.
		f.addPatchOp(cassPatch, map[string]any{"op": "add", "path": "/spec/datacenterName", "value": "us-east"})
		return []string{cassPatch}
	}},
	{name: "GRAFT040-reclaim-delete", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), "Delete", "spec", "persistentVolumeReclaimPolicy")
		return []string{pvFile}
	}},
	{name: "GRAFT041-retention-delete", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		file := "statefulset-cassandra.patch.yaml"
		op := f.docs[file][0].([]any)[0].(map[string]any)
		set(t, op, "Delete", "value", "whenDeleted")
		return []string{file}
	}},
	{name: "GRAFT042-flux-prune", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		del(t, f.obj(pvcFile, "PersistentVolumeClaim", "data-cassandra-1"), "metadata", "annotations")
		return []string{pvcFile}
	}},
	{name: "GRAFT043-argocd-wave", from: "argocd-ordinals", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvcFile, "PersistentVolumeClaim", "data-cassandra-2"), "0", "metadata", "annotations", "argocd.argoproj.io/sync-wave")
		return []string{pvcFile}
	}},
	{name: "GRAFT044-argocd-replace", from: "argocd-ordinals", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(pvFile, "PersistentVolume", "db-data-cassandra-2"), "Prune=false,Delete=false,Replace=true", "metadata", "annotations", "argocd.argoproj.io/sync-options")
		return []string{pvFile}
	}},
	{name: "GRAFT077-flux-common-metadata", from: "flux-racks", edit: func(t *testing.T, f *fixtureFiles) []string {
		// Flux overrides every object's annotation of the key: the claims
		// would lose their prune protection after the gate saw them.
		set(t, f.obj(render.FluxFile, "Kustomization", "graft-cassandra-6node-racks"), map[string]any{"annotations": map[string]any{"kustomize.toolkit.fluxcd.io/prune": "enabled"}}, "spec", "commonMetadata")
		return []string{render.FluxFile}
	}},
	{name: "GRAFT078-pod-volume-of-a-claim", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		// A "backup" volume of member 0's claim in every member's pod.
		file := "statefulset-cassandra.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "add", "path": "/spec/template/spec/volumes", "value": []any{
			map[string]any{"name": "backup", "persistentVolumeClaim": map[string]any{"claimName": "data-cassandra-0"}},
		}})
		return []string{file}
	}},
	// Applied without namespaces, the objects land where the applier
	// defaults to; read as "default", even with the PVs' claimRefs there
	// nothing but the unstated namespaces is wrong.
	{name: "GRAFT079-namespace-unstated", from: "flux-3node", built: true, edit: func(t *testing.T, f *fixtureFiles) []string {
		for _, d := range f.docs["overlay.yaml"] {
			switch k, _ := kindName(d); k {
			case "PersistentVolumeClaim", "StatefulSet":
				del(t, d, "metadata", "namespace")
			case "PersistentVolume":
				set(t, d, "default", "spec", "claimRef", "namespace")
			}
		}
		return []string{"overlay.yaml"}
	}},
	{name: "GRAFT080-claim-owned", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		// Owned by a StatefulSet uid no manifest can know: the garbage
		// collector deletes the claim.
		set(t, f.obj(pvcFile, "PersistentVolumeClaim", "data-cassandra-0"), []any{map[string]any{
			"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "cassandra", "uid": "0b0e1f5a-0000-4000-8000-000000000000",
		}}, "metadata", "ownerReferences")
		return []string{pvcFile}
	}},
	{name: "GRAFT081-flux-applies-another-directory", from: "flux-racks", edit: func(t *testing.T, f *fixtureFiles) []string {
		// The Kustomization applies the directory the pass fixture was
		// rendered for, not this one: the gate checked another.
		set(t, f.obj(render.FluxFile, "Kustomization", "graft-cassandra-6node-racks"), "./"+fixtureRepoPath("pass", "flux-racks"), "spec", "path")
		return []string{render.FluxFile}
	}},
	{name: "GRAFT082-pv-not-reconciled", from: "flux-racks", edit: func(t *testing.T, f *fixtureFiles) []string {
		// Flux skips the volume: the member's claim binds whatever PV of
		// that name the cluster has, or none.
		set(t, f.obj(pvFile, "PersistentVolume", "cassandra-server-data-prod-dc1-r1-sts-0"), "disabled", "metadata", "annotations", "kustomize.toolkit.fluxcd.io/reconcile")
		return []string{pvFile}
	}},
	{name: "GRAFT083-flux-suspended", from: "flux-racks", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(render.FluxFile, "Kustomization", "graft-cassandra-6node-racks"), true, "spec", "suspend")
		return []string{render.FluxFile}
	}},
	{name: "GRAFT084-fs-group-walks-the-volume", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		file := "statefulset-cassandra.patch.yaml"
		f.addPatchOp(file, map[string]any{"op": "add", "path": "/spec/template/spec/securityContext", "value": map[string]any{"fsGroup": 999}})
		return []string{file}
	}},
	{name: "GRAFT085-data-mount-moved", from: "cass-operator", edit: func(t *testing.T, f *fixtureFiles) []string {
		// The pod template's cassandra container mounts server-data
		// elsewhere: cass-operator keeps that mount over its own at
		// /var/lib/cassandra, and Cassandra starts on an empty directory.
		f.addPatchOp(cassPatch, map[string]any{"op": "add", "path": "/spec/podTemplateSpec", "value": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
			"name": "cassandra", "volumeMounts": []any{map[string]any{"name": "server-data", "mountPath": "/data"}},
		}}}}})
		return []string{cassPatch}
	}},
	{name: "GRAFT045-common-labels", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		set(t, f.obj(render.KustomizationFile, "Kustomization", ""), map[string]any{"team": "data"}, "commonLabels")
		return []string{render.KustomizationFile}
	}},
	{name: "GRAFT046-provenance", from: "flux-3node", edit: func(t *testing.T, f *fixtureFiles) []string {
		del(t, f.obj(pvFile, "PersistentVolume", "cassandra-data-cassandra-0"), "metadata", "annotations", spec.AnnotationSourceVolume)
		return []string{pvFile}
	}},
}

// The custom resource patches of the workload fixtures.
const (
	cassPatch = "cassandradatacenter-dc1.patch.yaml"
	eckPatch  = "elasticsearch-logs.patch.yaml"
)

// patchOpAt returns the operation of a JSON 6902 patch file at a path.
func patchOpAt(t *testing.T, f *fixtureFiles, file, path string) map[string]any {
	t.Helper()
	for _, o := range f.docs[file][0].([]any) {
		if op := o.(map[string]any); op["path"] == path {
			return op
		}
	}
	t.Fatalf("%s: no operation at %s", file, path)
	return nil
}

// removePatchOp removes the operation of a JSON 6902 patch file at a path.
func removePatchOp(t *testing.T, f *fixtureFiles, file, path string) {
	t.Helper()
	ops := f.docs[file][0].([]any)
	for i, o := range ops {
		if o.(map[string]any)["path"] == path {
			f.docs[file][0] = append(ops[:i:i], ops[i+1:]...)
			return
		}
	}
	t.Fatalf("%s: no operation at %s", file, path)
}

func clone(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	data, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// passFiles renders a pass fixture in memory.
func passFiles(t *testing.T, pf passFixture) map[string][]byte {
	t.Helper()
	if pf.hand != "" {
		return handFiles(t, filepath.Join(workloadRoot, pf.hand))
	}
	ex := filepath.Join("../../testdata/examples", pf.example)
	m, err := spec.Load(filepath.Join(ex, "graft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m.Spec.GitOps.Base = pf.base
	// The engine object names the fixture by its repository path (GRAFT081).
	m.Spec.GitOps.OverlayPath = fixtureRepoPath("pass", pf.name)
	if pf.engineNone {
		m.Spec.GitOps.Engine = spec.EngineNone
		m.Spec.GitOps.EngineObject = false
	}
	rec, err := record.Load(filepath.Join(ex, lock))
	if err != nil {
		t.Fatal(err)
	}
	if pf.partition > 0 {
		for i := range m.Spec.Source.Devices {
			m.Spec.Source.Devices[i].Partition = pf.partition
		}
		for i := range rec.Volumes {
			rec.Volumes[i].Partition = pf.partition
		}
	}
	if pf.cluster != nil {
		m.Spec.Target.Cluster = pf.cluster
		m.Spec.Target.TopologyKey = m.Spec.Target.Storage().TopologyKey
		for i := range rec.Volumes {
			rec.Volumes[i].CSIDriver = m.Spec.Target.Storage().CSIDriver
			rec.Volumes[i].ClusterTags = m.Spec.Target.Storage().Tags
		}
	}
	files, err := render.Files(m, rec, filepath.Join(fixtureRoot, "pass", pf.name))
	if err != nil {
		t.Fatal(err)
	}
	if pf.partition > 0 || pf.cluster != nil {
		files[lock], err = rec.Marshal()
	} else {
		files[lock], err = os.ReadFile(filepath.Join(ex, lock))
	}
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// fixtureRepoPath is a fixture directory's path in the repository.
func fixtureRepoPath(kind, name string) string { return "testdata/policy/" + kind + "/" + name }

// movedFixture is a pass fixture's files as a fail fixture's: the engine
// object names the directory the fixture is written to.
func movedFixture(files map[string][]byte, from, to string) map[string][]byte {
	out := maps.Clone(files)
	for _, name := range []string{render.FluxFile, render.ArgoFile} {
		if data, ok := out[name]; ok {
			out[name] = bytes.ReplaceAll(data, []byte(from), []byte(to))
		}
	}
	return out
}

// handFiles reads a hand-written fixture directory.
func handFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("%s: no files: %v", dir, err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

// wantFixtures computes every fixture's files: dir (relative to the
// fixture root) to file name to bytes.
func wantFixtures(t *testing.T) map[string]map[string][]byte {
	t.Helper()
	out := map[string]map[string][]byte{}
	pass := map[string]map[string][]byte{}
	for _, pf := range passFixtures {
		pass[pf.name] = passFiles(t, pf)
		out["pass/"+pf.name] = pass[pf.name]
	}
	if *update {
		// The built fixtures are built from the pass fixtures on disk.
		writeFixtures(t, out, "pass")
	}
	for _, ff := range failFixtures {
		src := movedFixture(pass[ff.from], fixtureRepoPath("pass", ff.from), fixtureRepoPath("fail", ff.name))
		if ff.built {
			built, err := render.Build(filepath.Join(fixtureRoot, "pass", ff.from))
			if err != nil {
				t.Fatalf("%s: build %s (run with -update first?): %v", ff.name, ff.from, err)
			}
			src = map[string][]byte{"overlay.yaml": built, lock: src[lock]}
		}
		f := parseFixtureFiles(t, src)
		touched := map[string]bool{}
		for _, name := range ff.edit(t, f) {
			touched[name] = true
		}
		out["fail/"+ff.name] = f.files(touched)
	}
	return out
}

// TestFixturesUpToDate keeps testdata/policy in step with render and the
// corruptions above; -update rewrites it.
func TestFixturesUpToDate(t *testing.T) {
	want := wantFixtures(t)
	if *update {
		writeFixtures(t, want, "fail")
		return
	}
	// A fixture directory the corruptions above do not make would be
	// deleted by -update: every one must be made here.
	for _, kind := range []string{"pass", "fail"} {
		for _, dir := range fixtureDirs(t, kind) {
			name := kind + "/" + filepath.Base(dir)
			if _, ok := want[name]; !ok && !strings.HasPrefix(dir, workloadRoot) {
				t.Errorf("%s is not made by the fixtures' generator (-update would delete it): add it to passFixtures or failFixtures", name)
			}
		}
	}
	for dir, files := range want {
		entries, err := os.ReadDir(filepath.Join(fixtureRoot, dir))
		if err != nil {
			t.Errorf("%s: %v (run go test ./generator/check -run TestFixturesUpToDate -update)", dir, err)
			continue
		}
		var have []string
		for _, e := range entries {
			have = append(have, e.Name())
		}
		var names []string
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		if strings.Join(have, ",") != strings.Join(names, ",") {
			t.Errorf("%s: files %v, want %v", dir, have, names)
		}
		for name, data := range files {
			got, err := os.ReadFile(filepath.Join(fixtureRoot, dir, name))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s/%s is stale (run with -update)", dir, name)
			}
		}
	}
}

// writeFixtures replaces the fixtures of a kind (pass or fail) with want's.
func writeFixtures(t *testing.T, want map[string]map[string][]byte, kind string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(fixtureRoot, kind)); err != nil {
		t.Fatal(err)
	}
	for dir, files := range want {
		if !strings.HasPrefix(dir, kind+"/") {
			continue
		}
		if err := os.MkdirAll(filepath.Join(fixtureRoot, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(fixtureRoot, dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fixtureDirs lists the fixture directories of a kind.
func fixtureDirs(t *testing.T, kind string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(fixtureRoot, kind, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no %s fixtures: %v", kind, err)
	}
	return dirs
}

// fixtureInput loads a fixture: a kustomize directory, or the YAML files
// of a built overlay; graft.lock beside them.
func fixtureInput(t testing.TB, dir string) *Input {
	t.Helper()
	paths := []string{dir}
	if kustomizationFile(dir) == "" {
		all, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		paths = all
	}
	in, err := Load(context.Background(), paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	addFixtureRecord(t, in, filepath.Join(dir, lock))
	return in
}

// addFixtureRecord adds a fixture's graft.lock.
func addFixtureRecord(t testing.TB, in *Input, path string) {
	t.Helper()
	if _, err := in.AddRecord(path); err != nil {
		t.Fatal(err)
	}
}

func ruleIDs(rep *Report) []string {
	set := map[string]bool{}
	for _, f := range rep.Findings {
		set[f.ID] = true
	}
	var ids []string
	for id := range set {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

var testEngine *Engine

func engine(t testing.TB) *Engine {
	t.Helper()
	if testEngine == nil {
		e, err := New(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		testEngine = e
	}
	return testEngine
}

func TestPassFixtures(t *testing.T) {
	for _, dir := range fixtureDirs(t, "pass") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			rep, err := engine(t).Check(context.Background(), fixtureInput(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rep.Findings {
				t.Errorf("%s:%d %s", f.File, f.Line, f.Message)
			}
		})
	}
}

func TestFailFixtures(t *testing.T) {
	seen := map[string]bool{}
	for _, dir := range fixtureDirs(t, "fail") {
		name := filepath.Base(dir)
		id, _, _ := strings.Cut(name, "-")
		seen[id] = true
		t.Run(name, func(t *testing.T) {
			rep, err := engine(t).Check(context.Background(), fixtureInput(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			if got := ruleIDs(rep); strings.Join(got, ",") != id {
				for _, f := range rep.Findings {
					t.Logf("%s:%d %s", f.File, f.Line, f.Message)
				}
				t.Fatalf("rules %v fired, want exactly %s", got, id)
			}
			for _, f := range rep.Findings {
				if f.File == "" || f.Line == 0 || f.Field == "" || f.Found == "" || f.Expected == "" || f.Kind == "" || (f.Name == "" && f.Kind != "Kustomization" && f.Kind != "Lock") {
					t.Errorf("finding lacks a location or detail: %+v", f)
				}
			}
		})
	}
	// Every rule that an overlay can trigger has a fixture. GRAFT070
	// judges the record's workload, which graft check's record validation
	// refuses first (TestWorkloadRecordFailsClosed).
	for _, r := range mustRules(t) {
		if r.ID != "GRAFT000" && r.ID != "GRAFT070" && !seen[r.ID] && !strings.HasPrefix(r.ID, "GRAFT05") {
			t.Errorf("rule %s has no failing fixture", r.ID)
		}
	}
}

func mustRules(t *testing.T) []Rule {
	t.Helper()
	rep, err := engine(t).Check(context.Background(), &Input{})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Rules
}

// nodeContents decodes a document as conftest does (sigs.k8s.io/yaml), so
// that both see the same values.
func nodeContents(n *yamlv3.Node) (any, error) {
	raw, err := yamlv3.Marshal(n)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

func kindName(v any) (string, string) {
	m, _ := v.(map[string]any)
	kind, _ := m["kind"].(string)
	md, _ := m["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	return kind, name
}

// TestCheckEmptyInputDenied: nothing in Go short-circuits to a pass; an
// input without objects is denied, with or without a record.
func TestCheckEmptyInputDenied(t *testing.T) {
	rep, err := engine(t).Check(context.Background(), &Input{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Failed() || strings.Join(ruleIDs(rep), ",") != "GRAFT000" {
		t.Errorf("no documents: verdict %s, rules %v, want a GRAFT000 denial", rep.Verdict(), ruleIDs(rep))
	}
	in := newInput(context.Background())
	if _, err := in.AddRecord(filepath.Join(fixtureRoot, "pass", "flux-3node", lock)); err != nil {
		t.Fatal(err)
	}
	rep, err = engine(t).Check(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// Three members: their StatefulSet, claims and volumes are missing.
	if !rep.Failed() || strings.Join(ruleIDs(rep), ",") != "GRAFT036" || rep.Count(LevelDeny) != 9 {
		for _, f := range rep.Findings {
			t.Log(f.Message)
		}
		t.Errorf("the record alone: verdict %s, %d denied by %v, want 9 GRAFT036 denials", rep.Verdict(), rep.Count(LevelDeny), ruleIDs(rep))
	}
}
