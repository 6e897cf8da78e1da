package spec

import (
	"cmp"
	"fmt"
	"regexp"

	"github.com/graftctl/graft/generator/kmskey"
)

// Account is the AWS account the target cluster runs in, when it is not
// the source's (spec.target.account): graft snapshots in the source
// account, shares the snapshots with this one, copies them here under
// KMSKeyID and creates the volumes here. The source side keeps the
// credentials of the standard chain; the target side's come from Profile or
// RoleARN (exactly one).
type Account struct {
	// ID is the target account's 12-digit id.
	ID string `yaml:"id" json:"id"`
	// Profile is a named profile of the shared AWS config whose credentials
	// are the target account's.
	Profile string `yaml:"profile,omitempty" json:"profile,omitempty"`
	// RoleARN is a role in the target account that the source credentials
	// assume (sts:AssumeRole), with ExternalID and SessionName if set.
	RoleARN     string `yaml:"roleArn,omitempty" json:"roleArn,omitempty"`
	ExternalID  string `yaml:"externalId,omitempty" json:"externalId,omitempty"`
	SessionName string `yaml:"sessionName,omitempty" json:"sessionName,omitempty"`
	// KMSKeyID is the target account's key the shared snapshots are copied
	// under (and the volumes encrypted with); default
	// spec.target.volume.kmsKeyId, else the target account's aws/ebs key.
	KMSKeyID string `yaml:"kmsKeyId,omitempty" json:"kmsKeyId,omitempty"`
	// ShareKMSKeyID is a customer-managed key of the source account: a
	// snapshot encrypted with the AWS-managed aws/ebs key cannot be shared,
	// so graft first copies it in the source account under this key (whose
	// key policy must allow the target account).
	ShareKMSKeyID string `yaml:"shareKmsKeyId,omitempty" json:"shareKmsKeyId,omitempty"`
}

// DefaultSessionName is the role session name graft uses when
// spec.target.account.sessionName is unset.
const DefaultSessionName = "graft"

