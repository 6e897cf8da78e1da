package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
)

const cliKey = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// cliKeyOfRegion is cliKey in the spec's region: a key ARN names its region.
const cliKeyOfRegion = "arn:aws:kms:REGION:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

const cliSpec = `apiVersion: graft.graftctl.io/v1alpha1
kind: Migration
metadata: {name: cli}
spec:
  source:
    region: REGION
    filters: [{name: "tag:app", values: [APPS]}]
    devices:
      - {name: /dev/xvdf, claimTemplate: data}
      - {name: /dev/xvdg, claimTemplate: commitlog}
  mapping:
    tagRegex: {tag: Name, pattern: '^cassandra-(?P<ordinal>[0-9]+)$'}
  target:
    namespace: db
    statefulSets: [{name: cassandra, replicas: 3ZONE}]
    volume:
      type: TYPE
      iops: IOPS
      throughput: THROUGHPUT
      kmsKeyId: ` + cliKeyOfRegion + `
  gitops: {base: ../../base}
`

type cliSim struct {
	sims map[string]*ec2sim.Sim
	cl   ec2sim.Cluster
	spec string
}

// newCLISim seeds a 3-node cluster (two devices) and another
// application's two nodes in a simulated us-east-1 (us-west-2 exists and
// is empty), and puts the simulator behind the CLI's EBS commands.
func newCLISim(t *testing.T, repl ...string) *cliSim {
	t.Helper()
	east := ec2sim.New(ec2sim.Options{Region: "us-east-1"})
	west := east.NewRegion("us-west-2")
	cl, err := east.SeedCluster(ec2sim.ClusterSpec{Name: "cassandra", Nodes: 3, Tags: map[string]string{"app": "cassandra"},
		Devices: []ec2sim.DeviceSpec{
			{Device: "/dev/xvdf", VolumeSpec: ec2sim.VolumeSpec{SizeGiB: 100, Encrypted: true}},
			{Device: "/dev/xvdg", VolumeSpec: ec2sim.VolumeSpec{SizeGiB: 20, Encrypted: true}},
		}})
	must(t, err)
	if _, err := east.SeedCluster(ec2sim.ClusterSpec{Name: "kafka", Nodes: 2, Tags: map[string]string{"app": "kafka"}}); err != nil {
		t.Fatal(err)
	}
	s := &cliSim{sims: map[string]*ec2sim.Sim{"us-east-1": east, "us-west-2": west}, cl: cl}
	old := newEC2Client
	newEC2Client = func(_ context.Context, _ *slog.Logger, region string, _ *ebs.CallCounter) (ebs.EC2, ebs.Clock, error) {
		sim := s.sims[region]
		return sim, sim.Clock(), nil
	}
	t.Cleanup(func() {
		newEC2Client = old
		for region, sim := range s.sims {
			if calls := sim.MutatingCallsOn(cl.SourceIDs()...); len(calls) > 0 {
				t.Errorf("%s: mutating calls on source resources: %+v", region, calls)
			}
		}
	})
	r := []string{"REGION", "us-east-1", "APPS", "cassandra", "ZONE", "", "TYPE", "gp3", "IOPS", "4000", "THROUGHPUT", "250"}
	for i := 0; i+1 < len(repl); i += 2 {
		for j := 0; j < len(r); j += 2 {
			if r[j] == repl[i] {
				r[j+1] = repl[i+1]
			}
		}
	}
	dir := t.TempDir()
	s.spec = filepath.Join(dir, "graft.yaml")
	must(t, os.WriteFile(s.spec, []byte(strings.NewReplacer(r...).Replace(cliSpec)), 0o644))
	return s
}

func (s *cliSim) nothingCreated(t *testing.T) {
	t.Helper()
	for region, sim := range s.sims {
		if c := sim.Created(); len(c) > 0 || sim.Stats().Mutations > 0 {
			t.Errorf("%s: created %v (%d mutations)", region, c, sim.Stats().Mutations)
		}
	}
}

