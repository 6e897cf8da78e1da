package kmskey_test

import (
	"testing"

	"github.com/graftctl/graft/generator/kmskey"
)

func TestSame(t *testing.T) {
	const (
		id      = "1234abcd-12ab-34cd-56ef-1234567890ab"
		arn     = "arn:aws:kms:us-east-1:111122223333:key/" + id
		arnWest = "arn:aws:kms:us-west-2:111122223333:key/" + id
		mrk     = "mrk-1234abcd12ab34cd56ef1234567890ab"
	)
	cases := []struct {
		a, b string
		want bool
	}{
		{arn, arn, true},
		{id, id, true},
		{"", "", true},
		{arn, id, true},
		{id, arn, true},
		{arn, "", false},
		{"", id, false},
		{arn, "arn:aws:kms:us-east-1:111122223333:key/ffffffff-12ab-34cd-56ef-1234567890ab", false},
		{id, "ffffffff-12ab-34cd-56ef-1234567890ab", false},
		// Same key id in two regions (a multi-region key's replicas): two keys.
		{arnWest, arn, false},
		{"arn:aws:kms:us-east-1:111122223333:key/" + mrk, "arn:aws:kms:eu-west-1:111122223333:key/" + mrk, false},
		{"arn:aws:kms:us-east-1:111122223333:key/" + mrk, mrk, true},
		// An alias never equals a key id or key ARN: only KMS knows its target.
		{"alias/" + id, id, false},
		{"alias/abc", "abc", false},
		{"alias/abc", "arn:aws:kms:us-east-1:111122223333:key/abc", false},
		{"arn:aws:kms:us-east-1:111122223333:alias/abc", "abc", false},
		{"arn:aws:kms:us-east-1:111122223333:alias/abc", "arn:aws:kms:us-east-1:111122223333:key/abc", false},
		// Aliases compare with aliases.
		{"alias/abc", "alias/abc", true},
		{"alias/abc", "arn:aws:kms:us-east-1:111122223333:alias/abc", true},
		{"alias/abc", "alias/abd", false},
		{"arn:aws:kms:us-east-1:111122223333:alias/abc", "arn:aws:kms:us-west-2:111122223333:alias/abc", false},
		// Not a KMS ARN: equal only as strings.
		{"arn:aws:ec2:us-east-1:111122223333:key/abc", "abc", false},
	}
	for _, c := range cases {
		if got := kmskey.Same(c.a, c.b); got != c.want {
			t.Errorf("Same(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := kmskey.Same(c.b, c.a); got != c.want {
			t.Errorf("Same(%q, %q) = %v, want %v (not symmetric)", c.b, c.a, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want kmskey.Ref
	}{
		{"", kmskey.Ref{}},
		{"abc", kmskey.Ref{Name: "abc"}},
		{"alias/abc", kmskey.Ref{Name: "abc", Alias: true}},
		{"arn:aws:kms:us-east-1:111122223333:key/abc", kmskey.Ref{Name: "abc", ARN: true}},
		{"arn:aws:kms:us-east-1:111122223333:alias/abc", kmskey.Ref{Name: "abc", Alias: true, ARN: true}},
		{"arn:aws-cn:kms:cn-north-1:111122223333:key/abc", kmskey.Ref{Name: "abc", ARN: true}},
		// Not a KMS key or alias ARN.
		{"arn:aws:ec2:us-east-1:111122223333:key/abc", kmskey.Ref{}},
		{"arn:aws:kms:us-east-1:111122223333:grant/abc", kmskey.Ref{}},
		{"arn:aws:kms:us-east-1", kmskey.Ref{}},
	}
	for _, c := range cases {
		if got := kmskey.Parse(c.in); got != c.want {
			t.Errorf("Parse(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestActionCovers(t *testing.T) {
	for _, c := range []struct {
		pattern, action string
		want            bool
	}{
		{"kms:*", "kms:Decrypt", true},
		{"*", "kms:CreateGrant", true},
		{"kms:ReEncrypt*", "kms:ReEncryptFrom", true},
		{"kms:generatedatakey*", "kms:GenerateDataKeyWithoutPlaintext", true},
		{"kms:Decrypt", "kms:DescribeKey", false},
		{"kms:Encrypt", "kms:Decrypt", false},
		{"ec2:*", "kms:Decrypt", false},
	} {
		if got := kmskey.ActionCovers(c.pattern, c.action); got != c.want {
			t.Errorf("ActionCovers(%q, %q) = %v", c.pattern, c.action, got)
		}
	}
	if kmskey.Account("arn:aws:kms:us-east-1:111122223333:key/abc") != "111122223333" || kmskey.Account("abc") != "" || kmskey.Account("arn:aws:iam::111122223333:root") != "" {
		t.Error("Account")
	}
}
