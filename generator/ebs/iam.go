package ebs

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/graftctl/graft/generator/kmskey"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/spec"
)

// PolicyDocument is an IAM policy.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// IAMPolicy returns the least-privilege policy graft needs for the
// migration: Describe calls (which take no resource-level permissions);
// snapshots of the source volumes (which does not change them); creating
// snapshots, copies and volumes only with the tag graft:migration=<name> in
// the request (aws:RequestTag), and only from graft's own snapshots;
// enabling and disabling fast snapshot restore, and deleting, only on
// resources carrying that tag (aws:ResourceTag); tags only as part of
// those creates (ec2:CreateAction), or the cluster tags on graft's own
// volumes; and KMS only through EC2
// (kms:ViaService). When the spec names the target key by ARN, the
// encrypting side of KMS (GenerateDataKeyWithoutPlaintext, ReEncryptTo) is
// granted on that key alone; the source keys, unknown until discover, get
// only the decrypting side, on "*" through EC2.
func IAMPolicy(m *spec.Migration) PolicyDocument {
	s := &m.Spec
	src, dst := s.Source.Region, s.Target.Region
	p := spec.Partition(src)
	regions := []string{src}
	if dst != src {
		regions = append(regions, dst)
	}
	arn := func(region, account, res string) string {
		return fmt.Sprintf("arn:%s:ec2:%s:%s:%s", p, region, account, res)
	}
	ownTag := map[string]any{"aws:ResourceTag/" + ownership.TagMigration: m.Metadata.Name}
	reqTag := map[string]any{"aws:RequestTag/" + ownership.TagMigration: m.Metadata.Name}
	var snapshotsAll []string
	for _, r := range regions {
		snapshotsAll = append(snapshotsAll, arn(r, "", "snapshot/*"))
	}
	doc := PolicyDocument{Version: "2012-10-17"}
	add := func(st Statement) { st.Effect = "Allow"; doc.Statement = append(doc.Statement, st) }

	add(Statement{Sid: "GraftDescribe", Action: []string{
		"ec2:DescribeAvailabilityZones", "ec2:DescribeFastSnapshotRestores", "ec2:DescribeInstances",
		"ec2:DescribeSnapshots", "ec2:DescribeVolumes",
	}, Resource: []string{"*"}})

	for _, st := range sourceStatements(s, arn) {
		add(st)
	}

	add(Statement{Sid: "GraftCreateTaggedSnapshots", Action: []string{"ec2:CreateSnapshot", "ec2:CreateSnapshots", "ec2:CopySnapshot"},
		Resource: snapshotsAll, Condition: map[string]map[string]any{"StringEquals": reqTag}})
	add(Statement{Sid: "GraftUseOwnSnapshots", Action: []string{"ec2:CopySnapshot", "ec2:CreateVolume", "ec2:EnableFastSnapshotRestores", "ec2:DisableFastSnapshotRestores"},
		Resource: snapshotsAll, Condition: map[string]map[string]any{"StringEquals": ownTag}})
	// A new volume carries the tags the cluster's driver and its IAM
	// policy need to attach it (spec.Target.Storage): without them the
	// create is refused, rather than a volume made that no pod can mount.
	clusterTags := requestTags(s.Target.Storage().Tags)
	volTag := maps.Clone(reqTag)
	maps.Copy(volTag, clusterTags)
	add(Statement{Sid: "GraftCreateTaggedVolumes", Action: []string{"ec2:CreateVolume"},
		Resource: []string{arn(dst, "*", "volume/*")}, Condition: map[string]map[string]any{"StringEquals": volTag}})
	add(Statement{Sid: "GraftTagOnCreateOnly", Action: []string{"ec2:CreateTags"},
		Resource:  append(append([]string{}, snapshotsAll...), arn(dst, "*", "volume/*")),
		Condition: map[string]map[string]any{"StringEquals": {"ec2:CreateAction": []string{"CreateSnapshot", "CreateSnapshots", "CopySnapshot", "CreateVolume"}}}})
	// A volume graft made before spec.target.cluster asked for the tags
	// gets the ones it lacks (ensureClusterTags): CreateTags outside a
	// create only on graft's own volumes, only with those keys, each only
	// with its value (IfExists: a call adds just the missing ones).
	if tags := s.Target.Storage().Tags; len(tags) > 0 {
		add(Statement{Sid: "GraftAddClusterTagsToOwnVolumes", Action: []string{"ec2:CreateTags"},
			Resource: []string{arn(dst, "*", "volume/*")}, Condition: map[string]map[string]any{
				"StringEquals":              ownTag,
				"StringEqualsIfExists":      clusterTags,
				"ForAllValues:StringEquals": {"aws:TagKeys": slices.Sorted(maps.Keys(tags))},
			}})
	}
	add(Statement{Sid: "GraftDeleteOwnResourcesOnly", Action: []string{"ec2:DeleteSnapshot", "ec2:DeleteVolume"},
		Resource: append(append([]string{}, snapshotsAll...), arn(dst, "*", "volume/*")), Condition: map[string]map[string]any{"StringEquals": ownTag}})

	for _, st := range kmsStatements(regions, s.Target.Volume.KMSKeyID) {
		add(st)
	}
	return doc
}

