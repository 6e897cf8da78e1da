package spec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/spec"
)

func withAccount(acct string) []byte {
	return []byte(strings.Replace(valid, "  target:\n", "  target:\n    account:\n"+acct, 1))
}

func TestTargetAccountValid(t *testing.T) {
	for name, acct := range map[string]string{
		"profile": "      id: '111122223333'\n      profile: eks-platform\n      kmsKeyId: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\n",
		"role":    "      id: '111122223333'\n      roleArn: arn:aws:iam::111122223333:role/graft-target\n      externalId: ext-42\n      sessionName: graft-run\n      shareKmsKeyId: arn:aws:kms:us-east-1:444455556666:key/5678abcd-12ab-34cd-56ef-1234567890ab\n",
	} {
		t.Run(name, func(t *testing.T) {
			m, err := spec.Parse(withAccount(acct))
			if err != nil {
				t.Fatal(err)
			}
			if !m.Spec.Target.CrossAccount() || m.Spec.Target.Account.ID != "111122223333" {
				t.Fatalf("account: %+v", m.Spec.Target.Account)
			}
		})
	}
	m, err := spec.Parse([]byte(valid))
	if err != nil || m.Spec.Target.CrossAccount() || m.Spec.Target.CopyKMSKeyID() != "" {
		t.Fatalf("a spec without target.account: %v %+v", err, m.Spec.Target.Account)
	}
}

// TestTargetAccountValidation: every bad target account is refused with
// the field, the value and what is expected.
func TestTargetAccountValidation(t *testing.T) {
	const id = "      id: '111122223333'\n"
	const key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	cases := []struct {
		name, acct, field, want string
	}{
		{"no credentials", id, "spec.target.account", "profile (a named profile"},
		{"both credentials", id + "      profile: p\n      roleArn: arn:aws:iam::111122223333:role/r\n", "spec.target.account", "one of profile or roleArn"},
		{"short id", "      id: '12345'\n      profile: p\n", "spec.target.account.id", "12-digit"},
		{"no id", "      profile: p\n", "spec.target.account.id", "12-digit"},
		{"role elsewhere", id + "      roleArn: arn:aws:iam::999988887777:role/graft\n", "spec.target.account.roleArn", "not in 999988887777"},
		{"not a role", id + "      roleArn: arn:aws:iam::111122223333:user/graft\n", "spec.target.account.roleArn", "an IAM role ARN"},
		{"role wrong partition", id + "      roleArn: arn:aws-cn:iam::111122223333:role/graft\n", "spec.target.account.roleArn", "partition aws"},
		{"externalId without role", id + "      profile: p\n      externalId: abc\n", "spec.target.account.externalId", "without roleArn"},
		{"bad sessionName", id + "      roleArn: arn:aws:iam::111122223333:role/r\n      sessionName: 'a b'\n", "spec.target.account.sessionName", "2 to 64"},
		{"key of another account", id + "      profile: p\n      kmsKeyId: arn:aws:kms:us-east-1:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab\n", "spec.target.account.kmsKeyId", "not of account 999988887777"},
		{"key of another region", id + "      profile: p\n      kmsKeyId: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\n", "spec.target.account.kmsKeyId", "region us-east-1"},
		{"share key of the target", id + "      profile: p\n      shareKmsKeyId: " + key + "\n", "spec.target.account.shareKmsKeyId", "of the source account"},
		{"bad share key", id + "      profile: p\n      shareKmsKeyId: nope\n", "spec.target.account.shareKmsKeyId", "a KMS key id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := spec.Parse(withAccount(c.acct))
			var ve spec.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a validation error, got %v", err)
			}
			for _, fe := range ve {
				if fe.Field == c.field && strings.Contains(fe.Expected, c.want) {
					return
				}
			}
			t.Fatalf("no problem at %s expecting %q in:\n%v", c.field, c.want, err)
		})
	}
	// The volume key of a cross-account migration is the target account's.
	y0 := strings.Replace(string(withAccount(id+"      profile: p\n")), "      - name: cassandra\n        replicas: 3\n", "      - name: cassandra\n        replicas: 3\n    volume: {kmsKeyId: 'arn:aws:kms:us-east-1:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab'}\n", 1)
	if _, err := spec.Parse([]byte(y0)); err == nil || !strings.Contains(err.Error(), "a key of the target account 111122223333") {
		t.Fatalf("a volume key of another account: %v", err)
	}
	// The copy key and the volume key are one key.
	y := strings.Replace(string(withAccount(id+"      profile: p\n      kmsKeyId: "+key+"\n")), "      - name: cassandra\n        replicas: 3\n", "      - name: cassandra\n        replicas: 3\n    volume: {kmsKeyId: alias/other}\n", 1)
	if _, err := spec.Parse([]byte(y)); err == nil || !strings.Contains(err.Error(), "spec.target.volume.kmsKeyId") {
		t.Fatalf("two different target keys: %v", err)
	}
}

func TestCopyKMSKeyID(t *testing.T) {
	tg := spec.Target{Account: &spec.Account{ID: "111122223333"}, Volume: spec.Volume{KMSKeyID: "alias/vol"}}
	if got := tg.CopyKMSKeyID(); got != "alias/vol" {
		t.Errorf("default from the volume key: %q", got)
	}
	tg.Account.KMSKeyID = "alias/acct"
	if got := tg.CopyKMSKeyID(); got != "alias/acct" {
		t.Errorf("the account's key: %q", got)
	}
	if (&spec.Account{}).SessionNameOrDefault() != spec.DefaultSessionName {
		t.Error("session name default")
	}
}