var (
	accountIDPattern   = regexp.MustCompile(`^[0-9]{12}$`)
	roleARNPattern     = regexp.MustCompile(`^arn:(aws[a-z-]*):iam::([0-9]{12}):role/[\w+=,.@/-]{1,512}$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	profilePattern     = regexp.MustCompile(`^[A-Za-z0-9_.@+=:/-]{1,128}$`)
)

// CrossAccount reports whether the target is another AWS account.
func (t *Target) CrossAccount() bool { return t.Account != nil }

// CopyKMSKeyID is the key the target account's copies and volumes are
// encrypted with: spec.target.account.kmsKeyId, else
// spec.target.volume.kmsKeyId ("" without a target account, or when
// neither is set: the target account's default key).
func (t *Target) CopyKMSKeyID() string {
	if t.Account == nil {
		return ""
	}
	if t.Account.KMSKeyID != "" {
		return t.Account.KMSKeyID
	}
	return t.Volume.KMSKeyID
}

// SessionNameOrDefault is the role session name graft assumes RoleARN with.
func (a *Account) SessionNameOrDefault() string {
	if a.SessionName != "" {
		return a.SessionName
	}
	return DefaultSessionName
}

// account checks spec.target.account.
func (v *validator) account(t *Target, sourceRegion string) {
	a := t.Account
	if a == nil {
		return
	}
	const f = "spec.target.account"
	if !accountIDPattern.MatchString(a.ID) {
		v.add(f+".id", emptyNil(a.ID), "the target AWS account's 12-digit id")
	}
	switch {
	case a.Profile == "" && a.RoleARN == "":
		v.add(f, "no profile and no roleArn", "credentials for the target account: profile (a named profile of ~/.aws/config) or roleArn (a role in account "+a.ID+" that the source credentials may assume)")
	case a.Profile != "" && a.RoleARN != "":
		v.add(f, "profile and roleArn", "one of profile or roleArn, not both")
	}
	if a.Profile != "" && !profilePattern.MatchString(a.Profile) {
		v.add(f+".profile", a.Profile, "a profile name of the shared AWS config")
	}
	if a.RoleARN != "" {
		m := roleARNPattern.FindStringSubmatch(a.RoleARN)
		switch {
		case m == nil:
			v.add(f+".roleArn", a.RoleARN, "an IAM role ARN such as arn:aws:iam::"+cmp.Or(a.ID, "111122223333")+":role/graft-target")
		case accountIDPattern.MatchString(a.ID) && m[2] != a.ID:
			v.add(f+".roleArn", a.RoleARN, fmt.Sprintf("a role in the target account %s (spec.target.account.id), not in %s", a.ID, m[2]))
		case regionPattern.MatchString(t.Region) && m[1] != Partition(t.Region):
			v.add(f+".roleArn", a.RoleARN, fmt.Sprintf("a role of the partition %s of region %s", Partition(t.Region), t.Region))
		}
	}
	if a.RoleARN == "" {
		if a.ExternalID != "" {
			v.add(f+".externalId", a.ExternalID, "no externalId without roleArn (it is passed when assuming the role)")
		}
		if a.SessionName != "" {
			v.add(f+".sessionName", a.SessionName, "no sessionName without roleArn")
		}
	}
	if a.ExternalID != "" && (len(a.ExternalID) < 2 || len(a.ExternalID) > 1224 || !externalIDPattern.MatchString(a.ExternalID)) {
		v.add(f+".externalId", a.ExternalID, "2 to 1224 characters of letters, digits and +=,.@:/-_")
	}
	if a.SessionName != "" && !sessionNamePattern.MatchString(a.SessionName) {
		v.add(f+".sessionName", a.SessionName, "2 to 64 characters of letters, digits and +=,.@-_")
	}
	v.accountKey(f+".kmsKeyId", a.KMSKeyID, t.Region, a.ID, "the target account")
	v.accountKey(f+".shareKmsKeyId", a.ShareKMSKeyID, sourceRegion, "", "the source account")
	if k := a.ShareKMSKeyID; k != "" && accountIDPattern.MatchString(a.ID) && kmskey.Account(k) == a.ID {
		v.add(f+".shareKmsKeyId", k, "a customer-managed key of the source account (it encrypts the copy graft shares), not of the target account "+a.ID)
	}
	if k := t.Volume.KMSKeyID; k != "" && accountIDPattern.MatchString(a.ID) && kmskey.Account(k) != "" && kmskey.Account(k) != a.ID {
		v.add("spec.target.volume.kmsKeyId", k, fmt.Sprintf("a key of the target account %s (spec.target.account.id): the volumes are made there, not in account %s", a.ID, kmskey.Account(k)))
	}
	if a.KMSKeyID != "" && t.Volume.KMSKeyID != "" && a.KMSKeyID != t.Volume.KMSKeyID {
		v.add(f+".kmsKeyId", a.KMSKeyID, "the same key as spec.target.volume.kmsKeyId ("+t.Volume.KMSKeyID+"), or leave one of the two unset: the copy in the target account and the volumes made from it use one key")
	}
}

// accountKey checks a KMS key reference of one account and region.
func (v *validator) accountKey(field, key, region, account, whose string) {
	if key == "" {
		return
	}
	if !kmsKeyPattern.MatchString(key) {
		v.add(field, key, "a KMS key id, key ARN, alias/<name> or alias ARN")
		return
	}
	if p, r, ok := arnPlace(key); ok && regionPattern.MatchString(region) && (r != region || p != Partition(region)) {
		v.add(field, key, fmt.Sprintf("a key of %s in region %s (an ARN arn:%s:kms:%s:…), or a key id or alias/<name>", whose, region, Partition(region), region))
		return
	}
	if account != "" && accountIDPattern.MatchString(account) {
		if acct := kmskey.Account(key); acct != "" && acct != account {
			v.add(field, key, fmt.Sprintf("a key of %s %s, not of account %s", whose, account, acct))
		}
	}
}

func emptyNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}
