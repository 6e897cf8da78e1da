package record_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/record"
)

func examplePaths(t testing.TB) []string {
	paths, _ := filepath.Glob("../../testdata/examples/*/graft.lock")
	if len(paths) == 0 {
		t.Fatal("no example records")
	}
	return paths
}

// baseExample is the record the edit cases below are written against (the
// first example once; other examples sort before it now).
const baseExample = "../../testdata/examples/cassandra-3node/graft.lock"

// TestRoundTrip: loading and writing a record gives the same bytes, so the
// file is deterministic and diffable.
func TestRoundTrip(t *testing.T) {
	for _, p := range examplePaths(t) {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := record.Parse(want)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		// Order must not matter.
		for i, j := 0, len(r.Volumes)-1; i < j; i, j = i+1, j-1 {
			r.Volumes[i], r.Volumes[j] = r.Volumes[j], r.Volumes[i]
		}
		out := filepath.Join(t.TempDir(), "graft.lock")
		if err := r.Write(out); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: rewrite differs:\n%s", p, got)
		}
	}
}

func TestInvalid(t *testing.T) {
	good, err := os.ReadFile(baseExample)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, from, to, want string }{
		{"unknown field", "kind: Lock", "kind: Lock\nextra: 1", "field extra not found"},
		{"wrong kind", "kind: Lock", "kind: Lok", `kind: "Lok", expected "Lock"`},
		{"a newer graft's record", "apiVersion: graft.graftctl.io/v1alpha1", "apiVersion: graft.graftctl.io/v1beta1", `apiVersion: "graft.graftctl.io/v1beta1", expected "graft.graftctl.io/v1alpha1" (another version of graft wrote it, and this one reads only graft.graftctl.io/v1alpha1: run the graft that wrote it)`},
		{"another group's document", "apiVersion: graft.graftctl.io/v1alpha1", "apiVersion: v1", `apiVersion: "v1", expected "graft.graftctl.io/v1alpha1"`},
		{"bad target volume", "targetVolume: vol-", "targetVolume: disk-", `targetVolume: "disk-`},
		{"zone outside region", "targetZone: us-east-1a", "targetZone: eu-west-1a", `targetZone: "eu-west-1a", expected a zone of the target region`},
		{"corrupt", "volumes:", "volumes: [", "invalid graft.lock"},
		{"negative partition", "fsType: ext4", "fsType: ext4\n    partition: -1", `volumes[0].partition: -1, expected a partition number from 1 to 128, or 0 (or no partition) for the whole device`},
		{"partition past a GPT disk's", "fsType: ext4", "fsType: ext4\n    partition: 129", `volumes[0].partition: 129, expected a partition number from 1 to 128`},
		{"partition as a float", "fsType: ext4", "fsType: ext4\n    partition: 1.5", "line 26: field partition: 1.5, expected a whole number"},
		{"size as a float", "sizeGiB: 500", "sizeGiB: 499.9", "field sizeGiB: 499.9, expected a whole number"},
		{"unknown csi driver", "fsType: ext4", "fsType: ext4\n    csiDriver: ebs.csi.example.com", `volumes[0].csiDriver: "ebs.csi.example.com", expected one of ebs.csi.aws.com, ebs.csi.eks.amazonaws.com`},
		{"csi driver in another case", "fsType: ext4", "fsType: ext4\n    csiDriver: EBS.csi.aws.com", `volumes[0].csiDriver: "EBS.csi.aws.com"`},
		{"cluster tag not graft's", "fsType: ext4", "fsType: ext4\n    clusterTags:\n      team: data", `volumes[0].clusterTags[team]: "data", expected a tag key graft sets for a cluster`},
		{"cluster tag false", "fsType: ext4", "fsType: ext4\n    clusterTags:\n      ebs.csi.aws.com/cluster: \"false\"", `volumes[0].clusterTags[ebs.csi.aws.com/cluster]: "false", expected "true"`},
		{"cluster tag bad name", "fsType: ext4", "fsType: ext4\n    clusterTags:\n      eks:eks-cluster-name: -x", `volumes[0].clusterTags[eks:eks-cluster-name]: "-x", expected an EKS cluster name`},
		{"partition as a string", "fsType: ext4", "fsType: ext4\n    partition: \"1\"", `line 26: volumes[0].partition: "1", expected a whole number`},
		{"a list for a zone", "targetZone: us-east-1a", "targetZone: [us-east-1a]", `volumes[0].targetZone: a list, expected a string`},
		{"a list for the migration, beside an unknown field", "migration: cassandra-3node\n", "x: 1\nmigration: [cassandra-3node]\n", "2 problems:\n  - line 4: field x not found at the top level of the record\n  - line 5: migration: a list, expected a string"},
		{"unknown binding mode", "volumes:", "binding:\n  mode: dynamic\n  storageClassName: gp3\nvolumes:", `binding.mode: "dynamic", expected one of static, provisioned`},
		{"provisioned without class", "volumes:", "binding:\n  mode: provisioned\n  storageClassName: \"\"\n  storageClass: declare\nvolumes:", `binding.storageClassName: "", expected the StorageClass that provisions new ordinals`},
		{"provisioned without source", "volumes:", "binding:\n  mode: provisioned\n  storageClassName: gp3\nvolumes:", `binding.storageClass: "", expected one of declare, existing`},
		{"static with a source", "volumes:", "binding:\n  mode: static\n  storageClassName: \"\"\n  storageClass: existing\nvolumes:", `binding.storageClass: "existing", expected unset`},
		{"ordinal past int32", "ordinal: 0", "ordinal: 2147483648", `volumes[0].ordinal: 2147483648, expected 0 to 2147483647`},
		{"negative ordinal", "ordinal: 0", "ordinal: -1", `volumes[0].ordinal: -1, expected 0 to 2147483647`},
		{"filesystem graft does not mount", "fsType: ext4", "fsType: ntfs", `volumes[0].fsType: "ntfs", expected one of ext3, ext4, xfs, btrfs`},
		{"filesystem in another case", "fsType: ext4", "fsType: EXT4", `volumes[0].fsType: "EXT4", expected one of`},
		{"source zone outside the source region", "sourceZone: us-east-1a", "sourceZone: eu-west-1a", `volumes[0].sourceZone: "eu-west-1a", expected a zone of the source region us-east-1`},
		{"source zone missing", "    sourceZone: us-east-1a\n", "", `volumes[0].sourceZone: "", expected a zone of the source region`},
		{"binding field unknown", "volumes:", "binding:\n  mode: static\n  selector: true\nvolumes:", "field selector not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(string(good), c.from, c.to, 1)
			if doc == string(good) {
				t.Fatalf("case does not change the record (%q not found)", c.from)
			}
			_, err := record.Parse([]byte(doc))
			if err == nil || !errors.Is(err, record.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want ErrInvalid containing %q", err, c.want)
			}
		})
	}
}

