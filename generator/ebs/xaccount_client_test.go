package ebs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ebs/ebstest"
	"github.com/graftctl/graft/generator/spec"
)

// TestMotoTargetAccountCredentials: the target account's credentials come
// from a role graft assumes (STS AssumeRole with the external id and
// session name) or from a named profile, and must be that account's: moto
// answers AssumeRole with credentials of the role's account, and
// GetCallerIdentity with the account of the credentials.
func TestMotoTargetAccountCredentials(t *testing.T) {
	endpoint := ebstest.StartMoto(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", endpoint)
	ctx := ctxT(t, time.Minute)
	role := &spec.Account{ID: xTarget, RoleARN: "arn:aws:iam::" + xTarget + ":role/graft-target", ExternalID: "ext-42", SessionName: "graft-test"}
	if _, err := ebs.LoadConfig(ctx, ebs.ClientOptions{Region: "us-east-1", Account: role}); err != nil {
		t.Fatalf("assume the target account's role: %v", err)
	}
	// A profile whose credentials are another account's is refused.
	cfg := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(cfg, []byte("[profile eks]\naws_access_key_id = testing\naws_secret_access_key = testing\nregion = us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	_, err := ebs.LoadConfig(ctx, ebs.ClientOptions{Region: "us-east-1", Account: &spec.Account{ID: xTarget, Profile: "eks"}})
	if !errors.Is(err, ebs.ErrInput) || !strings.Contains(err.Error(), "profile eks are of account 123456789012, not spec.target.account.id "+xTarget) {
		t.Fatalf("a profile of another account: %v", err)
	}
	if strings.Contains(err.Error(), "testing") {
		t.Fatalf("the error shows the credentials: %v", err)
	}
	_, err = ebs.LoadConfig(ctx, ebs.ClientOptions{Region: "us-east-1", Account: &spec.Account{ID: xTarget, Profile: "missing"}})
	if err == nil || !strings.Contains(err.Error(), `spec.target.account.profile "missing"`) {
		t.Fatalf("a missing profile: %v", err)
	}
}
