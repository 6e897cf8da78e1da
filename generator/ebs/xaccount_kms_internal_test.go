package ebs

import (
	"slices"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/kmskey"
)

// TestPolicyAllows: the key-policy reading behind checkShareKeys, on the
// shapes IAM allows (single values or lists, one statement or many), and
// failing closed on what graft cannot evaluate.
func TestPolicyAllows(t *testing.T) {
	const acct = "111122223333"
	all := kmskey.SnapshotShareActions
	cases := []struct {
		name, policy string
		want         []string
		note         string
	}{
		{"root principal, kms:*", `{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}}`, all, ""},
		{"role of the account, wildcards", `{"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::999988887777:root", "arn:aws:iam::111122223333:role/eks"]}, "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:ReEncrypt*", "kms:GenerateDataKey*"], "Resource": "*"},
			{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:CreateGrant", "Resource": "*", "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}]}`, all, ""},
		{"another account", `{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "kms:*", "Resource": "*"}]}`, nil, ""},
		{"deny wins", `{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}, {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:CreateGrant", "Resource": "*"}]}`, []string{"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom"}, ""},
		{"caller account of the source only", `{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*", "Condition": {"StringEquals": {"kms:CallerAccount": "444455556666"}}}]}`, nil, "exclude account"},
		{"unknown condition", `{"Statement": [{"Sid": "vpce", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]}`, nil, `statement "vpce" has conditions`},
		{"NotAction", `{"Statement": [{"Sid": "na", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "NotAction": "kms:ScheduleKeyDeletion", "Resource": "*"}]}`, nil, "NotAction"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, notes, err := policyAllows(c.policy, acct, all)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("allowed %v, want %v", got, c.want)
			}
			if c.note != "" && !strings.Contains(strings.Join(notes, "; "), c.note) {
				t.Errorf("notes %v lack %q", notes, c.note)
			}
		})
	}
	if _, _, err := policyAllows("not json", acct, all); err == nil {
		t.Error("a policy that is not JSON was read")
	}
}
