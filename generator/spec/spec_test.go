package spec_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
	"github.com/graftctl/graft/internal/testkit"
	"github.com/graftctl/graft/templates"
)

// valid is a small, valid spec every case starts from.
const valid = `
apiVersion: graft.graftctl.io/v1alpha1
kind: Migration
metadata:
  name: cass
spec:
  source:
    region: us-east-1
    filters:
      - name: tag:app
        values: [cassandra]
    devices:
      - name: /dev/xvdf
        claimTemplate: data
  mapping:
    tagRegex:
      tag: Name
      pattern: '^cassandra-(?P<ordinal>[0-9]+)$'
  target:
    namespace: cassandra
    statefulSets:
      - name: cassandra
        replicas: 3
  gitops:
    base: ../../base
`

func TestValidSpecAndDefaults(t *testing.T) {
	m, err := spec.Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	s := m.Spec
	checks := map[string][2]string{
		"target.region":      {s.Target.Region, "us-east-1"},
		"target.topologyKey": {s.Target.TopologyKey, spec.TopologyKeyKubernetes},
		"storageClassName":   {s.Target.StorageClassName, ""},
		"fsType":             {s.Source.Devices[0].FSType, "ext4"},
		"engine":             {s.GitOps.Engine, spec.EngineNone},
		"provider":           {s.GitOps.Provider, spec.ProviderNone},
		"baseBranch":         {s.GitOps.BaseBranch, "main"},
		"overlayPath":        {s.GitOps.OverlayPath, "overlays/cass"},
	}
	for field, c := range checks {
		if c[0] != c[1] {
			t.Errorf("default %s = %q, want %q", field, c[0], c[1])
		}
	}
}