func TestEBSCommands(t *testing.T) {
	s := newCLISim(t)
	code, out, errOut := graft(t, "discover", "--spec", s.spec, "-o", "json")
	if code != 0 {
		t.Fatalf("discover: %d %s", code, errOut)
	}
	var inv ebs.Inventory
	must(t, json.Unmarshal([]byte(out), &inv))
	if len(inv.Members) != 3 || len(inv.Members[0].Devices) != 2 {
		t.Fatalf("inventory %+v", inv)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.spec), ebs.InventoryFile)); err != nil {
		t.Error(err)
	}
	code, out, errOut = graft(t, "plan", "--spec", s.spec)
	if code != 0 || !strings.Contains(out, "Plan: 12 snapshot(s), 12 copy(ies), 6 volume(s) to create") || !strings.Contains(out, "Nothing has been changed") {
		t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("plan:\n%s", out)
	s.nothingCreated(t)

	code, _, errOut = graft(t, "clone", "--spec", s.spec)
	if code != 2 || !strings.Contains(errOut, "pass --yes") {
		t.Fatalf("clone without --yes: %d %s", code, errOut)
	}
	code, out, errOut = graft(t, "clone", "--spec", s.spec, "--dry-run")
	if code != 0 || !strings.Contains(out, "nothing was created") {
		t.Fatalf("clone --dry-run: %d %s %s", code, out, errOut)
	}
	s.nothingCreated(t)
	for _, phase := range []string{"precopy", "final"} {
		if code, _, errOut := graft(t, "clone", "--spec", s.spec, "--phase", phase, "--yes"); code != 0 {
			t.Fatalf("clone --phase %s: %d %s", phase, code, errOut)
		}
	}
	lock, err := os.ReadFile(filepath.Join(filepath.Dir(s.spec), "graft.lock"))
	must(t, err)
	if n := strings.Count(string(lock), "targetVolume: vol-"); n != 6 {
		t.Errorf("graft.lock has %d volumes:\n%s", n, lock)
	}
	code, out, errOut = graft(t, "cleanup", "--spec", s.spec, "--yes")
	if code != 0 || !strings.Contains(out, "graft cleanup will delete 24 resource(s)") {
		t.Fatalf("cleanup: %d\n%s\n%s", code, out, errOut)
	}
	// --volume names only what cleanup may delete: a recorded volume, one
	// that is not the migration's and a malformed id are refused (exit 2),
	// and nothing is deleted.
	recorded := regexp.MustCompile(`targetVolume: (vol-[0-9a-f]+)`).FindStringSubmatch(string(lock))[1]
	for _, c := range []struct{ id, want string }{
		{recorded, "--volume " + recorded + ": graft cleanup does not delete it: the record references it (PVC "},
		{"vol-0123456789abcdef0", "--volume vol-0123456789abcdef0: not a volume of migration cli in "},
		{"vol-XYZ", `--volume "vol-XYZ": expected an EBS volume id`},
	} {
		code, out, errOut := graft(t, "cleanup", "--spec", s.spec, "--yes", "--volume", c.id)
		if code != 2 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "deleted") && !strings.Contains(errOut, "nothing was deleted") {
			t.Errorf("cleanup --volume %s: exit %d\n%s\n%s\nwant exit 2 with %q", c.id, code, out, errOut, c.want)
		}
	}
	if after, err := os.ReadFile(filepath.Join(filepath.Dir(s.spec), "graft.lock")); err != nil || !bytes.Equal(after, lock) {
		t.Errorf("graft.lock changed by a refused cleanup (%v)", err)
	}
	code, out, _ = graft(t, "iam-policy", "--spec", s.spec)
	var pol ebs.PolicyDocument
	if code != 0 || json.Unmarshal([]byte(out), &pol) != nil || !strings.Contains(out, `"aws:ResourceTag/graft:migration": "cli"`) {
		t.Fatalf("iam-policy: %d\n%s", code, out)
	}
}