// requestTags are the aws:RequestTag conditions of tags.
func requestTags(tags map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range tags {
		out["aws:RequestTag/"+k] = v
	}
	return out
}

// sourceStatements let graft snapshot the source volumes and instances; it
// never modifies, detaches or deletes them. CreateSnapshots names the
// instance, restricted to the spec's tag filters when it has any.
func sourceStatements(s *spec.Spec, arn func(region, account, res string) string) []Statement {
	src := s.Source.Region
	inst := Statement{Sid: "GraftSnapshotSourceInstances", Action: []string{"ec2:CreateSnapshots"}, Resource: []string{arn(src, "*", "instance/*")}}
	tagConds := map[string]any{}
	for _, f := range s.Source.Filters {
		if k, ok := strings.CutPrefix(f.Name, "tag:"); ok && !strings.ContainsAny(k, "*?") {
			tagConds["aws:ResourceTag/"+k] = f.Values
		}
	}
	if len(tagConds) > 0 {
		inst.Condition = map[string]map[string]any{"StringEquals": tagConds}
	}
	return []Statement{
		{Sid: "GraftSnapshotSourceVolumes", Action: []string{"ec2:CreateSnapshot", "ec2:CreateSnapshots"}, Resource: []string{arn(src, "*", "volume/*")}},
		inst,
	}
}

// kmsStatements are the KMS statements of the policy: through EC2 in the
// regions only, on the target key alone when the spec names it by ARN.
func kmsStatements(regions []string, target string) []Statement {
	var out []Statement
	add := func(st Statement) { st.Effect = "Allow"; out = append(out, st) }
	var via []string
	for _, r := range regions {
		via = append(via, fmt.Sprintf("ec2.%s.amazonaws.com", r))
	}
	kmsVia := map[string]any{"kms:ViaService": via}
	grantCond := map[string]map[string]any{"StringEquals": kmsVia, "Bool": {"kms:GrantIsForAWSResource": true}}
	if ref := kmskey.Parse(target); !ref.ARN || ref.Alias || ref.Name == "" {
		// No target key, or one named by alias or bare id: which key EC2
		// uses is known only at run time, so KMS stays on "*", through
		// EC2 only.
		add(Statement{Sid: "GraftKMSThroughEC2", Action: []string{"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"},
			Resource: []string{"*"}, Condition: map[string]map[string]any{"StringEquals": kmsVia}})
		add(Statement{Sid: "GraftKMSGrantsForEBS", Action: []string{"kms:CreateGrant"}, Resource: []string{"*"}, Condition: grantCond})
		return out
	}
	// The target key by ARN: encrypting the new copies and volumes with it
	// is granted on exactly that key.
	add(Statement{Sid: "GraftKMSTargetKeyThroughEC2", Action: []string{"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"},
		Resource: []string{target}, Condition: map[string]map[string]any{"StringEquals": kmsVia}})
	add(Statement{Sid: "GraftKMSTargetKeyGrantsForEBS", Action: []string{"kms:CreateGrant"}, Resource: []string{target}, Condition: grantCond})
	// The source volumes' keys are known only after discover, so reading
	// the source snapshots (a copy that re-encrypts from the source key, or
	// a volume made from a source snapshot) is granted on "*", but only the
	// decrypting side (never GenerateDataKey or ReEncryptTo, so nothing new
	// is encrypted with another key) and only through EC2. To narrow it,
	// replace "*" with the key ARNs graft discover lists.
	add(Statement{Sid: "GraftKMSSourceKeysUnknownUntilDiscoverDecryptOnlyThroughEC2", Action: []string{"kms:Decrypt", "kms:DescribeKey", "kms:ReEncryptFrom"},
		Resource: []string{"*"}, Condition: map[string]map[string]any{"StringEquals": kmsVia}})
	add(Statement{Sid: "GraftKMSSourceKeysUnknownUntilDiscoverGrantsForEBS", Action: []string{"kms:CreateGrant"}, Resource: []string{"*"}, Condition: grantCond})
	return out
}

// WriteJSON writes the policy document.
func (d PolicyDocument) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}
