package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/spec"
)

// withTargetAccount adds spec.target.account to a newCLISim spec (the
// volume key, of the source account, goes: the target account has its
// own), and puts a second simulated account and both accounts' KMS behind
// the CLI.
func withTargetAccount(t *testing.T, s *cliSim) *ec2sim.Sim {
	t.Helper()
	src := s.sims["us-east-1"]
	share := src.AddKMSKey(ec2sim.KeySpec{AllowAccounts: []string{demoTargetAccount}})
	dst := src.NewAccount(demoTargetAccount, "us-east-1")
	key := dst.AddKMSKey(ec2sim.KeySpec{})
	b, err := os.ReadFile(s.spec)
	must(t, err)
	y := strings.Replace(string(b), "      kmsKeyId: "+cliKey+"\n", "", 1)
	y = strings.Replace(y, "  target:\n", "  target:\n    account: {id: '"+demoTargetAccount+"', roleArn: 'arn:aws:iam::"+demoTargetAccount+":role/graft', kmsKeyId: "+key+", shareKmsKeyId: "+share+"}\n", 1)
	must(t, os.WriteFile(s.spec, []byte(y), 0o644))
	old := newCrossAccountClients
	newCrossAccountClients = func(context.Context, *slog.Logger, *spec.Migration, *ebs.CallCounter) (ebs.EC2, ebs.KMS, ebs.KMS, error) {
		return dst, src.KMS(), dst.KMS(), nil
	}
	t.Cleanup(func() { newCrossAccountClients = old })
	return dst
}

// TestCLICrossAccountPlanAndPolicies: graft plan lists the steps and calls
// per account, graft iam-policy prints one policy per account, and graft
// clone makes the volumes in the target account, leaving nothing shared.
func TestCLICrossAccountPlanAndPolicies(t *testing.T) {
	s := newCLISim(t)
	dst := withTargetAccount(t, s)
	code, stdout, stderr := graft(t, "--spec", s.spec, "iam-policy")
	if code != exitOK {
		t.Fatalf("iam-policy: exit %d\n%s", code, stderr)
	}
	var pols map[string]json.RawMessage
	must(t, json.Unmarshal([]byte(stdout), &pols))
	for _, k := range []string{"sourceAccount", "targetAccount", "sharedKeyPolicyStatement"} {
		if len(pols[k]) == 0 {
			t.Errorf("iam-policy lacks %s:\n%s", k, stdout)
		}
	}
	if code, _, stderr = graft(t, "--spec", s.spec, "discover"); code != exitOK {
		t.Fatalf("discover: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = graft(t, "--spec", s.spec, "plan")
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"source account (us-east-1):", "target account " + demoTargetAccount + " (us-east-1):", "ModifySnapshotAttribute"} {
		if !strings.Contains(stdout+stderr, w) {
			t.Errorf("plan lacks %q:\n%s", w, stdout)
		}
	}
	for _, phase := range []string{"precopy", "final"} {
		if code, _, stderr = graft(t, "--spec", s.spec, "clone", "--phase", phase, "--yes"); code != exitOK {
			t.Fatalf("clone %s: exit %d\n%s", phase, code, stderr)
		}
	}
	if n := len(dst.Volumes()); n != 6 {
		t.Errorf("%d volumes in the target account, want 6", n)
	}
	if sh := s.sims["us-east-1"].Shares(); len(sh) > 0 {
		t.Errorf("shares left: %v", sh)
	}
}

// TestCLICrossAccountKeyRefused: a share key that does not admit the
// target account stops graft plan with exit 2, naming the key and account.
func TestCLICrossAccountKeyRefused(t *testing.T) {
	s := newCLISim(t)
	withTargetAccount(t, s)
	b, err := os.ReadFile(s.spec)
	must(t, err)
	bad := s.sims["us-east-1"].AddKMSKey(ec2sim.KeySpec{})
	i := strings.Index(string(b), "shareKmsKeyId: ")
	j := i + strings.Index(string(b)[i:], "}")
	must(t, os.WriteFile(s.spec, []byte(string(b)[:i]+"shareKmsKeyId: "+bad+string(b)[j:]), 0o644))
	code, _, stderr := graft(t, "--spec", s.spec, "plan")
	if code != exitError || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "allows account "+demoTargetAccount) {
		t.Fatalf("plan with a share key the target cannot use: exit %d\n%s", code, stderr)
	}
}
