// Cross-account migrations: the checks of the KMS keys, before anything is
// created. graft reads keys and their policies; it never changes one.

package ebs

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/graftctl/graft/generator/kmskey"
)

// KMS is the slice of the KMS API the cross-account checks use; the SDK's
// *kms.Client and the simulator's (ec2sim.Sim.KMS) fit it.
type KMS interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, optFns ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
	ListGrants(ctx context.Context, in *kms.ListGrantsInput, optFns ...func(*kms.Options)) (*kms.ListGrantsOutput, error)
}

var _ KMS = (*kms.Client)(nil)

// shareKey is what checkShareKeys found about one key of source volumes.
type shareKey struct {
	// arn is the source key's ARN, as DescribeKey gives it.
	arn        string
	awsManaged bool
	// shared is the ARN of the key the snapshot shared with the target is
	// encrypted with: the source key, or (for aws/ebs) shareKmsKeyId's.
	shared string
}

// kmsCall counts one KMS call in the engine's Stats ("kms:<Op>").
func kmsCall[O any](e *Engine, op string, fn func() (*O, error)) (*O, error) {
	out, err := fn()
	e.stats.add("kms:"+op, isThrottle(err))
	return out, err
}

// checkShareKeys checks, for every key the source volumes are encrypted
// with, that the target account will be able to copy the shared
// snapshots, and records the answers in e.xkeys (decide reads them):
//
//   - DescribeKey in the source account tells an AWS-managed key (aws/ebs),
//     which cannot be shared: then spec.target.account.shareKmsKeyId must
//     name a customer-managed key, which is checked instead;
//   - the shared key's policy (GetKeyPolicy) and grants (ListGrants), read
//     with the source credentials where they are permitted, must give the
//     target account every action of kmskey.SnapshotShareActions: the error
//     names the key, the account and the missing actions;
//   - DescribeKey of the shared key with the target credentials proves the
//     target side can reach it.
//
// It never changes a key or its policy.
func (e *Engine) checkShareKeys(ctx context.Context, inv *Inventory) error {
	if !e.crossAccount() {
		return nil
	}
	acct := e.m.Spec.Target.Account
	if e.dst == e.src {
		// Fail closed: never make the target account's resources with the
		// source account's client.
		return fmt.Errorf("internal error: spec.target.account %s is set but the engine has no EC2 client of that account (Options.Target)", acct.ID)
	}
	e.xkeys = map[string]shareKey{}
	if e.opts.SourceKMS == nil {
		return nil
	}
	var keys []string
	for _, mb := range inv.Members {
		for _, d := range mb.Devices {
			if d.Encrypted && d.KMSKeyID != "" && !slices.Contains(keys, d.KMSKeyID) {
				keys = append(keys, d.KMSKeyID)
			}
		}
	}
	slices.Sort(keys)
	var problems []string
	checked := map[string]string{} // shared key ARN -> its problem ("" when fine)
	for _, ref := range keys {
		md, err := e.describeKey(ctx, e.opts.SourceKMS, ref)
		if err != nil {
			problems = append(problems, fmt.Sprintf("the source volumes' KMS key %s: DescribeKey in the source account: %v", ref, err))
			continue
		}
		k := shareKey{arn: aws.ToString(md.Arn), awsManaged: md.KeyManager == kmstypes.KeyManagerTypeAws}
		k.shared = k.arn
		if k.awsManaged {
			if acct.ShareKMSKeyID == "" {
				problems = append(problems, fmt.Sprintf("source volumes are encrypted with %s, the AWS-managed aws/ebs key of the source account, whose key policy cannot admit account %s, so their snapshots cannot be shared: set spec.target.account.shareKmsKeyId to a customer-managed key of the source account whose key policy allows account %s %s (graft copies each snapshot under it first, in the source account)",
					k.arn, acct.ID, acct.ID, strings.Join(kmskey.SnapshotShareActions, ", ")))
				continue
			}
			smd, err := e.describeKey(ctx, e.opts.SourceKMS, acct.ShareKMSKeyID)
			if err != nil {
				problems = append(problems, fmt.Sprintf("spec.target.account.shareKmsKeyId %s: DescribeKey in the source account: %v", acct.ShareKMSKeyID, err))
				continue
			}
			if smd.KeyManager == kmstypes.KeyManagerTypeAws {
				problems = append(problems, fmt.Sprintf("spec.target.account.shareKmsKeyId %s is an AWS-managed key (%s), which cannot be shared either: name a customer-managed key of the source account", acct.ShareKMSKeyID, aws.ToString(smd.Arn)))
				continue
			}
			k.shared = aws.ToString(smd.Arn)
		}
		e.xkeys[ref] = k
		p, done := checked[k.shared]
		if !done {
			p = e.checkKeyAdmits(ctx, k.shared, acct.ID)
			checked[k.shared] = p
		}
		if p != "" && !done {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: the target account %s cannot use the keys of the shared snapshots (graft changes no key policy; nothing was created):\n  - %s", ErrInput, acct.ID, strings.Join(problems, "\n  - "))
	}
	return nil
}

func (e *Engine) describeKey(ctx context.Context, c KMS, ref string) (*kmstypes.KeyMetadata, error) {
	out, err := kmsCall(e, "DescribeKey", func() (*kms.DescribeKeyOutput, error) {
		return c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
	})
	if err != nil {
		return nil, err
	}
	if out.KeyMetadata == nil {
		return nil, fmt.Errorf("DescribeKey %s returned no key metadata", ref)
	}
	return out.KeyMetadata, nil
}

// checkKeyAdmits says what stops the target account from using the key,
// or "": the actions that neither its key policy nor a grant gives it (as
// far as the source credentials may read them), and whether the target
// credentials can describe it.
func (e *Engine) checkKeyAdmits(ctx context.Context, arn, account string) string {
	var notes []string
	covered := map[string]bool{}
	read := false
	pol, err := kmsCall(e, "GetKeyPolicy", func() (*kms.GetKeyPolicyOutput, error) {
		return e.opts.SourceKMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(arn), PolicyName: aws.String("default")})
	})
	if err == nil {
		read = true
		acts, unsure, perr := policyAllows(aws.ToString(pol.Policy), account, kmskey.SnapshotShareActions)
		if perr != nil {
			return fmt.Sprintf("key %s: its key policy is not JSON graft can read: %v", arn, perr)
		}
		for _, a := range acts {
			covered[a] = true
		}
		notes = append(notes, unsure...)
	} else {
		notes = append(notes, fmt.Sprintf("GetKeyPolicy: %s", errorCode(err)))
	}
	grantsRead := true
	pg := kms.NewListGrantsPaginator(e.opts.SourceKMS, &kms.ListGrantsInput{KeyId: aws.String(arn)})
	for page := 0; pg.HasMorePages() && page < 100; page++ {
		out, err := kmsCall(e, "ListGrants", func() (*kms.ListGrantsOutput, error) { return pg.NextPage(ctx) })
		if err != nil {
			grantsRead = false
			notes = append(notes, fmt.Sprintf("ListGrants: %s", errorCode(err)))
			break
		}
		read = true
		for _, g := range out.Grants {
			if principalAccount(aws.ToString(g.GranteePrincipal)) != account {
				continue
			}
			for _, op := range g.Operations {
				for _, want := range kmskey.SnapshotShareActions {
					if kmskey.ActionCovers("kms:"+string(op), want) {
						covered[want] = true
					}
				}
			}
		}
	}
	var missing []string
	for _, a := range kmskey.SnapshotShareActions {
		if !covered[a] {
			missing = append(missing, a)
		}
	}
	if read && len(missing) > 0 {
		why := fmt.Sprintf("key %s: neither its key policy nor a grant allows account %s %s", arn, account, strings.Join(missing, ", "))
		if !grantsRead {
			why += " (graft could not list its grants: allow the source credentials kms:ListGrants if a grant gives them)"
		}
		if len(notes) > 0 {
			why += "; " + strings.Join(notes, "; ")
		}
		return why + fmt.Sprintf(`; add to its key policy a statement such as {"Sid": "graft target account", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root"}, "Action": ["%s"], "Resource": "*"} (graft iam-policy prints it), or create a grant for account %s`, account, strings.Join(kmskey.SnapshotShareActions, `", "`), account)
	}
	if !read {
		e.log.Warn("could not read the shared key's policy or grants with the source credentials; relying on the target account's DescribeKey", "key", arn, "details", strings.Join(notes, "; "))
	}
	if e.opts.TargetKMS != nil {
		if _, err := e.describeKey(ctx, e.opts.TargetKMS, arn); err != nil {
			code := errorCode(err)
			if code == "" {
				code = err.Error()
			}
			return fmt.Sprintf("key %s: the target account %s cannot describe it (%s): its key policy must allow arn:aws:iam::%s:root %s, and the target credentials' IAM policy kms:DescribeKey on it (graft iam-policy)", arn, account, code, account, strings.Join(kmskey.SnapshotShareActions, ", "))
		}
	}
	return ""
}

