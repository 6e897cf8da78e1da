// Package kmskey compares AWS KMS key references (key ids, key ARNs,
// aliases and alias ARNs) without asking KMS. It is the one place of that
// rule: ebs decides with it whether a snapshot must be re-encrypted, and
// check whether a target volume has the recorded key.
package kmskey

import "strings"

// Same reports whether two KMS key references name the same key, without
// asking KMS:
//
//   - equal strings are the same key;
//   - a key id and a key ARN are the same key when the ARN's key id is that
//     id ("abc" and "arn:aws:kms:us-east-1:111122223333:key/abc");
//   - two different ARNs are different keys (a multi-region key's replicas
//     share a key id but are distinct keys, one per region);
//   - an alias equals only an alias of the same name ("alias/x" and
//     "arn:aws:kms:…:alias/x"), never a key id or key ARN: what an alias
//     points to is known only to KMS, so callers must treat "not the same"
//     as "unknown" (graft then copies, which is safe, only slower).
func Same(a, b string) bool {
	if a == b {
		return true
	}
	ra, rb := Parse(a), Parse(b)
	switch {
	case ra.Name == "" || rb.Name == "":
		return false
	case ra.ARN && rb.ARN:
		return false // different ARNs
	case ra.Alias != rb.Alias:
		return false
	}
	return ra.Name == rb.Name
}

// Ref is a KMS key reference taken apart: the key id or alias name, and
// whether it was an alias and an ARN. Name is "" for an ARN that does not
// name a KMS key or alias.
type Ref struct {
	Name       string
	Alias, ARN bool
}

// Parse takes a KMS key reference apart.
func Parse(s string) Ref {
	if strings.HasPrefix(s, "arn:") {
		// arn:<partition>:kms:<region>:<account>:key/<id> or alias/<name>
		parts := strings.SplitN(s, ":", 6)
		if len(parts) == 6 && parts[2] == "kms" {
			if id, ok := strings.CutPrefix(parts[5], "key/"); ok {
				return Ref{Name: id, ARN: true}
			}
			if n, ok := strings.CutPrefix(parts[5], "alias/"); ok {
				return Ref{Name: n, Alias: true, ARN: true}
			}
		}
		return Ref{} // not a KMS key or alias ARN: equal only as a string
	}
	if n, ok := strings.CutPrefix(s, "alias/"); ok {
		return Ref{Name: n, Alias: true}
	}
	return Ref{Name: s}
}

// SnapshotShareActions are the KMS actions another account needs on the
// key of an encrypted snapshot shared with it, to copy the snapshot (or
// create a volume from it): EBS describes the key, creates a grant for
// itself, and decrypts and re-encrypts the data keys. Amazon EBS's
// "Share a snapshot" guide lists them; graft checks a shared key's policy
// and grants for them, and generator/ec2sim enforces the same list.
var SnapshotShareActions = []string{
	"kms:CreateGrant",
	"kms:Decrypt",
	"kms:DescribeKey",
	"kms:GenerateDataKeyWithoutPlaintext",
	"kms:ReEncryptFrom",
}

// AWSManagedEBSAlias is the alias of the AWS-managed key EBS encrypts with
// by default. Its key policy cannot be changed, so a snapshot encrypted
// with it cannot be shared with another account.
const AWSManagedEBSAlias = "alias/aws/ebs"

// Account is the account of a key or alias ARN, or "" for a bare key id
// or alias.
func Account(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kms" {
		return ""
	}
	return parts[4]
}

// ActionCovers reports whether a policy action (or grant operation
// "kms:"+op) pattern such as "kms:*", "kms:ReEncrypt*" or "*" covers the
// action, case-insensitively as IAM compares actions.
func ActionCovers(pattern, action string) bool {
	p, a := strings.ToLower(pattern), strings.ToLower(action)
	if p == "*" {
		return true
	}
	if pre, ok := strings.CutSuffix(p, "*"); ok {
		return strings.HasPrefix(a, pre)
	}
	return p == a
}