// TestEBSBadInput: each bad input gives exit 2, a message naming the
// problem, and creates nothing.
func TestEBSBadInput(t *testing.T) {
	cases := []struct {
		name  string
		repl  []string
		setup func(*cliSim)
		args  []string
		want  []string
	}{
		{name: "wrong region", repl: []string{"REGION", "us-west-2", "ZONE", ", zone: us-west-2a"},
			want: []string{"no instances matched", "us-west-2", "check the filters and the region"}},
		{name: "no instances matched", repl: []string{"APPS", "cassandra-typo"},
			want: []string{"no instances matched", "tag:app=cassandra-typo"}},
		{name: "another application's instances", repl: []string{"APPS", "'cassandra', 'kafka'"},
			want: []string{"unmapped instance", "kafka-0", "another application"}},
		{name: "target zone in the wrong region", repl: []string{"ZONE", ", zone: us-west-2a"},
			want: []string{"spec.target.statefulSets[0].zone", "us-west-2a", "a zone of the target region us-east-1"}},
		{name: "target zone that does not exist", repl: []string{"ZONE", ", zone: us-east-1f"},
			want: []string{"target zone not in target region", "us-east-1f"}},
		{name: "IOPS out of range", repl: []string{"IOPS", "90000"},
			want: []string{"spec.target.volume.iops", "3000 to 80000 for gp3"}},
		{name: "throughput out of range for the IOPS", repl: []string{"THROUGHPUT", "1500"},
			want: []string{"volume parameters out of range", "0.25 MiB/s per IOPS"}},
		{name: "volume type out of range", repl: []string{"TYPE", "gp4"},
			want: []string{"spec.target.volume.type", "gp4"}},
		{name: "IOPS over the size", repl: []string{"TYPE", "io1", "IOPS", "5000", "THROUGHPUT", "0"},
			want: []string{"volume parameters out of range", "exceeds 50 per GiB"}},
		{name: "unusable KMS key (DryRun)", setup: func(s *cliSim) { s.sims["us-east-1"].DenyKMSKey(cliKey) },
			args: []string{"clone", "--yes"}, want: []string{"dry run: clone would fail", "nothing was created", "kmsKeyId", "UnauthorizedOperation"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newCLISim(t, c.repl...)
			if c.setup != nil {
				c.setup(s)
			}
			args := c.args
			if args == nil {
				args = []string{"clone", "--yes"}
			}
			for _, a := range [][]string{{"discover"}, {"plan"}, args} {
				if c.setup != nil && a[0] != args[0] {
					continue
				}
				code, _, errOut := graft(t, append(a, "--spec", s.spec)...)
				if code != 2 {
					t.Errorf("%s: exit %d, want 2\n%s", a[0], code, errOut)
				}
				for _, w := range c.want {
					if !strings.Contains(errOut, w) {
						t.Errorf("%s: message lacks %q:\n%s", a[0], w, errOut)
					}
				}
			}
			s.nothingCreated(t)
		})
	}
}

// noAWSCredentials clears every source of the SDK's credential chain and
// points EC2 at a port nothing listens on; it returns a spec in a fresh
// directory.
func noAWSCredentials(t *testing.T) (dir, specPath string) {
	dir = t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:9") // nothing listens
	specPath = filepath.Join(dir, "graft.yaml")
	r := strings.NewReplacer("REGION", "us-east-1", "APPS", "cassandra", "ZONE", "", "TYPE", "gp3", "IOPS", "4000", "THROUGHPUT", "250")
	must(t, os.WriteFile(specPath, []byte(r.Replace(cliSpec)), 0o644))
	return dir, specPath
}