// policyStatement is one statement of a key policy, as IAM writes it
// (single values or lists).
type policyStatement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Principal json.RawMessage           `json:"Principal"`
	Action    stringList                `json:"Action"`
	NotAction stringList                `json:"NotAction"`
	Condition map[string]map[string]any `json:"Condition"`
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// conditionsGraftReads are the condition keys of a key policy statement
// that graft can evaluate for EBS's use of a shared key: the others make
// the statement count for nothing (graft cannot know).
var conditionsGraftReads = map[string]bool{"kms:grantisforawsresource": true, "kms:viaservice": true, "kms:calleraccount": true, "aws:principalaccount": true}

// policyAllows returns the actions of want that the key policy allows the
// account (Allow statements naming the account, its root or one of its
// principals, or "*"; Deny statements for it take actions away), and notes
// on statements graft could not evaluate.
func policyAllows(policy, account string, want []string) (allowed, notes []string, _ error) {
	var doc struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return nil, nil, err
	}
	var sts []policyStatement
	if err := json.Unmarshal(doc.Statement, &sts); err != nil {
		var one policyStatement
		if err2 := json.Unmarshal(doc.Statement, &one); err2 != nil {
			return nil, nil, err
		}
		sts = []policyStatement{one}
	}
	allow, deny := map[string]bool{}, map[string]bool{}
	for _, st := range sts {
		if !principalNames(st.Principal, account) {
			continue
		}
		if len(st.NotAction) > 0 {
			notes = append(notes, fmt.Sprintf("statement %q uses NotAction, which graft does not evaluate", st.Sid))
			continue
		}
		ok := true
		for _, kv := range st.Condition {
			for k, v := range kv {
				lk := strings.ToLower(k)
				switch {
				case !conditionsGraftReads[lk]:
					ok = false
				case lk == "kms:calleraccount" || lk == "aws:principalaccount":
					if !slices.Contains(anyStrings(v), account) {
						ok = false
					}
				}
			}
		}
		if !ok {
			if strings.EqualFold(st.Effect, "Allow") {
				notes = append(notes, fmt.Sprintf("statement %q has conditions graft does not evaluate (or that exclude account %s)", st.Sid, account))
			}
			continue
		}
		for _, w := range want {
			for _, a := range st.Action {
				if kmskey.ActionCovers(a, w) {
					if strings.EqualFold(st.Effect, "Deny") {
						deny[w] = true
					} else if strings.EqualFold(st.Effect, "Allow") {
						allow[w] = true
					}
				}
			}
		}
	}
	for _, w := range want {
		if allow[w] && !deny[w] {
			allowed = append(allowed, w)
		}
	}
	return allowed, notes, nil
}

// principalNames reports whether a statement's Principal names the
// account: "*", {"AWS": "*"}, the account id, or an IAM ARN in it.
func principalNames(raw json.RawMessage, account string) bool {
	if len(raw) == 0 {
		return false
	}
	var star string
	if json.Unmarshal(raw, &star) == nil {
		return star == "*"
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for _, p := range anyStrings(m["AWS"]) {
		if p == "*" || p == account || principalAccount(p) == account {
			return true
		}
	}
	return false
}

// principalAccount is the account of an IAM ARN (or a bare account id).
func principalAccount(p string) string {
	if len(p) == 12 && strings.Trim(p, "0123456789") == "" {
		return p
	}
	parts := strings.SplitN(p, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" {
		return parts[4]
	}
	return ""
}

func anyStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