// marshal is r as graft writes it.
func marshal(t *testing.T, r *record.Record) []byte {
	t.Helper()
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// roundTrip is r written and parsed back.
func roundTrip(t *testing.T, r *record.Record) *record.Record {
	t.Helper()
	back, err := record.Parse(marshal(t, r))
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// TestPartitionRoundTrip: a recorded partition is written and read back; a
// whole volume writes no partition field.
func TestPartitionRoundTrip(t *testing.T) {
	r, err := record.Load(baseExample)
	if err != nil {
		t.Fatal(err)
	}
	if whole := marshal(t, r); bytes.Contains(whole, []byte("partition")) {
		t.Errorf("a record of whole volumes writes a partition field:\n%s", whole)
	}
	r.Volumes[0].Partition = 128
	back := roundTrip(t, r)
	if back.Volumes[0].Partition != 128 || back.Volumes[1].Partition != 0 {
		t.Errorf("partitions %d, %d after a round trip, want 128, 0", back.Volumes[0].Partition, back.Volumes[1].Partition)
	}
}

// TestDriverRoundTrip: a recorded driver and cluster tags are written and
// read back; a record without them means ebs.csi.aws.com and writes neither.
func TestDriverRoundTrip(t *testing.T) {
	r, err := record.Load(baseExample)
	if err != nil {
		t.Fatal(err)
	}
	if plain := marshal(t, r); bytes.Contains(plain, []byte("csiDriver")) || bytes.Contains(plain, []byte("clusterTags")) {
		t.Errorf("a record without drivers writes one:\n%s", plain)
	}
	if got := r.Volumes[0].Driver(); got != "ebs.csi.aws.com" {
		t.Errorf("Driver() of an unrecorded driver = %q, want ebs.csi.aws.com", got)
	}
	r.Volumes[0].CSIDriver = "ebs.csi.eks.amazonaws.com"
	r.Volumes[0].ClusterTags = map[string]string{"eks:eks-cluster-name": "prod"}
	back := roundTrip(t, r)
	if back.Volumes[0].Driver() != "ebs.csi.eks.amazonaws.com" || back.Volumes[0].ClusterTags["eks:eks-cluster-name"] != "prod" || back.Volumes[1].CSIDriver != "" {
		t.Errorf("after a round trip: %+v, %+v", back.Volumes[0], back.Volumes[1])
	}
}

func TestDuplicateAndSourceVolume(t *testing.T) {
	r, err := record.Load(baseExample)
	if err != nil {
		t.Fatal(err)
	}
	r.Volumes = append(r.Volumes, r.Volumes[0])
	r.Volumes[1].TargetVolume = r.Volumes[1].SourceVolume
	err = r.Validate()
	for _, want := range []string{"one entry per member and claim template", "a cloned volume, never the source volume", "a volume used once"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := record.Load(filepath.Join(t.TempDir(), "graft.lock"))
	if err == nil || !errors.Is(err, record.ErrInvalid) || !strings.Contains(err.Error(), "run `graft clone` first") {
		t.Errorf("got %v", err)
	}
}

// FuzzParse: Parse never panics, refuses with ErrInvalid, is bounded
// (more than boundedio.MaxFileBytes is refused unread, and an accepted
// record is no larger than its input allows), and what it accepts
// round-trips: Marshal gives a record that parses back to the same
// canonical bytes.
func FuzzParse(f *testing.F) {
	for _, p := range examplePaths(f) {
		data, _ := os.ReadFile(p)
		f.Add(data)
	}
	if data, err := os.ReadFile("../../testdata/policy/pass/flux-3node-partition/graft.lock"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(cassLock)) // a workload (workload_test.go)
	f.Add([]byte(""))
	f.Add([]byte("# only a comment\n"))
	f.Add([]byte("apiVersion: graft.graftctl.io/v1alpha1\nkind: Lock\nmigration: m\n---\nkind: Lock\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := record.Parse(data)
		if err != nil {
			if !errors.Is(err, record.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			if strings.Contains(err.Error(), "migration spec") || strings.HasSuffix(err.Error(), "EOF") {
				t.Fatalf("message does not name the record: %v", err)
			}
			return
		}
		if len(r.Volumes) > len(data) {
			t.Fatalf("%d volumes from %d bytes", len(r.Volumes), len(data))
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("accepted record does not marshal: %v", err)
		}
		r2, err := record.Parse(out)
		if err != nil {
			t.Fatalf("marshalled record does not parse: %v\n%s", err, out)
		}
		out2, err := r2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("round trip differs (%v):\n%s\n---\n%s", err, out, out2)
		}
	})
}

// TestMessages: problems in graft.lock name the record and the field path,
// never the migration spec; an empty record says it is empty and what is
// expected.
func TestMessages(t *testing.T) {
	good, err := os.ReadFile(baseExample)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		{"empty", "", []string{"invalid graft.lock: the file is empty", "expected one YAML document with apiVersion graft.graftctl.io/v1alpha1 and kind Lock"}},
		{"only comments", "# nothing\n", []string{"the file is empty"}},
		{"second document", string(good) + "---\nkind: Lock\n", []string{"a second YAML document; expected one YAML document"}},
		{"field", strings.Replace(string(good), "sizeGiB: ", "sizeGiB: -", 1), []string{"1 problem(s) in the record (graft.lock):", "volumes[0].sizeGiB: -", "expected 1 or more"}},
		{"unknown field", strings.Replace(string(good), "kind: Lock", "kind: Lock\nextra: 1", 1), []string{"field extra not found at the top level of the record"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "graft.lock")
			if err := os.WriteFile(p, []byte(c.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := record.Load(p)
			if err == nil || !errors.Is(err, record.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, p+": ") || strings.Contains(msg, "migration spec") || strings.Contains(msg, "EOF") {
				t.Errorf("%q: must start with the path and name neither the spec nor EOF", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not say %q", msg, w)
				}
			}
		})
	}
}

// TestLoadBounded: a record is read within boundedio.MaxFileBytes, even
// from a device.
func TestLoadBounded(t *testing.T) {
	_, err := record.Load("/dev/zero")
	if !errors.Is(err, record.ErrInvalid) || !errors.Is(err, boundedio.ErrTooLarge) || !strings.Contains(err.Error(), "/dev/zero: more than 67108864 bytes") {
		t.Errorf("got %v", err)
	}
	if _, err := record.Parse(make([]byte, boundedio.MaxFileBytes+1)); !errors.Is(err, boundedio.ErrTooLarge) {
		t.Errorf("Parse of more than MaxFileBytes: %v", err)
	}
}
