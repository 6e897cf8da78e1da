package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/testdata/e2e/harness"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// verifyReport is what the tests read of `graft verify -o json` (the
// README documents all of it).
type verifyReport struct {
	Passed  bool   `json:"passed"`
	EC2     string `json:"ec2"`
	Members []struct {
		Claim  string `json:"claim"`
		Node   string `json:"node"`
		Checks []struct {
			Name    string `json:"name"`
			OK      bool   `json:"ok"`
			Message string `json:"message"`
			Reason  string `json:"reason"`
		} `json:"checks"`
	} `json:"members"`
	StatefulSets []struct {
		Object  string `json:"object"`
		Message string `json:"message"`
	} `json:"statefulSets"`
}

// failed is the first failed check of each member, as "claim: check:
// message (reason)".
func (r verifyReport) failed() []string {
	var out []string
	for _, m := range r.Members {
		for _, c := range m.Checks {
			if !c.OK {
				out = append(out, fmt.Sprintf("%s: %s: %s (%s)", m.Claim, c.Name, c.Message, c.Reason))
				break
			}
		}
	}
	for _, p := range r.StatefulSets {
		out = append(out, p.Object+": "+p.Message)
	}
	return out
}

// specFor is the spec of an example overlay (REPO/overlays/NAME or a copy
// of it): REPO/testdata/examples/NAME/graft.yaml.
func specFor(dir string) string {
	// A migration rendered by a test: ROOT/graft.yaml renders
	// ROOT/overlays/NAME.
	if own := filepath.Join(filepath.Dir(filepath.Dir(dir)), "graft.yaml"); filepath.Base(filepath.Dir(dir)) == "overlays" && fileExists(own) && !strings.HasPrefix(dir, repoRoot) {
		return own
	}
	return filepath.Join(repoRoot, "testdata", "examples", filepath.Base(dir), "graft.yaml")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// graftVerify runs `graft verify -o json --cluster-only` for an overlay's
// spec and record against the harness's cluster (there is no EC2 here).
func graftVerify(t *testing.T, dir, lock string, extra ...string) (int, verifyReport) {
	t.Helper()
	args := append([]string{"verify", "--spec", specFor(dir), "--lock", lock, "--kubeconfig", cluster.Kubeconfig, "--cluster-only", "-o", "json"}, extra...)
	code, stdout, stderr := runGraft(t, 120*time.Second, nil, args...)
	var rep verifyReport
	if code == 2 || json.Unmarshal([]byte(stdout), &rep) != nil {
		t.Fatalf("graft verify exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	return code, rep
}

// verifyChecks are graft verify's checks of a member, in order (README,
// "After sync: graft verify").
var verifyChecks = []string{"claim-bound", "volume", "pod-scheduled", "pod-claim", "pod-zone", "pod-ready", "attached"}

// assertVerified: after an overlay landed, graft verify passes for every
// recorded member (pods are Ready by the kubelet stand-in, volumes
// attached by the attacher stand-in: see harness).
func assertVerified(t *testing.T, dir, lock string) {
	t.Helper()
	code, rep := graftVerify(t, dir, lock, "--wait", "60s")
	if code != 0 || !rep.Passed || len(rep.Members) == 0 || rep.EC2 != "skipped" {
		t.Fatalf("graft verify %s: exit %d, passed %v, %d members, EC2 %q:\n%s", dir, code, rep.Passed, len(rep.Members), rep.EC2, strings.Join(rep.failed(), "\n"))
	}
	for _, m := range rep.Members {
		var names []string
		for _, c := range m.Checks {
			names = append(names, c.Name)
		}
		if m.Node == "" || !slices.Equal(names, verifyChecks) {
			t.Errorf("member %s: node %q, checks %v, want %v", m.Claim, m.Node, names, verifyChecks)
		}
	}
}

// assertVerifiedWithoutEC2: without --cluster-only and without AWS
// credentials (none here, and no instance metadata), verify says EC2 was
// not read and passes on the cluster alone.
func assertVerifiedWithoutEC2(t *testing.T, dir, lock string) {
	t.Helper()
	noAWS := []string{"AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_PROFILE=", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
	code, stdout, stderr := runGraft(t, 120*time.Second, noAWS, "verify", "--spec", specFor(dir), "--lock", lock, "--kubeconfig", cluster.Kubeconfig, "-o", "json")
	var rep verifyReport
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || !rep.Passed || !strings.HasPrefix(rep.EC2, "unreachable: ") || !strings.Contains(stderr, "EC2 not read") {
		t.Fatalf("graft verify without EC2: exit %d, passed %v, ec2 %q (%v)\n%s", code, rep.Passed, rep.EC2, err, stderr)
	}
	t.Logf("graft verify without EC2: passed, ec2 %q", rep.EC2)
}

// expectVerifyFails runs graft verify until its report names want (in a
// member's first failed check or a StatefulSet's problem), and requires
// exit 1.
func expectVerifyFails(t *testing.T, dir, lock, want string) {
	t.Helper()
	var last []string
	eventually(t, 60*time.Second, "graft verify names "+want, func(ctx context.Context) (string, error) {
		code, rep := graftVerify(t, dir, lock)
		last = rep.failed()
		if code != 1 || rep.Passed {
			return fmt.Sprintf("exit %d, passed %v: %v", code, rep.Passed, last), nil
		}
		for _, f := range last {
			if strings.Contains(f, want) {
				t.Logf("graft verify: exit 1: %s", f)
				return "", nil
			}
		}
		return fmt.Sprintf("findings %v", last), nil
	})
}

// TestVerifyNegative: graft verify fails, and names the cause the cluster
// gives, for a PV missing, claims bound to each other's PVs, and a
// StatefulSet scaled beyond the record. (A wrong zone is in
// TestGateWrongZone, on the overlay applied there.)
func TestVerifyNegative(t *testing.T) {
	src := filepath.Join(repoRoot, "overlays", "cassandra-3node")
	t.Run("pv-missing", func(t *testing.T) {
		oc := copyOverlay(t, src)
		m := mustBuild(t, src).firstMember(t)
		dropObject(t, oc.dir, "PersistentVolume", m.pv.Name)
		landCopy(t, oc)
		expectVerifyFails(t, oc.dir, oc.lock, "its PersistentVolume "+m.pv.Name+" does not exist")
	})
	t.Run("claims-swapped", func(t *testing.T) {
		oc := copyOverlay(t, src)
		ms := mustBuild(t, src).members()
		a, b := ms[0], ms[1]
		n := editObjects(t, oc.dir, func(u *unstructured.Unstructured) bool {
			switch {
			case isKind(u, "PersistentVolumeClaim", a.claim()):
				return unstructured.SetNestedField(u.Object, b.pv.Name, "spec", "volumeName") == nil
			case isKind(u, "PersistentVolumeClaim", b.claim()):
				return unstructured.SetNestedField(u.Object, a.pv.Name, "spec", "volumeName") == nil
			case isKind(u, "PersistentVolume", a.pv.Name):
				return unstructured.SetNestedField(u.Object, b.claim(), "spec", "claimRef", "name") == nil
			case isKind(u, "PersistentVolume", b.pv.Name):
				return unstructured.SetNestedField(u.Object, a.claim(), "spec", "claimRef", "name") == nil
			}
			return false
		})
		if n != 4 {
			t.Fatalf("edited %d objects, want 2 PVCs and 2 PVs", n)
		}
		landCopy(t, oc)
		expectVerifyFails(t, oc.dir, oc.lock, a.claim()+": claim-bound: PersistentVolumeClaim "+a.claim()+" names volume \""+b.pv.Name+"\"")
	})
	t.Run("scaled-beyond-the-record", func(t *testing.T) {
		oc := copyOverlay(t, src)
		landCopy(t, oc)
		assertVerified(t, oc.dir, oc.lock)
		assertVerifiedWithoutEC2(t, oc.dir, oc.lock)
		sts := mustBuild(t, src).firstMember(t).sts
		scaleUpByOne(t, sts)
		expectVerifyFails(t, oc.dir, oc.lock, fmt.Sprintf("runs ordinal %d", len(ordinals(sts))))
	})
	// What the gate passed, changed on the cluster afterwards: a PV's
	// reclaim policy set to Delete, then the StatefulSet told to delete
	// its claims on scale-down. Each is named, by the API server's objects.
	t.Run("changed-on-the-cluster", func(t *testing.T) {
		oc := copyOverlay(t, src)
		landCopy(t, oc)
		assertVerified(t, oc.dir, oc.lock)
		m := mustBuild(t, src).firstMember(t)
		ctx := ctxFor(t, 30*time.Second)
		c := cluster.Client
		if _, err := c.CoreV1().PersistentVolumes().Patch(ctx, m.pv.Name, types.MergePatchType, []byte(`{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}`), metav1.PatchOptions{FieldManager: "kubectl"}); err != nil {
			t.Fatal(err)
		}
		expectVerifyFails(t, oc.dir, oc.lock, m.claim()+`: volume: PersistentVolume `+m.pv.Name+` has reclaim policy "Delete", expected Retain`)
		if _, err := c.CoreV1().PersistentVolumes().Patch(ctx, m.pv.Name, types.MergePatchType, []byte(`{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}`), metav1.PatchOptions{FieldManager: "kubectl"}); err != nil {
			t.Fatal(err)
		}
		assertVerified(t, oc.dir, oc.lock)
		patch := []byte(`{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Retain","whenScaled":"Delete"}}}`)
		if _, err := c.AppsV1().StatefulSets(m.sts.Namespace).Patch(ctx, m.sts.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl"}); err != nil {
			t.Fatal(err)
		}
		expectVerifyFails(t, oc.dir, oc.lock, "StatefulSet "+m.sts.Namespace+"/"+m.sts.Name+": persistentVolumeClaimRetentionPolicy.whenScaled is Delete, expected Retain")
	})
}

// landCopy applies a (corrupted) copy of an overlay; deploy resets the
// cluster afterwards.
func landCopy(t *testing.T, oc overlayCopy) {
	t.Helper()
	if errs := deploy(t, mustBuild(t, oc.dir)); len(errs) > 0 {
		t.Fatalf("apply: %v", errs)
	}
}

// dropObject removes the one object of a kind and name from the overlay's
// files.
func dropObject(t *testing.T, dir, kind, name string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	dropped := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := harness.DecodeYAML(data)
		if err != nil {
			continue // a JSON 6902 patch
		}
		var out bytes.Buffer
		here := 0
		for _, u := range objs {
			if isKind(u, kind, name) {
				here++
				continue
			}
			y, err := yaml.Marshal(u.Object)
			if err != nil {
				t.Fatal(err)
			}
			if out.Len() > 0 {
				out.WriteString("---\n")
			}
			out.Write(y)
		}
		if here == 0 {
			continue
		}
		dropped += here
		if err := os.WriteFile(f, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if dropped != 1 {
		t.Fatalf("dropped %d objects %s %s, want 1", dropped, kind, name)
	}
}