// TestEBSUnreachable: credentials but no way to EC2 is not "invalid
// input": the message says EC2 cannot be reached and what to check.
func TestEBSUnreachable(t *testing.T) {
	_, specPath := noAWSCredentials(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	code, _, errOut := graft(t, "discover", "--spec", specPath)
	if code != exitError || !strings.Contains(errOut, "cannot reach EC2 in region us-east-1") || strings.Contains(errOut, "invalid input") ||
		!strings.Contains(errOut, "AWS_ENDPOINT_URL_EC2 and the network path to EC2") {
		t.Errorf("discover with EC2 unreachable: exit %d\n%s", code, errOut)
	}
}

// TestEBSMissingProfile: an AWS_PROFILE that no shared config file holds is
// named, with the files it was looked for in.
func TestEBSMissingProfile(t *testing.T) {
	dir, specPath := noAWSCredentials(t)
	t.Setenv("AWS_PROFILE", "nosuch")
	code, _, errOut := graft(t, "discover", "--spec", specPath)
	if code != exitError || !strings.Contains(errOut, `no AWS credentials: AWS_PROFILE "nosuch" is a profile in none of the shared config files (`+filepath.Join(dir, "config")+", "+filepath.Join(dir, "credentials")+")") {
		t.Errorf("discover with a missing profile: exit %d\n%s", code, errOut)
	}
}

func TestEBSNoCredentials(t *testing.T) {
	dir, specPath := noAWSCredentials(t)
	for _, cmd := range []string{"discover", "plan", "clone", "cleanup"} {
		code, _, errOut := graft(t, cmd, "--spec", specPath, "--yes")
		if cmd == "discover" || cmd == "plan" {
			code, _, errOut = graft(t, cmd, "--spec", specPath)
		}
		if code != 2 || !strings.Contains(errOut, "no AWS credentials") || !strings.Contains(errOut, "AWS_PROFILE") {
			t.Errorf("%s: exit %d\n%s", cmd, code, errOut)
		}
	}
	// Local input is read before credentials are asked for: a broken
	// record is what cleanup reports, not the missing credentials.
	bad := filepath.Join(dir, "broken.lock")
	must(t, os.WriteFile(bad, []byte("volumes: ["), 0o644))
	code, _, errOut := graft(t, "cleanup", "--spec", specPath, "--lock", bad, "--yes")
	if code != 2 || !strings.Contains(errOut, bad) || strings.Contains(errOut, "no AWS credentials") {
		t.Errorf("cleanup with a broken record: exit %d\n%s", code, errOut)
	}
}

// TestTwoSpecsInOneDirectory: two migrations' specs in one directory share
// graft.inventory.json (as they share graft.lock): the second's discover,
// plan or clone refuses the first's inventory by name, and replaces
// nothing. Before, its discover overwrote the inventory the first
// migration's reviewer saw.
func TestTwoSpecsInOneDirectory(t *testing.T) {
	s := newCLISim(t)
	if code, _, stderr := graft(t, "discover", "--spec", s.spec); code != exitOK {
		t.Fatalf("discover: %d %s", code, stderr)
	}
	data, err := os.ReadFile(s.spec)
	must(t, err)
	other := filepath.Join(filepath.Dir(s.spec), "other.yaml")
	must(t, os.WriteFile(other, bytes.Replace(data, []byte("metadata: {name: cli}"), []byte("metadata: {name: other}"), 1), 0o644))
	inventory := filepath.Join(filepath.Dir(s.spec), ebs.InventoryFile)
	before, err := os.ReadFile(inventory)
	must(t, err)
	for _, args := range [][]string{{"discover"}, {"plan"}, {"clone", "--phase", "precopy", "--yes"}} {
		code, _, stderr := graft(t, append(args, "--spec", other)...)
		if code != exitError || !strings.Contains(stderr, `is the inventory of migration "cli", not "other"`) {
			t.Errorf("%v of the second spec: exit %d, %s; want exit 2 naming the first migration's inventory", args, code, stderr)
		}
	}
	if after, err := os.ReadFile(inventory); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the first migration's inventory was replaced (%v)", err)
	}
}