// TestArgoSourceRefDropsCredentials: the Argo CD repoURL defaults to the
// repository without the token a URL may carry.
func TestArgoSourceRefDropsCredentials(t *testing.T) {
	m, err := spec.Parse(edit(t, func(d map[string]any) {
		at(d, "spec")["gitops"] = map[string]any{"base": "../b", "engine": "argocd", "engineObject": true,
			"repo": "https://x-access-token:s3cret@github.com/org/gitops.git"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Spec.GitOps.SourceRef; got != "https://github.com/org/gitops.git" {
		t.Errorf("sourceRef = %q", got)
	}
}

func TestExampleSpecsAreValid(t *testing.T) {
	data, err := templates.Raw(templates.ExampleSpec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spec.Parse(data); err != nil {
		t.Errorf("graft init's example spec is invalid: %v", err)
	}
	paths, _ := filepath.Glob("../../testdata/examples/*/graft.yaml")
	if len(paths) == 0 {
		t.Fatal("no example specs found")
	}
	for _, p := range paths {
		if _, err := spec.Load(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// edit applies a change to the valid spec through a generic YAML tree, so
// each case states only what it breaks.
func edit(t *testing.T, change func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(valid), &doc); err != nil {
		t.Fatal(err)
	}
	change(doc)
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func at(doc map[string]any, path ...string) map[string]any {
	cur := doc
	for _, p := range path {
		cur = cur[p].(map[string]any)
	}
	return cur
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name   string
		change func(doc map[string]any)
		want   []string
	}{
		{"wrong apiVersion and kind", func(d map[string]any) { d["apiVersion"] = "v1"; d["kind"] = "Pod" },
			[]string{`apiVersion: "v1", expected "graft.graftctl.io/v1alpha1"`, `kind: "Pod", expected "Migration"`}},
		{"bad name", func(d map[string]any) { at(d, "metadata")["name"] = "Cass_1" },
			[]string{`metadata.name: "Cass_1", expected a DNS-1123 label`}},
		{"missing name", func(d map[string]any) { delete(at(d, "metadata"), "name") },
			[]string{`metadata.name: missing, expected a name`}},
		{"bad region", func(d map[string]any) { at(d, "spec", "source")["region"] = "us-east" },
			[]string{`spec.source.region: "us-east", expected an AWS region such as us-east-1`}},
		{"no filters", func(d map[string]any) { delete(at(d, "spec", "source"), "filters") },
			[]string{`spec.source.filters: missing, expected at least one EC2 filter`}},
		{"empty filter", func(d map[string]any) { at(d, "spec", "source")["filters"] = []any{map[string]any{}} },
			[]string{`spec.source.filters[0].name: missing`, `spec.source.filters[0].values: missing, expected at least one value`}},
		{"no devices", func(d map[string]any) { delete(at(d, "spec", "source"), "devices") },
			[]string{`spec.source.devices: missing, expected at least one data device`}},
		{"bad device", func(d map[string]any) {
			at(d, "spec", "source")["devices"] = []any{
				map[string]any{"name": "xvdf", "claimTemplate": "Data", "fsType": "ntfs"},
			}
		}, []string{`spec.source.devices[0].name: "xvdf", expected a device name such as /dev/xvdf`,
			`spec.source.devices[0].claimTemplate: "Data", expected a DNS-1123 label`,
			`spec.source.devices[0].fsType: "ntfs", expected one of ext3, ext4, xfs, btrfs`}},
		{"duplicate device and template", func(d map[string]any) {
			at(d, "spec", "source")["devices"] = []any{
				map[string]any{"name": "/dev/xvdf", "claimTemplate": "data"},
				map[string]any{"name": "/dev/xvdf", "claimTemplate": "data"},
			}
		}, []string{`spec.source.devices[1].name: "/dev/xvdf", expected a device not already listed`,
			`spec.source.devices[1].claimTemplate: "data", expected a claim template not already used`}},
		{"two spellings of one attachment slot", func(d map[string]any) {
			at(d, "spec", "source")["devices"] = []any{
				map[string]any{"name": "/dev/sdf", "claimTemplate": "data"},
				map[string]any{"name": "/dev/xvdf", "claimTemplate": "logs"},
			}
		}, []string{`spec.source.devices[1].name: "/dev/xvdf", expected a device not already listed (spec.source.devices[0] is /dev/sdf, the same attachment: EC2 takes /dev/sdX and /dev/xvdX for one slot)`}},
		{"the operating system's NVMe name", func(d map[string]any) {
			at(d, "spec", "source")["devices"] = []any{map[string]any{"name": "/dev/nvme1n1", "claimTemplate": "data"}}
		}, []string{`spec.source.devices[0].name: "/dev/nvme1n1", expected the name EC2 reports for the attachment, such as /dev/sdf or /dev/xvdf`}},
		{"a duplicate names the entry that has it first", func(d map[string]any) {
			at(d, "spec", "source")["devices"] = []any{
				map[string]any{"name": "/dev/xvdf", "claimTemplate": "data"},
				map[string]any{"name": "/dev/xvdg", "claimTemplate": "logs"},
				map[string]any{"name": "/dev/xvdf", "claimTemplate": "data"},
			}
		}, []string{`spec.source.devices[2].name: "/dev/xvdf", expected a device not already listed (it is spec.source.devices[0])`,
			`spec.source.devices[2].claimTemplate: "data", expected a claim template not already used (spec.source.devices[0] uses it)`}},
		{"partition out of range", func(d map[string]any) {
			at(d, "spec", "source")["devices"] = []any{
				map[string]any{"name": "/dev/xvdf", "claimTemplate": "data", "partition": -1},
				map[string]any{"name": "/dev/xvdg", "claimTemplate": "logs", "partition": 129},
			}
		}, []string{`spec.source.devices[0].partition: -1, expected a partition number from 1 to 128, or 0 (or no partition) for the whole device`,
			`spec.source.devices[1].partition: 129, expected a partition number from 1 to 128`}},
		{"missing names are missing, not duplicates", func(d map[string]any) {
			at(d, "spec", "source")["devices"] = []any{
				map[string]any{"name": "/dev/xvdf"}, map[string]any{"name": "/dev/xvdg"},
			}
		}, []string{`spec.source.devices[0].claimTemplate: missing, expected a name`,
			`spec.source.devices[1].claimTemplate: missing, expected a name`}},
		{"duplicate instance in table", func(d map[string]any) {
			at(d, "spec")["mapping"] = map[string]any{"table": []any{
				map[string]any{"instance": "i-0123456789abcdef0", "statefulSet": "cassandra", "ordinal": 0},
				map[string]any{"instance": "i-0123456789abcdef1", "statefulSet": "cassandra", "ordinal": 1},
				map[string]any{"instance": "i-0123456789abcdef0", "statefulSet": "cassandra", "ordinal": 2},
			}}
		}, []string{`spec.mapping.table[2].instance: "i-0123456789abcdef0", expected an instance mapped once (spec.mapping.table[0] maps it too)`}},
		{"two StatefulSets draw from one source zone", func(d map[string]any) {
			at(d, "spec")["mapping"] = map[string]any{"sort": map[string]any{"by": "privateIp"}}
			at(d, "spec", "target")["statefulSets"] = []any{
				map[string]any{"name": "r1", "replicas": 1, "sourceZone": "us-east-1a"}, map[string]any{"name": "r2", "replicas": 1, "sourceZone": "us-east-1a"},
			}
		}, []string{`spec.target.statefulSets[1].sourceZone: "us-east-1a", expected a zone no other StatefulSet draws from (spec.target.statefulSets[0] does)`}},
		{"no mapping", func(d map[string]any) { delete(at(d, "spec"), "mapping") },
			[]string{`spec.mapping: "0 methods", expected exactly one of tagRegex, table or sort`}},
		{"two mappings", func(d map[string]any) { at(d, "spec", "mapping")["sort"] = map[string]any{"by": "privateIp"} },
			[]string{`spec.mapping: "2 methods", expected exactly one of tagRegex, table or sort`}},
		{"regex without ordinal group", func(d map[string]any) { at(d, "spec", "mapping", "tagRegex")["pattern"] = "^cassandra-([0-9]+)$" },
			[]string{`spec.mapping.tagRegex.pattern: "^cassandra-([0-9]+)$", expected a named group (?P<ordinal>[0-9]+)`}},
		{"regex that does not compile", func(d map[string]any) { at(d, "spec", "mapping", "tagRegex")["pattern"] = "(" },
			[]string{`spec.mapping.tagRegex.pattern: "(", expected a valid regular expression`}},
		{"regex without statefulset group for several sets", func(d map[string]any) {
			at(d, "spec", "target")["statefulSets"] = []any{
				map[string]any{"name": "r1", "replicas": 1}, map[string]any{"name": "r2", "replicas": 1},
			}
		}, []string{`expected a named group (?P<statefulset>...) since there are several StatefulSets`}},
		{"duplicate ordinal in table", func(d map[string]any) {
			at(d, "spec")["mapping"] = map[string]any{"table": []any{
				map[string]any{"instance": "i-0123456789abcdef0", "statefulSet": "cassandra", "ordinal": 0},
				map[string]any{"instance": "i-0123456789abcdef1", "statefulSet": "cassandra", "ordinal": 0},
				map[string]any{"instance": "i-0123456789abcdef2", "statefulSet": "cassandra", "ordinal": 2},
			}}
		}, []string{`spec.mapping.table[1].ordinal: 0, expected an ordinal not already taken (duplicate of spec.mapping.table[0], cassandra/0)`,
			`spec.mapping.table: "cassandra ordinal 1", expected an entry for every ordinal`}},
		{"table entry errors", func(d map[string]any) {
			at(d, "spec")["mapping"] = map[string]any{"table": []any{
				map[string]any{"instance": "host-1", "statefulSet": "cassandra", "ordinal": 0},
				map[string]any{"instance": "i-0123456789abcdef1", "statefulSet": "scylla", "ordinal": 1},
				map[string]any{"instance": "i-0123456789abcdef2", "statefulSet": "cassandra", "ordinal": 7},
			}}
		}, []string{`spec.mapping.table[0].instance: "host-1", expected an instance id`,
			`spec.mapping.table[1].statefulSet: "scylla", expected one of spec.target.statefulSets`,
			`spec.mapping.table[2].ordinal: 7, expected an ordinal of cassandra in [0, 3)`,
			`spec.mapping.table: "cassandra ordinal 1", expected an entry for every ordinal`,
			`spec.mapping.table: "cassandra ordinal 2", expected an entry for every ordinal`}},
		{"sort with several sets needs source zones", func(d map[string]any) {
			at(d, "spec")["mapping"] = map[string]any{"sort": map[string]any{"by": "uptime"}}
			at(d, "spec", "target")["statefulSets"] = []any{
				map[string]any{"name": "r1", "replicas": 1, "sourceZone": "us-east-1a"}, map[string]any{"name": "r2", "replicas": 1},
			}
		}, []string{`spec.mapping.sort.by: "uptime", expected one of launchTime, privateIp, instanceId, tag:<key>`,
			`spec.target.statefulSets[1].sourceZone: missing, expected a source zone`}},
		{"two members mapped to one PVC name", func(d map[string]any) {
			at(d, "spec", "source")["devices"] = []any{
				map[string]any{"name": "/dev/xvdf", "claimTemplate": "data"},
				map[string]any{"name": "/dev/xvdg", "claimTemplate": "data-x"},
			}
			at(d, "spec", "mapping", "tagRegex")["pattern"] = "^(?P<statefulset>.*)-(?P<ordinal>[0-9]+)$"
			at(d, "spec", "target")["statefulSets"] = []any{
				map[string]any{"name": "x-1", "replicas": 1}, map[string]any{"name": "1", "replicas": 1},
			}
		}, []string{`spec.target.statefulSets: "data-x-1-0", expected one member per PVC name, but template data of x-1 ordinal 0 and template data-x of 1 ordinal 0 both map to it`}},
		{"zone not in the region", func(d map[string]any) {
			at(d, "spec", "target")["statefulSets"] = []any{map[string]any{"name": "cassandra", "replicas": 3, "zone": "eu-west-1a"}}
		}, []string{`spec.target.statefulSets[0].zone: "eu-west-1a", expected a zone of the target region us-east-1`}},
		{"zones map outside the regions", func(d map[string]any) {
			at(d, "spec", "target")["zones"] = map[string]any{"us-west-2a": "us-east-1z1"}
		}, []string{`spec.target.zones[us-west-2a]: "us-west-2a", expected a key that is a zone of the source region us-east-1`,
			`spec.target.zones[us-west-2a]: "us-east-1z1", expected a zone of the target region us-east-1`}},
		{"bad statefulsets", func(d map[string]any) {
			at(d, "spec", "target")["statefulSets"] = []any{
				map[string]any{"name": "cassandra", "replicas": 0, "ordinals": map[string]any{"start": -1}},
				map[string]any{"name": "cassandra", "replicas": 1},
			}
		}, []string{`spec.target.statefulSets[0].replicas: 0, expected 1 to 10000`,
			`spec.target.statefulSets[0].ordinals.start: -1, expected 0 or more`,
			`spec.target.statefulSets[1].name: "cassandra", expected a StatefulSet not already listed`,
			`expected a named group (?P<statefulset>...) since there are several StatefulSets`}},
		// StatefulSet ordinals are int32: a start past them wrapped the last ordinal around.
		{"ordinals past int32", func(d map[string]any) {
			at(d, "spec", "target")["statefulSets"] = []any{
				map[string]any{"name": "cassandra", "replicas": 3, "ordinals": map[string]any{"start": int64(9223372036854775807)}},
				map[string]any{"name": "cassandra2", "replicas": 3, "ordinals": map[string]any{"start": 2147483646}},
				map[string]any{"name": "cassandra3", "replicas": 3, "ordinals": map[string]any{"start": 2147483645}},
			}
		}, []string{`spec.target.statefulSets[0].ordinals.start: 9223372036854775807, expected at most 2147483645, so that the last of its 3 ordinals is at most 2147483647`,
			`spec.target.statefulSets[1].ordinals.start: 2147483646, expected at most 2147483645`,
			`expected a named group (?P<statefulset>...) since there are several StatefulSets`}},
		{"no statefulsets and bad namespace", func(d map[string]any) {
			delete(at(d, "spec", "target"), "statefulSets")
			at(d, "spec", "target")["namespace"] = "Prod"
		}, []string{`spec.target.statefulSets: missing, expected at least one StatefulSet`, `spec.target.namespace: "Prod"`}},
		{"bad storage class and topology key", func(d map[string]any) {
			at(d, "spec", "target")["storageClassName"] = "GP3!"
			at(d, "spec", "target")["topologyKey"] = "zone"
		}, []string{`spec.target.storageClassName: "GP3!"`, `spec.target.topologyKey: "zone", expected one of topology.kubernetes.io/zone, topology.ebs.csi.aws.com/zone`}},
		{"volume type out of range", func(d map[string]any) {
			at(d, "spec", "target")["volume"] = map[string]any{"type": "gp4"}
		}, []string{`spec.target.volume.type: "gp4", expected one of gp2, gp3, io1, io2, st1, sc1, standard`}},
		{"gp3 iops and throughput out of range", func(d map[string]any) {
			at(d, "spec", "target")["volume"] = map[string]any{"type": "gp3", "iops": 100, "throughput": 5000}
		}, []string{`spec.target.volume.iops: 100, expected 3000 to 80000 for gp3`, `spec.target.volume.throughput: 5000, expected 125 to 2000 MiB/s`}},
		{"iops and throughput on the wrong type", func(d map[string]any) {
			at(d, "spec", "target")["volume"] = map[string]any{"type": "st1", "iops": 3000, "throughput": 200}
		}, []string{`spec.target.volume.iops: 3000, expected no IOPS for type st1`, `spec.target.volume.throughput: 200, expected no throughput for type st1`}},
		{"kms key, initialization and tags", func(d map[string]any) {
			at(d, "spec", "target")["volume"] = map[string]any{
				"kmsKeyId":       "my-key",
				"initialization": map[string]any{"rateMiBps": 500, "fastSnapshotRestore": true},
				"tags":           map[string]any{"aws:owner": "x"},
			}
		}, []string{`spec.target.volume.kmsKeyId: "my-key", expected a KMS key id`,
			`spec.target.volume.initialization.rateMiBps: 500, expected 100 to 300 MiB/s`,
			`spec.target.volume.initialization: "rateMiBps and fastSnapshotRestore", expected one of the two`,
			`spec.target.volume.tags: "aws:owner"`}},
		{"gitops", func(d map[string]any) {
			at(d, "spec")["gitops"] = map[string]any{"engine": "spinnaker", "provider": "gitlab", "base": "/abs/base",
				"overlayPath": "../x", "baseBranch": "a..b"}
		}, []string{`spec.gitops.engine: "spinnaker", expected one of flux, argocd, none`,
			`spec.gitops.provider: "gitlab", expected one of github, gitea, none`,
			`spec.gitops.base: "/abs/base", expected a relative path`,
			`spec.gitops.overlayPath: "../x", expected a clean relative directory`,
			`spec.gitops.baseBranch: "a..b", expected a git branch name`}},
		{"gitops engine object without engine, provider without repo", func(d map[string]any) {
			at(d, "spec")["gitops"] = map[string]any{"base": "../b", "engineObject": true, "provider": "github"}
		}, []string{`spec.gitops.engineObject: true, expected false when engine is none`,
			`spec.gitops.repo: missing, expected the repository URL when a pull-request provider is set`}},
		{"dependsOn without flux", func(d map[string]any) {
			at(d, "spec", "gitops")["dependsOn"] = []any{"Bad_Name"}
		}, []string{`spec.gitops.dependsOn[0]: "Bad_Name", expected a DNS-1123 label`,
			`spec.gitops.dependsOn: "Bad_Name", expected no dependsOn unless engine is flux`}},
		{"argo sourceRef with credentials", func(d map[string]any) {
			at(d, "spec")["gitops"] = map[string]any{"base": "../b", "engine": "argocd", "engineObject": true,
				"sourceRef": "https://x-access-token:s3cret@github.com/org/gitops.git"}
		}, []string{`spec.gitops.sourceRef: "https://github.com/org/gitops.git (with credentials)", expected a URL without user or password`}},
		{"argo sourceRef not a URL, flux sourceRef not a name", func(d map[string]any) {
			at(d, "spec")["gitops"] = map[string]any{"base": "../b", "engine": "argocd", "engineObject": true, "sourceRef": "gitops repo\nkind: x"}
		}, []string{`spec.gitops.sourceRef: "gitops repo\nkind: x", expected a repository URL`}},
		{"overlayPath in .git", func(d map[string]any) { at(d, "spec", "gitops")["overlayPath"] = ".git/hooks/x" },
			[]string{`spec.gitops.overlayPath: ".git/hooks/x", expected a directory outside .git`}},
		{"overlayPath in .GIT, deeper", func(d map[string]any) { at(d, "spec", "gitops")["overlayPath"] = "a/.GIT/x" },
			[]string{`spec.gitops.overlayPath: "a/.GIT/x", expected a directory outside .git`}},
		{"overlayPath in .git as Windows names it", func(d map[string]any) { at(d, "spec", "gitops")["overlayPath"] = "a/.git. /x" },
			[]string{`spec.gitops.overlayPath: "a/.git. /x", expected a directory outside .git`}},
		{"overlayPath in .git by its NTFS short name", func(d map[string]any) { at(d, "spec", "gitops")["overlayPath"] = "a/GIT~1/x" },
			[]string{`spec.gitops.overlayPath: "a/GIT~1/x", expected a directory outside .git`}},
		{"overlayPath in .git by an NTFS stream", func(d map[string]any) { at(d, "spec", "gitops")["overlayPath"] = "a/.git::$INDEX_ALLOCATION/x" },
			[]string{`expected a directory outside .git`}},
		{"overlayPath in .git with code points HFS+ ignores", func(d map[string]any) { at(d, "spec", "gitops")["overlayPath"] = "a/.G\u200cit\ufeff/x" },
			[]string{`spec.gitops.overlayPath: "a/.G\u200cit\ufeff/x", expected a directory outside .git`}},
		{"base in .git as Windows names it", func(d map[string]any) { at(d, "spec", "gitops")["base"] = "../../.git../base" },
			[]string{`spec.gitops.base: "../../.git../base", expected a directory outside .git`}},
		{"overlayPath with a newline", func(d map[string]any) { at(d, "spec", "gitops")["overlayPath"] = "overlays/a\nb" },
			[]string{`spec.gitops.overlayPath: "overlays/a\nb", expected a path without control characters`}},
		{"overlayPath with NUL", func(d map[string]any) { at(d, "spec", "gitops")["overlayPath"] = "overlays/a\x00" },
			[]string{`spec.gitops.overlayPath: "overlays/a\x00", expected a path without control characters`}},
		{"base with a tab", func(d map[string]any) { at(d, "spec", "gitops")["base"] = "../../base\tx" },
			[]string{`spec.gitops.base: "../../base\tx", expected a path without control characters`}},
		{"overlayPath with backslashes", func(d map[string]any) { at(d, "spec", "gitops")["overlayPath"] = `..\x` },
			[]string{`spec.gitops.overlayPath: "..\\x", expected a clean relative directory`}},
		{"base outside the repository", func(d map[string]any) { at(d, "spec", "gitops")["base"] = "../../../base" },
			[]string{`spec.gitops.base: "../../../base", expected a directory inside the repository (from overlayPath overlays/cass it resolves to ../base, outside it)`}},
		{"base in .git", func(d map[string]any) { at(d, "spec", "gitops")["base"] = "../../.git/base" },
			[]string{`spec.gitops.base: "../../.git/base", expected a directory outside .git`}},
		{"base is the overlay", func(d map[string]any) { at(d, "spec", "gitops")["base"] = "../cass/" },
			[]string{`spec.gitops.base: "../cass/", expected a directory apart from the overlay (from overlayPath overlays/cass it resolves to overlays/cass`}},
		{"base inside the overlay", func(d map[string]any) { at(d, "spec", "gitops")["base"] = "base" },
			[]string{`spec.gitops.base: "base", expected a directory apart from the overlay (from overlayPath overlays/cass it resolves to overlays/cass/base`}},
		{"base holds the overlay", func(d map[string]any) { at(d, "spec", "gitops")["base"] = "../.." },
			[]string{`spec.gitops.overlayPath: "overlays/cass", expected a directory apart from the base (the base ../.. resolves to ., which holds the overlay)`}},
		{"overlay inside the base", func(d map[string]any) {
			at(d, "spec", "gitops")["base"] = ".."
		}, []string{`spec.gitops.overlayPath: "overlays/cass", expected a directory apart from the base (the base .. resolves to overlays, which holds the overlay)`}},
		{"kms key ARN of another region", func(d map[string]any) {
			at(d, "spec", "target")["region"] = "us-east-2"
			at(d, "spec", "target")["volume"] = map[string]any{"kmsKeyId": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
		}, []string{`spec.target.volume.kmsKeyId: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", expected a key of the target region us-east-2 (an ARN arn:aws:kms:us-east-2:…)`}},
		{"kms key ARN of the source region, not the target's", func(d map[string]any) {
			at(d, "spec", "target")["region"] = "us-west-2"
			at(d, "spec", "target")["volume"] = map[string]any{"kmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"}
		}, []string{`expected a key of the target region us-west-2`}},
		{"kms alias ARN of another region", func(d map[string]any) {
			at(d, "spec", "target")["volume"] = map[string]any{"kmsKeyId": "arn:aws:kms:eu-west-1:111122223333:alias/ebs"}
		}, []string{`spec.target.volume.kmsKeyId: "arn:aws:kms:eu-west-1:111122223333:alias/ebs", expected a key of the target region us-east-1`}},
		{"kms key ARN of another partition", func(d map[string]any) {
			at(d, "spec", "target")["volume"] = map[string]any{"kmsKeyId": "arn:aws-us-gov:kms:us-east-1:111122223333:alias/ebs"}
		}, []string{`expected a key of the target region us-east-1 (an ARN arn:aws:kms:us-east-1:…)`}},
		{"kms key ARN of the China partition from aws", func(d map[string]any) {
			at(d, "spec", "source")["region"] = "cn-north-1"
			at(d, "spec", "target")["volume"] = map[string]any{"kmsKeyId": "arn:aws:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
		}, []string{`expected a key of the target region cn-north-1 (an ARN arn:aws-cn:kms:cn-north-1:…)`}},
		{"kms key ARN of the aws partition in an isolated region", func(d map[string]any) {
			at(d, "spec", "source")["region"] = "us-iso-east-1"
			at(d, "spec", "target")["volume"] = map[string]any{"kmsKeyId": "arn:aws:kms:us-iso-east-1:111122223333:alias/ebs"}
		}, []string{`expected a key of the target region us-iso-east-1 (an ARN arn:aws-iso:kms:us-iso-east-1:…)`}},
		{"missing base", func(d map[string]any) { delete(at(d, "spec", "gitops"), "base") },
			[]string{`spec.gitops.base: missing, expected the kustomize base`}},
		{"empty hook", func(d map[string]any) { at(d, "spec")["hooks"] = map[string]any{"beforeFinal": []any{" "}} },
			[]string{`spec.hooks.beforeFinal[0]: " ", expected a command name`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := spec.Parse(edit(t, c.change))
			wantProblems(t, err, c.want)
		})
	}
}

// wantProblems fails the test unless err is a ValidationError wrapping
// ErrInvalid that holds len(want) problems, and its message each of want.
func wantProblems(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatal("spec accepted")
	}
	var verr spec.ValidationError
	if !errors.As(err, &verr) || !errors.Is(err, spec.ErrInvalid) {
		t.Fatalf("error %T is not a ValidationError wrapping ErrInvalid: %v", err, err)
	}
	if len(verr) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(verr), len(want), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in\n%v", w, err)
		}
	}
}

// TestAllProblemsAtOnce: validation reports every problem, not the first.
func TestAllProblemsAtOnce(t *testing.T) {
	_, err := spec.Parse(edit(t, func(d map[string]any) {
		at(d, "metadata")["name"] = "X"
		at(d, "spec", "source")["region"] = "nowhere"
		at(d, "spec", "target")["namespace"] = "Y"
	}))
	var verr spec.ValidationError
	if !errors.As(err, &verr) || len(verr) != 3 {
		t.Fatalf("want 3 problems reported together, got %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"malformed YAML", "apiVersion: [unclosed\n", "invalid migration spec"},
		{"unknown field with its line", strings.Replace(valid, "    region: us-east-1\n", "    region: us-east-1\n    regoin: us-east-2\n", 1),
			`line 9: field regoin is not a field of Source (did you mean region?)`},
		{"a field in the wrong case", strings.Replace(valid, "    statefulSets:", "    statefulsets:", 1), `line 21: field statefulsets is not a field of Target (did you mean statefulSets?)`},
		{"a field in the singular", strings.Replace(valid, "    statefulSets:", "    statefulSet:", 1), `line 21: field statefulSet is not a field of Target (did you mean statefulSets?)`},
		{"duplicate field", strings.Replace(valid, "kind: Migration\n", "kind: Migration\nkind: Migration\n", 1), `mapping key "kind" already defined`},
		// Each value of the wrong kind names its field, its value and what the field takes.
		{"wrong type", strings.Replace(valid, "replicas: 3", "replicas: three", 1), `line 23: spec.target.statefulSets[0].replicas: "three", expected a whole number`},
		{"a quoted number", strings.Replace(valid, "replicas: 3", "replicas: '3'", 1), `line 23: spec.target.statefulSets[0].replicas: "3", expected a whole number`},
		{"a number too large", strings.Replace(valid, "replicas: 3", "replicas: 99999999999999999999", 1), `line 23: spec.target.statefulSets[0].replicas: 99999999999999999999, expected a whole number`},
		{"over int32", strings.Replace(valid, "  gitops:", "    volume:\n      iops: 4000000000000\n  gitops:", 1), `line 25: spec.target.volume.iops: 4000000000000, expected a whole number from -2147483648 to 2147483647`},
		{"a list for a string", strings.Replace(valid, "namespace: cassandra", "namespace: [cassandra]", 1), `line 20: spec.target.namespace: a list, expected a string`},
		{"a mapping for a list", strings.Replace(valid, "    filters:\n      - name: tag:app\n        values: [cassandra]", "    filters: {name: tag:app}", 1), `line 9: spec.source.filters: a mapping, expected a list`},
		{"a scalar for a mapping", strings.Replace(valid, "  gitops:\n    base: ../../base", "  gitops: ../../base", 1), `line 24: spec.gitops: "../../base", expected a mapping (key: value lines)`},
		{"a word for a bool", strings.Replace(valid, "    base: ../../base", "    base: ../../base\n    engineObject: maybe", 1), `line 26: spec.gitops.engineObject: "maybe", expected true or false`},
		{"a map value of the wrong kind", strings.Replace(valid, "  gitops:", "    volume:\n      tags: {team: [a]}\n  gitops:", 1), `line 25: spec.target.volume.tags[team]: a list, expected a string`},
		{"an unknown field beside a wrong type", strings.Replace(strings.Replace(valid, "replicas: 3", "replicas: x", 1), "    region: us-east-1\n", "    region: us-east-1\n    regoin: us-east-2\n", 1),
			"2 problems:\n  - line 9: field regoin is not a field of Source (did you mean region?)\n  - line 24: spec.target.statefulSets[0].replicas: \"x\", expected a whole number"},
		// yaml.v3 would truncate these to 2 and 3 without a word.
		{"a float for an integer", strings.Replace(valid, "replicas: 3", "replicas: 2.5", 1), "line 23: field replicas: 2.5, expected a whole number"},
		{"a float through an alias", strings.Replace(strings.Replace(valid, "replicas: 3", "replicas: *r", 1), "values: [cassandra]", "values: [cassandra, &r 3.5]", 1), "line 23: field replicas: 3.5, expected a whole number"},
		{"a tab for indentation", strings.Replace(valid, "    namespace: cassandra", "\tnamespace: cassandra", 1), "line 20: found character that cannot start any token (line 20 holds a tab: YAML indents with spaces, never tabs)"},
		{"empty document", "", "the document is empty"},
		{"two documents", valid + "---\nkind: Migration\n", "a second YAML document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := spec.Parse([]byte(c.doc))
			if err == nil || !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want ErrInvalid containing %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "cannot unmarshal") {
				t.Errorf("error %v: yaml.v3's bare message, which names no field", err)
			}
		})
	}
}

// TestDecodeErrorsBounded: a spec with a value of the wrong kind in a
// hundred places lists twenty of them, not a hundred lines.
func TestDecodeErrorsBounded(t *testing.T) {
	filters := strings.Repeat("      - name: tag:x\n        values: [[x]]\n", 100)
	_, err := spec.Parse([]byte(strings.Replace(valid, "    filters:\n", "    filters:\n"+filters, 1)))
	if err == nil || strings.Count(err.Error(), "a list, expected a string") != 20 {
		t.Errorf("error %v, want 20 problems listed", err)
	}
}

// TestMembersBounded: a spec of 130 KB asking for 30 million members (3,000
// StatefulSets of 10,000 replicas) is refused at once, naming the bound,
// instead of validating every member (graft iam-policy took minutes and
// 6 GB); so are claims over MaxClaims.
func TestMembersBounded(t *testing.T) {
	var sets strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&sets, "      - name: c%d\n        replicas: 10000\n", i)
	}
	doc := strings.Replace(valid, "      - name: cassandra\n        replicas: 3\n", sets.String(), 1)
	doc = strings.Replace(doc, "'^cassandra-(?P<ordinal>[0-9]+)$'", "'^(?P<statefulset>c[0-9]+)-(?P<ordinal>[0-9]+)$'", 1)
	start := time.Now()
	_, err := spec.Parse([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), "spec.target.statefulSets: 30000000, expected at most 10000 members in all (the sum of their replicas)") {
		t.Errorf("error %v, want the members bound", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing it took %v", d)
	}
	devices := strings.Repeat("      - name: /dev/xvdX\n        claimTemplate: tX\n", 1)
	doc = strings.Replace(valid, "replicas: 3", "replicas: 10000", 1)
	for _, d := range []string{"g", "h"} {
		doc = strings.Replace(doc, "        claimTemplate: data\n", "        claimTemplate: data\n"+strings.NewReplacer("X", d).Replace(devices), 1)
	}
	if _, err := spec.Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "spec.source.devices: 3, expected at most 20000 claims in all (10000 members × 3 devices is 30000)") {
		t.Errorf("error %v, want the claims bound", err)
	}
}

// TestUnknownFieldNoGuess: a field like none of its type's gets no
// suggestion.
func TestUnknownFieldNoGuess(t *testing.T) {
	_, err := spec.Parse([]byte(strings.Replace(valid, "    statefulSets:", "    members: 3\n    statefulSets:", 1)))
	if err == nil || !strings.HasSuffix(err.Error(), "line 21: field members is not a field of Target") {
		t.Errorf("error %v, want it to end with the field, and no guess", err)
	}
}

// TestDecodeErrorsThroughAliases: a value of the wrong kind reached
// through an alias is named at the alias, by the field it is used for.
func TestDecodeErrorsThroughAliases(t *testing.T) {
	doc := strings.Replace(valid, "        values: [cassandra]\n", "        values: [cassandra, &v [x]]\n      - name: tag:x\n        values: [*v, y, *v]\n", 1)
	_, err := spec.Parse([]byte(doc))
	want := "3 problems:\n  - line 11: spec.source.filters[0].values[1]: a list, expected a string\n  - line 13: spec.source.filters[1].values[0]: a list, expected a string\n  - line 13: spec.source.filters[1].values[2]: a list, expected a string"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %v, want it to end %q", err, want)
	}
}

// TestDevicePartition: a device's partition is carried as given; absent is
// 0, the whole device; a partition that is not a whole number is a decode
// error naming its line.
func TestDevicePartition(t *testing.T) {
	for doc, want := range map[string]int{
		valid: 0,
		strings.Replace(valid, "claimTemplate: data\n", "claimTemplate: data\n        partition: 1\n", 1):   1,
		strings.Replace(valid, "claimTemplate: data\n", "claimTemplate: data\n        partition: 128\n", 1): 128,
		strings.Replace(valid, "claimTemplate: data\n", "claimTemplate: data\n        partition: 0\n", 1):   0,
	} {
		m, err := spec.Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Spec.Source.Devices[0].Partition; got != want {
			t.Errorf("partition %d, want %d", got, want)
		}
	}
	for _, bad := range []string{`"1"`, "p1", "[1]", "true", "1.5", "2.0", "1e0", "&p 2.9"} {
		doc := strings.Replace(valid, "claimTemplate: data\n", "claimTemplate: data\n        partition: "+bad+"\n", 1)
		_, err := spec.Parse([]byte(doc))
		if err == nil || !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), "line 15") {
			t.Errorf("partition: %s: error %v, want ErrInvalid naming line 15", bad, err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := spec.Load(filepath.Join(t.TempDir(), "graft.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("want a not-exist error, got %v", err)
	}
}

func TestZoneInRegion(t *testing.T) {
	for zone, want := range map[string]bool{
		"us-east-1a": true, "us-west-2-lax-1a": true, "us-east-1": false, "us-east-12": false,
		"us-east-1aa": false, "eu-west-1a": false, "": false,
	} {
		if got := spec.ZoneInRegion(zone, "us-east-1") || spec.ZoneInRegion(zone, "us-west-2"); got != want {
			t.Errorf("ZoneInRegion(%q) = %v, want %v", zone, got, want)
		}
	}
}

func TestClaimName(t *testing.T) {
	if got := spec.ClaimName("data", "cassandra-r1", 7); got != "data-cassandra-r1-7" {
		t.Errorf("ClaimName = %q", got)
	}
}

// FuzzParse: the decoder never panics, and everything it accepts is valid.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	if data, err := templates.Raw(templates.ExampleSpec); err == nil {
		f.Add(data)
	}
	paths, _ := filepath.Glob("../../testdata/examples/*/graft.yaml")
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(cassOperator(f)))
	f.Add([]byte(eck(f)))
	f.Add([]byte(strings.Replace(cassOperator(f), "size: 7", "size: 7\n        datacenterName: DC_1\n        operatorVersion: v1.22.0", 1)))
	f.Add([]byte("apiVersion: [\n"))
	f.Add([]byte(strings.Replace(valid, "claimTemplate: data\n", "claimTemplate: data\n        partition: 128\n", 1)))
	f.Add([]byte("spec:\n  target:\n    statefulSets:\n      - replicas: 99999999\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := spec.Parse(data)
		if err != nil {
			if !errors.Is(err, spec.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if verr := m.Validate(); verr != nil {
			t.Fatalf("accepted a spec that does not validate: %v", verr)
		}
	})
}

// TestKMSKeysOfTheTargetRegion: key and alias ARNs of the target region and
// partition, and region-less ids and alias names, are accepted.
func TestKMSKeysOfTheTargetRegion(t *testing.T) {
	for _, c := range []struct{ source, target, key string }{
		{"us-east-1", "us-east-2", "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
		{"us-east-1", "", "arn:aws:kms:us-east-1:111122223333:alias/ebs"},
		{"cn-north-1", "", "arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"},
		{"us-gov-west-1", "us-gov-east-1", "arn:aws-us-gov:kms:us-gov-east-1:111122223333:alias/ebs"},
		{"us-east-1", "eu-west-1", "1234abcd-12ab-34cd-56ef-1234567890ab"},
		{"us-east-1", "eu-west-1", "alias/ebs"},
		{"us-iso-east-1", "", "arn:aws-iso:kms:us-iso-east-1:111122223333:alias/ebs"},
		{"us-isob-east-1", "", "arn:aws-iso-b:kms:us-isob-east-1:111122223333:alias/ebs"},
	} {
		doc := strings.Replace(valid, "region: us-east-1", "region: "+c.source, 1)
		target := "  target:\n"
		if c.target != "" {
			target += "    region: " + c.target + "\n"
		}
		doc = strings.Replace(doc, "  target:\n", target+"    volume: {kmsKeyId: \""+c.key+"\"}\n", 1)
		if _, err := spec.Parse([]byte(doc)); err != nil {
			t.Errorf("%s -> %s, key %s: %v", c.source, c.target, c.key, err)
		}
	}
}

func TestPartition(t *testing.T) {
	for region, want := range map[string]string{"us-east-1": "aws", "eu-west-1": "aws", "cn-northwest-1": "aws-cn", "us-gov-west-1": "aws-us-gov",
		"us-iso-east-1": "aws-iso", "us-isob-east-1": "aws-iso-b", "eu-isoe-west-1": "aws-iso-e", "us-isof-south-1": "aws-iso-f"} {
		if got := spec.Partition(region); got != want {
			t.Errorf("Partition(%s) = %s, want %s", region, got, want)
		}
	}
}

// TestLoadIsBounded: a spec over boundedio.MaxSpecBytes is invalid input
// naming the file and the limit, and a spec that never ends (a FIFO with no
// writer) does not keep Load alive once its context is done.
func TestLoadIsBounded(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#\n"), int(boundedio.MaxSpecBytes/2)+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := spec.Load(big)
	if !errors.Is(err, spec.ErrInvalid) || !errors.Is(err, boundedio.ErrTooLarge) || !strings.Contains(err.Error(), big) || !strings.Contains(err.Error(), fmt.Sprint(boundedio.MaxSpecBytes)) {
		t.Fatalf("a spec over the limit: %v", err)
	}

	testkit.WantDeadlineOnFIFO(t, "fifo.yaml", func(ctx context.Context, path string) error {
		_, err := spec.LoadContext(ctx, path)
		return err
	})
}

// TestFormatProblems: the one message of spec's and record's validation
// errors, a count and then a line per problem.
func TestFormatProblems(t *testing.T) {
	errs := []spec.FieldError{{Field: "a.b", Value: "x", Expected: "y"}, {Field: "c", Expected: "a name"}}
	want := "2 problem(s) in the record (graft.lock):\n  - a.b: \"x\", expected y\n  - c: missing, expected a name"
	if got := spec.FormatProblems("the record (graft.lock)", errs); got != want {
		t.Errorf("FormatProblems:\n%s\nwant:\n%s", got, want)
	}
	if got := spec.ValidationError(errs).Error(); got != strings.Replace(want, "the record (graft.lock)", "the migration spec", 1) {
		t.Errorf("ValidationError.Error:\n%s", got)
	}
}

// TestHostileValuesStayOnTheirLine: a value of graft.yaml (a region named
// in another field's expected text, a field name yaml.v3 echoes) cannot
// add a line to the list of problems or reach the terminal raw: each
// problem is one line, and the message has no raw control, format or
// non-UTF-8 byte.
func TestHostileValuesStayOnTheirLine(t *testing.T) {
	h := termtexttest.Hostile
	t.Run("validation", func(t *testing.T) {
		_, err := spec.Parse(edit(t, func(d map[string]any) {
			at(d, "spec", "target")["region"] = h
			at(d, "spec", "target")["statefulSets"].([]any)[0].(map[string]any)["zone"] = "us-east-1a"
			at(d, "metadata")["name"] = h
		}))
		var verr spec.ValidationError
		if !errors.As(err, &verr) || len(verr) < 3 {
			t.Fatalf("want the region, the zone and the name reported, got %v", err)
		}
		termtexttest.Check(t, "the spec's problems", err.Error()+"\n", 1+len(verr))
	})
	t.Run("decode", func(t *testing.T) {
		_, err := spec.Parse(edit(t, func(d map[string]any) {
			at(d, "spec", "source")[h] = "x"
			at(d, "spec", "target")["statefulSets"].([]any)[0].(map[string]any)["replicas"] = map[string]any{h: h}
		}))
		if err == nil || !errors.Is(err, spec.ErrInvalid) {
			t.Fatalf("want ErrInvalid, got %v", err)
		}
		termtexttest.Check(t, "the spec's decode problems", err.Error()+"\n", 3)
	})
}
